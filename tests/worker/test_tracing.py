"""The worker and traces (docs/operations.md, "Traces"), against the real app on both backends: with
a tracer provider set, each delivery is handled in a CONSUMER span ``intentd.handle <agent>`` whose
parent is the span the intent was submitted from, current for the handler (async or sync: the spans
it makes nest under it) and for the completion; a failed attempt's span has status error. Without a
provider the worker makes no span and still does its work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from intentd.client import AsyncClient, IntentSpec, Status
from intentd.worker import Result, RetryableError, Worker
from tests._support import traces
from tests._support.servers import API_KEY, BASE_URL, AppClient
from tests._support.workers import quick_worker, running

AGENT = "agent://acme/prod/traced"
NEXT = "agent://acme/prod/next"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    with traces.recording() as recorded:
        yield recorded


@pytest.fixture
async def client(api: AppClient) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(BASE_URL, API_KEY, transport=api.to_app()) as sdk:
        yield sdk


def handler_spans(exporter: InMemorySpanExporter) -> list[traces.SpanRecord]:
    return [s for s in traces.recorded(exporter) if s.name.startswith("intentd.handle ")]


def register(worker: Worker, kind: str) -> None:
    """A handler for AGENT that makes a span of its own and hands on to NEXT (which just answers)."""

    def work(intent: Any) -> Result:
        with trace.get_tracer("the handler's code").start_as_current_span("draft"):
            pass
        return Result({"drafted": intent.payload}, then=[IntentSpec(NEXT, "intent.next.v1", {})])

    if kind == "async":

        @worker.agent(AGENT)
        async def draft_async(ctx: Any, intent: Any) -> Result:
            await asyncio.sleep(0)
            return work(intent)

    else:

        @worker.agent(AGENT)
        def draft_sync(ctx: Any, intent: Any) -> Result:
            return work(intent)

    @worker.agent(NEXT)
    async def answer(ctx: Any, intent: Any) -> dict[str, Any]:
        return {}


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_a_handler_runs_in_a_span_continuing_the_submitters_trace(
    client: AsyncClient, exporter: InMemorySpanExporter, kind: str
) -> None:
    worker = quick_worker(client)
    register(worker, kind)
    async with running(worker):
        with trace.get_tracer("submitter").start_as_current_span("submit") as submit:
            intent = await client.submit(AGENT, "intent.draft.v1", {"n": 1}, correlation_id="corr-7")
        done = await client.wait_for(intent.intent_id, timeout=20)
        [follow_up] = [i for i in (await client.tree(intent.intent_id)).intents if i.to_agent == NEXT]
        await client.wait_for(follow_up.intent_id, timeout=20)
    assert done.status is Status.COMPLETED

    submitter = traces.span_record(submit)
    spans = {s.name: s for s in traces.recorded(exporter)}
    handler = spans[f"intentd.handle {AGENT}"]
    assert handler.kind == "CONSUMER"
    assert (handler.trace_id, handler.parent_id) == (submitter.trace_id, submitter.span_id)
    assert handler.status == "UNSET"
    assert handler.attributes == {
        "intentd.intent.id": intent.intent_id,
        "intentd.intent.type": "intent.draft.v1",
        "intentd.correlation_id": "corr-7",
        "intentd.agent": AGENT,
        "intentd.delivery.attempt": 1,
        "messaging.system": "intentd",
        "messaging.operation.type": "process",
        "messaging.destination.name": AGENT,
        "messaging.message.id": intent.intent_id,
    }
    # The handler's own span nests under it, in its thread too.
    assert (spans["draft"].trace_id, spans["draft"].parent_id) == (handler.trace_id, handler.span_id)
    # The completion carried the handler's span: the follow-up's handler continues from it.
    after = spans[f"intentd.handle {NEXT}"]
    assert (after.trace_id, after.parent_id) == (handler.trace_id, handler.span_id)
    assert after.attributes["intentd.parent_intent.id"] == intent.intent_id
    assert after.attributes["intentd.root_intent.id"] == intent.intent_id


async def test_a_failed_attempt_has_an_error_span_and_the_retry_a_span_of_its_own(
    client: AsyncClient, exporter: InMemorySpanExporter
) -> None:
    worker = quick_worker(client)

    @worker.agent(AGENT)
    async def flaky(ctx: Any, intent: Any) -> dict[str, Any]:
        if ctx.attempt == 1:
            raise RetryableError("the model timed out", retry_after=0.05)
        return {"ok": True}

    async with running(worker):
        with trace.get_tracer("submitter").start_as_current_span("submit") as submit:
            intent = await client.submit(AGENT, "intent.draft.v1", {})
        assert (await client.wait_for(intent.intent_id, timeout=20)).status is Status.COMPLETED

    first, second = sorted(handler_spans(exporter), key=lambda s: s.attributes["intentd.delivery.attempt"])
    parent = traces.span_record(submit)
    assert [(s.parent_id, s.status) for s in (first, second)] == [
        (parent.span_id, "ERROR"),
        (parent.span_id, "UNSET"),
    ]
    assert first.attributes["error.type"] == "RetryableError"
    assert second.attributes["intentd.delivery.attempt"] == 2


async def test_an_intent_without_a_trace_context_is_handled_in_a_trace_of_its_own(
    client: AsyncClient, exporter: InMemorySpanExporter
) -> None:
    worker = quick_worker(client)

    @worker.agent(NEXT)
    async def answer(ctx: Any, intent: Any) -> dict[str, Any]:
        return {}

    async with running(worker):
        intent = await client.submit(NEXT, "intent.next.v1", {})
        await client.wait_for(intent.intent_id, timeout=20)
    assert intent.trace_context is None
    [handler] = handler_spans(exporter)
    assert handler.parent_id is None


async def test_without_a_tracer_provider_the_worker_makes_no_span(client: AsyncClient) -> None:
    worker = quick_worker(client)
    register(worker, "sync")
    async with running(worker):
        with trace.get_tracer("submitter").start_as_current_span("submit"):
            intent = await client.submit(AGENT, "intent.draft.v1", {})
        done = await client.wait_for(intent.intent_id, timeout=20)
        [follow_up] = [i for i in (await client.tree(intent.intent_id)).intents if i.to_agent == NEXT]
    assert done.status is Status.COMPLETED
    assert (intent.trace_context, follow_up.trace_context) == (None, None)
