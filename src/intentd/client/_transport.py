"""The AsyncClient's network transport for ``http://`` URLs: HTTP/1.1 keep-alive over an asyncio
protocol, framed and parsed by h11 (the parser httpx already installs), with a small connection pool.

Why not httpx's own transport: on the agent's hot path (a create, a claim, a completion) the client
spent about as much CPU per request as the server's routes, and most of it in httpcore's pool, which
on every request and every response close walks each pooled connection and asks its socket whether
the server closed it (a poll(2) through anyio's typed attributes). Here asyncio tells a connection when
its server closes it (``eof_received``, ``connection_lost``), so taking one from the pool is a list pop.
The measurements are in docs/benchmarks.md ("Agent-side transport").

It is an ``httpx.AsyncBaseTransport``, so the SDK's API, httpx's requests, responses, timeouts and
exceptions stay what they were; ``https://`` (and any other scheme) is sent by httpx's own transport.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar, cast

import h11
import httpx

from . import _http11

Origin = tuple[str, int]
Timeouts = dict[str, float | None]
T = TypeVar("T")
# Sends a request on a connection and reads (part of) its answer.
Exchange = Callable[["_Connection"], Awaitable[T]]

# Methods whose request may be sent again when a reused connection turns out to be closed before any
# answer came: the server cannot have acted on it twice in a way that matters (RFC 9110 §9.2.2).
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
READ_AHEAD = 256 * 1024  # bytes received ahead of the reader before the socket is no longer read
# uvicorn closes a connection idle for 5 s, httpx's ``keepalive_expiry``, but its clock starts when it
# writes an answer and ours when we have read it: reusing a connection in the last moments of that
# window races the server's close. Connections are retired this much earlier.
EXPIRY_MARGIN = 0.5


class LeanTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive for ``http://`` origins, within ``limits`` as httpx's transport keeps
    them (``max_connections``, ``max_keepalive_connections``, ``keepalive_expiry``)::

        transport = LeanTransport(limits=httpx.Limits(max_connections=4))
        async with httpx.AsyncClient(base_url="http://127.0.0.1:8321", transport=transport) as http:
            await http.get("/health")
    """

    def __init__(self, *, limits: httpx.Limits) -> None:
        self._pool = _Pool(limits)
        self._limits = limits
        self._other: httpx.AsyncHTTPTransport | None = None  # https://, made on first use

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            if self._other is None:
                self._other = httpx.AsyncHTTPTransport(limits=self._limits)
            return await self._other.handle_async_request(request)
        timeouts: Timeouts = request.extensions.get("timeout", {})
        origin = (request.url.host, request.url.port or 80)
        replayable = request.method in IDEMPOTENT and isinstance(request.stream, httpx.ByteStream)
        exchange = functools.partial(_Connection.request_head, request=request, timeouts=timeouts)
        connection, head = await self._exchange(origin, exchange, timeouts, replayable)
        return httpx.Response(
            head.status_code,
            headers=head.headers.raw_items(),
            stream=_ResponseBody(self._pool, connection, timeouts.get("read")),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": head.reason},
        )

    async def request_whole(
        self, origin: Origin, method: bytes, data: bytes, timeouts: Timeouts
    ) -> _http11.Answer:
        """One exchange of the AsyncClient's own calls (``_direct.py``): ``data`` is the whole
        request (``_http11.request``), the answer is read whole. No httpx request or response
        objects and no h11 events: this spares those calls most of the client CPU a request costs."""
        exchange = functools.partial(_Connection.exchange_whole, method=method, data=data, timeouts=timeouts)
        connection, answer = await self._exchange(origin, exchange, timeouts, method.decode() in IDEMPOTENT)
        self._pool.release(connection)
        return answer

    async def _exchange(
        self, origin: Origin, exchange: Exchange[T], timeouts: Timeouts, replayable: bool
    ) -> tuple[_Connection, T]:
        """A connection of the pool and what ``exchange`` read from it after sending its request."""
        connection = await self._pool.connection(origin, timeouts)
        try:
            return connection, await self._attempt(connection, exchange)
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
            if not (replayable and connection.reused and not connection.answered):
                raise
        # The server closed this kept-alive connection as the request went out, before answering
        # it (httpcore avoids most of these by polling the socket first; asyncio has told us of
        # every close that had arrived). Once more, on a new connection, if sending it twice is
        # safe (RFC 9110 §9.2.2) and its body can be sent again.
        fresh = await self._pool.connection(origin, timeouts, fresh=True)
        return fresh, await self._attempt(fresh, exchange)

    async def _attempt(self, connection: _Connection, exchange: Exchange[T]) -> T:
        try:
            return await exchange(connection)
        except BaseException:
            self._pool.discard(connection)
            raise

    async def aclose(self) -> None:
        self._pool.close()
        if self._other is not None:
            await self._other.aclose()


