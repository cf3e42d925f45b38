"""OpenTelemetry on the server (docs/operations.md, "Traces").

Two things, each costing nothing unless used:

- **The trace context travels with the intent.** A request that creates intents (a submit, a spawn,
  a completion with ``then``, a scenario's run) may carry the W3C ``traceparent`` and ``tracestate``
  headers of the span it was sent from; :func:`trace_context` reads them, and the intent stores them
  (``Intent.trace_context``) for the worker that handles it, whose span then continues the trace. It is
  stored as text whether or not this server traces anything itself: the trace joins up across agents
  through a server without OpenTelemetry. A request without the header costs one header look-up.
- **A SERVER span per request**, only with ``INTENTD_OTEL=true``. FastAPI (0.143 and later) has
  OpenTelemetry instrumentation of its own, on whenever a tracer provider is set in the process; the
  app is built with it switched by that setting (:func:`telemetry`), so a process that sets a provider
  for other reasons gets no spans from intentd unless asked, and with the setting off a request pays
  FastAPI's look at three switches (less than its default, which asks for the global providers).
  Its spans continue the caller's ``traceparent`` and follow the HTTP semantic conventions;
  :func:`name_lean_routes` gives the lean hot routes, which bypass FastAPI's routing, the same
  ``POST /v1/intents/{intent_id}/complete`` names as every other route. The spans go to the tracer
  provider the process has (``opentelemetry-instrument`` sets one up), else FastAPI sets one up from
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` with the OTLP/HTTP exporter if it is installed.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from intentd.model import JSON
from intentd.settings import Settings

from .lean import LeanFirst

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig

log = logging.getLogger("intentd.server.tracing")

# W3C Trace Context, level 1, §3.2, read as OpenTelemetry's own propagator reads it (a version other
# than 00 may add fields; ff is no version). Lower-case hex only; ids of all zeros are invalid.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-.*)?")
_MAX_TRACEPARENT = 512
_MAX_TRACESTATE = 512  # what W3C asks vendors to pass on at least; longer ones are dropped
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


def trace_context(request: Request) -> JSON | None:
    """The W3C trace context the request was sent in, as intents store it: ``{"traceparent": …}``
    and ``"tracestate"`` when one came. None without a valid ``traceparent``: W3C has a receiver
    ignore a malformed one (and start a new trace), never refuse the request."""
    headers = request.headers
    traceparent = headers.get("traceparent")
    if traceparent is None or not _valid_traceparent(traceparent):
        return None
    context: JSON = {"traceparent": traceparent}
    states = headers.getlist("tracestate")
    tracestate = ",".join(states)  # several header lines are one list (RFC 9110 §5.3)
    if tracestate and len(tracestate) <= _MAX_TRACESTATE and _PRINTABLE.fullmatch(tracestate):
        context["tracestate"] = tracestate
    return context


def _valid_traceparent(value: str) -> bool:
    match = _TRACEPARENT.fullmatch(value) if len(value) <= _MAX_TRACEPARENT else None
    if match is None:
        return False
    version, trace_id, span_id, more = match.groups()
    if version == "ff" or (version == "00" and more is not None):
        return False
    return trace_id != "0" * 32 and span_id != "0" * 16


def telemetry(settings: Settings) -> TelemetryConfig:
    """FastAPI's OpenTelemetry instrumentation as ``INTENTD_OTEL`` says: traces only (``/metrics`` is
    Prometheus', the logs are intentd's own), no spans of FastAPI's internals (the lean routes have
    none), and exporters from the OTEL_* variables when no provider is set."""
    if not settings.otel:
        return {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}
    return {
        "tracing": True,
        "metrics": False,
        "logs": False,
        "operation_spans": False,
        "auto_configure": True,
    }


def name_lean_routes(app: FastAPI) -> None:
    """Name the request's span after its route (``POST /v1/intents``) for the lean routes, as FastAPI
    names the others: they are matched by :class:`LeanFirst`, which FastAPI's routing does not see
    into. Only with ``INTENTD_OTEL``: otherwise the lean routes stay as they are."""
    for first in app.router.routes:
        if isinstance(first, LeanFirst):
            for route in first.routes:
                first.apps[id(route)] = _named(first.apps[id(route)], route.path_format)


def _named(app: ASGIApp, route: str) -> ASGIApp:
    from opentelemetry import trace

    async def named(scope: Scope, receive: Receive, send: Send) -> None:
        span = trace.get_current_span()  # FastAPI's span of this request
        if span.is_recording():
            span.update_name(f"{scope['method']} {route}")
            span.set_attribute("http.route", route)
        await app(scope, receive, send)

    return named


def report(settings: Settings) -> None:
    """Say at start-up where the spans go, so that a server asked for traces that has nowhere to send
    them says so (FastAPI has set up its exporter by then, if it could)."""
    if not settings.otel:
        return
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        log.warning(
            "INTENTD_OTEL is on but no tracer provider is set up, so no span is recorded: install "
            "intentd[otel] and opentelemetry-exporter-otlp-proto-http and set OTEL_EXPORTER_OTLP_ENDPOINT, "
            'or start the server under opentelemetry-instrument (docs/operations.md, "Traces")'
        )
    else:
        log.info("traces: a span per request, to %s", type(provider).__name__)
