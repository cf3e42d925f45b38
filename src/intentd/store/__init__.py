"""Storage: one contract (:class:`Store`), two backends, chosen by URL scheme."""

from __future__ import annotations

from ._audit import GENESIS, AuditEntry, AuditQuery, AuditRecord, details_hash, record_hash
from ._hub import Hub, Subscription, agent_key, intent_key
from ._keys import ApiKeyRecord
from ._mesh import MESH_KEY, KillRecord, OpenWork, PolicyRecord, RouteRecord, Usage, UsageKey, WorkerSeen
from ._metrics import IntentCount
from ._namespaces import NamespaceRecord
from ._tx import SCHEDULER_KEY, FeedItem, IntentPage, Timer, Tx
from ._ui import IntentQuery, UiSession
from ._webhooks import OutboxDelivery, WebhookEvent, WebhookSubscription
from ._writer import WRITE_ORIGIN
from .base import Store

__all__ = [
    "GENESIS",
    "MESH_KEY",
    "KillRecord",
    "OpenWork",
    "PolicyRecord",
    "Usage",
    "UsageKey",
    "RouteRecord",
    "WorkerSeen",
    "SCHEDULER_KEY",
    "WRITE_ORIGIN",
    "AuditEntry",
    "AuditQuery",
    "AuditRecord",
    "details_hash",
    "record_hash",
    "ApiKeyRecord",
    "NamespaceRecord",
    "FeedItem",
    "Hub",
    "IntentCount",
    "IntentPage",
    "IntentQuery",
    "Store",
    "Subscription",
    "OutboxDelivery",
    "Timer",
    "Tx",
    "UiSession",
    "WebhookEvent",
    "WebhookSubscription",
    "agent_key",
    "intent_key",
    "is_postgres_url",
    "migrate_url",
    "open_store",
]


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


async def open_store(url: str, *, exclusive: bool = False, migrate_schema: bool = True) -> Store:
    """Open (and migrate) the store for ``url``: ``postgresql://…`` or ``sqlite:///path``."""
    if is_postgres_url(url):
        from .postgres import PostgresStore

        return await PostgresStore.open(url, exclusive=exclusive, migrate_schema=migrate_schema)
    from .sqlite import SQLiteStore

    return await SQLiteStore.open(url, exclusive=exclusive, migrate_schema=migrate_schema)


async def migrate_url(url: str) -> list[int]:
    """Apply pending migrations (``intentd db upgrade``); returns the versions applied."""
    if is_postgres_url(url):
        import asyncpg

        from .postgres import migrate as migrate_pg

        conn = await asyncpg.connect(url)
        try:
            return await migrate_pg(conn)
        finally:
            await conn.close()
    from .sqlite import connect, migrate, path_from_url

    conn_sqlite = connect(path_from_url(url))
    try:
        return migrate(conn_sqlite)
    finally:
        conn_sqlite.close()
