"""Signed approve/reject links: a token that lets one person give one answer to one task, once, until it
expires, without an API key.

A token is ``<payload>.<signature>``, both base64url without padding. The payload is the JSON array
``[namespace, task_id, person, outcome, expires_at, nonce]`` (``expires_at`` in microseconds since
the epoch); the signature is HMAC-SHA256 over ``v1.<payload>`` with a key derived from the link secret.
Everything the link stands for is in what is signed, so changing any part of it (another task, another
outcome, a later expiry) breaks the signature. The token carries no secret: it is the credential
itself, valid for that one answer. Single use is the decision's business: the core records the nonce
in the decision's transaction (``link_uses``), so a second use fails and changes nothing.

Why the standard library's ``hmac`` and not ``itsdangerous``: the whole format is the dozen lines
below, with ``hmac.compare_digest`` for the comparison, and it binds exactly our fields with our
expiry clock (the engine's, which tests move); itsdangerous would add a dependency to the server for
a serializer and a timestamp format we would still have to wrap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from intentd.model import LinkExpired, LinkInvalid, Micros
from intentd.store import Store, Tx

Clock = Callable[[], Micros]
SECRET_NAME = "link_secret"  # the per-database secret's row in runtime_secrets
MAX_TOKEN_CHARS = 4096  # far above any token we sign: bounds the work an unauthenticated caller causes
_VERSION = b"v1."  # signed with the payload: a later format cannot be mistaken for this one
_KEY_LABEL = b"intentd approve/reject link v1"


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a link stands for: ``person`` may answer ``outcome`` to ``task_id`` until ``expires_at``."""

    namespace: str
    task_id: str
    person: str
    outcome: str
    expires_at: Micros
    nonce: str


def link_key(secret: str) -> bytes:
    """The signing key: derived, so the configured secret is used for this purpose only."""
    return hmac.new(secret.encode(), _KEY_LABEL, hashlib.sha256).digest()


def sign_token(key: bytes, claims: LinkClaims) -> str:
    fields = [
        claims.namespace,
        claims.task_id,
        claims.person,
        claims.outcome,
        claims.expires_at,
        claims.nonce,
    ]
    payload = _b64(orjson.dumps(fields))
    return f"{payload}.{_b64(_mac(key, payload))}"


def verify_token(key: bytes, token: str, now: Micros) -> LinkClaims:
    """The claims of a token this key signed; ``LinkInvalid`` if it did not (or the token is
    malformed), ``LinkExpired`` once ``expires_at`` has passed. The signature is checked first, so
    an expired link is reported as expired only if it is genuine."""
    payload, dot, signature = token.partition(".")
    if not dot or len(token) > MAX_TOKEN_CHARS:
        raise LinkInvalid()
    try:
        given = _unb64(signature)
    except ValueError:
        raise LinkInvalid() from None
    if not hmac.compare_digest(given, _mac(key, payload)):
        raise LinkInvalid()
    claims = _claims(payload)
    if now >= claims.expires_at:
        raise LinkExpired(details={"expired_at_us": claims.expires_at})
    return claims


def _claims(payload: str) -> LinkClaims:
    # Signed by us, so well-formed unless the format changed under the same key: checked anyway.
    try:
        fields = orjson.loads(_unb64(payload))
        namespace, task_id, person, outcome, expires_at, nonce = fields
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise LinkInvalid() from None
    if not (all(isinstance(f, str) for f in (namespace, task_id, person, outcome, nonce))):
        raise LinkInvalid()
    if not isinstance(expires_at, int) or isinstance(expires_at, bool):
        raise LinkInvalid()
    return LinkClaims(namespace, task_id, person, outcome, expires_at, nonce)


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.new(key, _VERSION + payload.encode("ascii", "replace"), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None


class LinkService:
    """Signs and checks links with ``INTENTD_LINK_SECRET``, or else with a secret generated once per
    database and kept in it (``runtime_secrets``), so every replica signs and checks alike."""

    def __init__(
        self, store: Store, clock: Clock, *, secret: str | None, ttl_seconds: float, public_url: str
    ) -> None:
        self._store = store
        self._clock = clock
        self._key = link_key(secret) if secret else None
        self.ttl_us = int(ttl_seconds * 1_000_000)
        self.public_url = public_url.rstrip("/")

    def claims(
        self, namespace: str, task_id: str, person: str, outcome: str, *, nonce: str, at: Micros
    ) -> LinkClaims:
        """The claims of a link made at ``at``: it expires the link lifetime later."""
        return LinkClaims(namespace, task_id, person, outcome, at + self.ttl_us, nonce)

    async def sign(self, claims: LinkClaims) -> str:
        return sign_token(await self._signing_key(), claims)

    def url(self, token: str) -> str:
        return f"{self.public_url}/v1/links/{token}"

    async def verify(self, token: str) -> LinkClaims:
        key = self._key or await self._stored_key()
        if key is None:  # no secret made yet: nothing was ever signed with this database's secret
            raise LinkInvalid()
        return verify_token(key, token, self._clock())

    async def _signing_key(self) -> bytes:
        if self._key is None:
            now = self._clock()

            async def unit(tx: Tx) -> str:
                return await tx.runtime_secret(SECRET_NAME, secrets.token_urlsafe(32), now)

            self._key = link_key(await self._store.write(unit))
        return self._key

    async def _stored_key(self) -> bytes | None:
        # Read, never created, on a check: an unauthenticated request must not write to the database.
        async def read(tx: Tx) -> str | None:
            return await tx.stored_runtime_secret(SECRET_NAME)

        secret = await self._store.read(read)
        if secret is not None:
            self._key = link_key(secret)
        return self._key
