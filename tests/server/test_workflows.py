"""Declared workflows (``POST /v1/scenarios/apply``) through the HTTP API, on both backends: the run is a
parked parent intent, each step a child intent that agents claim like any other; the runtime moves the
run when a step ends. Chains with expressions, parallel joins (all, any, quorum; cancel or let finish),
retries with backoff, step deadlines, human steps and approvals, escalation answered each way,
compensation after a late failure, delays, subflows, cancel mid-run, idempotent applies."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests._support.servers import AppClient

JSON = dict[str, Any]
WRITER = "agent://acme/prod/writer"
REVIEWER = "agent://acme/prod/reviewer"
PUBLISHER = "agent://acme/prod/publisher"
UNDO = "agent://acme/prod/undo"
TERMINAL = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


def bundle(*steps: JSON, **extra: Any) -> JSON:
    return {
        "scenario_id": "test.workflow",
        "agents": [
            {"role": "writer", "address": WRITER},
            {"role": "reviewer", "address": REVIEWER},
            {"role": "publisher", "address": PUBLISHER},
            {"role": "undo", "address": UNDO},
        ],
        "humans": [{"role": "editor"}],
        "workflow": {"steps": list(steps)},
        "intent": {"type": "intent.article.v1", "payload": {"topic": "durability"}},
        **extra,
    }


async def apply(api: AppClient, *steps: JSON, **extra: Any) -> str:
    answer = await api.post("/v1/scenarios/apply", json=bundle(*steps, **extra))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "WAITING" and body["run_id"] == body["intent_id"]
    return str(body["intent_id"])


async def claim(api: AppClient, agent: str, wait: float = 5.0) -> JSON | None:
    """One delivery for ``agent`` (its intent and lease), or None."""
    path = f"/v1/agents/{agent.removeprefix('agent://')}/claims"
    answer = await api.post(path, json={"worker_id": "test", "wait_seconds": wait})
    assert answer.status_code == 200, answer.text
    deliveries = answer.json()["deliveries"]
    return deliveries[0] if deliveries else None


async def work(api: AppClient, agent: str, result: JSON | None = None, *, error: str | None = None) -> JSON:
    """Claim the next step of ``agent`` and complete it with ``result`` (or fail it with ``error``);
    returns the intent it worked on."""
    delivery = await claim(api, agent)
    assert delivery is not None, f"nothing delivered to {agent}"
    intent, token = delivery["intent"], delivery["lease"]["token"]
    if error is None:
        done = await api.post(
            f"/v1/intents/{intent['intent_id']}/complete", json={"lease_token": token, "result": result or {}}
        )
    else:
        done = await api.post(
            f"/v1/intents/{intent['intent_id']}/fail",
            json={"lease_token": token, "error": {"code": error, "message": f"{error} happened"}},
        )
    assert done.status_code == 200, done.text
    return dict(intent)


async def get(api: AppClient, intent_id: str) -> JSON:
    answer = await api.get(f"/v1/intents/{intent_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["intent"])


async def journal(api: AppClient, run_id: str) -> dict[str, JSON]:
    answer = await api.get(f"/v1/intents/{run_id}/journal")
    assert answer.status_code == 200, answer.text
    return {entry["key"]: entry for entry in answer.json()["entries"]}


async def events(api: AppClient, run_id: str) -> list[JSON]:
    return list((await api.get(f"/v1/intents/{run_id}/events")).json()["events"])


async def settled(api: AppClient, intent_id: str, timeout: float = 10.0) -> JSON:
    """The intent once terminal (timers fire on the server's own clock)."""
    deadline = time.monotonic() + timeout
    while (intent := await get(api, intent_id))["status"] not in TERMINAL:
        assert time.monotonic() < deadline, (
            f"{intent_id} still {intent['status']}: {await journal(api, intent_id)}"
        )
        await asyncio.sleep(0.02)
    return intent


async def answer_human(api: AppClient, intent_id: str, outcome: str) -> JSON:
    answer = await api.post(f"/v1/intents/{intent_id}/resume", json={"task_result": {"outcome": outcome}})
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["intent"])


