"""OpenTelemetry on the agent side (docs/operations.md, "Traces"): the one module of the SDK and the
worker that uses it, and only once the process has imported it itself (``intentd[otel]``; ``pip
install intentd`` works without it).

Tracing is on when the process has set a tracer provider (the application's choice, as for any
library: ``trace.set_tracer_provider(...)``, or ``opentelemetry-instrument``). Setting one imports
``opentelemetry.trace``, so a process that has not imported it has none: :func:`active` looks in
``sys.modules`` and imports nothing, and intentd adds no import time and no work per request to a
process that does not trace. When on:

- a request the SDK sends from inside a span carries that span's W3C ``traceparent`` (and
  ``tracestate``) header; the server stores it on the intents the request creates;
- :func:`consumer_span` starts the span a handler runs in from the context its intent carries, so the
  handler's span is a child of the span that submitted (or spawned, or handed on) the intent, in
  whatever process that was.

The W3C format is used whatever ``OTEL_PROPAGATORS`` says: it is what the intent stores.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

from intentd import __version__

_MISSING = object()
_tracer: tuple[Any, Any] | None = None  # (provider, its tracer): made again if the provider changes


def active() -> bool:
    """Whether spans are recorded in this process: a tracer provider is set."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:  # never imported (or not installed): no provider can have been set
        return False
    # While no provider is set, get_tracer_provider() looks OTEL_PYTHON_TRACER_PROVIDER up in the
    # environment on every call (microseconds, on every request the SDK sends); the global it reads
    # first says the same for the cost of an attribute read. (That variable's provider is loaded by
    # the first get_tracer(), which code that makes spans has called.) An API without the global
    # takes the public way.
    if getattr(trace, "_TRACER_PROVIDER", _MISSING) is None:
        return False
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def inject(headers: dict[str, str]) -> None:
    """Add the current span's ``traceparent`` and ``tracestate`` to ``headers``; nothing outside a
    span, or when tracing is off."""
    if active():
        _w3c().inject(headers)


@contextmanager
def consumer_span(
    name: str, parent: Mapping[str, str] | None, attributes: Mapping[str, Any]
) -> Iterator[Any]:
    """A CONSUMER span, current for the block, whose parent is the span ``parent`` (a W3C carrier:
    ``traceparent``, ``tracestate``) names; without one (or a malformed one) it begins a trace of its
    own rather than joining whatever span happens to be current. Call only when :func:`active`."""
    from opentelemetry import context, trace

    start = _w3c().extract(parent) if parent else context.Context()
    with _current_tracer().start_as_current_span(
        name, context=start, kind=trace.SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


def mark_failed(error_type: str, exc: BaseException) -> None:
    """Set the current span's status to error, naming ``error_type`` (``error.type``, the semantic
    conventions' attribute) and recording ``exc``. Nothing when tracing is off or no span is current."""
    if not active():
        return
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.record_exception(exc)
        span.set_attribute("error.type", error_type)
        span.set_status(trace.StatusCode.ERROR, str(exc) or error_type)


@cache
def _w3c() -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator()


def _current_tracer() -> Any:
    """The tracer of the provider set now (a test, or an application, may set another later)."""
    from opentelemetry import trace

    global _tracer
    provider = trace.get_tracer_provider()
    if _tracer is None or _tracer[0] is not provider:
        _tracer = (provider, provider.get_tracer("intentd", __version__))
    return _tracer[1]