class _ResponseBody(httpx.AsyncByteStream):
    """The body of one answer, read from its connection, which goes back to the pool once the
    answer has been read whole and is closed if it is abandoned before that."""

    def __init__(self, pool: _Pool, connection: _Connection, read_timeout: float | None) -> None:
        self._pool = pool
        self._connection: _Connection | None = connection
        self._read_timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx.StreamClosed()
        try:
            while (chunk := await connection.body_chunk(self._read_timeout)) is not None:
                yield chunk
        except BaseException:
            self._abandon()
            raise
        self._connection = None
        self._pool.release(connection)

    async def aclose(self) -> None:
        self._abandon()

    def _abandon(self) -> None:
        """Closed before its end (or broken): its connection cannot carry another exchange."""
        if self._connection is not None:
            self._pool.discard(self._connection)
            self._connection = None


class _Pool:
    """Connections by origin within ``limits``: idle ones taken most recently used first, callers
    over ``max_connections`` waiting in turn (up to the pool timeout)."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._max_open = limits.max_connections
        self._max_idle = limits.max_keepalive_connections
        expiry = limits.keepalive_expiry
        self._expiry = None if expiry is None else max(0.0, expiry - EXPIRY_MARGIN)
        self._idle: dict[Origin, list[_Connection]] = {}
        self._idle_count = 0
        self._open = 0  # connections open or being opened, the idle ones too
        self._connections: set[_Connection] = set()  # the open ones, idle or carrying an exchange
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def connection(self, origin: Origin, timeouts: Timeouts, *, fresh: bool = False) -> _Connection:
        """A connection to ``origin`` for one exchange: an idle one unless ``fresh``, else a new one."""
        deadline = _deadline(timeouts.get("pool"))
        my_turn = False
        while True:
            if self._closed:
                raise RuntimeError("the transport is closed")
            if my_turn or not self._waiters:  # callers already waiting go first
                idle = None if fresh else self._take_idle(origin)
                if idle is not None:
                    idle.reused = True
                    return idle
                if self._has_room() or self._close_idle_elsewhere(origin):
                    return await self._open_new(origin, timeouts.get("connect"))
            await self._wait_turn(deadline)
            my_turn = True

    def release(self, connection: _Connection) -> None:
        """Back to the pool after an answer read whole (closed instead if it cannot serve another)."""
        full = self._max_idle is not None and self._idle_count >= self._max_idle
        if self._closed or full or not connection.start_next_exchange():
            self.discard(connection)
            return
        connection.idle_since = time.monotonic()
        self._idle.setdefault(connection.origin, []).append(connection)
        self._idle_count += 1
        self._wake_next()

    def discard(self, connection: _Connection) -> None:
        self._forget(connection)
        self._wake_next()

    def close(self) -> None:
        """Every connection, also those of answers still being read (a stream whose reader has
        gone, say): httpx's pool does the same, and a server must not hold on to a stream for us."""
        self._closed = True
        for connection in list(self._connections):
            self._forget(connection)
        self._idle.clear()
        while self._waiters:
            self._wake_next()

    def _forget(self, connection: _Connection) -> None:
        connection.close()
        if connection in self._connections:
            self._connections.remove(connection)
            self._open -= 1

    def _take_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.ready and (self._expiry is None or now - connection.idle_since < self._expiry):
                return connection
            self._forget(connection)  # the server closed it, or it sat idle too long
        return None

    def _has_room(self) -> bool:
        return self._max_open is None or self._open < self._max_open

    def _close_idle_elsewhere(self, origin: Origin) -> bool:
        """At the limit: close an idle connection to another origin to make room for this one."""
        for other, idle in self._idle.items():
            if other != origin and idle:
                self._forget(idle.pop(0))
                self._idle_count -= 1
                return True
        return False

    async def _open_new(self, origin: Origin, timeout: float | None) -> _Connection:
        self._open += 1
        try:
            connection = await _connect(origin, timeout)
        except BaseException:
            self._open -= 1
            self._wake_next()
            raise
        self._connections.add(connection)
        return connection

    async def _wait_turn(self, deadline: float | None) -> None:
        """Until a connection is released or closed; ``PoolTimeout`` at ``deadline``."""
        turn = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        try:
            await _wait(turn, None if deadline is None else deadline - time.monotonic())
        except TimeoutError:
            raise httpx.PoolTimeout("no connection came free within the pool timeout") from None
        except BaseException:
            if turn.done() and not turn.cancelled() and turn.exception() is None:
                self._wake_next()  # woken, then cancelled: the turn passes to the next caller
            raise
        finally:
            if turn in self._waiters:
                self._waiters.remove(turn)

    def _wake_next(self) -> None:
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return


