"""The intent service on both backends: submit and its idempotency, namespaces, resolve, the terminal
rule for every mutation, resume's three body shapes, and compare-and-set on controls and policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from intentd.engine import Claim, Complete, Engine, Fail, Principal, Resolve, Wait
from intentd.model import (
    EventType,
    IdempotencyConflict,
    Intent,
    IntentdError,
    IntentNotFound,
    IntentTerminal,
    StalePolicyGeneration,
    Status,
    ValidationFailed,
    WaitingReason,
)
from tests._support.engine import AGENT, FakeClock, task


async def leased(engine: Engine, principal: Principal, **overrides: Any) -> tuple[Intent, str]:
    """A submitted intent, claimed: (the DELIVERED intent, its lease token)."""
    await engine.intents.submit(principal, task(**overrides))
    [intent] = await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w1"))
    assert intent.lease is not None
    return intent, intent.lease.token


async def in_status(engine: Engine, principal: Principal, status: Status) -> Intent:
    """An intent brought to ``status`` through the engine's own operations."""
    if status is Status.SUBMITTED:
        intent, _ = await engine.intents.submit(principal, task())
        return intent
    intent, token = await leased(engine, principal)
    if status is Status.WAITING:
        return await engine.delivery.wait(principal, intent.intent_id, Wait(token, WaitingReason.HUMAN.value))
    return intent


# -- submit and idempotency --------------------------------------------------------------------


async def test_submit_records_created_then_submitted(engine: Engine, principal: Principal) -> None:
    intent, created = await engine.intents.submit(principal, task(payload={"topic": "tides"}))

    assert created
    assert (intent.status, intent.last_seq, intent.payload) == (Status.SUBMITTED, 2, {"topic": "tides"})
    assert intent.root_intent_id == intent.intent_id
    events = await engine.intents.events(principal, intent.intent_id)
    assert [(e.seq, e.event_type, e.status) for e in events] == [
        (1, EventType.CREATED, Status.CREATED),
        (2, EventType.SUBMITTED, Status.SUBMITTED),
    ]
    assert events[0].details["to_agent"] == AGENT


async def test_same_idempotency_key_and_body_returns_the_same_intent(
    engine: Engine, principal: Principal
) -> None:
    first, created_first = await engine.intents.submit(principal, task(), idempotency_key="k-1")
    again, created_again = await engine.intents.submit(principal, task(), idempotency_key="k-1")

    assert (created_first, created_again) == (True, False)
    assert again.intent_id == first.intent_id
    page = await engine.intents.list(principal)
    assert [i.intent_id for i in page.intents] == [first.intent_id]
    assert len(await engine.intents.events(principal, first.intent_id)) == 2


async def test_same_idempotency_key_with_another_body_is_a_conflict(
    engine: Engine, principal: Principal
) -> None:
    first, _ = await engine.intents.submit(principal, task(), idempotency_key="k-1")

    with pytest.raises(IdempotencyConflict) as caught:
        await engine.intents.submit(principal, task(payload={"n": 2}), idempotency_key="k-1")

    assert (caught.value.http_status, caught.value.code) == (409, "idempotency_key_reused")
    assert caught.value.details["intent_id"] == first.intent_id


async def test_namespaces_do_not_see_each_other(engine: Engine, principal: Principal) -> None:
    _, secret = await engine.keys.create("other-tenant", namespace="other")
    stranger = await engine.keys.authenticate(secret)
    mine, _ = await engine.intents.submit(principal, task(), idempotency_key="shared-key")

    for reach in (
        engine.intents.get(stranger, mine.intent_id),
        engine.intents.events(stranger, mine.intent_id),
        engine.intents.cancel(stranger, mine.intent_id, "not yours"),
    ):
        with pytest.raises(IntentNotFound) as caught:
            await reach
        assert caught.value.http_status == 404
    theirs, created = await engine.intents.submit(stranger, task(), idempotency_key="shared-key")
    assert created and theirs.intent_id != mine.intent_id  # keys are scoped per namespace
    assert (await engine.intents.list(stranger)).intents == [theirs]
    assert (await engine.intents.get(principal, mine.intent_id)).status is Status.SUBMITTED


