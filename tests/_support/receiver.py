"""A real HTTP receiver on 127.0.0.1 for webhook and push tests: it records every POST (headers and
raw body) and answers with the status a test sets, in a thread of its own, so the server under test
(in this process or another) reaches it over real TCP."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import orjson
import pytest

from intentd.settings import Settings
from tests._support.servers import app_settings

T = TypeVar("T")


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200  # what every POST is answered with
        self.url = ""
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    def record(self, item: Received) -> int:
        with self._arrived:
            self.received.append(item)
            self._arrived.notify_all()
            return self.status

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first ``count`` POSTs, once they have arrived (``AssertionError`` after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.received)} POSTs arrived, not {count}, in {timeout}s")
                self._arrived.wait(left)
            return list(self.received[:count])


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (the stdlib's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = receiver.record(Received(self.path, dict(self.headers.items()), body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver for the test (import it into a test module to use it as a fixture)."""
    with receiving() as started:
        yield started


def hook_settings(database_url: str, **more: Any) -> Settings:
    """An app that may POST to the receiver on 127.0.0.1, retrying quickly and few times."""
    return app_settings(
        database_url,
        allow_private_callbacks=True,
        webhook_first_retry_seconds=0.05,
        webhook_max_retry_seconds=0.1,
        webhook_max_attempts=2,
        **more,
    )


async def arrived(receiver: Receiver, count: int) -> list[Received]:
    """The first ``count`` POSTs, waited for off the event loop (where an in-process app's sender
    runs)."""
    return await asyncio.to_thread(receiver.wait_for, count)


async def until(check: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
    """``await check()`` until it returns something truthy, and that."""
    async with asyncio.timeout(timeout):
        while not (found := await check()):
            await asyncio.sleep(0.02)
    return found
