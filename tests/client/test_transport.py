"""The AsyncClient's lean transport (``intentd.client._transport``) over real sockets.

Three kinds of server: uvicorn with httptools in this event loop serving a small ASGI app whose
answers a test controls (keep-alive, idle connections closed, timeouts, chunked and Content-Length
answers, large bodies, streams); a bare asyncio server that drops a kept-alive connection as a request
arrives on it (the race httpx's pool also faces); and ``intentd serve`` on both backends, where the
SDK's calls, streams and errors must come out as they do through httpx's transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import uvicorn

from intentd.client import (
    AsyncClient,
    Client,
    ClientTimeout,
    IntentdError,
    Status,
    TransportError,
)
from intentd.client._transport import LeanTransport
from tests._support import databases
from tests._support.servers import API_KEY, Server, free_port, module_server

pytestmark = pytest.mark.slow
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


def lean(**limits: Any) -> LeanTransport:
    return LeanTransport(limits=httpx.Limits(**limits))


# --- which transport a client sends through -----------------------------------------------------


def transport_of(client: AsyncClient | Client) -> object:
    return client._http._transport


async def test_an_async_client_of_an_http_url_sends_through_the_lean_transport() -> None:
    async with AsyncClient("http://127.0.0.1:1", "key") as client:
        assert isinstance(transport_of(client), LeanTransport)


async def test_https_the_sync_client_and_a_given_transport_keep_what_they_had() -> None:
    async with AsyncClient("https://intentd.example", "key") as client:
        assert type(transport_of(client)) is httpx.AsyncHTTPTransport
    with Client("http://127.0.0.1:1", "key") as sync_client:
        assert type(transport_of(sync_client)) is httpx.HTTPTransport
    given = httpx.AsyncHTTPTransport()  # the way to opt out of the lean transport
    async with AsyncClient("http://127.0.0.1:1", "key", transport=given) as client:
        assert transport_of(client) is given


# --- uvicorn serving an app the tests control ---------------------------------------------------


class ProbeApp:
    """An ASGI app: ``/peer`` answers the client's port (one port, one connection), ``/echo`` the
    body it was sent, ``/lines?n=`` n lines in chunks (no Content-Length), the second and later only
    once ``more`` is set, ``/bytes?n=`` n bytes, ``/hold`` once ``release`` is set, ``/health``
    after ``slow`` seconds, ``/close`` with ``Connection: close``."""

    def __init__(self) -> None:
        self.more = asyncio.Event()
        self.release = asyncio.Event()
        self.slow = 0.0

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = await read_body(receive)
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        path = scope["path"]
        if path == "/lines":
            await self.lines(send, int(query["n"]))
        elif path == "/hold":
            await self.release.wait()
            await answer(send, b"released")
        elif path == "/health":
            await asyncio.sleep(self.slow)
            await answer(send, b'{"status": "ok"}')
        elif path == "/close":
            await answer(send, b"bye", [(b"connection", b"close")])
        elif path == "/bytes":
            await answer(send, bytes(range(256)) * (int(query["n"]) // 256))
        else:
            await answer(send, body if path == "/echo" else str(scope["client"][1]).encode())

    async def lines(self, send: Send, count: int) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})  # chunked
        for number in range(count):
            if number == 1:
                await self.more.wait()
            await send({"type": "http.response.body", "body": f"line {number}\n".encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def answer(send: Send, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    length = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": length + (headers or [])})
    await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def uvicorn_serving(app: ProbeApp, *, keep_alive: int = 5) -> AsyncIterator[uvicorn.Server]:
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http="httptools",
        lifespan="off",
        log_level="warning",
        timeout_keep_alive=keep_alive,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        app.more.set()
        app.release.set()
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
def app() -> ProbeApp:
    return ProbeApp()


@pytest.fixture
async def probe_url(app: ProbeApp) -> AsyncIterator[str]:
    async with uvicorn_serving(app) as server:
        yield f"http://127.0.0.1:{server.config.port}"


def http_client(url: str, transport: httpx.AsyncBaseTransport, **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, transport=transport, **options)


async def ports(http: httpx.AsyncClient, requests: int) -> set[str]:
    return {(await http.get("/peer")).text for _ in range(requests)}


async def test_requests_one_after_another_share_one_connection(probe_url: str) -> None:
    async with http_client(probe_url, lean(max_connections=10)) as http:
        seen = await ports(http, 10)
        echoed = await http.post("/echo", content=b"same connection")
        seen |= await ports(http, 10)
    assert echoed.content == b"same connection"
    assert len(seen) == 1


async def test_concurrent_requests_stay_within_the_connection_limit(probe_url: str) -> None:
    async with http_client(probe_url, lean(max_connections=4)) as http:
        answers = await asyncio.gather(*(http.post("/echo", content=f"{i}".encode()) for i in range(50)))
        seen = {(await http.get("/peer")).text for _ in range(4)}
        in_parallel = await asyncio.gather(*(http.get("/peer") for _ in range(50)))
    assert [a.text for a in answers] == [str(i) for i in range(50)]
    assert len(seen | {a.text for a in in_parallel}) <= 4


async def test_an_answer_with_connection_close_is_not_reused(probe_url: str) -> None:
    async with http_client(probe_url, lean(max_connections=1)) as http:
        before = (await http.get("/peer")).text
        assert (await http.get("/close")).text == "bye"
        after = (await http.get("/peer")).text
    assert before != after


async def until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)


def pooled_and_ready(transport: LeanTransport) -> int:
    return sum(c.ready for idle in transport._pool._idle.values() for c in idle)


async def test_a_connection_the_server_closed_while_idle_is_not_reused(app: ProbeApp) -> None:
    """uvicorn closes a connection idle for its keep-alive time; the next request, a POST that
    cannot be sent twice, goes out on a new connection, not into the closed one."""
    transport = lean(max_connections=10)
    async with uvicorn_serving(app, keep_alive=1) as server:
        url = f"http://127.0.0.1:{server.config.port}"
        async with http_client(url, transport) as http:
            first = (await http.get("/peer")).text
            await until(lambda: not server.server_state.connections, "uvicorn to close the idle connection")
            await until(lambda: pooled_and_ready(transport) == 0, "the client to see the close")
            echoed = await http.post("/echo", content=b"not lost")
            second = (await http.get("/peer")).text
    assert echoed.content == b"not lost"
    assert first != second


async def test_a_response_body_streams_as_it_arrives_in_chunks(app: ProbeApp, probe_url: str) -> None:
    async with http_client(probe_url, lean(max_connections=1)) as http:
        async with http.stream("GET", "/lines", params={"n": 3}) as response:
            assert "content-length" not in response.headers
            assert response.headers["transfer-encoding"] == "chunked"
            lines = response.aiter_lines()
            assert await anext(lines) == "line 0"  # before the server has sent the rest
            app.more.set()
            assert [line async for line in lines] == ["line 1", "line 2"]
        assert (await http.get("/peer")).status_code == 200  # the connection came back


async def test_a_stream_left_before_its_end_closes_its_connection(app: ProbeApp, probe_url: str) -> None:
    async with http_client(probe_url, lean(max_connections=1)) as http:
        before = (await http.get("/peer")).text
        async with http.stream("GET", "/lines", params={"n": 3}) as response:
            async for _ in response.aiter_lines():
                break
        after = (await http.get("/peer")).text  # the one connection allowed is free again
    assert before != after


async def test_large_bodies_both_ways(probe_url: str) -> None:
    big = bytes(range(256)) * (5 * 4096)  # 5 MiB: more than the socket and asyncio buffer at once

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    async with http_client(probe_url, lean(max_connections=2), timeout=30) as http:
        assert (await http.post("/echo", content=big)).content == big
        assert (await http.post("/echo", content=pieces())).content == big  # sent chunked
        answer = await http.get("/bytes", params={"n": len(big)})
        assert answer.content == big and answer.headers["content-length"] == str(len(big))
        assert len(await ports(http, 3)) == 1


async def test_a_read_timeout_is_httpx_s_and_the_sdk_s_client_timeout(app: ProbeApp, probe_url: str) -> None:
    app.slow = 2.0
    async with http_client(probe_url, lean(max_connections=2)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get("/health", timeout=0.2)
    async with AsyncClient(probe_url, "key", timeout=0.2, max_retries=0) as client:
        assert isinstance(transport_of(client), LeanTransport)
        with pytest.raises(ClientTimeout):
            await client.health()


async def test_callers_over_the_limit_wait_for_a_connection_up_to_the_pool_timeout(
    app: ProbeApp, probe_url: str
) -> None:
    async with http_client(probe_url, lean(max_connections=1)) as http:
        held = asyncio.create_task(http.get("/hold"))
        await until(lambda: http._transport._pool._open == 1, "the held request to have its connection")  # type: ignore[attr-defined]
        with pytest.raises(httpx.PoolTimeout):
            await http.get("/peer", timeout=httpx.Timeout(5, pool=0.1))
        waiting = asyncio.create_task(http.get("/peer"))
        app.release.set()
        assert (await held).text == "released"
        assert (await waiting).status_code == 200


async def test_a_cancelled_request_gives_its_connection_back(probe_url: str) -> None:
    async with http_client(probe_url, lean(max_connections=1)) as http:
        held = asyncio.create_task(http.get("/hold"))
        await until(lambda: http._transport._pool._open == 1, "the held request to have its connection")  # type: ignore[attr-defined]
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held
        async with asyncio.timeout(5):
            assert (await http.get("/peer")).status_code == 200


async def test_nothing_listening_is_a_connect_error_and_the_sdk_s_transport_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with http_client(url, lean(max_connections=2)) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/peer")
    async with AsyncClient(url, "key", max_retries=0) as client:
        with pytest.raises(TransportError):
            await client.health()


async def test_a_server_that_stops_reading_is_a_write_timeout() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # holds the connection open and reads nothing

    server = await asyncio.start_server(never_read, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server, http_client(url, lean(max_connections=1)) as http:
        with pytest.raises(httpx.WriteTimeout):  # more than the kernel's socket buffers hold
            await http.post("/echo", content=b"x" * (64 << 20), timeout=httpx.Timeout(5, write=0.3))
        for writer in accepted:
            writer.close()


# --- a kept-alive connection dropped as a request goes out ----------------------------------------


class DropOnReuse:
    """A bare HTTP/1.1 server that answers the first request on each connection and keeps it open,
    then closes it without answering when a second request arrives: a keep-alive timeout that fires
    as the client reuses the connection."""

    def __init__(self) -> None:
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await reader.readuntil(b"\r\n\r\n")  # the second request: dropped
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def drop_on_reuse() -> AsyncIterator[tuple[str, DropOnReuse]]:
    handler = DropOnReuse()
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}", handler


async def test_an_idempotent_request_on_a_dropped_kept_alive_connection_is_sent_once_more() -> None:
    async with drop_on_reuse() as (url, server), http_client(url, lean(max_connections=2)) as http:
        assert (await http.get("/a")).text == "ok"
        assert (await http.get("/b")).text == "ok"  # dropped on the reused connection, then resent
        assert (await http.put("/c", content=b"x")).text == "ok"
    assert server.connections == 3


async def test_a_post_on_a_dropped_kept_alive_connection_is_not_sent_twice() -> None:
    async with drop_on_reuse() as (url, server), http_client(url, lean(max_connections=2)) as http:
        assert (await http.post("/a", content=b"x")).text == "ok"
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await http.post("/b", content=b"y")
    assert server.connections == 1


# --- the SDK against intentd serve ---------------------------------------------------------------


@pytest.fixture(scope="module", params=databases.BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir: Path = tmp_path_factory.mktemp("transport")
    with module_server(request, workdir) as server:
        yield server


def network(kind: str) -> httpx.AsyncBaseTransport | None:
    """``lean``: the SDK's default; ``httpx``: httpx's own transport, the reference."""
    return None if kind == "lean" else httpx.AsyncHTTPTransport()


@pytest.fixture(params=["lean", "httpx"])
async def client(request: pytest.FixtureRequest, live: Server) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live.url, API_KEY, transport=network(request.param)) as sdk:
        assert isinstance(transport_of(sdk), LeanTransport) == (request.param == "lean")
        yield sdk


def agent() -> str:
    return f"agent://acme/transport/{uuid.uuid4().hex[:10]}"


async def test_the_hot_path_submit_claim_complete(client: AsyncClient) -> None:
    address = agent()
    for n in range(5):
        intent = await client.submit(address, "intent.transport.v1", {"n": n})
        [delivery] = await client.claim(address)
        done = await client.complete(intent.intent_id, delivery.lease_token, {"n": n})
        assert done.intent.status is Status.COMPLETED
        assert (await client.get(intent.intent_id)).result == {"n": n}


async def test_a_waiting_client_follows_the_intent_s_event_stream(client: AsyncClient) -> None:
    address = agent()
    intent = await client.submit(address, "intent.transport.v1", {})
    waiting = asyncio.create_task(client.wait_for(intent.intent_id, timeout=30))
    [delivery] = await client.claim(address, wait_seconds=5)
    await client.complete(intent.intent_id, delivery.lease_token, {"streamed": True})
    final = await waiting
    assert final.status is Status.COMPLETED and final.result == {"streamed": True}
    seen = [event.event_type async for event in client.observe(intent.intent_id, timeout=10)]
    assert seen[-1] == "intent.completed"


async def test_an_agent_feed_streams_what_is_submitted_to_it(client: AsyncClient) -> None:
    address = agent()
    feed = client.listen(address, timeout=30)
    submitted = [await client.submit(address, "intent.transport.v1", {"n": n}) for n in range(3)]
    received = [(await anext(feed)).intent_id for _ in submitted]
    await feed.aclose()
    assert received == [intent.intent_id for intent in submitted]


async def test_a_payload_near_the_body_limit_goes_and_comes_back_whole(client: AsyncClient) -> None:
    payload = {"text": "x" * (900 * 1024)}  # the server takes bodies up to 1 MiB
    intent = await client.submit(agent(), "intent.transport.v1", payload)
    assert (await client.get(intent.intent_id)).payload == payload


async def test_many_calls_in_flight(live: Server) -> None:
    address = agent()
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    async with AsyncClient(live.url, API_KEY, limits=limits) as client:
        submitted = await asyncio.gather(
            *(client.submit(address, "intent.transport.v1", {"n": n}) for n in range(60))
        )
        fetched = await asyncio.gather(*(client.get(i.intent_id) for i in submitted))
    assert sorted(i.payload["n"] for i in fetched) == list(range(60))


async def failure(call: Awaitable[Any]) -> tuple[type[BaseException], Any, Any, bool]:
    """What a failing call raises, in the terms a caller sees: class, status, code, request id."""
    with pytest.raises(IntentdError) as raised:
        await call
    error = raised.value
    return type(error), error.status_code, error.code, error.request_id is not None


async def test_errors_come_back_as_the_same_classes_as_through_httpx(live: Server) -> None:
    async def failures(transport: httpx.AsyncBaseTransport | None) -> list[Any]:
        async with (
            AsyncClient(live.url, API_KEY, transport=transport, max_retries=0) as client,
            AsyncClient(live.url, "itd_not_a_key", transport=transport, max_retries=0) as stranger,
        ):
            address = agent()
            intent = await client.submit(address, "intent.transport.v1", {})
            return [
                await failure(client.get("it_missing")),
                await failure(stranger.get(intent.intent_id)),
                await failure(client.complete(intent.intent_id, "not-the-lease", {})),
                await failure(client.submit("not an address", "intent.transport.v1", {})),
                await failure(client.submit(address, "intent.transport.v1", {"x": "y" * (2 << 20)})),
            ]

    through_lean = await failures(None)
    through_httpx = await failures(httpx.AsyncHTTPTransport())
    assert through_lean == through_httpx
    assert [status for _, status, _, _ in through_lean] == [404, 401, 409, 422, 413]
