"""API keys: random 256-bit secrets, stored as SHA-256 hashes. A fast hash is right here (unlike
passwords, the secret has full entropy, so there is nothing to brute-force), and it keeps key checks
off the hot path's critical budget.

Each key has one role (docs/security.md): ``admin`` (everything in its namespace), ``submitter``
(submits and follows work), ``agent`` (acts only for the agent addresses it is bound to), ``approver``
(a person deciding the human tasks assigned to them), ``auditor`` (reads only). What each role may call
is the permission matrix in ``server/permissions.py``; what an agent key may touch is checked here, in
the engine (``engine/access.py``).

Verified keys are cached per process for ``cache_seconds`` (:data:`CACHE_SECONDS`, 5 s, unless
``INTENTD_KEY_CACHE_SECONDS`` says otherwise): a revocation, or a rotation's end, is
effective on every replica within that bound (and at once on the replica that made it). Expiry is
checked on every request, cached or not.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from intentd.model import (
    ApiKeyExpired,
    ApiKeyRevoked,
    InvalidApiKey,
    KeyNotFound,
    Micros,
    MissingApiKey,
    ValidationFailed,
    new_id,
    normalize_address,
)
from intentd.store import ApiKeyRecord, Store, Tx

from . import audit
from .inputs import Principal
from .namespaces import ensure_namespace

Clock = Callable[[], Micros]
KEY_PREFIX = "itd_"
# How long a revoked key may still pass on a replica that verified it just before (the default of
# INTENTD_KEY_CACHE_SECONDS).
CACHE_SECONDS = 5.0
ROLES = ("admin", "submitter", "agent", "approver", "auditor")
MAX_ROTATION_GRACE_SECONDS = 30 * 24 * 3600.0


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


class KeyService:
    def __init__(self, store: Store, clock: Clock, cache_seconds: float = CACHE_SECONDS) -> None:
        self._store = store
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal, Micros | None]] = {}

    def now(self) -> Micros:
        return self._clock()

    async def create(
        self,
        name: str,
        role: str = "admin",
        namespace: str = "default",
        plaintext: str | None = None,
        task_roles: Iterable[str] = (),
        agents: Iterable[str] = (),
        expires_at: Micros | None = None,
    ) -> tuple[ApiKeyRecord, str]:
        """A new key; returns its record and the plaintext (shown once, never stored). An ``agent``
        key names the addresses it acts for; an ``approver`` key is a person (``name``) holding
        ``task_roles`` (docs/humans.md)."""
        record = self._new_record(namespace, name, role, tuple(task_roles), tuple(agents), expires_at)
        secret = plaintext or KEY_PREFIX + secrets.token_urlsafe(32)

        async def unit(tx: Tx) -> ApiKeyRecord:
            existing = await tx.api_key_by_hash(hash_key(secret))
            if existing is not None:
                return existing
            await ensure_namespace(tx, record.namespace, record.created_at)  # the first key makes it
            await tx.insert_api_key(record, hash_key(secret))
            _audit(tx, "key.created", record, record.created_at)
            return record

        return await self._store.write(unit), secret

    async def list(self, namespace: str | None = None) -> list[ApiKeyRecord]:
        """Every key (the operator's view, on the database), or one namespace's."""
        return await self._store.read(lambda tx: tx.list_api_keys(namespace))

    async def get(self, principal: Principal, key_id: str) -> ApiKeyRecord:
        return await self._store.read(lambda tx: _load(tx, principal.namespace, key_id))

    async def revoke(self, key_id: str, principal: Principal | None = None) -> bool:
        """Revoke a key (``principal``: only within its namespace); False if it was revoked already."""

        async def unit(tx: Tx) -> bool:
            key = await (_load(tx, principal.namespace, key_id) if principal else _load_any(tx, key_id))
            revoked = await tx.revoke_api_key(key_id, self._clock())
            if revoked:
                _audit(tx, "key.revoked", key, self._clock())
            return revoked

        revoked = await self._store.write(unit)
        self._cache.clear()
        return revoked

    async def rotate(
        self, principal: Principal | None, key_id: str, grace_seconds: float = 0.0
    ) -> tuple[ApiKeyRecord, str]:
        """A new secret for the key's identity (name, role, agents, namespace): a new key, returned
        with its plaintext; the old one names it and stops after ``grace_seconds``."""
        if not 0 <= grace_seconds <= MAX_ROTATION_GRACE_SECONDS:
            raise ValidationFailed(
                f"grace_seconds must be 0..{MAX_ROTATION_GRACE_SECONDS:.0f}",
                details={"field": "grace_seconds"},
            )
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()

        async def unit(tx: Tx) -> ApiKeyRecord:
            old = await (_load(tx, principal.namespace, key_id) if principal else _load_any(tx, key_id))
            if old.revoked_at is not None or old.rotated_to is not None:
                raise ValidationFailed(
                    "only a key that is neither revoked nor rotated can be rotated",
                    details={"field": "key_id", "key_id": key_id},
                )
            new = replace(old, key_id=new_id(), created_at=now)
            await tx.insert_api_key(new, hash_key(secret))
            await tx.retire_api_key(old.key_id, new.key_id, now + int(grace_seconds * 1_000_000))
            _audit(tx, "key.rotated", new, now, replaces=old.key_id, grace_seconds=grace_seconds)
            return new

        new = await self._store.write(unit)
        self._cache.clear()
        return new, secret

    async def authenticate(self, plaintext: str | None) -> Principal:
        if not plaintext:
            raise MissingApiKey()
        digest = hash_key(plaintext)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            _check_expiry(cached[2], self._clock())
            return cached[1]
        record = await self._store.read(lambda tx: tx.api_key_by_hash(digest))
        if record is None:
            raise InvalidApiKey()
        if record.revoked_at is not None:
            raise ApiKeyRevoked()
        _check_expiry(record.expires_at, self._clock())
        principal = Principal(
            record.key_id, record.namespace, record.name, record.role, record.task_roles, record.agents
        )
        self._cache[digest] = (time.monotonic() + self._cache_seconds, principal, record.expires_at)
        return principal

    def _new_record(
        self,
        namespace: str,
        name: str,
        role: str,
        task_roles: tuple[str, ...],
        agents: tuple[str, ...],
        expires_at: Micros | None,
    ) -> ApiKeyRecord:
        if role not in ROLES:
            raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", details={"field": "role"})
        if (role == "agent") != bool(agents):
            raise ValidationFailed(
                "an agent key names the agent addresses it acts for, and only an agent key does",
                details={"field": "agents"},
            )
        if task_roles and role != "approver":
            raise ValidationFailed("only an approver key holds task roles", details={"field": "task_roles"})
        if expires_at is not None and expires_at <= self._clock():
            raise ValidationFailed("expires_at must be in the future", details={"field": "expires_at"})
        addresses = tuple(dict.fromkeys(normalize_address(a, "agents") for a in agents))
        return ApiKeyRecord(
            new_id(), namespace, name, role, self._clock(), None, task_roles, expires_at, addresses
        )


def _audit(tx: Tx, action: str, key: ApiKeyRecord, at: Micros, **more: object) -> None:
    """A key operation in the audit trail: the key's identity, never its secret or hash."""
    details = {"key_id": key.key_id, "name": key.name, "role": key.role, "agents": list(key.agents)}
    audit.record(tx, key.namespace, at, action, details={**details, **more})


def key_status(record: ApiKeyRecord, now: Micros) -> str:
    """revoked; rotated (replaced: it works until its expires_at, the rotation's grace); expired;
    active."""
    if record.revoked_at is not None:
        return "revoked"
    if record.rotated_to is not None:
        return "rotated"
    if record.expires_at is not None and record.expires_at <= now:
        return "expired"
    return "active"


def _check_expiry(expires_at: Micros | None, now: Micros) -> None:
    if expires_at is not None and expires_at <= now:
        raise ApiKeyExpired()


async def _load(tx: Tx, namespace: str, key_id: str) -> ApiKeyRecord:
    """The key, if it is in ``namespace`` (another namespace's keys look like 404)."""
    record = await tx.get_api_key(key_id)
    if record is None or record.namespace != namespace:
        raise KeyNotFound(details={"key_id": key_id})
    return record


async def _load_any(tx: Tx, key_id: str) -> ApiKeyRecord:
    record = await tx.get_api_key(key_id)
    if record is None:
        raise KeyNotFound(details={"key_id": key_id})
    return record