def step(step_id: str, role: str = "writer", **fields: Any) -> JSON:
    return {"step_id": step_id, "assigned_to": role, **fields}


# -- sequential chains ---------------------------------------------------------------------------


async def test_a_chain_hands_each_output_to_the_next_step_and_ends_with_the_last(api: AppClient) -> None:
    run_id = await apply(
        api,
        step("draft", input={"topic": "${run.payload.topic}"}, on_success="review"),
        step("review", "reviewer", input={"text": "${steps.draft.output.text}"}, on_success="publish"),
        step(
            "publish",
            "publisher",
            input={"summary": "${steps.draft.output.text} (${steps.review.output.score})"},
        ),
    )
    run = await get(api, run_id)
    assert run["waiting_reason"] == "WAITING_FOR_AGENT" and run["lease_expires_at"] is None

    draft = await work(api, WRITER, {"text": "hello"})
    review = await work(api, REVIEWER, {"score": 5})
    publish = await work(api, PUBLISHER, {"url": "/a"})

    assert draft["payload"] == {
        "topic": "durability",
        "parent_payload": {"topic": "durability"},
        "step_id": "draft",
    }
    assert review["payload"]["text"] == "hello" and publish["payload"]["summary"] == "hello (5)"
    for child in (draft, review, publish):
        assert child["parent_intent_id"] == run_id and child["root_intent_id"] == run_id
        assert child["correlation_id"] == run["correlation_id"]
    assert [c["step_key"] for c in (draft, review, publish)] == ["draft", "review", "publish"]
    done = await settled(api, run_id)
    assert done["status"] == "COMPLETED"
    assert done["result"] == {
        "output": {"url": "/a"},
        "steps": {"draft": {"text": "hello"}, "review": {"score": 5}, "publish": {"url": "/a"}},
    }
    kinds = [(e["event_type"], e["details"].get("step_id")) for e in await events(api, run_id)]
    assert kinds[3:] == [
        ("intent.step_started", "draft"),
        ("intent.step_completed", "draft"),
        ("intent.step_started", "review"),
        ("intent.step_completed", "review"),
        ("intent.step_started", "publish"),
        ("intent.step_completed", "publish"),
        ("intent.completed", None),
    ]
    tree = (await api.get(f"/v1/intents/{run_id}/tree")).json()
    assert [i["step_key"] for i in tree["intents"]] == [None, "draft", "review", "publish"]


async def test_nobody_claims_the_run_itself(api: AppClient) -> None:
    run_id = await apply(api, step("draft"), intent={"type": "intent.x.v1", "to_agent": WRITER})
    draft = await work(api, WRITER)
    assert draft["intent_id"] != run_id and await claim(api, WRITER, wait=0) is None


# -- parallel steps ------------------------------------------------------------------------------


def fan_out(join: JSON, roles: tuple[str, ...] = ("writer", "reviewer", "publisher"), **fields: Any) -> JSON:
    branches = [step(f"b{i}", role) for i, role in enumerate(roles)]
    return {"step_id": "fan", "branches": branches, "join": join, **fields}


async def test_a_join_of_all_fails_when_a_branch_fails_and_cancels_the_rest(api: AppClient) -> None:
    run_id = await apply(api, fan_out({"policy": "all"}))
    await work(api, WRITER, {"n": 0})
    await work(api, REVIEWER, error="boom")

    run = await settled(api, run_id)
    assert run["status"] == "FAILED"
    assert run["error"]["step_id"] == "fan" and run["error"]["cause"]["code"] == "join_failed"
    assert run["error"]["cause"]["tally"] == {
        "completed": 1,
        "failed": 1,
        "canceled": 0,
        "never_ran": 1,
        "running": 0,
    }
    entries = await journal(api, run_id)
    assert (await get(api, entries["b2"]["child_intent_id"]))["status"] == "CANCELED"


