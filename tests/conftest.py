"""Shared fixtures. Storage, engine and API tests run on both backends through ``database_url``:

- SQLite: a fresh file per test.
- PostgreSQL (127.0.0.1:5432, or INTENTD_TEST_PG_DSN): migrated once into a template database, then
  ``CREATE DATABASE … TEMPLATE`` per test, dropped afterwards. Under CI (``CI`` set) PostgreSQL is
  required and its absence fails the run; elsewhere those tests skip, saying why.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from intentd.engine import Engine, Principal
from intentd.model import now_us
from intentd.settings import Settings
from intentd.store import Store, open_store
from intentd.store.postgres import migrate as migrate_pg

PG_ADMIN_DSN = os.environ.get("INTENTD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = bool(os.environ.get("CI"))
TEST_KEY = "itd_test_key_for_the_test_suite_0123456789"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _dsn(database: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no INTENTD_* variables inherited from the shell."""
    for name in list(os.environ):
        if name.startswith("INTENTD_") and name != "INTENTD_TEST_PG_DSN":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database for the session (or a skip/failure if PostgreSQL is absent)."""
    name = f"intentd_tpl_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f"CREATE DATABASE {name}"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = f"PostgreSQL unreachable at {PG_ADMIN_DSN}: {exc!r}"
        if IN_CI:
            pytest.fail(f"{message} (required under CI)", pytrace=False)
        pytest.skip(f"{message}; PostgreSQL tests skipped outside CI")

    async def prepare() -> None:
        conn = await asyncpg.connect(_dsn(name))
        try:
            await migrate_pg(conn)
        finally:
            await conn.close()

    asyncio.run(prepare())
    yield name
    asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    template = request.getfixturevalue("pg_template")
    name = f"intentd_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f"CREATE DATABASE {name} TEMPLATE {template}"))
    yield _dsn(name)
    asyncio.run(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'intentd.db'}"


@dataclass
class FakeClock:
    """Time that moves only when a test says so (the engine's clock is injectable)."""

    now: int = field(default_factory=now_us)

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1_000_000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(database_url)
    yield opened
    await opened.close()


@pytest.fixture
def engine(store: Store, clock: FakeClock) -> Engine:
    return Engine(store, clock)


@pytest.fixture
async def principal(engine: Engine) -> Principal:
    _, secret = await engine.keys.create("tester")
    return await engine.keys.authenticate(secret)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, bootstrap_api_key=TEST_KEY)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to the real ASGI app (lifespan run, bootstrap key set)."""
    from intentd.server import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://intentd.test", headers={"x-api-key": TEST_KEY}
        ) as client:
            client.app = app  # type: ignore[attr-defined]  # tests reach the engine through it
            yield client