# -- resolve and the terminal rule -----------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "field", "expected"),
    [
        (Status.COMPLETED, "result", {"answer": 42}),
        (Status.FAILED, "error", {"code": "boom", "message": "it broke"}),
        (Status.CANCELED, "reason", "no longer needed"),
    ],
)
async def test_resolve_from_each_live_status(
    engine: Engine, principal: Principal, target: Status, field: str, expected: Any
) -> None:
    request = Resolve(
        status=target.value,
        result={"answer": 42},
        error={"code": "boom", "message": "it broke"},
        reason="no longer needed",
    )
    for start in (Status.SUBMITTED, Status.DELIVERED, Status.WAITING):
        intent = await in_status(engine, principal, start)
        assert intent.status is start

        resolved, event = await engine.intents.resolve(principal, intent.intent_id, request)

        assert (resolved.status, resolved.lease) == (target, None), start
        assert getattr(resolved, field) == expected, start
        assert (event.seq, event.status) == (intent.last_seq + 1, target), start
        assert await engine.intents.get(principal, intent.intent_id) == resolved
        with pytest.raises(IntentTerminal):
            await engine.intents.resolve(principal, intent.intent_id, Resolve(status="COMPLETED"))


def _every_mutation(
    engine: Engine, principal: Principal, intent_id: str, token: str
) -> dict[str, Callable[[], Awaitable[object]]]:
    intents, delivery = engine.intents, engine.delivery
    return {
        "resolve": lambda: intents.resolve(principal, intent_id, Resolve(status="FAILED")),
        "cancel": lambda: intents.cancel(principal, intent_id, "late"),
        "resume": lambda: intents.resume(principal, intent_id, {"result": {"late": True}}),
        "resume-action": lambda: intents.resume(principal, intent_id, {"action": "resume"}),
        "controls": lambda: intents.update_controls(principal, intent_id, {"a": 1}, None, None),
        "policy": lambda: intents.update_policy(principal, intent_id, {"a": 1}, None, None),
        "complete": lambda: delivery.complete(principal, intent_id, Complete(token)),
        "fail": lambda: delivery.fail(principal, intent_id, Fail(token, {"code": "x"})),
        "release": lambda: delivery.release(principal, intent_id, token),
        "heartbeat": lambda: delivery.heartbeat(principal, intent_id, token, 30),
        "wait": lambda: delivery.wait(principal, intent_id, Wait(token, "WAITING_FOR_HUMAN")),
        "progress": lambda: delivery.progress(principal, intent_id, token, "still here", None),
        "progress-no-lease": lambda: delivery.progress(principal, intent_id, None, "hi", None),
    }


@pytest.mark.parametrize("terminal", [Status.COMPLETED, Status.FAILED, Status.CANCELED])
async def test_every_mutation_of_a_terminal_intent_is_refused(
    engine: Engine, principal: Principal, terminal: Status
) -> None:
    intent, token = await leased(engine, principal)
    done, _ = await engine.intents.resolve(
        principal, intent.intent_id, Resolve(status=terminal.value, reason="stop")
    )

    for name, mutate in _every_mutation(engine, principal, intent.intent_id, token).items():
        with pytest.raises(IntentdError) as caught:
            await mutate()
        # check_lease looks at the status before the token, so even the old lease holder is told
        # the intent is over rather than that its lease is stale.
        assert (caught.value.http_status, caught.value.code) == (409, "intent_terminal"), name
    assert await engine.intents.get(principal, intent.intent_id) == done


# -- resume ------------------------------------------------------------------------------------


async def test_resume_of_a_waiting_intent_redelivers_it_with_the_input(
    engine: Engine, principal: Principal
) -> None:
    waiting = await in_status(engine, principal, Status.WAITING)

    resumed = await engine.intents.resume(principal, waiting.intent_id, {"approved": True, "actor": "alice"})

    assert (resumed.status, resumed.waiting_reason) == (Status.SUBMITTED, None)
    last = (await engine.intents.events(principal, waiting.intent_id))[-1]
    assert (last.event_type, last.actor, last.details) == (
        EventType.RESUMED,
        "alice",
        {"input": {"approved": True}},
    )
    [again] = await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w2"))
    assert (again.intent_id, again.delivery_attempt) == (waiting.intent_id, 2)


