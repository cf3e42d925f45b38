"""Servers for tests: the one test API key, the app in this process behind an HTTP client, and real
``intentd serve`` processes.

A :class:`Server` runs ``python -m intentd serve`` on a free 127.0.0.1 port with its settings in
``INTENTD_*`` variables, waits for ``/health``, and can be stopped (SIGTERM), killed (SIGKILL) and
started again on the same database and port. Its stdout and stderr go to a log file whose tail is
printed at teardown, so a failing test shows what the server said.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from intentd.settings import Settings

from . import databases

if TYPE_CHECKING:
    from fastapi import FastAPI

    from intentd.engine import Engine
    from intentd.store import Hub, Subscription

# The bootstrap key of every server a test starts, in this process or in another.
API_KEY = "itd_test_key_for_the_test_suite_0123456789"
API_NAMESPACE = "default"  # the namespace of a bootstrap key, so of everything made with API_KEY
BASE_URL = "http://intentd.test"  # the in-process app's (never resolved: requests go to the app)
START_TIMEOUT = 30.0  # seconds; two shared cores and a cold import of FastAPI, uvicorn, asyncpg
STOP_TIMEOUT = 15.0


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds; ``AssertionError`` naming ``what`` after ``timeout``
    seconds. For state that lives in another process, which has no hook to wait on."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class RequestSent:
    """An httpx ``trace`` extension (``extensions={"trace": sent}``) that notes when the request
    has gone out whole and the client has started waiting for the answer: a long poll sent to a
    server in another process, observed from this side."""

    def __init__(self) -> None:
        self._sent = threading.Event()

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event == "http11.receive_response_headers.started":
            self._sent.set()

    def wait(self, timeout: float = 10.0) -> bool:
        return self._sent.wait(timeout)


# --- the app in this process ----------------------------------------------------------------------


def app_settings(database_url: str, **overrides: Any) -> Settings:
    return Settings(database_url=database_url, bootstrap_api_key=API_KEY, **overrides)


def build_app(settings: Settings, *, run_scheduler: bool = True) -> FastAPI:
    from intentd.server import create_app  # on use: only the API-level tests need FastAPI

    return create_app(settings, run_scheduler=run_scheduler)


class AppClient(httpx.AsyncClient):
    """An HTTP client bound to an app in this process, sending :data:`API_KEY` unless told
    otherwise; ``app`` and ``engine`` let a test reach behind the API."""

    def __init__(
        self,
        app: FastAPI,
        *,
        api_key: str | None = API_KEY,
        headers: Mapping[str, str] | None = None,
        raise_app_exceptions: bool = True,
    ) -> None:
        sent = {"x-api-key": api_key} if api_key else {}
        super().__init__(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions),
            base_url=BASE_URL,
            headers={**sent, **(headers or {})},
        )
        self.app = app

    @property
    def engine(self) -> Engine:
        """The running app's engine (set by its lifespan)."""
        engine: Engine = self.app.state.engine
        return engine

    def to_app(self) -> httpx.ASGITransport:
        """A new transport to the same app, for another client (an SDK client, say)."""
        return httpx.ASGITransport(app=self.app)


@asynccontextmanager
async def serving(app: FastAPI, *, raise_app_exceptions: bool = True) -> AsyncIterator[AppClient]:
    """Run ``app``'s lifespan (store opened, bootstrap key created, scheduler started) and yield a
    client of it."""
    async with (
        app.router.lifespan_context(app),
        AppClient(app, raise_app_exceptions=raise_app_exceptions) as client,
    ):
        yield client


