"""PostgreSQL backend: any number of ``intentd serve`` replicas on one database.

- Several writer connections, each group-committing a batch; row locks (``FOR UPDATE``) order writers
  on one intent, ``SKIP LOCKED`` keeps replicas off each other's claims, due timers and expired leases.
- Every transaction that changes something NOTIFYs the keys it touched; a LISTEN connection per replica
  relays other replicas' keys into the local hub (its own it has already published at commit). A lost
  LISTEN connection is reopened, and every waiter is then woken to re-read what it may have missed.
- Starting on a current schema takes no lock; only a replica with migrations to apply queues for the
  migration lock.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from intentd.model import new_id, now_us

from ._hub import Hub
from ._migrate import CREATE_TABLE, Migration, migrations_for
from ._sql import Query, load_queries
from ._tx import Tx
from ._writer import BatchWriter

T = TypeVar("T")
log = logging.getLogger("intentd.store.postgres")
CHANNEL = "intentd_changes"
_MIGRATION_LOCK = 0x1D7E_0001  # pg_advisory_xact_lock key: one migrator at a time
_NOTIFY_LIMIT = 7000  # bytes per NOTIFY payload (PostgreSQL's limit is 8000)
_CONNECT_TIMEOUT = 10.0  # seconds for one attempt to open the LISTEN connection
_BACKOFF_FIRST, _BACKOFF_CAP = 0.1, 30.0  # seconds between reconnect attempts, doubling up to the cap
_PROBE_EVERY = 15.0  # seconds between liveness checks of the idle LISTEN connection, and their timeout


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


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What the pool runs when a connection comes back: nothing beyond asyncpg's own clean-up (an open
    transaction rolled back, listeners dropped). asyncpg's default also sends ``SELECT
    pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every release, a round trip and four
    statements per transaction and per read, for session state this store never makes: it takes only
    transaction-scoped advisory locks, opens no cursors, listens on a connection of its own (``_Listener``)
    and sets nothing on pooled sessions (docs/benchmarks.md, "PostgreSQL round trips")."""
    del conn


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply pending migrations; returns the versions applied.

    Double-checked: a start on a current schema (the common case) reads ``schema_migrations`` without
    the lock and returns, so it never queues behind a replica holding the lock for a long migration.
    The read is safe unlocked because each version's row commits in the same transaction as its DDL.
    Only with something pending is the lock taken, and the check repeated under it: another replica
    may have migrated while this one waited.
    """
    if not _pending(await _applied_versions(conn)):
        return []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute(CREATE_TABLE)
        applied: list[int] = []
        for m in _pending(await _applied_versions(conn)):
            await conn.execute(m.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                m.version,
                m.name,
                now_us(),
            )
            applied.append(m.version)
    return applied


async def _applied_versions(conn: asyncpg.Connection) -> set[int]:
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations")
    except asyncpg.UndefinedTableError:  # a fresh database: nothing applied yet
        return set()
    return {r["version"] for r in rows}


def _pending(applied: set[int]) -> list[Migration]:
    # Versions newer than this code knows (a newer replica migrated first) are not our concern.
    return [m for m in migrations_for("postgres") if m.version not in applied]


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(
        exc, asyncpg.UniqueViolationError | asyncpg.DeadlockDetectedError | asyncpg.SerializationError
    )


class _Listener:
    """A replica's LISTEN connection, kept open for the store's lifetime.

    A loss is noticed at once when the socket closes (a termination listener), and within two
    ``probe_every`` intervals when the connection silently stops answering (a half-open TCP connection,
    e.g. after a network failover, reports nothing). It is then reopened with capped, jittered
    exponential backoff. NOTIFYs sent meanwhile are gone for good, so once LISTEN is back
    ``caught_up`` runs (the store wakes every waiter, and waiters re-read the database).
    """

    def __init__(
        self,
        dsn: str,
        name: str,
        relay: Callable[[object, int, str, str], None],
        caught_up: Callable[[], None],
        probe_every: float,
    ) -> None:
        self._dsn = dsn
        self.name = name  # the connection's application_name, to find it in pg_stat_activity
        self._relay = relay
        self._caught_up = caught_up
        self._probe_every = probe_every
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # The first connection fails loudly (a wrong DSN should stop `serve`); later ones are retried.
        conn = await self._connect()
        self._task = asyncio.create_task(self._keep_open(conn), name="intentd-listener")

    async def close(self) -> None:
        # The task goes first: closing the connection under it would look like a loss to reconnect.
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(
            self._dsn, timeout=_CONNECT_TIMEOUT, server_settings={"application_name": self.name}
        )
        try:
            await conn.add_listener(CHANNEL, self._relay)
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn
        return conn

    async def _keep_open(self, conn: asyncpg.Connection) -> None:
        while True:
            await self._until_lost(conn)
            log.warning("LISTEN connection lost: wake-ups from other replicas wait until it is reopened")
            lost_at = time.monotonic()
            conn = await self._reconnect()
            # LISTEN is in place again, so later changes are notified; earlier ones are caught up by
            # the waiters' re-read. In this order nothing committed during the outage is missed.
            self._caught_up()
            log.info("LISTEN connection reopened after %.1fs; woke every waiter", time.monotonic() - lost_at)

    async def _until_lost(self, conn: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        # is_closed() covers a loss before the termination listener was added (it would never fire).
        while not (lost.is_set() or conn.is_closed()):
            try:  # asyncio.timeout: wait_for (3.11) would swallow close()'s cancel racing a loss
                async with asyncio.timeout(self._probe_every):
                    await lost.wait()
            except TimeoutError:
                await _probe(conn, self._probe_every)

    async def _reconnect(self) -> asyncpg.Connection:
        delay = _BACKOFF_FIRST
        while True:
            try:
                return await self._connect()
            except Exception as exc:  # refused, timed out, "starting up", too many clients: all pass
                log.debug("reopening the LISTEN connection failed (%r); retrying", exc)
            # Jitter spreads the replicas of a restarted server out instead of all retrying at once.
            await asyncio.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, _BACKOFF_CAP)


async def _probe(conn: asyncpg.Connection, timeout: float) -> None:
    """Terminate ``conn`` unless it answers a query in time (then it can't be trusted to deliver)."""
    try:
        await conn.fetchval("SELECT 1", timeout=timeout)
    except Exception:
        conn.terminate()


class PostgresStore:
    dialect = "postgres"

    def __init__(
        self, dsn: str, pool: asyncpg.Pool, writers: int, listener_probe: float = _PROBE_EVERY
    ) -> None:
        self.dsn = dsn
        self.hub = Hub()
        self.origin = new_id()  # tells this replica's own notifications apart
        self._queries = load_queries("postgres")
        self._pool = pool
        self._writer_count = writers
        self._writer = BatchWriter(self._transaction, self.hub.publish, _is_retryable)
        name = f"intentd listener {self.origin}"
        self._listener = _Listener(dsn, name, self._on_notify, self.hub.wake_all, listener_probe)

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        migrate_schema: bool = True,
        writers: int = 3,
        readers: int = 4,
        exclusive: bool = False,
        listener_probe: float = _PROBE_EVERY,
    ) -> PostgresStore:
        """``listener_probe``: seconds between liveness checks of the idle LISTEN connection (and the
        time one may take before the connection is given up and reopened)."""
        del exclusive  # PostgreSQL serves any number of replicas
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=writers + readers, reset=_keep_session)
        try:
            if migrate_schema:
                async with pool.acquire() as conn:
                    await migrate(conn)
            store = cls(dsn, pool, writers, listener_probe)
            await store._listener.start()
        except BaseException:
            pool.terminate()  # a failed open leaves no connections behind
            raise
        store._writer.start(writers)
        return store

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        origin, _, keys = payload.partition("|")
        if origin != self.origin:
            self.hub.publish(keys.split(","), elsewhere=True)

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
        await self._listener.close()
        await self._pool.close()
