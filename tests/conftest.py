"""Fixtures every test package shares; the machinery behind them is in ``tests._support``. Storage,
engine and API tests run on both backends through ``database_url`` (see tests/_support/databases.py).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from intentd.engine import Engine, Principal
from intentd.settings import Settings
from intentd.store import Store, open_store
from tests._support import databases, servers
from tests._support.databases import BACKENDS, IN_CI, PG_ADMIN_DSN, admin_execute, dsn_for
from tests._support.engine import FakeClock
from tests._support.servers import API_KEY, AppClient

# The integrations' suites run in environments of their own (`make test` runs each): tests/frameworks
# in .venvs/frameworks, where LangGraph is installed, and tests/crewai in .venvs/crewai, with its own
# conftest (--confcutdir: that environment has no server packages to import this file's).
collect_ignore = ["crewai"]
if importlib.util.find_spec("langgraph") is None:
    collect_ignore.append("frameworks")

# pytest's own harness for testing a pytest plugin: tests/testing runs users' suites with intentd's.
pytest_plugins = ["pytester"]

# Names other test packages still import from here; new code imports them from tests._support.
TEST_KEY = API_KEY
_dsn = dsn_for
_pg_admin = admin_execute
__all__ = ["BACKENDS", "IN_CI", "PG_ADMIN_DSN", "TEST_KEY", "FakeClock", "_dsn", "_pg_admin"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no INTENTD_* variables inherited from the shell."""
    for name in list(os.environ):
        if name.startswith("INTENTD_") and name != "INTENTD_TEST_PG_DSN":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database for the session (or a skip/failure if PostgreSQL is absent)."""
    with databases.migrated_template() as name:
        yield name


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh PostgreSQL database for this test, dropped after it."""
    template: str = request.getfixturevalue("pg_template")
    with databases.cloned_database(template) as url:
        yield url


@pytest.fixture(params=databases.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return databases.sqlite_url(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(database_url)
    yield opened
    await opened.close()


@pytest.fixture
async def engine(store: Store, clock: FakeClock) -> AsyncIterator[Engine]:
    running = Engine(store, clock)
    yield running
    await running.stop()  # what a test started beside it (a kill's second sweep)


@pytest.fixture
async def principal(engine: Engine) -> Principal:
    _, secret = await engine.keys.create("tester")
    return await engine.keys.authenticate(secret)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return servers.app_settings(database_url)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[AppClient]:
    """An HTTP client bound to the real ASGI app (lifespan run, bootstrap key set); ``api.app`` and
    ``api.engine`` reach behind it."""
    async with servers.serving(servers.build_app(settings)) as client:
        yield client