@asynccontextmanager
async def listening(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` (its lifespan already running, see :func:`serving`) over real HTTP on a free
    127.0.0.1 port in this event loop, with uvicorn as ``intentd serve`` runs it; yields its URL.
    For what an in-process ASGI transport cannot do, such as a response that never ends."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        app.state.engine.store.hub.close()  # held streams end now, not at their next keep-alive
        await asyncio.wait_for(task, STOP_TIMEOUT)


class SubscriptionWatch:
    """Stands in for a hub's ``subscribe`` and notes which keys are subscribed, so a test can wait
    until a stream or long poll is parked on its wake-up rather than sleep. A key counts once its
    subscription is in place: a change committed from then on wakes the subscriber."""

    def __init__(self, hub: Hub) -> None:
        self._subscribe: Callable[..., AbstractContextManager[Subscription]] = hub.subscribe
        self._keys: Counter[str] = Counter()
        self._changed = asyncio.Event()

    @contextmanager
    def subscribe(self, *keys: str) -> Iterator[Subscription]:
        with self._subscribe(*keys) as subscription:
            self._keys.update(keys)
            self._changed.set()
            try:
                yield subscription
            finally:
                self._keys.subtract(keys)

    async def wait_for(self, key: str, timeout: float = 5.0) -> None:
        """Return once something is subscribed to ``key``; ``TimeoutError`` after ``timeout``."""
        async with asyncio.timeout(timeout):
            while self._keys[key] <= 0:
                self._changed.clear()
                await self._changed.wait()


# --- intentd serve in another process -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_environment(**settings: str | None) -> dict[str, str]:
    """The test process's environment without ``INTENTD_*``, plus the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTD_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update({f"INTENTD_{k.upper()}": v for k, v in settings.items() if v is not None})
    return env


def intentd_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "intentd", *args]


def worker_process(
    server: Server, workdir: Path, target: str, log_name: str, **env: str
) -> subprocess.Popen[bytes]:
    """``intentd worker run <target>`` (``module:worker`` importable from ``workdir``) against
    ``server``, in a session of its own, with ``env`` set and its output in ``workdir/<log_name>``."""
    environment = child_environment(url=server.url, api_key=server.api_key)
    environment.update(env)
    with (workdir / log_name).open("ab") as log:
        return subprocess.Popen(
            intentd_command("worker", "run", target),
            cwd=workdir,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


REPO = Path(__file__).resolve().parents[2]


def module_process(module: str, *args: str, log: Path) -> subprocess.Popen[bytes]:
    """``python -m <module> <args>`` from the repository root (so ``tests.…`` modules import), in a
    session of its own, without the test process's ``INTENTD_*`` settings, its output added to ``log``."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO,
            env=child_environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def end(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    """Send ``sig`` (SIGKILL for a crash) if ``process`` still runs, and reap it; SIGKILL if it hangs."""
    if process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Server:
    """One ``intentd serve`` subprocess. ``database_url=None`` leaves the default (a SQLite file in
    ``cwd``); ``api_key=None`` starts without a bootstrap key."""

    def __init__(
        self, cwd: Path, database_url: str | None, *, api_key: str | None = API_KEY, name: str = "server"
    ) -> None:
        self.cwd = cwd
        self.database_url = database_url
        self.api_key = api_key
        self.name = name
        self.port = free_port()
        self.log_path = cwd / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        return child_environment(
            database_url=self.database_url,
            bootstrap_api_key=self.api_key,
            host="127.0.0.1",
            port=str(self.port),
        )

    def start(self) -> Server:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            log.write(f"--- start {datetime.now(UTC).isoformat()}\n".encode())
            self.process = subprocess.Popen(
                intentd_command("serve"),
                cwd=self.cwd,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(self._healthy, START_TIMEOUT, f"{self.name} to answer /health")
        except AssertionError:
            self.kill()
            message = f"{self.name} not healthy after {START_TIMEOUT}s:\n{self.log_tail()}"
            raise RuntimeError(message) from None
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.process.returncode} while starting:\n{self.log_tail()}"
            )
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> int:
        """Graceful stop (SIGTERM, as a service manager sends); SIGKILL if it hangs."""
        return self._end(signal.SIGTERM)

    def kill(self) -> int:
        """A crash: no shutdown code runs."""
        return self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> int:
        process = self.process
        if process is None or process.poll() is not None:
            return process.returncode if process else 0
        process.send_signal(sig)
        try:
            return process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError(f"{self.name} ignored {sig.name}:\n{self.log_tail()}") from None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def client(self, *, api_key: str | None = None, timeout: float = 30.0) -> httpx.Client:
        key = api_key or self.api_key or ""
        return httpx.Client(base_url=self.url, headers={"x-api-key": key}, timeout=timeout)


class Servers:
    """Every server a test starts, killed at exit (before a PostgreSQL test database is dropped)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Server] = []

    def start(self, database_url: str | None, **options: Any) -> Server:
        options.setdefault("name", f"server{len(self.started) + 1}")
        server = Server(self.workdir, database_url, **options)
        self.started.append(server)
        return server.start()

    def __enter__(self) -> Servers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for server in self.started:
            try:
                server.kill()
            finally:
                # Shown by pytest only when the test fails.
                print(f"==== {server.name} log ({server.log_path}) ====\n{server.log_tail()}")


@contextmanager
def module_server(
    request: pytest.FixtureRequest, workdir: Path, prefix: str = "intentd_t"
) -> Iterator[Server]:
    """One live ``intentd serve`` on the backend ``request.param`` names (a module-scoped fixture's
    parameter): a SQLite file in ``workdir``, or a fresh PostgreSQL database cloned from the session's
    template. The server is stopped before its database is dropped."""
    with ExitStack() as stack:
        if request.param == "postgres":
            template: str = request.getfixturevalue("pg_template")
            url = stack.enter_context(databases.cloned_database(template, prefix=prefix))
        else:
            url = databases.sqlite_url(workdir)
        servers = stack.enter_context(Servers(workdir))  # exits first: servers end before the drop
        yield servers.start(url)
