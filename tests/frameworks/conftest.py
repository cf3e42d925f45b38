"""Shared by the integrations' tests: the frameworks' telemetry off (docs/frameworks.md, "Offline and
quiet"), set before any framework is imported so that worker subprocesses inherit it too; and one live
``intentd serve`` per backend for a module, with an SDK client to it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from intentd.client import AsyncClient
from tests._support import databases
from tests._support.servers import API_KEY, Server, module_server

os.environ.setdefault("LANGSMITH_TRACING", "false")
os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")


@pytest.fixture(scope="module", params=databases.BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real server for the module's tests, on each backend (each test uses addresses of its own)."""
    with module_server(request, tmp_path_factory.mktemp("live")) as server:
        yield server


@pytest.fixture
async def client(live: Server) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live.url, API_KEY) as sdk:
        yield sdk
