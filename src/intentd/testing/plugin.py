"""The pytest plugin (``pip install intentd[testing]``; registered by entry point, nothing to import).

Options: ``--intentd-url`` (and ``--intentd-api-key``, or ``INTENTD_API_KEY``) runs the tests against
a live server's sandbox namespace instead of the embedded one; ``--intentd-record`` writes the golden
transition files that ``assert_transitions`` compares with.

Fixtures: ``intentd`` (the test's :class:`~intentd.testing.harness.Intentd`), ``intentd_clock`` (the
same, for a test that moves time: skipped against a live server), ``intentd_client``,
``intentd_async_client`` (with pytest-asyncio), ``intentd_worker`` and, once per session,
``intentd_server``.

Entry points load with pytest in any environment intentd is installed in, an agent host's without the
server too: this module imports nothing of intentd until a fixture is used."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from intentd.client import AsyncClient, Client
    from intentd.worker import Worker

    from .embedded import Server
    from .harness import Intentd


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("intentd", "intentd: test multi-agent flows")
    group.addoption(
        "--intentd-url",
        default=None,
        help="run against this live intentd server, in the sandbox namespace of --intentd-api-key "
        "(default: an embedded server on a temporary SQLite file)",
    )
    group.addoption(
        "--intentd-api-key",
        default=None,
        help="a key of the live server's sandbox namespace (or INTENTD_API_KEY)",
    )
    group.addoption(
        "--intentd-record",
        action="store_true",
        default=False,
        help="write or update the golden transition files instead of comparing with them",
    )


LIVE_SERVER = pytest.StashKey["Server"]()


def pytest_configure(config: pytest.Config) -> None:
    """With ``--intentd-url``, the live server and its key are checked before any test runs: a key of
    a namespace that is not a sandbox stops the session here."""
    url = config.getoption("--intentd-url", default=None)
    if not url:
        return
    from .embedded import LiveServer

    key = config.getoption("--intentd-api-key") or os.environ.get("INTENTD_API_KEY")
    if not key:
        raise pytest.UsageError("--intentd-url needs --intentd-api-key (or INTENTD_API_KEY): a sandbox key")
    try:
        config.stash[LIVE_SERVER] = LiveServer(url, key)
    except ValueError as refused:
        raise pytest.UsageError(str(refused)) from None


@pytest.fixture(scope="session")
def intentd_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The server of the session: the live one of --intentd-url, or an embedded one, started on first
    use and stopped at the end of the session."""
    live = request.config.stash.get(LIVE_SERVER, None)
    if live is not None:
        yield live
        return
    from .embedded import EmbeddedServer

    server = EmbeddedServer(tmp_path_factory.mktemp("intentd")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def intentd(intentd_server: Server, request: pytest.FixtureRequest) -> Iterator[Intentd]:
    """This test's namespace on the session's server, with clients, a worker, stand-ins, people,
    the clock and golden records (intentd.testing.harness)."""
    from .harness import Intentd

    harness = Intentd(
        intentd_server, test_dir=request.path.parent, record=request.config.getoption("--intentd-record")
    )
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture
def intentd_clock(intentd: Intentd) -> Intentd:
    """The test's ``intentd``, for a test that moves the server's time on (``advance``): skipped,
    saying why, against a live server, whose time is the real one."""
    if not intentd.controls_time:
        pytest.skip("moves the server's time: only the embedded server's moves (not with --intentd-url)")
    return intentd


@pytest.fixture
def intentd_client(intentd: Intentd) -> Client:
    return intentd.client


@pytest.fixture
def intentd_worker(intentd: Intentd) -> Worker:
    """The test's worker: register handlers on it before the first ``intentd.submit``."""
    return intentd.worker


# An async test runs in pytest-asyncio's loop, and so must its client: where pytest-asyncio is installed
# (the host of async tests), the plugin offers one.
if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def intentd_async_client(intentd: Intentd) -> AsyncIterator[AsyncClient]:
        """An AsyncClient of the test's namespace, for async tests (with pytest-asyncio), opened and
        closed in the test's own event loop."""
        from intentd.client import AsyncClient

        async with AsyncClient(intentd.url, intentd.api_key) as client:
            yield client
