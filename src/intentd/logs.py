"""Logs as text for people or as one JSON object per line for machines, each line stamped with what
its process was working on: the HTTP request, the intent, its correlation id and agent.

The library installs no handlers; the processes the CLI runs (``intentd serve``, ``intentd worker
run``) call :func:`install` with ``INTENTD_LOG_FORMAT``. Any other program can stamp its own lines
the same way::

    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())      # request_id, intent_id, correlation_id, agent
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)

What a line is about lives in a :class:`LogContext` held by a context variable, so each asyncio task
(an HTTP request, a handler's delivery) has its own and the tasks and threads it starts inherit it.
The server starts one per request only when logs are JSON: with text logs the hot path makes none,
and :func:`about` is a variable read and returns.

Standard library only (and orjson, which the SDK has anyway): a line is a small flat object, which
needs no structlog processors, and python-json-logger would be a dependency of every agent for a
``format`` method of a dozen lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Any, Literal, Protocol, TypeVar

import orjson

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
CONTEXT_FIELDS = ("request_id", "intent_id", "correlation_id", "agent")
TRACE_FIELDS = ("trace_id", "span_id")  # the current OpenTelemetry span's, where there is one

A = TypeVar("A")
R = TypeVar("R")


class LogContext:
    """What the lines of one piece of work are about. Mutable, as it is filled in while the work goes
    on: the server starts one per request and names its id (:func:`name_request`), and the engine
    names the intent once it has loaded it (:func:`about`)."""

    __slots__ = CONTEXT_FIELDS

    def __init__(
        self,
        request_id: str | None = None,
        intent_id: str | None = None,
        correlation_id: str | None = None,
        agent: str | None = None,
    ) -> None:
        self.request_id = request_id
        self.intent_id = intent_id
        self.correlation_id = correlation_id
        self.agent = agent


_current: ContextVar[LogContext | None] = ContextVar("intentd_log_context", default=None)


def begin(context: LogContext | None) -> Token[LogContext | None]:
    """Stamp what this task logs from now on (and the tasks and threads it starts) with ``context``.
    A task of its own (a delivery's handler) needs nothing more; code that goes on to other work in
    the same task (a middleware) hands the token to :func:`end` when it is done."""
    return _current.set(context)


def end(token: Token[LogContext | None]) -> None:
    """Back to the context before :func:`begin` gave ``token``."""
    _current.reset(token)


def name_request(request_id: str) -> None:
    """The current piece of work is the HTTP request ``request_id``."""
    context = _current.get()
    if context is not None:
        context.request_id = request_id


class NamesAnIntent(Protocol):
    """An intent as the runtime or the SDK holds it."""

    @property
    def intent_id(self) -> str: ...
    @property
    def correlation_id(self) -> str: ...
    @property
    def to_agent(self) -> str: ...


def about(intent: NamesAnIntent) -> None:
    """The current piece of work acts on ``intent``. The first intent named stays: a request acts on
    one intent, and the children a completion submits are recorded after it."""
    context = _current.get()
    if context is not None and context.intent_id is None:
        context.intent_id = intent.intent_id
        context.correlation_id = intent.correlation_id
        context.agent = intent.to_agent


def carried(unit: Callable[[A], Awaitable[R]]) -> Callable[[A], Awaitable[R]]:
    """``unit``, to be run by another task (the store's writer), with this task's log context:
    what the unit names with :func:`about` stamps the caller's lines. Unchanged without a context."""
    context = _current.get()
    if context is None:
        return unit

    async def in_context(arg: A) -> R:
        token = _current.set(context)
        try:
            return await unit(arg)
        finally:
            _current.reset(token)

    return in_context


class ContextFilter(logging.Filter):
    """Stamps each record with the log context of the code that logged it, as the attributes
    ``request_id``, ``intent_id``, ``correlation_id`` and ``agent`` (None when unknown); one given
    with the call (``extra={"intent_id": …}``) stays. With OpenTelemetry installed, a line logged
    inside a span gets its ``trace_id`` and ``span_id`` (hex, as trace back ends show them), so a
    trace leads to its lines and a line to its trace. On a handler, it runs in the logging task, as
    a context variable must be read."""

    def __init__(self) -> None:
        super().__init__()
        self._current_span = _current_span_getter()

    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, getattr(context, name) if context is not None else None)
        if self._current_span is not None and not hasattr(record, "trace_id"):
            span = self._current_span().get_span_context()
            record.trace_id = f"{span.trace_id:032x}" if span.is_valid else None
            record.span_id = f"{span.span_id:016x}" if span.is_valid else None
        return True


def _current_span_getter() -> Callable[[], Any] | None:
    """OpenTelemetry's ``get_current_span``, or None where it is not installed (an agent host needs
    none: it is the ``otel`` extra). Without a tracer provider every span is invalid: no ids."""
    try:
        from opentelemetry.trace import get_current_span
    except ImportError:
        return None
    return get_current_span


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (RFC 3339, UTC), ``level``, ``logger``, ``message``; the
    context and trace ids a :class:`ContextFilter` stamped, where known; the ``fields`` a line was logged with
    (``extra={"fields": {...}}``); and ``exc``, a traceback's text."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in (*CONTEXT_FIELDS, *TRACE_FIELDS):
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()

    def _timestamp(self, created: float) -> str:
        """``2025-01-31T12:00:00.123456Z``; the text of the second is kept, as lines come many a second."""
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int((created - second) * 1_000_000):06d}Z"


def install(level: str, log_format: LogFormat) -> None:
    """A handler on the root logger writing to stderr, in ``log_format``, from ``level`` up. Does
    nothing if the root logger has handlers already (a program that configured logging itself)."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.addFilter(ContextFilter())
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])


__all__ = [
    "ContextFilter",
    "JsonFormatter",
    "LogContext",
    "LogFormat",
    "about",
    "begin",
    "carried",
    "end",
    "install",
    "name_request",
]
