"""The databases the suite runs on, through the ``database_url`` fixture:

- SQLite: a fresh file per test.
- PostgreSQL (127.0.0.1:5432, or ``INTENTD_TEST_PG_DSN``): migrated once into a template database
  per session, then ``CREATE DATABASE … TEMPLATE`` per test, dropped afterwards. Under CI (``CI``
  set) PostgreSQL is required and its absence fails the run; elsewhere those tests skip, saying why.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import asyncpg
import pytest

from intentd.store.postgres import migrate as migrate_postgres

PG_ADMIN_DSN = os.environ.get("INTENTD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = bool(os.environ.get("CI"))
# The parameters of a backend-parametrized fixture: PostgreSQL tests carry the ``postgres`` mark.
BACKENDS: list[object] = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def dsn_for(database: str) -> str:
    """The DSN of ``database`` on the test server."""
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


async def admin_execute(sql: str) -> None:
    """Run one statement (``CREATE DATABASE``, ``DROP DATABASE``) on the server's admin database."""
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'intentd.db'}"


@contextmanager
def migrated_template() -> Iterator[str]:
    """A freshly migrated template database (its name), dropped at exit; skips (or fails under
    CI) when PostgreSQL is unreachable."""
    name = _unique("intentd_tpl")
    try:
        asyncio.run(admin_execute(f"CREATE DATABASE {name}"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        _unavailable(exc)
    try:
        asyncio.run(_migrate(dsn_for(name)))
        yield name
    finally:
        _drop(name)


@contextmanager
def cloned_database(template: str, prefix: str = "intentd_t") -> Iterator[str]:
    """A new database copied from ``template`` (its DSN), dropped at exit. Stop every server that
    uses it first: the drop ends their connections."""
    name = _unique(prefix)
    asyncio.run(admin_execute(f"CREATE DATABASE {name} TEMPLATE {template}"))
    try:
        yield dsn_for(name)
    finally:
        _drop(name)


async def _migrate(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrate_postgres(conn)
    finally:
        await conn.close()


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _drop(name: str) -> None:
    asyncio.run(admin_execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def _unavailable(exc: BaseException) -> NoReturn:
    message = f"PostgreSQL unreachable at {PG_ADMIN_DSN}: {exc!r}"
    if IN_CI:
        pytest.fail(f"{message} (required under CI)", pytrace=False)
    pytest.skip(f"{message}; PostgreSQL tests skipped outside CI")
