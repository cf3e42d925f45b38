"""Human tasks over HTTP, on both backends: every task type's outcome paths on a gate, the errors a
person can meet (each with its code, status and field), the AXP ways of answering (resume with a
task_result, approve_current_step, an approval decision on the task's id), AXP's resume of an intent
that waits for nothing, and a workflow's review sending its agent step back with the comment."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from intentd.engine.humans.outcomes import DEFAULT_OUTCOMES, is_rejection
from intentd.wire import HumanTask, TaskAnswerResponse, TaskList
from tests._support.servers import AppClient
from tests.server.test_workflows import apply, claim, journal, work

JSON = dict[str, Any]
AGENT = "agent://acme/prod/purchasing"


async def gated(api: AppClient, **human_task: Any) -> JSON:
    body = {
        "intent_type": "purchase.order.v1",
        "correlation_id": str(uuid.uuid4()),
        "to_agent": AGENT,
        "payload": {"amount": 1800},
        "human_task": {"title": "Approve spend over $1,000", **human_task},
    }
    answer = await api.post("/v1/intents", json=body)
    assert answer.status_code == 200, answer.text
    intent: JSON = answer.json()["intent"]
    assert (intent["status"], intent["waiting_reason"]) == ("WAITING", "WAITING_FOR_HUMAN")
    return intent


async def task_of(api: AppClient, intent_id: str) -> JSON:
    answer = await api.get("/v1/tasks", params={"intent_id": intent_id, "state": "open"})
    assert answer.status_code == 200, answer.text
    [task] = TaskList.model_validate(answer.json()).tasks
    return task.raw


async def decide(api: AppClient, task_id: str, outcome: str, **extra: Any) -> Any:
    return await api.post(f"/v1/tasks/{task_id}/decision", json={"outcome": outcome, **extra})


@pytest.mark.parametrize("task_type", list(DEFAULT_OUTCOMES))
async def test_every_task_type_moves_a_gate_by_its_outcomes(api: AppClient, task_type: str) -> None:
    for outcome in DEFAULT_OUTCOMES[task_type]:
        intent = await gated(api, task_type=task_type, escalate_to="role:directors")
        task = await task_of(api, intent["intent_id"])
        assert task["allowed_outcomes"] == list(DEFAULT_OUTCOMES[task_type])
        data = {"delegate_to": "deputy@acme.test"} if outcome == "delegated" else {}
        answer = await decide(api, task["task_id"], outcome, data=data)
        assert answer.status_code == 200, answer.text
        decided = TaskAnswerResponse.model_validate(answer.json())
        if outcome in ("delegated", "escalated"):  # the task stays open with other people
            assert decided.task.state == "open" and decided.intent.status == "WAITING"
        elif is_rejection(outcome):
            assert decided.task.state == "decided" and decided.intent.status == "CANCELED"
        else:
            assert decided.task.state == "decided" and decided.intent.status == "SUBMITTED"
            assert decided.task.decision is not None and decided.task.decision.outcome == outcome


async def test_a_person_meets_clear_errors_that_change_nothing(api: AppClient) -> None:
    form = {"type": "object", "properties": {"amount": {"type": "integer"}}, "required": ["amount"]}
    intent = await gated(api, task_type="form", form_schema=form, required_comment=True)
    task_id = (await task_of(api, intent["intent_id"]))["task_id"]

    unknown = await decide(api, "no-such-task", "approved")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "task_not_found")
    for sent, field in [
        ({"outcome": "approved"}, "outcome"),
        ({"outcome": "submitted"}, "comment"),
        ({"outcome": "submitted", "comment": "ok", "data": {"amount": "lots"}}, "data.amount"),
        ({"outcome": "submitted", "comment": "ok"}, "data.amount"),
    ]:
        refused = await api.post(f"/v1/tasks/{task_id}/decision", json=sent)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"]["field"] == field, (sent, refused.text)
    bad_schema = await api.post(
        "/v1/intents",
        json={
            "intent_type": "purchase.order.v1",
            "correlation_id": str(uuid.uuid4()),
            "to_agent": AGENT,
            "payload": {},
            "human_task": {"title": "x", "form_schema": {"type": "no-such-type"}},
        },
    )
    assert bad_schema.status_code == 422
    assert bad_schema.json()["error"]["details"]["field"] == "human_task.form_schema"

    ok = await decide(api, task_id, "submitted", comment="ordered", data={"amount": 3})
    assert ok.status_code == 200, ok.text
    twice = await decide(api, task_id, "submitted", comment="again", data={"amount": 4})
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "task_closed")
    assert twice.json()["error"]["details"]["state"] == "decided"
    events = (await api.get(f"/v1/intents/{intent['intent_id']}/events")).json()["events"]
    [decided] = [e for e in events if "decision" in e["details"]]
    assert decided["details"]["decision"]["data"] == {"amount": 3}  # the record: who, when, what
    assert decided["details"]["decision"]["decided_by"] == "bootstrap"
    listed = await api.get("/v1/tasks", params={"intent_id": intent["intent_id"], "state": "any"})
    [shown] = listed.json()["tasks"]
    assert (shown["state"], shown["decision"]["outcome"]) == ("decided", "submitted")
    assert shown["human_task"]["form_schema"] == form and shown["human_task"]["task_type"] == "form"


async def test_an_approver_key_sees_and_decides_only_its_own_tasks(api: AppClient) -> None:
    _, alice_key = await api.engine.keys.create("alice@acme.test", "approver", task_roles=("finance",))
    _, bob_key = await api.engine.keys.create("bob@acme.test", "approver")
    mine = await gated(api, assignees=["role:finance"])
    task_id = (await task_of(api, mine["intent_id"]))["task_id"]

    bob = await api.get("/v1/me/tasks", headers={"x-api-key": bob_key})
    assert bob.json()["tasks"] == []
    refused = await decide_as(api, bob_key, task_id, "approved")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "not_assignee")

    alice = await api.get("/v1/me/tasks", headers={"x-api-key": alice_key})
    [listed] = alice.json()["tasks"]
    assert HumanTask.model_validate(listed).task_id == task_id
    assert listed["status"] == "WAITING" and listed["human_task"]["title"] == "Approve spend over $1,000"
    assert (await decide_as(api, alice_key, task_id, "approved")).status_code == 200


async def decide_as(api: AppClient, key: str, task_id: str, outcome: str) -> Any:
    return await api.post(
        f"/v1/tasks/{task_id}/decision", json={"outcome": outcome}, headers={"x-api-key": key}
    )


async def test_axp_answers_reach_the_open_task(api: AppClient) -> None:
    by_resume = await gated(api, task_type="review")
    answer = await api.post(
        f"/v1/intents/{by_resume['intent_id']}/resume",
        json={"task_result": {"outcome": "changes_requested", "comment": "cheaper vendor", "vendor": "b"}},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["intent"]["status"] == "SUBMITTED"
    events = (await api.get(f"/v1/intents/{by_resume['intent_id']}/events")).json()["events"]
    assert events[-1]["details"]["task_result"]["data"] == {"vendor": "b"}  # the CLI's top-level --data

    by_step = await gated(api)
    stepped = await api.post(
        f"/v1/intents/{by_step['intent_id']}/resume", json={"approve_current_step": True, "reason": "fine"}
    )
    assert stepped.json()["intent"]["status"] == "SUBMITTED"

    by_approval = await gated(api)
    task_id = (await task_of(api, by_approval["intent_id"]))["task_id"]
    decided = await api.post(
        f"/v1/approvals/{task_id}/decision", json={"decision": "reject", "comment": "no"}
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["intent"]["status"] == "CANCELED"


async def test_resume_of_an_intent_that_waits_for_nothing_leaves_it_open(api: AppClient) -> None:
    """AXP's example programs resume with approve_current_step, then resolve (PROTOCOL.md §2.2)."""
    created = await api.post(
        "/v1/intents",
        json={
            "intent_type": "demo.v1",
            "correlation_id": str(uuid.uuid4()),
            "to_agent": AGENT,
            "payload": {},
        },
    )
    intent_id = created.json()["intent_id"]
    resumed = await api.post(
        f"/v1/intents/{intent_id}/resume", json={"approve_current_step": True, "reason": "ok"}
    )
    assert resumed.status_code == 200, resumed.text
    body = resumed.json()
    assert body["ok"] and body["applied"] and body["policy_generation"] == 1
    assert body["intent"]["status"] == "SUBMITTED"
    resolved = await api.post(
        f"/v1/intents/{intent_id}/resolve", json={"status": "COMPLETED", "result": {"done": 1}}
    )
    assert resolved.status_code == 200, resolved.text


