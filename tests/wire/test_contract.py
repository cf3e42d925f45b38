"""The wire contract: what the server sends is what ``intentd.wire`` documents (and the SDK parses),
what the SDK sends is what the server's request models accept, and ``/openapi.json`` says so."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pydantic
import pytest

from intentd import wire
from intentd.client import Client, UnexpectedResponse, _calls
from intentd.client._types import IntentSpec
from tests._support.servers import AppClient

WRITER = "agent://test/local/writer"
REVIEWER = "agent://test/local/reviewer"


def _models_in(annotation: Any) -> list[type[wire.responses.WireModel]]:
    """The response models an annotation names (``Intent``, ``Intent | None``, ``list[Intent]``)."""
    if isinstance(annotation, type) and issubclass(annotation, wire.responses.WireModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def assert_documented(model: type[wire.responses.WireModel], data: Any, where: str = "body") -> None:
    """``data`` validates as ``model``, and has no key that the model (or a nested one) does not
    document: a field the server adds must be added to the wire model too."""
    model.model_validate(data)
    undocumented = set(data) - set(model.model_fields)
    assert not undocumented, f"{where}: {sorted(undocumented)} not in {model.__name__}"
    for name, info in model.model_fields.items():
        nested = _models_in(info.annotation)
        value = data.get(name)
        if not nested or value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            assert_documented(nested[0], item, f"{where}.{name}")


async def _ok(
    api: AppClient, method: str, path: str, model: type[wire.responses.WireModel], **kw: Any
) -> Any:
    response = await api.request(method, path, **kw)
    assert response.status_code == 200, response.text
    body = response.json()
    assert_documented(model, body, f"{method} {path}")
    return body


async def test_every_answer_is_what_the_wire_models_document(api: AppClient) -> None:
    create = {
        "intent_type": "intent.draft.v1",
        "correlation_id": "c-1",
        "to_agent": WRITER,
        "payload": {"topic": "x"},
        "reply_to": REVIEWER,
        "deadline_at": "2999-01-01T00:00:00Z",
        "surprise": 1,
    }
    created = await _ok(api, "POST", "/v1/intents", wire.CreateAnswer, json=create)
    assert created["ignored_fields"] == ["surprise"]
    intent_id = created["intent_id"]
    await _ok(api, "GET", f"/v1/intents/{intent_id}", wire.IntentAnswer)
    await _ok(api, "GET", "/v1/intents", wire.IntentPage, params={"limit": 1})
    claims = await _ok(
        api, "POST", "/v1/agents/test/local/writer/claims", wire.ClaimAnswer, json={"worker_id": "w"}
    )
    token = claims["deliveries"][0]["lease"]["token"]
    base = f"/v1/intents/{intent_id}"
    await _ok(api, "POST", f"{base}/lease/heartbeat", wire.LeaseAnswer, json={"lease_token": token})
    await _ok(api, "POST", f"{base}/progress", wire.IntentAnswer, json={"message": "half", "usage": {"t": 1}})
    then = [{"to_agent": REVIEWER, "intent_type": "intent.review.v1", "payload": {}}]
    done = await _ok(
        api,
        "POST",
        f"{base}/complete",
        wire.Completion,
        json={"lease_token": token, "result": {}, "then": then},
    )
    await _ok(api, "GET", f"{base}/events", wire.EventList)
    await _ok(api, "GET", f"{base}/tree", wire.RunTree)
    child = done["then"][0]["intent_id"]
    await _ok(
        api, "POST", f"/v1/intents/{child}/controls", wire.AppliedAnswer, json={"controls_patch": {"a": 1}}
    )
    await _ok(api, "POST", f"/v1/intents/{child}/policy", wire.AppliedAnswer, json={"grants_patch": {"g": 1}})
    await _ok(api, "POST", f"/v1/intents/{child}/resolve", wire.ResolveAnswer, json={"status": "COMPLETED"})
    await _ok(api, "GET", "/v1/inbox", wire.ThreadList)
    await _ok(api, "GET", f"/v1/inbox/{intent_id}", wire.ThreadAnswer)
    await _ok(api, "POST", "/v1/approvals/a-1/decision", wire.Approval, json={"decision": "approve"})
    await _ok(api, "POST", "/v1/mesh/heartbeat", wire.AgentHealth, json={"metrics": {"cpu": 1}})
    agents = await _ok(api, "GET", "/v1/mesh/agents", wire.MeshAgentList)
    address_id = agents["agents"][0]["address_id"]
    await _ok(api, "GET", f"/v1/mesh/agents/{address_id}", wire.MeshAgentAnswer)
    await _ok(api, "GET", f"/v1/mesh/agents/{WRITER.removeprefix('agent://')}", wire.MeshAgentAnswer)
    kill = {"in_flight": "reassign", "reassign_to": f"{WRITER}@v2", "reason": "contract"}
    await _ok(api, "POST", f"/v1/mesh/agents/{address_id}/kill", wire.KillAnswer, json=kill)
    await _ok(api, "GET", "/v1/mesh/kills", wire.KillList)
    await _ok(api, "GET", "/v1/mesh/agents", wire.MeshAgentList)  # with a killed agent
    await _ok(api, "POST", f"/v1/mesh/agents/{address_id}/resume", wire.ResumeAnswer)
    await _ok(api, "POST", "/v1/mesh/kill", wire.KillAnswer)
    await _ok(api, "POST", f"/v1/mesh/agents/{address_id}/resume", wire.ResumeAnswer)  # still killed
    await _ok(api, "POST", "/v1/mesh/resume", wire.ResumeAnswer)
    await _ok(api, "GET", "/v1/mesh/events", wire.MeshEventList)
    routes = f"/v1/mesh/routes/{WRITER.removeprefix('agent://')}"
    await _ok(api, "GET", routes, wire.RouteAnswer)  # no route yet
    await _ok(api, "PUT", routes, wire.RouteAnswer, json={"weights": {"v1": 3, "v2": 1}})
    await _ok(api, "POST", f"/v1/mesh/agents/{WRITER.removeprefix('agent://')}@v1/drain", wire.RouteAnswer)
    await _ok(api, "GET", "/v1/mesh/routes", wire.RouteList)
    await _ok(api, "DELETE", routes, wire.RouteRemoved)
    policy = {"max_cost_per_day_usd": 9, "tools": {"allow": ["search"]}, "on_breach": "pause"}
    writer_id = WRITER.removeprefix("agent://")
    await _ok(api, "PUT", f"/v1/mesh/policies/{writer_id}", wire.MeshPolicyAnswer, json={"policy": policy})
    await _ok(
        api, "PUT", "/v1/mesh/policies/*", wire.MeshPolicyAnswer, json={"policy": {"max_concurrency": 3}}
    )
    await _ok(api, "GET", "/v1/mesh/policies", wire.MeshPolicyList)
    await _ok(api, "GET", f"/v1/mesh/agents/{writer_id}/policy", wire.EffectivePolicy)
    dry = {"scope": "*", "policy": {"receive": {"deny": ["intent.*"]}}}
    await _ok(api, "POST", "/v1/mesh/dry-run", wire.DryRunAnswer, json=dry)  # recorded: this test's intents
    await _ok(api, "DELETE", f"/v1/mesh/policies/{writer_id}", wire.MeshPolicyRemoved)
    await _ok(api, "DELETE", "/v1/mesh/policies/*", wire.MeshPolicyRemoved)
    await _ok(api, "GET", "/v1/namespaces/current", wire.NamespaceAnswer)
    scenario = {
        "scenario_id": "contract.check",
        "agents": [{"role": "writer", "address": WRITER}],
        "workflow": {
            "steps": [{"step_id": "draft", "tool_id": "tool.agent.task.v1", "assigned_to": "writer"}]
        },
        "intent": {"type": "intent.draft.v1", "payload": {}},
    }
    await _ok(api, "POST", "/v1/scenarios/validate", wire.ScenarioValid, json=scenario)
    await _ok(api, "GET", "/health", wire.HealthAnswer)
    await _ok(api, "GET", "/v1/capabilities", wire.Capabilities)


async def test_workflow_answers_are_documented(api: AppClient) -> None:
    scenario = {
        "scenario_id": "contract.run",
        "agents": [{"role": "writer", "address": WRITER}],
        "workflow": {"steps": [{"step_id": "draft", "assigned_to": "writer"}]},
        "intent": {"type": "intent.draft.v1", "payload": {"topic": "x"}},
    }
    run = await _ok(api, "POST", "/v1/scenarios/apply", wire.ScenarioApplied, json=scenario)
    await _ok(api, "GET", f"/v1/intents/{run['intent_id']}/journal", wire.JournalAnswer)
    body = {"intent_type": "intent.edit.v1", "correlation_id": "c", "to_agent": REVIEWER, "payload": {}}
    parent = (await api.post("/v1/intents", json=body)).json()["intent_id"]
    claims = (await api.post("/v1/agents/test/local/reviewer/claims", json={"worker_id": "w"})).json()
    token = claims["deliveries"][0]["lease"]["token"]
    base = f"/v1/intents/{parent}"
    child = {"key": "a", "to_agent": WRITER, "intent_type": "intent.draft.v1", "payload": {}}
    spawned = await _ok(
        api, "POST", f"{base}/children", wire.JournalAnswer, json={"lease_token": token, "children": [child]}
    )
    assert spawned["entries"][0]["kind"] == "child"
    record = {"lease_token": token, "key": "s", "result": 1}
    await _ok(api, "POST", f"{base}/journal", wire.RecordAnswer, json=record)
    await _ok(api, "POST", f"{base}/await", wire.AwaitAnswer, json={"lease_token": token, "keys": ["a"]})


async def test_human_task_answers_are_documented(api: AppClient) -> None:
    human_task = {"title": "Approve", "remind_after_seconds": 60, "timeout_seconds": 600}
    body = {"intent_type": "intent.buy.v1", "correlation_id": "c", "to_agent": WRITER, "payload": {}}
    intent_id = (await api.post("/v1/intents", json={**body, "human_task": human_task})).json()["intent_id"]
    await _ok(api, "GET", "/v1/me/tasks", wire.TaskList)
    listed = await _ok(api, "GET", "/v1/tasks", wire.TaskList, params={"intent_id": intent_id})
    task_id = listed["tasks"][0]["task_id"]
    await _ok(api, "GET", f"/v1/tasks/{task_id}", wire.TaskAnswerResponse)
    decision = {"outcome": "approved", "comment": "ok"}
    await _ok(api, "POST", f"/v1/tasks/{task_id}/decision", wire.TaskAnswerResponse, json=decision)
    await _ok(api, "GET", "/v1/tasks", wire.TaskList, params={"state": "decided"})


async def test_resume_and_lease_answers_are_documented(api: AppClient) -> None:
    body = {"intent_type": "intent.draft.v1", "correlation_id": "c", "to_agent": WRITER, "payload": {}}
    first = (await api.post("/v1/intents", json=body)).json()["intent_id"]
    resumed = {"action": "complete", "result": {"x": 1}}
    await _ok(api, "POST", f"/v1/intents/{first}/resume", wire.AppliedAnswer, json=resumed)
    second = (await api.post("/v1/intents", json=body)).json()["intent_id"]
    claims = (await api.post("/v1/agents/test/local/writer/claims", json={"worker_id": "w"})).json()
    token = claims["deliveries"][0]["lease"]["token"]
    base = f"/v1/intents/{second}"
    await _ok(
        api,
        "POST",
        f"{base}/wait",
        wire.IntentAnswer,
        json={"lease_token": token, "reason": "WAITING_FOR_HUMAN"},
    )
    await _ok(api, "POST", f"{base}/cancel", wire.ResolveAnswer, json={"reason": "done"})


async def test_inbox_answers_are_documented(api: AppClient) -> None:
    body = {"intent_type": "intent.draft.v1", "correlation_id": "c", "to_agent": WRITER, "payload": {}}
    thread = (await api.post("/v1/intents", json={**body, "reply_to": REVIEWER})).json()["intent_id"]
    base = f"/v1/inbox/{thread}"
    replied = await _ok(api, "POST", f"{base}/reply", wire.ThreadAnswer, json={"message": "news?"})
    message_id = replied["messages"][-1]["message_id"]
    changes = await _ok(api, "GET", "/v1/inbox/changes", wire.ThreadChanges, params={"limit": 1})
    await _ok(api, "GET", "/v1/inbox/changes", wire.ThreadChanges, params={"cursor": changes["next_cursor"]})
    delete = {"mode": "self", "message_ids": [message_id]}
    await _ok(api, "POST", f"{base}/messages/delete", wire.MessagesDeleted, json=delete)
    await _ok(api, "POST", f"{base}/delegate", wire.ThreadAnswer, json={"delegate_to": WRITER, "note": "n"})
    claims = (await api.post("/v1/agents/test/local/writer/claims", json={"worker_id": "w"})).json()
    token = claims["deliveries"][0]["lease"]["token"]
    await api.post(f"/v1/intents/{thread}/wait", json={"lease_token": token, "reason": "WAITING_FOR_HUMAN"})
    await _ok(api, "POST", f"{base}/approve", wire.ThreadDecided, json={"comment": "ok"})
    await _ok(api, "POST", f"/v1/intents/{thread}/resolve", wire.ResolveAnswer, json={"status": "COMPLETED"})
    other = (await api.post("/v1/intents", json={**body, "reply_to": REVIEWER})).json()["intent_id"]
    claims = (await api.post("/v1/agents/test/local/writer/claims", json={"worker_id": "w"})).json()
    token = claims["deliveries"][0]["lease"]["token"]
    await api.post(f"/v1/intents/{other}/wait", json={"lease_token": token, "reason": "WAITING_FOR_HUMAN"})
    await _ok(api, "POST", f"/v1/inbox/{other}/reject", wire.ThreadDecided, json={})


async def test_binding_answers_and_a_bound_stream_s_frames_are_documented(api: AppClient) -> None:
    path = "/v1/agents/test/local/writer/binding"
    await _ok(api, "GET", path, wire.BindingAnswer)
    await _ok(api, "PUT", path, wire.BindingAnswer, json={"delivery_mode": "stream", "lease_seconds": 5})
    await api.post(
        "/v1/intents", json={"intent_type": "t", "correlation_id": "c", "to_agent": WRITER, "payload": {}}
    )
    response = await api.get("/v1/agents/test/local/writer/intents/stream", params={"wait_seconds": 0})
    frames = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    delivered = orjson.loads(frames[0])
    assert delivered["status"] == "DELIVERED" and delivered["lease_token"]
    assert_documented(wire.FeedItem, delivered, "the agent stream's data")
    again = await api.get("/v1/agents/test/local/writer/intents/stream", params={"wait_seconds": 0})
    resumed = orjson.loads(next(line[6:] for line in again.text.splitlines() if line.startswith("data: ")))
    assert resumed["resumed"] is True
    assert_documented(wire.FeedItem, resumed, "the agent stream's data, read again")


@pytest.mark.parametrize(
    ("method", "path", "json", "status"),
    [
        ("GET", "/v1/intents/nope", None, 404),
        ("POST", "/v1/intents", {"intent_type": "x"}, 422),
        ("GET", "/v1/intents?cursor=zz", None, 400),
        ("GET", "/v1/inbox/changes?cursor=zzzz", None, 400),
        ("POST", "/v1/inbox/nope/reply", {"message": "hi"}, 404),
        ("POST", "/v1/approvals/a/decision", {"decision": "maybe"}, 422),
    ],
)
async def test_errors_are_the_documented_error_answer(
    api: AppClient, method: str, path: str, json: Any, status: int
) -> None:
    response = await api.request(method, path, json=json)
    assert response.status_code == status
    assert_documented(wire.ErrorAnswer, response.json())


async def test_openapi_documents_real_bodies_errors_and_keys(api: AppClient) -> None:
    doc = (await api.get("/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert doc["components"]["securitySchemes"]["ApiKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            ok = operation["responses"]["200"]["content"]
            schema = (
                ok.get("application/json", {}).get("schema")
                or ok.get("text/plain", {}).get("schema")  # /metrics: Prometheus's text format
                or ok["text/event-stream"]["itemSchema"]
            )
            assert schema != {}, f"{where}: 200 is undocumented"
            if path.startswith("/v1/links/"):  # a signed link's token is its credential: no key
                assert operation["security"] == [], where
            elif path.startswith("/v1/"):
                assert operation["security"], where
                for status in ("401", "422"):
                    error = operation["responses"][status]["content"]["application/json"]["schema"]
                    assert error == {"$ref": "#/components/schemas/ErrorAnswer"}, where


def _client_calls() -> list[tuple[_calls.Call[Any], type[pydantic.BaseModel]]]:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    spec = IntentSpec(REVIEWER, "intent.review.v1", {"d": 1}, deadline_at=when)
    return [
        (
            _calls.submit_intent(
                WRITER,
                "intent.draft.v1",
                {},
                correlation_id=None,
                idempotency_key="k",
                reply_to=REVIEWER,
                deadline_at=when,
                max_delivery_attempts=3,
                parent_intent_id=None,
            ),
            wire.CreateIntent,
        ),
        (
            _calls.resolve_intent(
                "i", "failed", result=None, error="no", reason="r", actor=None, expected_policy_generation=1
            ),
            wire.ResolveBody,
        ),
        (_calls.cancel_intent("i", reason="r", actor="a"), wire.CancelBody),
        (
            _calls.update_controls("i", {"a": 1}, expected_policy_generation=0, actor=None, reason=None),
            wire.ControlsBody,
        ),
        (
            _calls.update_policy(
                "i", grants={"g": 1}, envelope=None, expected_policy_generation=None, actor="a", reason="r"
            ),
            wire.PolicyBody,
        ),
        (_calls.claim(WRITER, worker_id="w", max_intents=2, lease_seconds=5, wait_seconds=1), wire.ClaimBody),
        (_calls.heartbeat("i", "t", 10), wire.HeartbeatBody),
        (_calls.complete("i", "t", {"r": 1}, then=[spec], usage={"tokens": 3}), wire.CompleteBody),
        (_calls.fail("i", "t", "boom", retry=True, retry_after_seconds=2, usage=None), wire.FailBody),
        (_calls.release("i", "t"), wire.LeaseBody),
        (_calls.wait("i", "t", "human", wake_at=when, details={"why": 1}), wire.WaitBody),
        (_calls.progress("i", "m", lease_token="t", usage={"tokens": 1}), wire.ProgressBody),
        (_calls.decide_approval("a", "approve", "fine"), wire.DecisionBody),
        (_calls.mesh_heartbeat({"cpu": 1}, owner_agent=None, metadata={"host": "h"}), wire.MeshHeartbeatBody),
        (
            _calls.kill(WRITER, new_work="hold", in_flight="reassign", reassign_to="a/b/c", reason="r"),
            wire.KillBody,
        ),
        (_calls.bind_agent(WRITER, delivery_mode="stream", lease_seconds=60), wire.BindingBody),
        (_calls.set_route(WRITER, {"v1": 1}), wire.RouteBody),
        (_calls.set_policy(WRITER, {"max_concurrency": 2, "tools": {"deny": ["x"]}}, 1), wire.MeshPolicyBody),
        (
            _calls.dry_run(
                "*",
                {"max_intents_per_hour": 1},
                since=when,
                until=None,
                intents=[{"to_agent": WRITER, "intent_type": "a.b", "cost_usd": 0.5}],
            ),
            wire.DryRunBody,
        ),
        (_calls.progress("i", None, lease_token="t", usage=None, tool="search"), wire.ProgressBody),
    ]


@pytest.mark.parametrize(("call", "model"), _client_calls(), ids=lambda v: getattr(v, "path", None))
def test_the_sdk_sends_bodies_the_server_models_accept(
    call: _calls.Call[Any], model: type[pydantic.BaseModel]
) -> None:
    parsed = model.model_validate(call.json)
    assert not parsed.model_extra, f"{model.__name__}: the SDK sends {sorted(parsed.model_extra or {})}"
    # What the SDK sends is plain JSON (no datetime or enum left for the HTTP layer to trip on).
    httpx.Request("POST", "http://x", json=call.json)


def test_a_body_with_a_field_the_model_lacks_is_refused_before_sending() -> None:
    with pytest.raises(TypeError, match="lease_tokn"):
        wire.request_body(wire.LeaseBody, lease_tokn="t")


def test_response_models_keep_the_json_they_came_from_and_compare_by_fields() -> None:
    data = {
        "intent_id": "i",
        "seq": 1,
        "event_type": "intent.created",
        "status": "CREATED",
        "at": "2026-01-01T00:00:00.000000Z",
        "added_by_a_newer_server": True,
    }
    event = wire.Event.from_wire(data)
    assert event.raw is data and event.raw["added_by_a_newer_server"] is True
    assert event == wire.Event.from_wire({k: v for k, v in data.items() if k != "added_by_a_newer_server"})


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, html="<html><body>a web page</body></html>"),
        httpx.Response(200, json={"ok": True, "something": "else"}),
    ],
    ids=["html", "other-json"],
)
def test_a_success_answer_that_is_not_the_apis_is_an_sdk_error(answer: httpx.Response) -> None:
    # The edge of the world: whatever answers at a wrong URL (a web site, another API).
    transport = httpx.MockTransport(lambda request: answer)
    with (
        Client("http://elsewhere.test", "k", transport=transport) as client,
        pytest.raises(UnexpectedResponse, match="not an intentd API answer") as raised,
    ):
        client.get("some-intent")
    assert raised.value.status_code == 200 and not raised.value.retryable
