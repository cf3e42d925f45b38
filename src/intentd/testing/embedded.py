"""The server a test suite talks to: an embedded one (the real app on a temporary SQLite file, served
over real HTTP by uvicorn on a free port, in a thread of this process, with a :class:`TestClock`), or a
live one given by URL, whose sandbox namespace the tests use.

Both give each test a namespace of its own where they can: the embedded server makes a sandbox
namespace and an admin key per test (through its engine, in its own event loop), so tests stay
isolated while the server starts once per session. A live server's namespaces are its operator's: the
tests share the one sandbox namespace their key belongs to, and a key of a production namespace is
refused before any test runs."""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

from intentd.settings import Settings

from .clock import TestClock

T = TypeVar("T")
START_SECONDS = 30.0  # the embedded server is up within this, or the session fails saying so
CALL_SECONDS = 30.0  # an engine call made for a test (a namespace, a tick) ends within this


class TimeControlUnavailable(RuntimeError):
    """Time moves on only on the embedded server: a live server keeps the real time."""


class Server(Protocol):
    url: str
    controls_time: bool  # whether advance() moves the server's time (the embedded server's only)

    def new_namespace(self) -> tuple[str, str]:
        """(namespace, an admin key of it) for one test."""
        ...

    def advance(self, seconds: float) -> None: ...

    def now(self) -> float:
        """The server's time, in seconds since the epoch."""
        ...

    def stop(self) -> None: ...


class EmbeddedServer:
    """``create_app`` on ``directory/intentd.db``, served by uvicorn in a daemon thread."""

    controls_time = True

    def __init__(self, directory: Path, clock: TestClock | None = None) -> None:
        self.clock = clock or TestClock()
        self._admin_key = "itd_" + secrets.token_urlsafe(24)
        settings = Settings(
            database_url=f"sqlite:///{directory / 'intentd.db'}", bootstrap_api_key=self._admin_key
        )
        # On use: the server's packages (intentd[server]) are needed by a suite that starts one, not
        # by every importer of intentd.testing (the CLI's golden export, a live server's suite).
        from intentd.server import create_app

        self._app = create_app(settings, clock=self.clock)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._uvicorn: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> EmbeddedServer:
        import uvicorn  # the server extra's: only a suite that starts a server needs it

        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._uvicorn = uvicorn.Server(config)
        started = threading.Event()

        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            started.set()
            await self._uvicorn.serve()

        self._thread = threading.Thread(
            target=asyncio.run, args=(serve(),), name="intentd-embedded", daemon=True
        )
        self._thread.start()
        if not started.wait(START_SECONDS) or not self._wait_until_up():
            raise RuntimeError(f"the embedded intentd server did not start within {START_SECONDS:.0f} s")
        return self

    def _wait_until_up(self) -> bool:
        """Whether uvicorn says it is serving within :data:`START_SECONDS` (its thread still alive)."""
        pause = threading.Event()
        for _ in range(int(START_SECONDS / 0.02)):
            if self._uvicorn.started:
                return True
            if self._thread is None or not self._thread.is_alive():
                return False
            pause.wait(0.02)
        return False

    def stop(self) -> None:
        if self._uvicorn is None or self._loop is None:
            return
        self._uvicorn.should_exit = True
        engine = getattr(self._app.state, "engine", None)
        if engine is not None:  # held streams end now, not at their next keep-alive
            self._loop.call_soon_threadsafe(engine.store.hub.close)
        if self._thread is not None:
            self._thread.join(START_SECONDS)

    def call(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``work()`` in the server's event loop (where its engine and store live), and wait."""
        if self._loop is None:
            raise RuntimeError("the embedded server is not running")
        return asyncio.run_coroutine_threadsafe(work(), self._loop).result(CALL_SECONDS)

    def new_namespace(self) -> tuple[str, str]:
        engine = self._app.state.engine
        name = f"test-{uuid.uuid4().hex[:12]}"

        async def make() -> str:
            await engine.namespaces.create(name, sandbox=True)
            _, secret = await engine.keys.create("test", "admin", namespace=name)
            return str(secret)

        return name, self.call(make)

    def advance(self, seconds: float) -> None:
        """Move the server's time on by ``seconds`` and fire what fell due (timers, expired leases),
        before returning: what a timer does is committed when this returns (what it hands to a
        worker still takes that worker's time)."""
        self.clock.advance(seconds)
        scheduler = self._app.state.engine.scheduler
        self.call(scheduler.tick)

    def now(self) -> float:
        return self.clock() / 1_000_000


class LiveServer:
    """A running intentd given by URL, with a key of a sandbox namespace."""

    controls_time = False

    def __init__(self, url: str, api_key: str) -> None:
        self.url = url.rstrip("/")
        self._api_key = api_key
        answer = httpx.get(f"{self.url}/v1/namespaces/current", headers={"x-api-key": api_key}, timeout=10)
        answer.raise_for_status()
        current = answer.json()["namespace"]
        if not current.get("sandbox"):
            raise ValueError(
                f"the key given for {self.url} is of namespace {current.get('name')!r}, not a sandbox: tests "
                "run only in a sandbox namespace (intentd namespaces create NAME --sandbox; docs/testing.md)"
            )
        self.namespace = str(current["name"])

    def new_namespace(self) -> tuple[str, str]:
        return self.namespace, self._api_key

    def advance(self, seconds: float) -> None:
        raise TimeControlUnavailable(
            "time moves on only on the embedded server; against a live server (--intentd-url) a test "
            "that needs it should be skipped (docs/testing.md)"
        )

    def now(self) -> float:
        return time.time()

    def stop(self) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


__all__ = ["EmbeddedServer", "LiveServer", "Server", "TimeControlUnavailable"]