async def test_a_join_of_any_goes_on_with_the_first_and_cancels_the_others(api: AppClient) -> None:
    run_id = await apply(api, fan_out({"policy": "any"}, on_success="after"), step("after"))
    late = await claim(api, REVIEWER)  # delivered, still running when the join is decided
    assert late is not None
    await work(api, WRITER, {"first": True})

    entries = await journal(api, run_id)
    assert entries["fan"]["status"] == "COMPLETED"
    assert entries["fan"]["result"]["branches"] == {"b0": {"first": True}}
    assert entries["fan"]["result"]["tally"] == {
        "completed": 1, "failed": 0, "canceled": 1, "never_ran": 1, "running": 0,
    }  # fmt: skip
    assert (await get(api, late["intent"]["intent_id"]))["status"] == "CANCELED"
    heartbeat = await api.post(
        f"/v1/intents/{late['intent']['intent_id']}/lease/heartbeat",
        json={"lease_token": late["lease"]["token"]},
    )
    assert heartbeat.status_code == 409  # the canceled branch's worker learns to stop
    await work(api, WRITER)  # the step after the join
    assert (await settled(api, run_id))["status"] == "COMPLETED"


async def test_a_quorum_join_survives_a_failing_branch(api: AppClient) -> None:
    run_id = await apply(api, fan_out({"policy": "quorum", "quorum": 2}))
    await work(api, WRITER, {"v": 1})
    await work(api, REVIEWER, error="boom")
    assert (await get(api, run_id))["status"] == "WAITING"  # 1 of 2: one branch can still make it
    await work(api, PUBLISHER, {"v": 3})

    run = await settled(api, run_id)
    assert run["status"] == "COMPLETED"
    assert run["result"]["output"]["tally"] == {
        "completed": 2,
        "failed": 1,
        "canceled": 0,
        "never_ran": 0,
        "running": 0,
    }


async def test_a_parallel_step_that_retries_runs_every_branch_again(api: AppClient) -> None:
    run_id = await apply(api, fan_out({"policy": "all"}, retry={"max_retries": 1, "retry_delay_seconds": 0}))
    await work(api, WRITER, {"wave": 1})
    await work(api, REVIEWER, error="boom")  # the join fails: the third branch is canceled unrun
    await work(api, WRITER, {"wave": 2})
    await work(api, REVIEWER, {"wave": 2})
    await work(api, PUBLISHER, {"wave": 2})

    run = await settled(api, run_id)
    assert run["status"] == "COMPLETED" and (await journal(api, run_id))["fan"]["attempt"] == 2
    assert run["result"]["output"]["branches"] == {"b0": {"wave": 2}, "b1": {"wave": 2}, "b2": {"wave": 2}}


async def test_branches_a_join_lets_finish_keep_running_after_the_run_ends(api: AppClient) -> None:
    run_id = await apply(api, fan_out({"policy": "any", "remaining": "finish"}))
    await work(api, WRITER)
    assert (await settled(api, run_id))["status"] == "COMPLETED"
    slow = await work(api, REVIEWER, {"late": True})  # still delivered, and its result is kept
    assert (await get(api, slow["intent_id"]))["status"] == "COMPLETED"
    assert (await journal(api, run_id))["b1"]["status"] == "COMPLETED"


# -- failures: retry, deadlines, escalation, compensation ----------------------------------------------


async def test_a_step_is_retried_with_backoff_then_succeeds(api: AppClient) -> None:
    retry = {"max_retries": 2, "retry_delay_seconds": 0.2, "jitter": 0}
    run_id = await apply(api, step("draft", retry=retry))
    first = await work(api, WRITER, error="flaky")

    assert (await get(api, run_id))["waiting_reason"] == "WAITING_FOR_TIME"
    entry = (await journal(api, run_id))["draft"]
    assert entry["status"] == "WAITING" and entry["due_at"] is not None
    second = await work(api, WRITER, {"ok": True})  # delivered once the backoff timer fired
    assert second["intent_id"] != first["intent_id"]

    run = await settled(api, run_id)
    assert run["status"] == "COMPLETED" and (await journal(api, run_id))["draft"]["attempt"] == 2
    retrying = [e for e in await events(api, run_id) if e["event_type"] == "intent.step_retrying"]
    assert [(e["details"]["attempt"], e["details"]["error"]["code"]) for e in retrying] == [(2, "flaky")]


