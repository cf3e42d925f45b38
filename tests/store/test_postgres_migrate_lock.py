"""The migration lock (store/postgres.py ``migrate``). Replicas starting on a current schema take no
lock, so a replica holding it (a long migration) holds nobody up; a replica with migrations to apply
queues for it and checks again under it, so a migration another replica finished meanwhile is not
applied twice.

A connection with ``lock_timeout`` set fails at once with ``LockNotAvailableError`` if it waits for a
lock: that tells "took no lock" apart from "got the lock quickly" without timing anything."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncpg
import pytest

from intentd.store import migrate_url
from intentd.store._migrate import CREATE_TABLE, migrations_for
from intentd.store.postgres import _MIGRATION_LOCK, PostgresStore, migrate

pytestmark = pytest.mark.postgres

BOUND = 10.0  # seconds any awaited condition may take before the test fails
EVERYTHING = [m.version for m in migrations_for("postgres")]


def on_database(url: str, database: str) -> str:
    return urlsplit(url)._replace(path=f"/{database}").geturl()


def refusing_to_wait(url: str) -> str:
    """``url`` for connections that give up on any lock they would have to wait for."""
    return f"{url}?lock_timeout=1ms"


@pytest.fixture
async def admin(pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(on_database(pg_url, "postgres"))
    yield conn
    await conn.close()


@pytest.fixture
async def fresh_url(pg_url: str, admin: asyncpg.Connection) -> AsyncIterator[str]:
    """An empty database on the test server: no ``schema_migrations`` table yet."""
    name = f"intentd_fresh_{uuid.uuid4().hex[:12]}"
    await admin.execute(f"CREATE DATABASE {name}")
    yield on_database(pg_url, name)
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@asynccontextmanager
async def migration_lock_held(url: str) -> AsyncIterator[asyncpg.Connection]:
    """Another replica inside its migration transaction, holding the lock until the block ends
    (advisory locks are per database, so it holds it on ``url``'s database)."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            yield conn
    finally:
        await conn.close()


async def until_waiting_for_the_lock(admin: asyncpg.Connection, url: str) -> None:
    sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event = 'advisory'"
    database = urlsplit(url).path.lstrip("/")
    async with asyncio.timeout(BOUND):
        while not await admin.fetchval(sql, database):
            await asyncio.sleep(0.01)  # a poll of the server's state, not a guess at a duration


async def test_a_start_on_a_current_schema_takes_no_migration_lock(pg_url: str) -> None:
    async with migration_lock_held(pg_url):
        assert await migrate_url(refusing_to_wait(pg_url)) == []
        store = await PostgresStore.open(refusing_to_wait(pg_url))
        await store.close()


async def test_a_start_on_a_fresh_database_waits_for_the_lock_then_migrates(
    fresh_url: str, admin: asyncpg.Connection
) -> None:
    async with migration_lock_held(fresh_url):
        with pytest.raises(asyncpg.LockNotAvailableError):
            await migrate_url(refusing_to_wait(fresh_url))
        migrating = asyncio.create_task(migrate_url(fresh_url))
        await until_waiting_for_the_lock(admin, fresh_url)
        assert not migrating.done()
    async with asyncio.timeout(BOUND):
        assert await migrating == EVERYTHING


async def test_a_replica_that_waited_for_the_lock_checks_again_under_it(
    fresh_url: str, admin: asyncpg.Connection
) -> None:
    """The other replica migrates while this one waits: once it has the lock, nothing is left to
    apply (without the second check it would run the first migration again, and fail)."""
    async with migration_lock_held(fresh_url) as other:
        await other.execute(CREATE_TABLE)
        assert await migrate(other) == EVERYTHING  # uncommitted: invisible to the waiting replica
        migrating = asyncio.create_task(migrate_url(fresh_url))
        await until_waiting_for_the_lock(admin, fresh_url)
    async with asyncio.timeout(BOUND):
        assert await migrating == []
