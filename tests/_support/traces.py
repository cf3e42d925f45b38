"""OpenTelemetry for the trace tests: a tracer provider set for the length of a test (and unset after,
so no other test of the process records or sends anything), and spans written to a JSON-lines file by
another process (a worker, the server) and read back here.

Spans are compared as :class:`SpanRecord`: name, ids in W3C hex, the parent's span id, kind, status
and attributes, whichever process recorded them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once


@dataclass(frozen=True)
class SpanRecord:
    name: str
    trace_id: str
    span_id: str
    parent_id: str | None
    kind: str  # SERVER, CONSUMER, INTERNAL, …
    status: str  # UNSET, OK, ERROR
    attributes: dict[str, Any]

    @classmethod
    def of(cls, span: ReadableSpan) -> SpanRecord:
        context = span.get_span_context()
        assert context is not None
        return cls(
            name=span.name,
            trace_id=trace.format_trace_id(context.trace_id),
            span_id=trace.format_span_id(context.span_id),
            parent_id=trace.format_span_id(span.parent.span_id) if span.parent else None,
            kind=span.kind.name,
            status=span.status.status_code.name,
            attributes=dict(span.attributes or {}),
        )


def span_record(span: trace.Span) -> SpanRecord:
    """A span of this process, ended."""
    assert isinstance(span, ReadableSpan)
    return SpanRecord.of(span)


@contextmanager
def recording() -> Iterator[InMemorySpanExporter]:
    """A tracer provider for this process, its spans kept in memory, until the block ends. The global
    provider can be set once per process, so it is put back to unset after, as OpenTelemetry's own
    test utilities do (``reset_trace_globals``): other tests of the process see tracing off."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    try:
        yield exporter
    finally:
        provider.shutdown()
        trace._TRACER_PROVIDER = None  # no public reset
        trace._TRACER_PROVIDER_SET_ONCE = Once()


def recorded(exporter: InMemorySpanExporter) -> list[SpanRecord]:
    return [SpanRecord.of(span) for span in exporter.get_finished_spans()]


class JsonLinesExporter(SpanExporter):
    """Appends each finished span to a file, one JSON object per line, as it ends (a process that is
    killed has written all it finished)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(asdict(SpanRecord.of(span))) + "\n" for span in spans)
        with self._lock, self.path.open("a") as file:
            file.write(lines)
        return SpanExportResult.SUCCESS


def export_to_file(path: Path) -> None:
    """Set this process's tracer provider: every span to ``path`` as it ends."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))
    trace.set_tracer_provider(provider)


def read_spans(path: Path) -> list[SpanRecord]:
    if not path.exists():
        return []
    return [SpanRecord(**json.loads(line)) for line in path.read_text().splitlines() if line]
