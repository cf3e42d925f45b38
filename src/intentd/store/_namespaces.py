"""Namespaces in the store: the tenants and their sandbox flag (queries in ``sql/namespaces.sql``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intentd.model import Micros

from ._txbase import TxBase


@dataclass(frozen=True, slots=True)
class NamespaceRecord:
    name: str
    sandbox: bool  # a test namespace (docs/security.md, "Namespaces")
    created_at: Micros


class NamespaceRows(TxBase):
    async def insert_namespace(self, record: NamespaceRecord) -> bool:
        """Add the namespace; False (and nothing changed) if one of that name exists."""
        return (
            await self._write(
                "insert_namespace",
                name=record.name,
                sandbox=int(record.sandbox),
                created_at=record.created_at,
            )
            == 1
        )

    async def get_namespace(self, name: str) -> NamespaceRecord | None:
        row = await self._one("get_namespace", name=name)
        return _namespace_from_row(row) if row else None

    async def list_namespaces(self) -> list[NamespaceRecord]:
        return [_namespace_from_row(r) for r in await self._rows("list_namespaces")]


def _namespace_from_row(row: Any) -> NamespaceRecord:
    return NamespaceRecord(row["name"], bool(row["sandbox"]), row["created_at"])
