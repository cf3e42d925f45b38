"""PostgreSQL backend: any number of ``intentd serve`` replicas on one database.

- Several writer connections, each group-committing a batch; row locks (``FOR UPDATE``) order writers
  on one intent, ``SKIP LOCKED`` keeps replicas off each other's claims, due timers and expired leases.
- Every transaction that changes something NOTIFYs the keys it touched; a LISTEN connection per replica
  relays other replicas' keys into the local hub (its own it has already published at commit).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from intentd.model import new_id, now_us

from ._hub import Hub
from ._migrate import CREATE_TABLE, migrations_for
from ._sql import Query, load_queries
from ._tx import Tx
from ._writer import BatchWriter

T = TypeVar("T")
log = logging.getLogger("intentd.store.postgres")
CHANNEL = "intentd_changes"
_MIGRATION_LOCK = 0x1D7E_0001  # pg_advisory_xact_lock key: one migrator at a time
_NOTIFY_LIMIT = 7000  # bytes per NOTIFY payload (PostgreSQL's limit is 8000)


class _Executor:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def fetch(self, query: Query, values: dict[str, Any]) -> list[Any]:
        rows: list[Any] = await self._conn.fetch(query.text, *query.args(values))
        return rows

    async def execute(self, query: Query, values: dict[str, Any]) -> int:
        status = await self._conn.execute(query.text, *query.args(values))
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, query: Query, rows: list[dict[str, Any]]) -> None:
        await self._conn.executemany(query.text, [query.args(r) for r in rows])


async def migrate(conn: asyncpg.Connection) -> list[int]:
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(CREATE_TABLE)
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for m in migrations_for("postgres"):
            if m.version in done:
                continue
            await conn.execute(m.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                m.version,
                m.name,
                now_us(),
            )
            applied.append(m.version)
    return applied


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(
        exc, asyncpg.UniqueViolationError | asyncpg.DeadlockDetectedError | asyncpg.SerializationError
    )


class PostgresStore:
    dialect = "postgres"

    def __init__(self, dsn: str, pool: asyncpg.Pool, writers: int) -> None:
        self.dsn = dsn
        self.hub = Hub()
        self.origin = new_id()  # tells this replica's own notifications apart
        self._queries = load_queries("postgres")
        self._pool = pool
        self._writer_count = writers
        self._writer = BatchWriter(self._transaction, self.hub.publish, _is_retryable)
        self._listener: asyncpg.Connection | None = None

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        migrate_schema: bool = True,
        writers: int = 3,
        readers: int = 4,
        exclusive: bool = False,
    ) -> PostgresStore:
        del exclusive  # PostgreSQL serves any number of replicas
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=writers + readers)
        if migrate_schema:
            async with pool.acquire() as conn:
                await migrate(conn)
        store = cls(dsn, pool, writers)
        store._listener = await asyncpg.connect(dsn)
        await store._listener.add_listener(CHANNEL, store._on_notify)
        store._writer.start(writers)
        return store

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        origin, _, keys = payload.partition("|")
        if origin != self.origin:
            self.hub.publish(keys.split(","))

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Tx]:
        async with self._pool.acquire() as conn, conn.transaction():
            tx = Tx(_Executor(conn), self._queries)
            yield tx
            for payload in self._notify_payloads(tx.changes):
                await conn.execute(self._queries["notify"].text, payload)

    def _notify_payloads(self, keys: set[str]) -> list[str]:
        payloads, current = [], ""
        for key in sorted(keys):
            if current and len(current) + len(key) > _NOTIFY_LIMIT:
                payloads.append(f"{self.origin}|{current}")
                current = ""
            current = f"{current},{key}" if current else key
        if current:
            payloads.append(f"{self.origin}|{current}")
        return payloads

    async def read(self, fn: Callable[[Tx], Awaitable[T]]) -> T:
        async with self._pool.acquire() as conn:
            return await fn(Tx(_Executor(conn), self._queries))

    async def write(self, unit: Callable[[Tx], Awaitable[T]]) -> T:
        return await self._writer.run(unit)

    async def close(self) -> None:
        await self._writer.stop()
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        await self._pool.close()
