"""API keys: random 256-bit secrets, stored as SHA-256 hashes. A fast hash is right here (unlike
passwords, the secret has full entropy, so there is nothing to brute-force), and it keeps key checks
off the hot path's critical budget; verified keys are cached for a few seconds."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from intentd.model import InvalidApiKey, Micros, MissingApiKey, ValidationFailed, new_id
from intentd.store import ApiKeyRecord, Store, Tx

from .inputs import Principal
from .namespaces import ensure_namespace

Clock = Callable[[], Micros]
KEY_PREFIX = "itd_"
_CACHE_SECONDS = 5.0
# ``admin`` may do everything; ``approver`` is a person who decides human tasks assigned to them.
# (Scoped keys with a permission matrix per role come with the tenancy work.)
ROLES = ("admin", "approver")  # how long a revoked key may still pass on a replica that just verified it


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


class KeyService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def create(
        self,
        name: str,
        role: str = "admin",
        namespace: str = "default",
        plaintext: str | None = None,
        task_roles: tuple[str, ...] = (),
    ) -> tuple[ApiKeyRecord, str]:
        """A new key; returns its record and the plaintext (shown once, never stored). An
        ``approver`` key is a person (``name``) holding ``task_roles`` (docs/humans.md)."""
        if role not in ROLES:
            raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", details={"field": "role"})
        secret = plaintext or KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKeyRecord(new_id(), namespace, name, role, self._clock(), None, tuple(task_roles))

        async def unit(tx: Tx) -> ApiKeyRecord:
            existing = await tx.api_key_by_hash(hash_key(secret))
            if existing is not None:
                return existing
            await ensure_namespace(tx, record.namespace, record.created_at)  # the first key makes it
            await tx.insert_api_key(record, hash_key(secret))
            return record

        return await self._store.write(unit), secret

    async def list(self) -> list[ApiKeyRecord]:
        return await self._store.read(lambda tx: tx.list_api_keys())

    async def revoke(self, key_id: str) -> bool:
        self._cache.clear()
        return await self._store.write(lambda tx: tx.revoke_api_key(key_id, self._clock()))

    async def authenticate(self, plaintext: str | None) -> Principal:
        if not plaintext:
            raise MissingApiKey()
        digest = hash_key(plaintext)
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        record = await self._store.read(lambda tx: tx.api_key_by_hash(digest))
        if record is None or record.revoked_at is not None:
            raise InvalidApiKey()
        principal = Principal(record.key_id, record.namespace, record.name, record.role, record.task_roles)
        self._cache[digest] = (time.monotonic() + _CACHE_SECONDS, principal)
        return principal
