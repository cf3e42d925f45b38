"""API keys in the store: a key's record and its rows (queries in ``sql/keys.sql``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intentd.model import Micros

from ._codec import dumps, loads
from ._txbase import TxBase


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    key_id: str
    namespace: str
    name: str
    role: str
    created_at: Micros
    revoked_at: Micros | None
    task_roles: tuple[str, ...] = ()  # an approver's roles: it may decide ``role:<name>`` tasks
    expires_at: Micros | None = None
    agents: tuple[str, ...] = ()  # an agent key's addresses: it acts for these only
    rotated_to: str | None = None  # the key that replaced this one (it lasts until expires_at)


class KeyRows(TxBase):
    async def insert_api_key(self, record: ApiKeyRecord, key_hash: str) -> None:
        await self._write(
            "insert_api_key",
            key_id=record.key_id,
            namespace=record.namespace,
            name=record.name,
            role=record.role,
            key_hash=key_hash,
            created_at=record.created_at,
            task_roles=dumps(list(record.task_roles)),
            expires_at=record.expires_at,
            agents=dumps(list(record.agents)),
        )

    async def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        row = await self._one("get_api_key_by_hash", key_hash=key_hash)
        return _key_from_row(row) if row else None

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        row = await self._one("get_api_key", key_id=key_id)
        return _key_from_row(row) if row else None

    async def list_api_keys(self, namespace: str | None = None) -> list[ApiKeyRecord]:
        """Every key, or a namespace's."""
        if namespace is None:
            return [_key_from_row(r) for r in await self._rows("list_api_keys")]
        return [_key_from_row(r) for r in await self._rows("list_api_keys_in", namespace=namespace)]

    async def revoke_api_key(self, key_id: str, now: Micros) -> bool:
        return await self._write("revoke_api_key", key_id=key_id, now=now) == 1

    async def retire_api_key(self, key_id: str, rotated_to: str, expires_at: Micros) -> bool:
        """Mark a rotated key: it names its successor and lasts until ``expires_at`` at most."""
        changed = await self._write(
            "retire_api_key", key_id=key_id, rotated_to=rotated_to, expires_at=expires_at
        )
        return changed == 1


def _key_from_row(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        row["key_id"],
        row["namespace"],
        row["name"],
        row["role"],
        row["created_at"],
        row["revoked_at"],
        tuple(loads(row["task_roles"]) or ()),
        row["expires_at"],
        tuple(loads(row["agents"]) or ()),
        row["rotated_to"],
    )
