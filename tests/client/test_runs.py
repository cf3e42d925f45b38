"""A submitter waits for a whole run (a chain handed on with ``then``, fanning out) with one call on
one id and gets where it ended, with its final results: with both clients, on both backends."""

from __future__ import annotations

import asyncio

import pytest

from intentd.client import AsyncClient, IntentSpec, Status, WaitTimeout
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