async def test_only_the_named_error_codes_retry(api: AppClient) -> None:
    run_id = await apply(
        api, step("draft", retry={"max_retries": 3, "retry_delay_seconds": 0, "retry_on": ["flaky"]})
    )
    await work(api, WRITER, error="flaky")
    await work(api, WRITER, error="fatal")
    run = await settled(api, run_id)
    assert run["status"] == "FAILED" and run["error"]["cause"]["code"] == "fatal"
    assert (await journal(api, run_id))["draft"]["attempt"] == 2


async def test_a_step_past_its_deadline_fails_with_step_timeout(api: AppClient) -> None:
    run_id = await apply(api, step("draft", step_deadline_seconds=1))
    run = await settled(api, run_id, timeout=15)
    assert run["status"] == "FAILED"
    assert run["error"]["step_id"] == "draft" and run["error"]["cause"]["code"] == "step_timeout"


@pytest.mark.parametrize("outcome", ["retry", "skip", "abort"])
async def test_an_escalated_failure_waits_for_a_human_who_decides(api: AppClient, outcome: str) -> None:
    run_id = await apply(
        api,
        step("draft", on_failure="escalate", escalate_to="editor", on_success="publish"),
        step("publish", "publisher"),
    )
    await work(api, WRITER, error="broken")
    run = await get(api, run_id)
    assert run["status"] == "WAITING" and run["waiting_reason"] == "WAITING_FOR_HUMAN"
    escalation = (await journal(api, run_id))["draft:escalation"]
    asked = await get(api, escalation["child_intent_id"])
    assert asked["to_agent"] == "human://editor" and asked["waiting_reason"] == "WAITING_FOR_HUMAN"

    await answer_human(api, run_id, outcome)  # on the run: it forwards to its one pending human step

    if outcome == "retry":
        await work(api, WRITER, {"fixed": True})
        await work(api, PUBLISHER)
        assert (await settled(api, run_id))["status"] == "COMPLETED"
    elif outcome == "skip":
        publish = await work(api, PUBLISHER)
        assert publish["payload"]["step_id"] == "publish"
        assert (await settled(api, run_id))["status"] == "COMPLETED"
        assert (await journal(api, run_id))["draft"]["status"] == "SKIPPED"
    else:
        run = await settled(api, run_id)
        assert run["status"] == "FAILED" and run["error"]["step_id"] == "draft"


async def test_a_late_failure_compensates_the_completed_steps_newest_first(api: AppClient) -> None:
    undo = {"assigned_to": "undo", "input": {"booking": "${steps.flight.output.ref}"}}
    run_id = await apply(
        api,
        step("flight", compensate=undo, on_success="hotel"),
        step("hotel", "reviewer", compensate={"assigned_to": "undo"}, on_success="charge"),
        step("charge", "publisher"),
    )
    await work(api, WRITER, {"ref": "F1"})
    await work(api, REVIEWER, {"ref": "H1"})
    await work(api, PUBLISHER, error="card_declined")

    undo_hotel = await work(api, UNDO)
    undo_flight = await work(api, UNDO)
    undone = [
        e["details"]["step_id"]
        for e in await events(api, run_id)
        if e["event_type"] == "intent.step_compensated"
    ]
    assert undone == ["hotel", "flight"]
    assert (undo_hotel["payload"]["compensates"], undo_flight["payload"]["compensates"]) == (
        "hotel",
        "flight",
    )
    assert undo_hotel["payload"]["step_output"] == {"ref": "H1"} and undo_flight["payload"]["booking"] == "F1"
    run = await settled(api, run_id)
    assert run["status"] == "FAILED"
    assert run["error"]["code"] == "step_failed" and run["error"]["step_id"] == "charge"
    assert run["error"]["cause"]["code"] == "card_declined" and run["error"]["compensated"] == [
        "hotel",
        "flight",
    ]
    assert await claim(api, UNDO, wait=0) is None  # each compensation once


async def test_a_failed_compensation_is_retried_then_reported(api: AppClient) -> None:
    undo = {"assigned_to": "undo", "retry": {"max_retries": 1, "retry_delay_seconds": 0}}
    run_id = await apply(
        api, step("flight", compensate=undo, on_success="charge"), step("charge", "publisher")
    )
    await work(api, WRITER)
    await work(api, PUBLISHER, error="declined")
    await work(api, UNDO, error="undo_down")
    await work(api, UNDO, error="undo_down")
    run = await settled(api, run_id)
    assert run["error"]["compensated"] == [] and run["error"]["compensation_failed"] == ["flight"]


