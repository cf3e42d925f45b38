"""Server-sent events, decoded line by line (the subset of the WHATWG rules AXP servers use).

A block of ``event:``, ``id:`` and ``data:`` lines ends at a blank line; several ``data:`` lines join
with a newline; lines starting with ``:`` are comments (keep-alives); a block without ``event:`` is a
``message``. intentd ends every stream segment with ``event: stream.timeout`` (data
``{"ok": true, "next_seq": N}``), after which the client reconnects from its cursor.

:class:`Follow` keeps that cursor across reconnects for ``observe`` and ``listen``, without I/O.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import orjson

from intentd.model import JSON, Status

from ._base import Call, RetryPolicy, ignore
from ._calls import agent_path, intent_path, list_events
from ._errors import TransportError, WaitTimeout
from ._types import AgentSwitch, Event, FeedItem, StreamDelivery

SEGMENT_END = "stream.timeout"
STREAM_READ_MARGIN = 15.0  # seconds a stream may be silent beyond its wait (keep-alives come every 15)


@dataclass(frozen=True, slots=True)
class Message:
    event: str
    data: str
    id: str | None = None


class LineSplitter:
    r"""The stream's bytes into SSE lines, each decoded from UTF-8 (the only encoding SSE has). The
    SSE rules end a line at CR, LF or CRLF only; httpx's ``iter_lines`` also splits at U+2028, U+2029
    and U+0085, which may stand inside a ``data:`` line. Bytes, not text, are split: no decoder runs
    per chunk, and a line is whole before it is decoded, so no character is cut in two.

    >>> splitter = LineSplitter()
    >>> splitter.feed("data: a\u2028b\r".encode()), splitter.feed(b"\nid: 1\n")
    ([], ['data: a\u2028b', 'id: 1'])
    """

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[str]:
        data = self._pending + chunk
        if b"\r" in data:
            # A CR at the very end may be the first half of a CRLF: wait for the next chunk.
            cut = len(data) - 1 if data.endswith(b"\r") else len(data)
            lines = _LINE_END.split(data[:cut])
            self._pending = lines.pop() + data[cut:]
        else:  # LF only, as intentd sends them
            lines = data.split(b"\n")
            self._pending = lines.pop()
        return [line.decode("utf-8", "replace") for line in lines]


_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(slots=True)
class Decoder:
    """Feed it lines (without their line ending); it returns a Message when a block is complete.

    >>> decoder = Decoder()
    >>> [decoder.feed(line) for line in ["id: 3", "event: intent.completed", 'data: {}', ""]]
    [None, None, None, Message(event='intent.completed', data='{}', id='3')]
    """

    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, line: str) -> Message | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        return None  # retry: and unknown fields are ignored, as the SSE rules say

    def _dispatch(self) -> Message | None:
        if not self._event and not self._data:
            return None
        message = Message(self._event or "message", "\n".join(self._data), self._id)
        self._event, self._data, self._id = "", [], None
        return message


@dataclass(frozen=True, slots=True)
class Deadline:
    at: float | None  # time.monotonic() value, or None for "never"

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else time.monotonic() + seconds)

    def remaining(self, cap: float) -> float:
        return cap if self.at is None else max(0.0, min(cap, self.at - time.monotonic()))

    def check(self, what: str) -> None:
        if self.at is not None and time.monotonic() >= self.at:
            raise WaitTimeout(f"{what}: no result before the timeout")


class Sequenced(Protocol):
    @property
    def seq(self) -> int: ...


S = TypeVar("S", bound=Sequenced)


class Follow(Generic[S]):
    """The state of a followed stream across reconnects: ``cursor`` is the highest seq handed to the
    caller, and the next segment asks for ``since=cursor`` (exclusive), so a reconnect neither
    repeats nor skips an item. Consecutive failed segments are counted for the retry budget."""

    def __init__(
        self, what: str, since: int, timeout: float | None, wait_seconds: float, retry: RetryPolicy
    ) -> None:
        self.what = what
        self.cursor = since
        self.deadline = Deadline.after(timeout)
        self.wait_seconds = wait_seconds
        self.retry = retry
        self.failures = 0
        self.finished = False
        self.streaming = True
        self._segment_ended = False

    def stream_call(self) -> Call[None]:
        raise NotImplementedError

    def parse(self, message: Message) -> S | None:
        raise NotImplementedError

    def begin_segment(self) -> Call[None]:
        self.deadline.check(self.what)
        self._segment_ended = False
        return self.stream_call()

    def accept(self, message: Message) -> S | None:
        """The item this message carries if the caller has not seen it yet."""
        if message.event == SEGMENT_END:
            self._segment_ended = True
            self.on_segment_end(_json(message.data))
            return None
        item = self.parse(message)
        return item if item is not None and self.take(item) else None

    def take(self, item: S) -> bool:
        if item.seq <= self.cursor:
            return False  # already handed out before a reconnect
        self.cursor = item.seq
        self.failures = 0
        self.on_item(item)
        return True

    def on_item(self, item: S) -> None:
        pass

    def on_segment_end(self, data: JSON) -> None:
        pass

    def end_segment(self) -> float:
        """Seconds to wait before the next segment: none after a clean end; backoff when the
        connection dropped without ``stream.timeout`` (counted like a failure)."""
        if self._segment_ended or self.finished:
            self.failures = 0
            return 0.0
        return self.failed(TransportError("the stream closed before its end"))

    def failed(self, error: TransportError) -> float:
        if self.failures >= self.retry.max_retries:
            raise error
        self.failures += 1
        return self.deadline.remaining(self.retry.delay(self.failures - 1))


class IntentFollow(Follow[Event]):
    """``observe``: an intent's events until a terminal one."""

    def __init__(
        self, intent_id: str, since: int, timeout: float | None, wait_seconds: float, retry: RetryPolicy
    ) -> None:
        super().__init__(f"intent {intent_id}", since, timeout, wait_seconds, retry)
        self.intent_id = intent_id

    def stream_call(self) -> Call[None]:
        return Call(
            "GET",
            intent_path(self.intent_id, "/events/stream"),
            ignore,
            params={"since": self.cursor, "wait_seconds": self._wait()},
            read_timeout=self._wait() + STREAM_READ_MARGIN,
        )

    def poll_call(self) -> Call[list[Event]]:
        return list_events(self.intent_id, self.cursor, 1000)

    def parse(self, message: Message) -> Event | None:
        return Event.from_wire(_json(message.data)) if message.event.startswith("intent.") else None

    def on_item(self, item: Event) -> None:
        self.finished = self.finished or item.is_terminal

    def _wait(self) -> float:
        return self.deadline.remaining(self.wait_seconds)


