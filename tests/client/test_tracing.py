"""The SDK and traces (docs/operations.md, "Traces"), both clients, both backends: a call made inside
an OpenTelemetry span sends its W3C context, which the intents it creates keep; outside a span, or
with no tracer provider set in the process, nothing is sent and the intent has no trace context."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from intentd.client import AsyncClient
from intentd.client import _tracing as client_tracing
from tests._support import traces
from tests._support.http_api import WRITER


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    with traces.recording() as recorded:
        yield recorded


def traceparent_of(span: trace.Span) -> str:
    context = span.get_span_context()
    trace_id, span_id = trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)
    return f"00-{trace_id}-{span_id}-{context.trace_flags:02x}"


async def test_a_submit_made_in_a_span_carries_it_to_the_intent(
    sdk: AsyncClient, exporter: InMemorySpanExporter
) -> None:
    with trace.get_tracer("submitter").start_as_current_span("submit") as span:
        intent = await sdk.submit(WRITER, "intent.demo.v1", {})
    assert intent.trace_context is not None
    assert intent.trace_context.traceparent == traceparent_of(span)
    assert intent.trace_context.tracestate is None
    assert (await sdk.get(intent.intent_id)).trace_context == intent.trace_context


async def test_outside_a_span_nothing_is_sent(sdk: AsyncClient, exporter: InMemorySpanExporter) -> None:
    assert client_tracing.active()
    intent = await sdk.submit(WRITER, "intent.demo.v1", {})
    assert intent.trace_context is None


async def test_without_a_tracer_provider_nothing_is_sent(sdk: AsyncClient) -> None:
    assert not client_tracing.active()
    headers: dict[str, str] = {}
    with trace.get_tracer("submitter").start_as_current_span("submit"):
        client_tracing.inject(headers)
        intent = await sdk.submit(WRITER, "intent.demo.v1", {})
    assert headers == {}
    assert intent.trace_context is None