async def test_on_failure_fail_undoes_nothing_and_a_step_id_recovers(api: AppClient) -> None:
    run_id = await apply(
        api,
        step("flight", compensate={"assigned_to": "undo"}, on_success="charge"),
        step("charge", "publisher", on_failure="fallback"),
        step("fallback", "reviewer"),
    )
    await work(api, WRITER)
    await work(api, PUBLISHER, error="declined")
    recovered = await work(api, REVIEWER, {"via": "fallback"})
    assert recovered["payload"]["step_id"] == "fallback"
    assert (await settled(api, run_id))["result"]["output"] == {"via": "fallback"}

    failing = await apply(
        api, step("flight", compensate={"assigned_to": "undo"}, on_success="x"), step("x", on_failure="fail")
    )
    await work(api, WRITER)
    await work(api, WRITER, error="nope")
    assert (await settled(api, failing))["error"]["compensated"] == [] and await claim(
        api, UNDO, wait=0
    ) is None


# -- people and time ---------------------------------------------------------------------------------


async def test_a_human_step_is_answered_on_its_own_intent_or_by_an_approval(api: AppClient) -> None:
    signoff = {"step_id": "signoff", "tool_id": "tool.approval.human_signoff", "assigned_to": "editor"}
    run_id = await apply(api, signoff)
    pending = (await journal(api, run_id))["signoff"]["child_intent_id"]
    refused = await api.post(f"/v1/intents/{pending}/resume", json={"task_result": {"outcome": "maybe"}})
    assert refused.status_code == 422 and refused.json()["error"]["details"]["field"] == "task_result.outcome"

    assert (await answer_human(api, pending, "approved"))["status"] == "COMPLETED"
    assert (await settled(api, run_id))["result"]["output"]["outcome"] == "approved"

    rejected = await apply(api, signoff)
    decision = await api.post(
        f"/v1/approvals/{rejected}/decision", json={"decision": "reject", "comment": "no"}
    )
    assert decision.status_code == 200, decision.text
    run = await settled(api, rejected)
    assert run["status"] == "FAILED" and run["error"]["cause"] == {
        "code": "rejected",
        "message": "no",
        "outcome": "rejected",
    }


async def test_a_step_that_requires_approval_waits_for_it(api: AppClient) -> None:
    run_id = await apply(
        api, step("draft", requires_approval=True, on_success="publish"), step("publish", "publisher")
    )
    await work(api, WRITER, {"text": "t"})
    assert (await get(api, run_id))["waiting_reason"] == "WAITING_FOR_HUMAN"
    assert await claim(api, PUBLISHER, wait=0) is None
    await answer_human(api, run_id, "approve")
    await work(api, PUBLISHER)
    run = await settled(api, run_id)
    assert run["result"]["steps"]["draft"] == {"text": "t"}


async def test_a_resume_that_is_no_answer_does_not_move_a_run(api: AppClient) -> None:
    run_id = await apply(api, step("draft"))
    answer = await api.post(f"/v1/intents/{run_id}/resume", json={"note": "go"})
    assert answer.status_code == 422 and (await get(api, run_id))["status"] == "WAITING"
    assert await claim(api, WRITER)  # the step is untouched


async def test_a_delay_step_parks_the_run_on_a_timer(api: AppClient) -> None:
    run_id = await apply(
        api, {"step_id": "pause", "kind": "delay", "delay_seconds": 0.3, "on_success": "go"}, step("go")
    )
    assert (await get(api, run_id))["waiting_reason"] == "WAITING_FOR_TIME"
    assert await claim(api, WRITER, wait=0) is None
    await work(api, WRITER)  # the long poll returns once the timer moved the run
    assert (await settled(api, run_id))["status"] == "COMPLETED"