class FeedFollow(Follow[FeedItem]):
    """``listen``: an agent's feed, for as long as the caller keeps reading."""

    def __init__(
        self,
        address: str,
        since: int,
        status: Sequence[Status | str] | None,
        timeout: float | None,
        wait_seconds: float,
        retry: RetryPolicy,
    ) -> None:
        super().__init__(f"agent {address}", since, timeout, wait_seconds, retry)
        self.address = address
        self.status = ",".join(str(getattr(s, "value", s)) for s in status) if status else None

    def stream_call(self) -> Call[None]:
        wait = self.deadline.remaining(self.wait_seconds)
        params: JSON = {"since": self.cursor, "wait_seconds": wait}
        if self.status:
            params["status"] = self.status
        return Call(
            "GET",
            agent_path(self.address, "/intents/stream"),
            ignore,
            params=params,
            read_timeout=wait + STREAM_READ_MARGIN,
        )

    def parse(self, message: Message) -> FeedItem | None:
        if not message.event.startswith("intent."):
            return None
        return FeedItem.from_wire(_json(message.data))

    def on_segment_end(self, data: JSON) -> None:
        # The feed skips entries the status filter hides; next_seq tells how far the server read,
        # so the next segment does not scan them again.
        next_seq = data.get("next_seq")
        if isinstance(next_seq, int) and next_seq > self.cursor:
            self.cursor = next_seq


def delivery_stream(
    agents: Sequence[str], *, worker_id: str, lease_seconds: float, max_in_flight: int
) -> Call[None]:
    """A held delivery stream; the server sends keep-alives at least every 15 s while it is held."""
    params = {
        "agent": list(agents),
        "worker_id": worker_id,
        "lease_seconds": lease_seconds,
        "max_in_flight": max_in_flight,
    }
    return Call("GET", "/v1/deliveries/stream", ignore, params=params, read_timeout=2 * STREAM_READ_MARGIN)


def stream_delivery(message: Message) -> StreamDelivery | AgentSwitch | None:
    """A delivery, a kill or resume of one of the stream's agents, or None (the other frames)."""
    if message.event == "delivery":
        return StreamDelivery.from_wire(_json(message.data))
    if message.event in ("agent.killed", "agent.resumed"):
        data = _json(message.data)
        kill = data.get("kill") or {}
        return AgentSwitch(
            str(data.get("agent")), message.event == "agent.killed", kill.get("target"), kill.get("reason")
        )
    return None


def _json(data: str) -> JSON:
    parsed = orjson.loads(data) if data else {}
    return parsed if isinstance(parsed, dict) else {}
