"""A submitter waits for a whole run (a chain handed on with ``then``, fanning out) with one call on
one id and gets where it ended, with its final results: with both clients, on both backends."""

from __future__ import annotations

import asyncio

import pytest

from intentd.client import AsyncClient, IntentSpec, Status, ValidationFailed, WaitTimeout
from tests._support.sdk import Recorder

WRITER = "agent://acme/prod/writer"
REVIEWER = "agent://acme/prod/reviewer"
EDITOR = "agent://acme/prod/editor"


async def complete_next(sdk: AsyncClient, agent: str, result: dict[str, int], *then: IntentSpec) -> None:
    [delivery] = await sdk.claim(agent, wait_seconds=5)
    await sdk.complete(delivery.intent.intent_id, delivery.lease_token, result, then=list(then))


async def test_wait_for_run_returns_the_finished_run_and_its_leaves(
    sdk: AsyncClient, recorder: Recorder
) -> None:
    first = await sdk.submit(WRITER, "intent.draft.v1", {"topic": "runs"})

    async def agents() -> None:
        await recorder.wait_count("/events/stream", 1)  # the submitter is waiting
        await complete_next(sdk, WRITER, {"step": 1}, IntentSpec(REVIEWER, "intent.review.v1"))
        await complete_next(
            sdk,
            REVIEWER,
            {"step": 2},
            IntentSpec(EDITOR, "intent.edit.v1"),
            IntentSpec(EDITOR, "intent.proof.v1"),
        )
        await complete_next(sdk, EDITOR, {"step": 3})
        await complete_next(sdk, EDITOR, {"step": 4})

    working = asyncio.create_task(agents())
    run = await sdk.wait_for_run(first.intent_id, timeout=60)
    await working

    assert run.finished and len(run.intents) == 4
    assert all(i.status is Status.COMPLETED for i in run.intents)
    assert sorted(leaf.result["step"] for leaf in run.leaves if leaf.result) == [3, 4]
    # Asked from any member, the same run.
    assert (await sdk.wait_for_run(run.leaves[0].intent_id, timeout=0)).intents == run.intents


async def test_wait_for_run_times_out_while_a_step_is_open(sdk: AsyncClient) -> None:
    first = await sdk.submit(WRITER, "intent.draft.v1")
    with pytest.raises(WaitTimeout):
        await sdk.wait_for_run(first.intent_id, timeout=0.3)
    assert not (await sdk.tree(first.intent_id)).finished


SCENARIO = {
    "scenario_id": "sdk.two_steps",
    "agents": [{"role": "writer", "address": WRITER}, {"role": "reviewer", "address": REVIEWER}],
    "workflow": {
        "steps": [
            {"step_id": "draft", "assigned_to": "writer", "on_success": "review"},
            {"step_id": "review", "assigned_to": "reviewer", "input": {"draft": "${steps.draft.output}"}},
        ]
    },
    "intent": {"type": "intent.article.v1", "payload": {"topic": "runs"}},
}


async def test_a_declared_workflow_is_applied_and_awaited_on_its_run_id(sdk: AsyncClient) -> None:
    checked = await sdk.validate_scenario(SCENARIO)
    assert (checked.valid, checked.steps) == (True, 2)
    applied = await sdk.apply_scenario(SCENARIO, idempotency_key="sdk-apply")
    again = await sdk.apply_scenario(SCENARIO, idempotency_key="sdk-apply")
    assert again.intent_id == applied.intent_id and again.idempotent and not applied.idempotent
    assert applied.status == "WAITING" and applied.pending_with == WRITER

    await complete_next(sdk, WRITER, {"step": 1})
    await complete_next(sdk, REVIEWER, {"step": 2})

    run = await sdk.wait_for(applied.intent_id, timeout=10)
    assert run.status is Status.COMPLETED and run.result == {
        "output": {"step": 2},
        "steps": {"draft": {"step": 1}, "review": {"step": 2}},
    }
    assert [e.key for e in await sdk.journal(applied.intent_id)] == ["draft", "review"]


async def test_a_bundle_with_problems_is_refused_with_each_problem(sdk: AsyncClient) -> None:
    broken = {**SCENARIO, "workflow": {"steps": [{"step_id": "draft", "assigned_to": "nobody"}]}}
    with pytest.raises(ValidationFailed) as refused:
        await sdk.validate_scenario(broken)
    assert refused.value.details["problems"][0]["path"] == "workflow.steps[0].assigned_to"
