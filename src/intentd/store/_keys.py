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
        )

    async def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        row = await self._one("get_api_key_by_hash", key_hash=key_hash)
        return _key_from_row(row) if row else None

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        return [_key_from_row(r) for r in await self._rows("list_api_keys")]

    async def revoke_api_key(self, key_id: str, now: Micros) -> bool:
        return await self._write("revoke_api_key", key_id=key_id, now=now) == 1


def _key_from_row(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        row["key_id"],
        row["namespace"],
        row["name"],
        row["role"],
        row["created_at"],
        row["revoked_at"],
        tuple(loads(row["task_roles"]) or ()),
    )