async def _connect(origin: Origin, timeout: float | None) -> _Connection:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            _, connection = await loop.create_connection(lambda: _Connection(origin), *origin)
    except TimeoutError:  # before OSError: a TimeoutError is one
        raise httpx.ConnectTimeout(f"no connection to {origin[0]}:{origin[1]} within {timeout} s") from None
    except OSError as exc:
        raise httpx.ConnectError(str(exc)) from exc
    return connection


class _Connection(asyncio.Protocol):
    """One TCP connection: asyncio hands it bytes, h11 turns them into events for the exchange."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.reused = False  # it served an exchange before this one
        self.answered = False  # bytes of the current answer arrived
        self.idle_since = 0.0
        self._h11 = h11.Connection(h11.CLIENT)
        self._transport: asyncio.Transport | None = None
        self._received = bytearray()
        self._eof = False  # the server closed its side, or the connection is gone
        self._lost: Exception | None = None
        self._data_waiter: asyncio.Future[None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None  # while asyncio's write buffer is full
        self._reading_paused = False
        self._direct_keep_alive: bool | None = None  # after a direct exchange: whether to keep it

    # --- asyncio's side -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._received += data
        self.answered = True
        if len(self._received) > READ_AHEAD and not self._reading_paused:
            self._reading_paused = True  # the reader is slow (a stream): let TCP hold the rest
            assert self._transport is not None
            self._transport.pause_reading()
        _wake(self._data_waiter)

    def eof_received(self) -> None:
        self._eof = True
        _wake(self._data_waiter)

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof, self._lost = True, exc
        _wake(self._data_waiter)
        _wake(self._drain_waiter)

    def pause_writing(self) -> None:
        self._drain_waiter = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        _wake(self._drain_waiter)
        self._drain_waiter = None

    # --- the exchange's side --------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Ready for a request: nothing received since the last answer, the server has not closed."""
        return not self._eof and not self._received and self._h11.our_state is h11.IDLE

    def start_next_exchange(self) -> bool:
        """After an answer read whole: whether the connection can carry another exchange."""
        if self._direct_keep_alive is not None:  # a direct exchange, h11 left idle
            keep_alive, self._direct_keep_alive = self._direct_keep_alive, None
            return keep_alive and not self._eof and not self._received
        if self._eof or self._h11.our_state is not h11.DONE or self._h11.their_state is not h11.DONE:
            return False  # e.g. the server said ``Connection: close``
        self._h11.start_next_cycle()
        return True

    async def exchange_whole(self, method: bytes, data: bytes, timeouts: Timeouts) -> _http11.Answer:
        """Write a whole request (``_http11.request``) and read its answer whole, framed by
        ``_http11`` rather than h11 (whose state stays idle, so either may carry the next one)."""
        self.answered = False
        self._direct_keep_alive = False  # until the answer has been read whole
        with suppress(httpx.WriteError):  # the server may have answered already: read that
            await self._write(data, timeouts.get("write"))
        read = timeouts.get("read")
        while True:
            parsed = _http11.head(self._received, method)
            if parsed is None:
                await self._more(read, "Server disconnected without sending a response.")
                continue
            head, size = parsed
            del self._received[:size]
            if head.status_code >= 200:
                break
            if head.status_code == 101:
                raise httpx.RemoteProtocolError("the server switched protocols")
            # 1xx answers (100 Continue) come before the real one, as in response_head.
        body = await self._whole_body(head, read)
        self._resume_reading()
        self._direct_keep_alive = head.keep_alive
        return _http11.Answer(head.status_code, head.reason, head.headers, body)

    async def _whole_body(self, head: _http11.Head, timeout: float | None) -> bytes:
        cut_short = "Server disconnected before the answer was complete."
        if head.chunked:
            chunks = _http11.Chunks()
            chunks.feed(self._received)
            while not chunks.done:
                await self._more(timeout, cut_short)
                chunks.feed(self._received)
            return bytes(chunks.body)
        if head.length is None:  # until the server closes the connection
            while not self._eof:
                await self._wait_for_data(timeout)
            if self._lost is not None:
                raise httpx.ReadError(str(self._lost) or type(self._lost).__name__)
            body, self._received = bytes(self._received), bytearray()
            return body
        while len(self._received) < head.length:
            await self._more(timeout, cut_short)
        body = bytes(self._received[: head.length])
        del self._received[: head.length]
        return body

    async def _more(self, timeout: float | None, closed: str) -> None:
        """Wait for more of an answer to arrive; ``closed`` says what it is if none can."""
        if self._eof:
            if self._lost is not None:
                raise httpx.ReadError(str(self._lost) or type(self._lost).__name__)
            raise httpx.RemoteProtocolError(closed)
        await self._wait_for_data(timeout)

    async def _wait_for_data(self, timeout: float | None) -> None:
        self._resume_reading()
        self._data_waiter = asyncio.get_running_loop().create_future()
        try:
            await _wait(self._data_waiter, timeout)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no data from the server within {timeout} s") from None
        finally:
            self._data_waiter = None

    async def request_head(self, request: httpx.Request, timeouts: Timeouts) -> h11.Response:
        """Send ``request`` (h11) and read the head of its answer; its body is read next."""
        # A write that fails may have failed because the server answered already (a 413 before
        # the body was read) and closed: read that answer, as httpcore does.
        with suppress(httpx.WriteError):
            await self.send_request(request, timeouts.get("write"))
        return await self.response_head(timeouts.get("read"))

    async def send_request(self, request: httpx.Request, timeout: float | None) -> None:
        self.answered = False
        target = request.url.raw_path
        with _mapped(httpx.LocalProtocolError):
            head = self._h11.send(
                h11.Request(method=request.method, target=target, headers=request.headers.raw)
            )
        if isinstance(request.stream, httpx.ByteStream):  # the whole body in one write with the head
            body = request.content
            await self._write(head + self._frame(body) + self._frame(None), timeout)
            return
        await self._write(head, timeout)
        async for chunk in cast(httpx.AsyncByteStream, request.stream):
            await self._write(self._frame(chunk), timeout)
        await self._write(self._frame(None), timeout)

    def _frame(self, body: bytes | None) -> bytes:
        """``body`` as h11 frames it (chunked or as is); None: the end of the request."""
        with _mapped(httpx.LocalProtocolError):
            event: Any = h11.EndOfMessage() if body is None else h11.Data(data=body)
            return self._h11.send(event) or b""

    async def response_head(self, timeout: float | None) -> h11.Response:
        while True:
            try:
                event = await self.next_event(timeout)
            except httpx.RemoteProtocolError:
                if self.answered:
                    raise
                # h11 says it in its terms ("can't handle event type ConnectionClosed ..."); this is
                # httpcore's message for the same thing.
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.") from None
            if isinstance(event, h11.Response):
                return event
            # 1xx answers (100 Continue) come before the real one; httpcore skips them too.

    async def body_chunk(self, timeout: float | None) -> bytes | None:
        """The next piece of the answer's body as it arrives; None at its end."""
        while True:
            event = await self.next_event(timeout)
            if isinstance(event, h11.Data):
                return bytes(event.data)
            if isinstance(event, h11.EndOfMessage):
                return None
            if isinstance(event, h11.ConnectionClosed):
                raise httpx.RemoteProtocolError("Server disconnected before the answer was complete.")

    async def next_event(self, timeout: float | None) -> Any:
        while True:
            try:  # (not _mapped: this runs several times per exchange)
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            await self._feed(timeout)

    async def _feed(self, timeout: float | None) -> None:
        """Hand h11 what has arrived, waiting up to ``timeout`` for something to arrive."""
        if not self._received and not self._eof:
            self._data_waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(self._data_waiter, timeout)
            except TimeoutError:
                raise httpx.ReadTimeout(f"no data from the server within {timeout} s") from None
            finally:
                self._data_waiter = None
        if self._received:
            data, self._received = bytes(self._received), bytearray()
            self._resume_reading()
        elif self._lost is not None:
            raise httpx.ReadError(str(self._lost) or type(self._lost).__name__)
        else:
            data = b""  # the server closed the connection: h11 says whether that ended the answer
        with _mapped(httpx.RemoteProtocolError):
            self._h11.receive_data(data)

    def _resume_reading(self) -> None:
        if self._reading_paused and self._transport is not None and not self._transport.is_closing():
            self._reading_paused = False
            self._transport.resume_reading()

    async def _write(self, data: bytes, timeout: float | None) -> None:
        transport = self._transport
        if transport is None or transport.is_closing() or self._eof:
            raise httpx.WriteError("the server closed the connection")
        transport.write(data)
        if self._drain_waiter is not None:
            try:
                await _wait(self._drain_waiter, timeout)
            except TimeoutError:
                raise httpx.WriteTimeout(f"the server took no data for {timeout} s") from None
            if self._lost is not None or transport.is_closing():
                raise httpx.WriteError("the connection closed while the request was sent")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


async def _wait(future: asyncio.Future[None], timeout: float | None) -> None:
    """``await future``; ``TimeoutError`` after ``timeout`` seconds (a timer on the loop, no task)."""
    if timeout is None:
        await future
        return
    expired = asyncio.get_running_loop().call_later(timeout, _expire, future)
    try:
        await future
    finally:
        expired.cancel()


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


@contextmanager
def _mapped(to: type[httpx.TransportError]) -> Iterator[None]:
    """h11's protocol errors as httpx's, the exceptions httpx users (the SDK) catch."""
    try:
        yield
    except (h11.LocalProtocolError, h11.RemoteProtocolError) as exc:
        raise to(str(exc)) from exc
