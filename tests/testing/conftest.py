"""What the plugin's tests share: the backend a user's suite runs against. On SQLite, the plugin's
embedded server (no options); on PostgreSQL, one live ``intentd serve`` per module on a fresh database,
each test in a sandbox namespace of its own (``--intentd-url`` and a key of it)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from intentd.engine import Engine
from intentd.store import open_store
from tests._support import databases
from tests._support.servers import Server, module_server

KEY_NAME = "test"  # as the embedded server names each test's key: golden records name the submitter


@pytest.fixture(scope="module", params=databases.BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server | None]:
    """On PostgreSQL, one live ``intentd serve`` for the module (each test takes a namespace of its
    own); on SQLite none: the suites start the plugin's embedded server."""
    if request.param != "postgres":
        yield None
        return
    with module_server(request, tmp_path_factory.mktemp("live")) as server:
        yield server


@pytest.fixture
def target(live: Server | None) -> list[str]:
    """The options that point a user's suite at this backend: none for the embedded server, else
    ``--intentd-url`` and a key of a fresh sandbox namespace of the live server."""
    if live is None:
        return []
    key = asyncio.run(sandbox_key(str(live.database_url), f"qa-{uuid.uuid4().hex[:8]}"))
    return ["--intentd-url", live.url, "--intentd-api-key", key]


async def sandbox_key(database_url: str, namespace: str, *, sandbox: bool = True) -> str:
    store = await open_store(database_url)
    try:
        engine = Engine(store)
        await engine.namespaces.create(namespace, sandbox=sandbox)
        _, secret = await engine.keys.create(KEY_NAME, "admin", namespace=namespace)
        return secret
    finally:
        await store.close()