async def test_a_review_that_requests_changes_sends_the_agent_step_back(api: AppClient) -> None:
    writer = "agent://acme/prod/writer"
    run_id = await apply(
        api,
        {"step_id": "draft", "assigned_to": "writer", "on_success": "review"},
        {
            "step_id": "review",
            "kind": "human",
            "assigned_to": "editor",
            "human_task": {"title": "Review the draft", "task_type": "review"},
        },
    )
    await work(api, writer, {"text": "v1"})
    first = (await journal(api, run_id))["review"]["child_intent_id"]
    task = await task_of(api, first)
    assert task["assignees"] == ["role:editor"] and task["to_agent"] == "human://editor"
    asked = await decide(api, task["task_id"], "changes_requested", comment="shorter")
    assert asked.status_code == 200, asked.text

    again = await claim(api, writer)
    assert again is not None
    assert again["intent"]["payload"]["revision"]["comment"] == "shorter"
    completed = await api.post(
        f"/v1/intents/{again['intent']['intent_id']}/complete",
        json={"lease_token": again["lease"]["token"], "result": {"text": "v2"}},
    )
    assert completed.status_code == 200, completed.text
    second = (await journal(api, run_id))["review"]["child_intent_id"]
    assert second != first
    done = await decide(api, (await task_of(api, second))["task_id"], "approved")
    assert done.status_code == 200
    run = (await api.get(f"/v1/intents/{run_id}")).json()["intent"]
    assert run["status"] == "COMPLETED"
