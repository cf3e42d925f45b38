"""The SDK under test: one test body for both clients, and a failing network.

Each SDK test runs once with ``AsyncClient`` and once with the generated sync ``Client``. Both are
handed to the test as an ``AsyncClient`` (:func:`connected`): the sync one behind
:class:`ThreadedClient`, which runs each call in a worker thread, so every call in a test is a real,
statically checked method call (``await sdk.submit(...)``, ``async for e in sdk.observe(...)``) and
the event loop, where the app and its database connections live, stays free to answer.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar, cast

import httpx
import pytest

from intentd.client import AsyncClient, Client, Unavailable

from .http_api import WRITER
from .servers import BASE_URL

T = TypeVar("T")
Flavour = Literal["async", "sync"]
FLAVOURS: tuple[Flavour, ...] = ("async", "sync")
# Runs a test once per client, for tests that build their own (``mock_client``, a wrong key).
each_flavour = pytest.mark.parametrize("flavour", FLAVOURS)


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests to the app and notes their paths, so a test can wait for the client's next
    stream segment. ``refuse_streams`` plays a proxy that answers stream URLs with a plain 404."""

    def __init__(self, app_transport: httpx.AsyncBaseTransport) -> None:
        self.app_transport = app_transport
        self.paths: list[str] = []
        self.refuse_streams = False
        self._changed = asyncio.Condition()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async with self._changed:
            self.paths.append(request.url.path)
            self._changed.notify_all()
        if self.refuse_streams and request.url.path.endswith("/stream"):
            return httpx.Response(404, json={"ok": False, "error": {"code": "not_found"}})
        return await self.app_transport.handle_async_request(request)

    def count(self, suffix: str) -> int:
        return sum(path.endswith(suffix) for path in self.paths)

    async def wait_count(self, suffix: str, n: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.count(suffix) >= n)


class LoopBridge(httpx.BaseTransport):
    """The sync Client's transport to the in-process app: the client blocks in a worker thread while
    each request runs on the test's event loop, where the app and its database connections live."""

    def __init__(self, inner: httpx.AsyncBaseTransport, loop: asyncio.AbstractEventLoop) -> None:
        self.inner, self.loop = inner, loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def send() -> httpx.Response:
            response = await self.inner.handle_async_request(
                httpx.Request(request.method, request.url, headers=request.headers, content=body)
            )
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return asyncio.run_coroutine_threadsafe(send(), self.loop).result()


class ThreadedClient:
    """A sync ``Client`` with ``AsyncClient``'s surface: what is a coroutine there runs here in a
    worker thread (``asyncio.to_thread``); what is an async iterator there (``observe``, ``listen``,
    ``iter_intents``) pulls each item of the sync iterator in a worker thread. ``Client`` is
    generated from ``AsyncClient`` (a test checks it), so the two have the same methods; use
    :func:`threaded` to get it typed as the ``AsyncClient`` it stands in for."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        template = getattr(AsyncClient, name, None)
        if inspect.isasyncgenfunction(template):

            def follow(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                return _in_threads(method(*args, **kwargs))  # a generator: nothing runs yet

            return follow
        if inspect.iscoroutinefunction(template):

            async def call(*args: Any, **kwargs: Any) -> Any:
                return await asyncio.to_thread(method, *args, **kwargs)

            return call
        return method


def threaded(client: Client) -> AsyncClient:
    return cast(AsyncClient, ThreadedClient(client))


_END = object()


async def _in_threads(items: Iterator[T]) -> AsyncGenerator[T, None]:
    fetching = False
    try:
        while True:
            fetching = True
            item = await asyncio.to_thread(next, items, _END)
            fetching = False
            if item is _END:
                return
            yield cast(T, item)
    finally:
        # Closing ends the sync generator's open stream; not while a canceled fetch still runs it
        # in its thread (the generator would refuse), in which case it ends with its client.
        if not fetching and isinstance(items, Generator):
            await asyncio.to_thread(items.close)


async def collect(items: AsyncIterator[T], limit: int | None = None) -> list[T]:
    """The items of an SDK iterator, up to ``limit`` (then closed, as a caller who stops does)."""
    taken: list[T] = []
    async for item in items:
        taken.append(item)
        if len(taken) == limit:
            break
    if isinstance(items, AsyncGenerator):
        await items.aclose()
    return taken


@asynccontextmanager
async def connected(
    flavour: Flavour, transport: httpx.AsyncBaseTransport, api_key: str, **options: Any
) -> AsyncIterator[AsyncClient]:
    """A client of the app behind ``transport``: an ``AsyncClient``, or a sync ``Client`` (its
    requests bridged to this event loop) behind ``AsyncClient``'s surface. Closed at exit."""
    if flavour == "async":
        async with AsyncClient(BASE_URL, api_key, transport=transport, **options) as client:
            yield client
        return
    bridge = LoopBridge(transport, asyncio.get_running_loop())
    with Client(BASE_URL, api_key, transport=bridge, **options) as sync:
        yield threaded(sync)


# --- a failing network (httpx.MockTransport plays the server) -------------------------------------

INTENT_WIRE = {
    "intent_id": "i-1",
    "intent_type": "intent.draft.v1",
    "status": "SUBMITTED",
    "correlation_id": "c",
    "from_agent": "agent://acme/prod/boss",
    "to_agent": WRITER,
    "payload": {},
    "created_at": "2030-01-01T00:00:00Z",
    "last_seq": 2,
}
UNAVAILABLE = {"ok": False, "error": Unavailable().to_wire()}


def flaky_server(
    answers: list[int | Exception], body: dict[str, Any]
) -> tuple[list[httpx.Request], httpx.MockTransport]:
    """Answers request n with ``answers[n]`` (the last one repeats): a status, or an error raised."""
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        answer = answers[min(len(requests), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        if answer >= 400:
            return httpx.Response(answer, json=UNAVAILABLE, headers={"Retry-After": "0"})
        return httpx.Response(answer, json=body)

    return requests, httpx.MockTransport(handle)


def mock_client(flavour: Flavour, transport: httpx.MockTransport) -> AsyncClient:
    """A client of ``flavour`` whose network is ``transport``, retrying with a tiny backoff."""
    if flavour == "async":
        return AsyncClient(BASE_URL, "k", transport=transport, backoff=0.001)
    return threaded(Client(BASE_URL, "k", transport=transport, backoff=0.001))
