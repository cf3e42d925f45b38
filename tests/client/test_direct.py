"""The AsyncClient's direct path to the lean transport (``intentd.client._direct``): its requests leave
byte for byte as httpx's own client sends them, its answers come back as httpx would give them, and
what it does not handle (cookies, proxies, other arguments) takes httpx's path."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from intentd.client import AsyncClient
from intentd.client._base import Call
from intentd.client._direct import DirectClient
from intentd.client._transport import LeanTransport

LIMITS = httpx.Limits(max_connections=4)


class Recorder:
    """A bare HTTP/1.1 server: records each request's bytes, answers with ``answer``; ``drop`` closes
    a kept-alive connection as its second request arrives, before answering it."""

    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.answer = (
            b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'
        )
        self.drop = False
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.lower().split(b"\r\n")
                length = next((int(line[15:]) for line in lines if line.startswith(b"content-length:")), 0)
                if self.drop and served == 1:
                    return
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answer)
                served += 1
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client went, or the test's server closed
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def recording() -> AsyncIterator[tuple[str, Recorder]]:
    recorder = Recorder()
    server = await asyncio.start_server(recorder, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", recorder


def direct(url: str) -> DirectClient:
    return DirectClient(base_url=url, transport=LeanTransport(limits=LIMITS), timeout=5.0, limits=LIMITS)


CALLS: list[dict[str, Any]] = [
    {
        "method": "POST",
        "url": "/v1/intents/01J/complete",
        "json": {"lease_token": "t", "result": {"é": [1.5, None]}},
    },
    {
        "method": "GET",
        "url": "/v1/intents",
        "params": {"status": "SUBMITTED", "limit": 50, "agent": ["a", "b"], "x": True},
    },
    {"method": "POST", "url": "/v1/agents/acme/prod/a%2Fb/claims", "headers": {"Content-Type": "text/plain"}},
    {
        "method": "PUT",
        "url": "/v1/agents/acme/binding",
        "json": [],
        "headers": {"user-agent": "mine", "X-Trace-Id": "t"},
    },
    {"method": "DELETE", "url": "/v1/x"},
]


@pytest.mark.parametrize("base", ["", "/prefix", "/prefix/"])
async def test_requests_leave_byte_for_byte_as_httpx_sends_them(base: str) -> None:
    async with recording() as (url, server):
        async with direct(url + base) as fast:
            for call in CALLS:
                assert (await fast.request(**call)).json() == {"ok": True}
        async with httpx.AsyncClient(base_url=url + base, transport=LeanTransport(limits=LIMITS)) as plain:
            for call in CALLS:
                await plain.request(**call)
    half = len(CALLS)
    assert server.requests[:half] == server.requests[half:]


async def test_an_async_client_to_an_http_url_sends_directly_and_its_answers_parse() -> None:
    async with recording() as (url, server), AsyncClient(url, "key") as client:
        assert isinstance(client._http, DirectClient)
        assert client._http._lean is not None
        assert await client._send(Call("GET", "/health", dict)) == {"ok": True}
    assert b"x-api-key: key" in server.requests[0]


async def test_an_answer_s_content_encoding_is_decoded() -> None:
    body = gzip.compress(b'{"zipped":true}')
    async with recording() as (url, server), direct(url) as fast:
        head = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
        server.answer = head + body
        assert (await fast.get("/z")).json() == {"zipped": True}


async def test_cookies_an_answer_sets_are_kept_and_sent_back_through_httpx() -> None:
    async with recording() as (url, server), direct(url) as fast:
        server.answer = b"HTTP/1.1 200 OK\r\nSet-Cookie: lb=node2; Path=/\r\nContent-Length: 2\r\n\r\n{}"
        await fast.get("/first")
        assert fast.cookies.get("lb") == "node2"
        await fast.post("/second", json={})
    assert b"cookie: lb=node2" in server.requests[1].lower()


async def test_an_idempotent_request_on_a_dropped_kept_alive_connection_is_sent_once_more() -> None:
    async with recording() as (url, server), direct(url) as fast:
        server.drop = True
        assert (await fast.get("/a")).status_code == 200
        assert (await fast.get("/b")).status_code == 200  # dropped on the reused connection, then resent
        with pytest.raises(httpx.RemoteProtocolError):
            await fast.post("/c", json={})  # dropped too, and not sent twice
    assert server.connections == 2


async def test_a_transport_error_names_its_request() -> None:
    async with recording() as (url, _):
        pass  # closed: nothing listens there now
    async with direct(url) as fast:
        with pytest.raises(httpx.ConnectError) as raised:
            await fast.post("/v1/intents", json={})
    assert raised.value.request.url == url + "/v1/intents"


# --- the framing of direct exchanges (``_http11``) -------------------------------------------------

ANSWERS = {
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4\r\n{\"a\"\r\n6;ext=1\r\n:[1,2]\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n",
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{\"a\":[1]}",
    "continue first": b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\ncontent-length:  9 \r\n\r\n{\"a\":[1]}",
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(ANSWERS))
async def test_answers_framed_each_way_are_read_whole_on_one_kept_alive_connection(kind: str) -> None:
    async with recording() as (url, server), direct(url) as fast:
        server.answer = ANSWERS[kind]
        for _ in range(3):
            assert (await fast.post("/x", json={})).json()["a"]
    assert server.connections == 1


async def test_an_answer_with_connection_close_or_without_length_ends_its_connection() -> None:
    async with recording() as (url, server), direct(url) as fast:
        server.answer = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"
        assert (await fast.get("/a")).json() == {}
        assert (await fast.get("/b")).json() == {}
        assert server.connections == 2
    body_until_close = b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 300_000

    async def close_after(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(body_until_close)
        await writer.drain()
        writer.close()

    server2 = await asyncio.start_server(close_after, "127.0.0.1", 0)
    async with server2, direct(f"http://127.0.0.1:{server2.sockets[0].getsockname()[1]}") as fast:
        assert (await fast.get("/big")).content == b"x" * 300_000


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",  # then the connection closes
    ],
)
async def test_a_malformed_or_cut_answer_is_httpx_s_protocol_error(answer: bytes) -> None:
    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        writer.close()

    server = await asyncio.start_server(once, "127.0.0.1", 0)
    async with server, direct(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}") as fast:
        with pytest.raises(httpx.RemoteProtocolError):
            await fast.post("/x", json={})


async def test_a_header_value_cannot_smuggle_a_line_into_the_request() -> None:
    async with recording() as (url, server), direct(url) as fast:
        with pytest.raises(httpx.LocalProtocolError):
            await fast.get("/x", headers={"Idempotency-Key": "k\r\nX-Evil: 1"})
    assert server.requests == []
