"""Server-sent events exactly as the official SDK parses them (PROTOCOL.md §2.3): named ``event:``
lines, ``id:`` lines, JSON ``data:``; when idle the connection is held up to ``wait_seconds``, then
``event: stream.timeout`` (data ``{"ok": true, "next_seq": N}``) and close. Keep-alive comments keep
proxies from cutting an idle stream.

A stream is validated before it starts (unknown intent, bad parameters: an ordinary error answer). An
error after the headers are sent can no longer change the status, so it ends the stream with
``event: stream.error`` whose data is the error body every route uses (``{"ok": false, "error": …}``),
instead of cutting the connection; a client reconnects from the last ``id:`` it saw."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from intentd.engine import Principal
from intentd.model import IntentdError

KEEPALIVE_SECONDS = 15.0
log = logging.getLogger("intentd.server.sse")


class Watch(Protocol):
    """A subscription to the changes a stream follows (the engine's ``watch`` methods give one)."""

    @property
    def closed(self) -> bool: ...

    async def wait(self, timeout: float) -> bool: ...


def frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: ".encode() + _one_line(orjson.dumps(data)) + b"\n\n"


# Characters JSON leaves as they are but that line readers built on str.splitlines (httpx's
# iter_lines among them) take for line ends, cutting a data: line in two: written as JSON escapes.
_LINE_BREAKING = ((b"\xe2\x80\xa8", b"\\u2028"), (b"\xe2\x80\xa9", b"\\u2029"), (b"\xc2\x85", b"\\u0085"))


def _one_line(data: bytes) -> bytes:
    if b"\xe2\x80" in data or b"\xc2\x85" in data:
        for raw, escaped in _LINE_BREAKING:
            data = data.replace(raw, escaped)
    return data


class Batch(NamedTuple):
    frames: Sequence[tuple[str, int, Any]]  # (event name, id, data)
    cursor: int  # where the next fetch starts (may pass items that were filtered out)
    finished: bool  # nothing more can follow (a terminal event was sent)
    more: bool = False  # the page was full: more may be waiting already, fetch again at once


async def follow(
    subscribe: Callable[[], AbstractContextManager[Watch]],
    fetch: Callable[[int], Awaitable[Batch]],
    since: int,
    wait_seconds: float,
) -> AsyncIterator[bytes]:
    """Send everything after ``since`` (page after page, as fast as the client reads), then whatever
    arrives until ``wait_seconds`` pass."""
    cursor = since
    deadline = time.monotonic() + wait_seconds
    with subscribe() as subscription:
        while True:
            batch = await fetch(cursor)
            for name, seq, data in batch.frames:
                yield frame(name, data, seq)
            cursor = batch.cursor
            if batch.finished:
                return
            if batch.more and not subscription.closed:
                continue  # a backlog is paged through without waiting for a wake-up
            remaining = deadline - time.monotonic()
            if remaining <= 0 or subscription.closed:
                yield frame("stream.timeout", {"ok": True, "next_seq": cursor})
                return
            if not await subscription.wait(min(remaining, KEEPALIVE_SECONDS)) and (
                deadline - time.monotonic() > 0
            ):
                yield b": keep-alive\n\n"


def event_stream(body: AsyncIterator[bytes], request: Request, caller: Principal) -> StreamingResponse:
    """The stream's response. It holds one of the caller's stream slots (ratelimit.py) from now until
    it ends, however it ends; past the key's limit, ``TooManyStreams`` (429) before anything is sent."""
    release = request.app.state.stream_slots.take(caller.key_id)
    return _HeldStream(
        release,
        _ending_on_error(body),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class _HeldStream(StreamingResponse):
    """Gives its stream slot back when the response ends: sent whole, cut by the client, or failed.
    (The body's own ``finally`` would not run for a body that never started.)"""

    def __init__(self, release: Callable[[], None], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


async def _ending_on_error(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in body:
            yield chunk
    except Exception as exc:  # noqa: BLE001 - answered in the stream, the only way left
        error = exc if isinstance(exc, IntentdError) else IntentdError("internal error; see the server log")
        if not isinstance(exc, IntentdError):
            log.error("stream failed", exc_info=exc)
        yield frame("stream.error", {"ok": False, "error": error.to_wire(), "detail": error.message})