async def test_a_subflow_is_a_child_run_with_its_own_steps(api: AppClient) -> None:
    inner = {
        "steps": [
            step("outline", input={"t": "${run.payload.t}"}, on_success="polish"),
            step("polish", "reviewer"),
        ]
    }
    run_id = await apply(
        api,
        {"step_id": "book", "workflow": inner, "input": {"t": "x"}, "on_success": "ship"},
        step("ship", "publisher"),
    )
    outline = await work(api, WRITER, {"o": 1})
    sub = await get(api, outline["parent_intent_id"])
    assert sub["parent_intent_id"] == run_id and sub["step_key"] == "book" and outline["payload"]["t"] == "x"
    await work(api, REVIEWER, {"p": 2})
    await work(api, PUBLISHER)
    run = await settled(api, run_id)
    assert run["result"]["steps"]["book"]["output"] == {"p": 2}
    tree = (await api.get(f"/v1/intents/{run_id}/tree")).json()["intents"]
    assert len(tree) == 5 and {i["root_intent_id"] for i in tree} == {run_id}


# -- the run as a whole ---------------------------------------------------------------------------


async def test_canceling_a_run_cancels_its_children_and_its_pending_retries(api: AppClient) -> None:
    run_id = await apply(
        api,
        fan_out({"policy": "all"}, roles=("writer", "reviewer")),
        intent={"type": "intent.x.v1"},
    )
    backing_off = await apply(
        api, step("draft", "publisher", retry={"max_retries": 3, "retry_delay_seconds": 0.3})
    )
    running = await claim(api, WRITER)
    assert running is not None
    await work(api, PUBLISHER, error="flaky")  # now waiting out its backoff

    for run in (run_id, backing_off):
        assert (await api.post(f"/v1/intents/{run}/cancel", json={"reason": "stop"})).status_code == 200
    assert (await get(api, running["intent"]["intent_id"]))["status"] == "CANCELED"
    assert {e["status"] for e in (await journal(api, run_id)).values()} == {"CANCELED"}
    await asyncio.sleep(0.5)  # past the backoff: nothing is delivered
    assert await claim(api, PUBLISHER, wait=0) is None
    assert (await journal(api, backing_off))["draft"]["status"] == "CANCELED"


async def test_an_apply_with_the_same_key_is_the_same_run(api: AppClient) -> None:
    body = bundle(step("draft"))
    headers = {"Idempotency-Key": "apply-once"}
    first = (await api.post("/v1/scenarios/apply", json=body, headers=headers)).json()
    again = (await api.post("/v1/scenarios/apply", json=body, headers=headers)).json()
    assert again["intent_id"] == first["intent_id"] and (first["idempotent"], again["idempotent"]) == (
        False,
        True,
    )
    other = await api.post("/v1/scenarios/apply", json=bundle(step("other")), headers=headers)
    assert other.status_code == 409
    assert await claim(api, WRITER) is not None and await claim(api, WRITER, wait=0) is None


async def test_a_bundle_with_problems_creates_nothing(api: AppClient) -> None:
    body = bundle(
        {
            "step_id": "fan",
            "branches": [step("a", on_success="b", on_failure="escalate")],
            "join": {"policy": "quorum", "quorum": 3},
        },
        step("fail"),
        step("$failure"),
        step("c", input={"x": "${steps.nope.output}", "y": "${bad root}"}, on_failure="escalate"),
        humans=[],
    )
    answer = await api.post("/v1/scenarios/apply", json=body)
    assert answer.status_code == 422
    problems = [(p["path"], p["code"]) for p in answer.json()["error"]["details"]["problems"]]
    assert ("workflow.steps[0].branches[0].on_success", "branch_link") in problems
    assert ("workflow.steps[0].branches[0].on_failure", "branch_link") in problems
    assert ("workflow.steps[0].join.quorum", "bad_quorum") in problems
    assert ("workflow.steps[1].step_id", "reserved_step_id") in problems
    assert ("workflow.steps[2].step_id", "reserved_step_id") in problems
    assert ("workflow.steps[3].input.x", "unknown_step") in problems
    assert ("workflow.steps[3].input.y", "bad_expression") in problems
    assert ("workflow.steps[3].on_failure", "no_escalation_target") in problems
    assert (await api.get("/v1/intents")).json()["intents"] == []
