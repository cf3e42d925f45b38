"""Traces on the server (docs/operations.md, "Traces"), both backends: the W3C trace context a
request that creates intents was sent in is stored on them and handed to their handlers (a malformed
one is ignored, never refused); follow-ups, children and a scenario's steps continue the span that
made them or inherit their parent's; a retried submit from another span is the same request. With
``INTENTD_OTEL`` each request is a SERVER span continuing the caller's trace, the lean hot routes named
like the others; without it the server makes no span even where a tracer provider is set."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests._support import traces
from tests._support.http_api import WRITER, create
from tests._support.servers import AppClient, app_settings, build_app, serving

REVIEWER = "agent://acme/prod/reviewer"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SUBMITTER = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
HANDLER = f"00-{TRACE_ID}-b7ad6b7169203331-01"
JSON = dict[str, Any]


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    with traces.recording() as recorded:
        yield recorded


@pytest.fixture
async def traced_api(database_url: str, exporter: InMemorySpanExporter) -> AsyncIterator[AppClient]:
    """The app with INTENTD_OTEL on, in a process whose tracer provider keeps its spans in memory."""
    async with serving(build_app(app_settings(database_url, otel=True))) as client:
        yield client


async def submitted(api: AppClient, headers: dict[str, str], **extra: Any) -> JSON:
    response = await api.post(
        "/v1/intents",
        json={"intent_type": "intent.demo.v1", "correlation_id": "c", "to_agent": WRITER, "payload": {}},
        headers=headers,
        **extra,
    )
    assert response.status_code == 200, response.text
    intent: JSON = response.json()["intent"]
    return intent


async def claimed(api: AppClient, agent: str) -> JSON:
    response = await api.post(f"/v1/agents/{agent.removeprefix('agent://')}/claims", json={"worker_id": "w"})
    [delivery] = response.json()["deliveries"]
    return dict(delivery)


async def test_a_submit_stores_its_trace_context_and_the_worker_receives_it(api: AppClient) -> None:
    sent = {"traceparent": SUBMITTER, "tracestate": "vendor=1,other=two"}
    intent = await submitted(api, sent)
    assert intent["trace_context"] == sent
    assert (await api.get(f"/v1/intents/{intent['intent_id']}")).json()["intent"]["trace_context"] == sent
    delivery = await claimed(api, WRITER)
    assert delivery["intent"]["trace_context"] == sent
    created = (await api.get(f"/v1/intents/{intent['intent_id']}/events")).json()["events"][0]
    assert created["details"]["trace_context"] == sent  # the audit trail says which trace it began in


async def test_an_intent_submitted_without_a_traceparent_has_none(api: AppClient) -> None:
    assert (await submitted(api, {}))["trace_context"] is None
    assert (await submitted(api, {"tracestate": "vendor=1"}))["trace_context"] is None
    delivery = await claimed(api, WRITER)
    assert delivery["intent"]["trace_context"] is None


@pytest.mark.parametrize(
    "traceparent",
    [
        "garbage",
        f"00-{TRACE_ID.upper()}-00f067aa0ba902b7-01",  # W3C: lower-case hex only
        f"00-{'0' * 32}-00f067aa0ba902b7-01",  # all-zero trace id
        f"00-{TRACE_ID}-{'0' * 16}-01",  # all-zero parent id
        f"ff-{TRACE_ID}-00f067aa0ba902b7-01",  # ff is no version
        f"00-{TRACE_ID}-00f067aa0ba902b7-01-more",  # version 00 has four fields
        f"00-{TRACE_ID[:-1]}-00f067aa0ba902b7-01",
        f"01-{TRACE_ID}-00f067aa0ba902b7-01-" + "x" * 500,  # past what anyone passes on
    ],
)
async def test_a_malformed_traceparent_is_ignored_not_refused(api: AppClient, traceparent: str) -> None:
    assert (await submitted(api, {"traceparent": traceparent}))["trace_context"] is None


async def test_a_later_version_is_kept_and_a_tracestate_too_long_to_pass_on_is_dropped(
    api: AppClient,
) -> None:
    later = f"01-{TRACE_ID}-00f067aa0ba902b7-01-what-a-later-version-adds"
    assert (await submitted(api, {"traceparent": later}))["trace_context"] == {"traceparent": later}
    long_state = ",".join(f"v{n}=" + "x" * 40 for n in range(12))  # past 512 characters
    kept = await submitted(api, {"traceparent": SUBMITTER, "tracestate": long_state})
    assert kept["trace_context"] == {"traceparent": SUBMITTER}


async def test_a_retried_submit_from_another_span_is_the_same_request(api: AppClient) -> None:
    first = await submitted(api, {"traceparent": SUBMITTER, "Idempotency-Key": "k-1"})
    again = await api.post(
        "/v1/intents",
        json={"intent_type": "intent.demo.v1", "correlation_id": "c", "to_agent": WRITER, "payload": {}},
        headers={"traceparent": HANDLER, "Idempotency-Key": "k-1"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["idempotent_replay"] is True
    assert again.json()["intent"]["intent_id"] == first["intent_id"]
    assert again.json()["intent"]["trace_context"] == {"traceparent": SUBMITTER}


async def complete_with_then(api: AppClient, delivery: JSON, headers: dict[str, str]) -> JSON:
    response = await api.post(
        f"/v1/intents/{delivery['intent']['intent_id']}/complete",
        json={
            "lease_token": delivery["lease"]["token"],
            "result": {},
            "then": [{"to_agent": REVIEWER, "intent_type": "intent.review.v1", "payload": {}}],
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    [follow_up] = response.json()["then"]
    return dict(follow_up)


async def test_a_follow_up_continues_the_completing_span_or_else_its_parents_trace(api: AppClient) -> None:
    await submitted(api, {"traceparent": SUBMITTER})
    follow_up = await complete_with_then(api, await claimed(api, WRITER), {"traceparent": HANDLER})
    assert follow_up["trace_context"] == {"traceparent": HANDLER}
    # A worker that traces nothing hands on its intent's trace.
    next_one = await complete_with_then(api, await claimed(api, REVIEWER), {})
    assert next_one["trace_context"] == {"traceparent": HANDLER}
    # And an intent without a trace hands on none.
    await create(api)
    assert (await complete_with_then(api, await claimed(api, WRITER), {}))["trace_context"] is None


async def spawned(api: AppClient, delivery: JSON, key: str, headers: dict[str, str]) -> JSON:
    parent_id = delivery["intent"]["intent_id"]
    response = await api.post(
        f"/v1/intents/{parent_id}/children",
        json={
            "lease_token": delivery["lease"]["token"],
            "children": [{"key": key, "to_agent": REVIEWER, "intent_type": "intent.review.v1"}],
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    [entry] = [e for e in response.json()["entries"] if e["key"] == key]
    child = (await api.get(f"/v1/intents/{entry['child_intent_id']}")).json()["intent"]
    return dict(child)


async def test_a_child_continues_the_spawning_span_or_else_its_parents_trace(api: AppClient) -> None:
    await submitted(api, {"traceparent": SUBMITTER})
    delivery = await claimed(api, WRITER)
    assert (await spawned(api, delivery, "traced", {"traceparent": HANDLER}))["trace_context"] == {
        "traceparent": HANDLER
    }
    assert (await spawned(api, delivery, "untraced", {}))["trace_context"] == {"traceparent": SUBMITTER}


async def test_a_scenarios_steps_continue_the_span_that_applied_it(api: AppClient) -> None:
    bundle = {
        "scenario_id": "traces.one_step",
        "agents": [{"role": "writer", "address": WRITER}],
        "workflow": {"steps": [{"step_id": "draft", "assigned_to": "writer"}]},
        "intent": {"type": "intent.demo.v1", "payload": {}},
    }
    applied = await api.post("/v1/scenarios/apply", json=bundle, headers={"traceparent": SUBMITTER})
    assert applied.status_code == 200, applied.text
    assert applied.json()["intent"]["trace_context"] == {"traceparent": SUBMITTER}
    step = await claimed(api, WRITER)
    assert step["intent"]["parent_intent_id"] == applied.json()["run_id"]
    assert step["intent"]["trace_context"] == {"traceparent": SUBMITTER}


def server_spans(exporter: InMemorySpanExporter) -> dict[str, traces.SpanRecord]:
    spans = [s for s in traces.recorded(exporter) if s.kind == "SERVER"]
    by_name = {s.name: s for s in spans}
    assert len(by_name) == len(spans), [s.name for s in spans]
    return by_name


async def test_with_intentd_otel_each_request_is_a_server_span_in_the_callers_trace(
    traced_api: AppClient, exporter: InMemorySpanExporter
) -> None:
    intent = await submitted(traced_api, {"traceparent": SUBMITTER})
    await traced_api.get(f"/v1/intents/{intent['intent_id']}", headers={"traceparent": HANDLER})
    await complete_with_then(traced_api, await claimed(traced_api, WRITER), {"traceparent": HANDLER})

    spans = server_spans(exporter)
    assert set(spans) == {
        "POST /v1/intents",  # a lean route, named as FastAPI names the others
        "GET /v1/intents/{intent_id}",
        "POST /v1/agents/{address}/claims",
        "POST /v1/intents/{intent_id}/complete",
    }
    create_span = spans["POST /v1/intents"]
    assert (create_span.trace_id, create_span.parent_id) == (TRACE_ID, "00f067aa0ba902b7")
    assert create_span.attributes["http.route"] == "/v1/intents"
    assert create_span.attributes["http.response.status_code"] == 200
    for name in ("GET /v1/intents/{intent_id}", "POST /v1/intents/{intent_id}/complete"):
        assert (spans[name].trace_id, spans[name].parent_id) == (TRACE_ID, "b7ad6b7169203331")
    assert spans["POST /v1/agents/{address}/claims"].trace_id != TRACE_ID  # sent outside any span
    # The stored context is the caller's, not the server's own span: the handler's parent is the
    # span that submitted, whichever replica took the request and whether or not it traces.
    assert intent["trace_context"] == {"traceparent": SUBMITTER}


async def test_without_intentd_otel_the_server_makes_no_span(
    api: AppClient, exporter: InMemorySpanExporter
) -> None:
    intent = await submitted(api, {"traceparent": SUBMITTER})
    await api.get(f"/v1/intents/{intent['intent_id']}", headers={"traceparent": SUBMITTER})
    assert traces.recorded(exporter) == []
    assert intent["trace_context"] == {"traceparent": SUBMITTER}  # still carried for the agents