async def test_resume_of_a_delivered_intent_requeues_it_without_the_old_lease(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    intent, token = await leased(engine, principal, max_delivery_attempts=1)

    requeued = await engine.intents.resume(principal, intent.intent_id, {"action": "resume"})

    assert (requeued.status, requeued.lease) == (Status.SUBMITTED, None)
    with pytest.raises(IntentdError) as caught:  # the old worker no longer holds it
        await engine.delivery.complete(principal, intent.intent_id, Complete(token))
    assert caught.value.code == "stale_lease"
    clock.advance(3600)  # nor does its old lease expire later and fail the queued intent
    await engine.scheduler.tick()
    assert await engine.intents.get(principal, intent.intent_id) == requeued


@pytest.mark.parametrize(
    ("body", "result"),
    [
        ({"action": "complete", "result": {"summary": "done"}}, {"summary": "done"}),
        ({"action": "complete", "summary": "done", "actor": "bob"}, {"summary": "done"}),  # the body itself
    ],
)
async def test_resume_with_action_complete_completes_it(
    engine: Engine, principal: Principal, body: dict[str, Any], result: Any
) -> None:
    intent, _ = await engine.intents.submit(principal, task())

    resumed = await engine.intents.resume(principal, intent.intent_id, body)

    assert (resumed.status, resumed.result) == (Status.COMPLETED, result)


async def test_resume_of_an_intent_that_waits_for_nothing_is_recorded_and_leaves_it_open(
    engine: Engine, principal: Principal
) -> None:
    """AXP's example programs resume (``approve_current_step``), then resolve: only ``action`` and a
    ``task_result`` end or move an intent."""
    intent, _ = await engine.intents.submit(principal, task())

    resumed = await engine.intents.resume(principal, intent.intent_id, {"summary": "done", "actor": "bob"})

    assert (resumed.status, resumed.result, resumed.policy_generation) == (Status.SUBMITTED, None, 1)
    last = (await engine.intents.events(principal, intent.intent_id))[-1]
    assert (last.event_type, last.actor, last.details["input"]) == (
        EventType.RESUMED,
        "bob",
        {"summary": "done"},
    )


async def test_resume_with_action_fail_fails_it(engine: Engine, principal: Principal) -> None:
    waiting = await in_status(engine, principal, Status.WAITING)

    failed = await engine.intents.resume(
        principal, waiting.intent_id, {"action": "fail", "error": {"code": "denied"}}
    )

    assert (failed.status, failed.error) == (Status.FAILED, {"code": "denied"})


async def test_resume_with_an_unknown_action_is_invalid(engine: Engine, principal: Principal) -> None:
    intent, _ = await engine.intents.submit(principal, task())

    with pytest.raises(ValidationFailed) as caught:
        await engine.intents.resume(principal, intent.intent_id, {"action": "explode"})

    assert (caught.value.http_status, caught.value.details["field"]) == (422, "action")
    assert (await engine.intents.get(principal, intent.intent_id)).last_seq == intent.last_seq


# -- controls and policy: compare-and-set on policy_generation -------------------------------


@pytest.mark.parametrize("kind", ["controls", "policy"])
async def test_patch_with_the_current_generation_applies(
    engine: Engine, principal: Principal, kind: str
) -> None:
    intent, _ = await engine.intents.submit(
        principal, task(**{kind: {"limits": {"tokens": 10, "calls": 3}, "mode": "auto"}})
    )
    update = getattr(engine.intents, f"update_{kind}")

    patched = await update(
        principal,
        intent.intent_id,
        {"limits": {"calls": None, "cost": 5}, "mode": None, "new": "x"},
        0,
        "ops",
    )

    # RFC 7386: null deletes, objects merge recursively, other values replace.
    assert getattr(patched, kind) == {"limits": {"tokens": 10, "cost": 5}, "new": "x"}
    assert (patched.policy_generation, patched.status) == (1, Status.SUBMITTED)
    last = (await engine.intents.events(principal, intent.intent_id))[-1]
    assert last.event_type is EventType(f"intent.{kind}_updated") and last.actor == "ops"
    assert (await update(principal, intent.intent_id, {"b": 2}, 1, None)).policy_generation == 2


@pytest.mark.parametrize("kind", ["controls", "policy"])
async def test_patch_with_a_stale_generation_is_refused(
    engine: Engine, principal: Principal, kind: str
) -> None:
    intent, _ = await engine.intents.submit(principal, task())
    update = getattr(engine.intents, f"update_{kind}")
    await update(principal, intent.intent_id, {"first": 1}, 0, None)

    with pytest.raises(StalePolicyGeneration) as caught:
        await update(principal, intent.intent_id, {"second": 2}, 0, None)

    assert (caught.value.http_status, caught.value.code) == (409, "stale_policy_generation")
    assert caught.value.details["policy_generation"] == 1
    current = await engine.intents.get(principal, intent.intent_id)
    assert (getattr(current, kind), current.policy_generation) == ({"first": 1}, 1)


async def test_resolve_honours_the_expected_generation(engine: Engine, principal: Principal) -> None:
    intent, _ = await engine.intents.submit(principal, task())
    await engine.intents.update_controls(principal, intent.intent_id, {"paused": True}, None, None)

    with pytest.raises(StalePolicyGeneration):
        await engine.intents.resolve(
            principal, intent.intent_id, Resolve(status="CANCELED", expected_policy_generation=0)
        )
    done, _ = await engine.intents.resolve(
        principal, intent.intent_id, Resolve(status="CANCELED", expected_policy_generation=1)
    )
    assert done.status is Status.CANCELED
