"""Human tasks in the engine, on both backends, with a controllable clock (no sleeps): a gate that a
person opens or closes, reminders and an escalation chain on schedule, each timeout fallback, a
restart between a reminder and the decision, who may decide, deciding twice, and the race of an
answer with the timeout."""

from __future__ import annotations

import asyncio
from typing import Any, get_args

import pytest

from intentd import wire
from intentd.engine import Claim, Engine, Principal, Wait
from intentd.engine.humans.outcomes import DEFAULT_OUTCOMES
from intentd.engine.humans.spec import TIMEOUT_FALLBACKS
from intentd.engine.inputs import Answer
from intentd.model import (
    EventType,
    IntentNotWaiting,
    NotAssignee,
    Status,
    TaskClosed,
    ValidationFailed,
    WaitingReason,
)
from intentd.store import open_store
from tests._support.engine import AGENT, FakeClock, task

MANAGER = "manager@acme.test"


def gate(**human_task: Any) -> Any:
    return task(controls={"human_task": {"title": "Spend over $1,000", **human_task}})


async def approver(engine: Engine, name: str, *roles: str) -> Principal:
    _, secret = await engine.keys.create(name, "approver", task_roles=roles)
    return await engine.keys.authenticate(secret)


async def the_task(engine: Engine, principal: Principal, intent_id: str) -> Any:
    [view] = await engine.tasks.list(principal, state=None, intent_id=intent_id)
    return view.task


async def kinds(engine: Engine, principal: Principal, intent_id: str) -> list[EventType]:
    return [e.event_type for e in await engine.intents.events(principal, intent_id)]


async def test_a_gate_waits_for_a_person_then_goes_to_its_agent(engine: Engine, principal: Principal) -> None:
    intent, _ = await engine.intents.submit(principal, gate(assignees=[MANAGER]))
    assert (intent.status, intent.waiting_reason) == (Status.WAITING, WaitingReason.HUMAN)
    assert await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w", wait_seconds=0)) == []

    manager = await approver(engine, MANAGER)
    opened = await the_task(engine, principal, intent.intent_id)
    view = await engine.tasks.decide(manager, opened.task_id, Answer("approve", "within budget"))

    assert view.intent.status is Status.SUBMITTED
    assert view.task.state.value == "decided" and view.task.decision["decided_by"] == MANAGER
    [claimed] = await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w", wait_seconds=0))
    events = await engine.intents.events(principal, intent.intent_id)
    resumed = events[-2]
    assert resumed.event_type is EventType.RESUMED
    assert resumed.details["task_result"] == {"outcome": "approved", "comment": "within budget", "data": {}}
    assert claimed.intent_id == intent.intent_id


async def test_a_rejected_gate_is_canceled_and_a_second_decision_changes_nothing(
    engine: Engine, principal: Principal
) -> None:
    intent, _ = await engine.intents.submit(principal, gate())
    opened = await the_task(engine, principal, intent.intent_id)
    view = await engine.tasks.decide(principal, opened.task_id, Answer("rejected", "not this quarter"))
    assert view.intent.status is Status.CANCELED and "not this quarter" in (view.intent.reason or "")

    with pytest.raises(TaskClosed) as closed:
        await engine.tasks.decide(principal, opened.task_id, Answer("approved"))
    assert closed.value.details["state"] == "decided"
    assert (await engine.intents.get(principal, intent.intent_id)).status is Status.CANCELED


async def test_only_assignees_their_roles_or_an_admin_decide(engine: Engine, principal: Principal) -> None:
    intent, _ = await engine.intents.submit(principal, gate(assignees=["role:finance"]))
    opened = await the_task(engine, principal, intent.intent_id)
    outsider = await approver(engine, "intern@acme.test", "marketing")
    with pytest.raises(NotAssignee):
        await engine.tasks.decide(outsider, opened.task_id, Answer("approved"))
    assert await engine.tasks.list(outsider, mine=True) == []

    finance = await approver(engine, "cfo@acme.test", "finance")
    assert [v.task.task_id for v in await engine.tasks.list(finance, mine=True)] == [opened.task_id]
    view = await engine.tasks.decide(finance, opened.task_id, Answer("approved"))
    assert view.intent.status is Status.SUBMITTED


async def test_answers_are_checked_field_by_field(engine: Engine, principal: Principal) -> None:
    form = {
        "type": "object",
        "properties": {"amount": {"type": "number", "maximum": 5000}, "vendor": {"type": "string"}},
        "required": ["amount", "vendor"],
    }
    intent, _ = await engine.intents.submit(
        principal, gate(task_type="form", form_schema=form, required_comment=True, evidence_required=True)
    )
    task_id = (await the_task(engine, principal, intent.intent_id)).task_id

    async def refused(reply: Answer) -> dict[str, Any]:
        with pytest.raises(ValidationFailed) as exc:
            await engine.tasks.decide(principal, task_id, reply)
        return exc.value.details

    assert (await refused(Answer("approved", "x")))["field"] == "outcome"  # a form is submitted
    assert (await refused(Answer("submitted")))["field"] == "comment"
    assert (await refused(Answer("submitted", "ok", {"amount": 1})))["field"] == "data.evidence"
    details = await refused(Answer("submitted", "ok", {"evidence": "po.pdf", "amount": 9000}))
    assert [e["field"] for e in details["errors"]] == ["data.vendor", "data.amount"] or details["field"] in (
        "data.vendor",
        "data.amount",
    )
    assert {e["field"] for e in details["errors"]} == {"data.vendor", "data.amount"}
    assert (await engine.intents.get(principal, intent.intent_id)).status is Status.WAITING

    view = await engine.tasks.decide(
        principal, task_id, Answer("submitted", "ok", {"evidence": "po.pdf", "amount": 900, "vendor": "acme"})
    )
    assert view.task.decision["data"]["vendor"] == "acme"


async def test_reminders_then_an_escalation_chain_on_schedule(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    intent, _ = await engine.intents.submit(
        principal,
        gate(
            assignees=[MANAGER],
            remind_after_seconds=60,
            remind_interval_seconds=30,
            max_reminders=2,
            escalate_to=["director@acme.test", {"assignees": ["role:cfo"], "after_seconds": 600}],
        ),
    )
    clock.advance(59)
    assert await engine.scheduler.tick() == 0
    clock.advance(1)  # 60 s: first reminder
    assert await engine.scheduler.tick() == 1
    clock.advance(30)  # 90 s: second
    assert await engine.scheduler.tick() == 1
    clock.advance(30)  # 120 s: reminders ran out: the director joins
    assert await engine.scheduler.tick() == 1
    escalated = await the_task(engine, principal, intent.intent_id)
    assert escalated.level == 1 and escalated.assignees == (MANAGER, "director@acme.test")
    clock.advance(60)  # the new level is reminded from its own start
    assert await engine.scheduler.tick() == 1
    clock.advance(540)  # 600 s after the director joined: the second reminder is overdue, then the CFO role
    assert await engine.scheduler.tick() == 1
    assert await engine.scheduler.tick() == 1
    top = await the_task(engine, principal, intent.intent_id)
    assert top.level == 2 and "role:cfo" in top.assignees

    assert await kinds(engine, principal, intent.intent_id) == [
        EventType.CREATED,
        EventType.SUBMITTED,
        EventType.HUMAN_TASK_ASSIGNED,
        EventType.REMINDER,
        EventType.REMINDER,
        EventType.ESCALATED,
        EventType.REMINDER,
        EventType.REMINDER,
        EventType.ESCALATED,
    ]
    cfo = await approver(engine, "cfo@acme.test", "cfo")
    view = await engine.tasks.decide(cfo, top.task_id, Answer("approved"))
    assert view.intent.status is Status.SUBMITTED
    assert await engine.store.read(lambda tx: tx.next_wakeup()) is None  # no timer left behind


@pytest.mark.parametrize(
    ("fallback", "status"),
    [("cancel", Status.CANCELED), ("fail", Status.FAILED), ("default_outcome", Status.SUBMITTED)],
)
async def test_a_timeout_takes_the_declared_fallback(
    engine: Engine, principal: Principal, clock: FakeClock, fallback: str, status: Status
) -> None:
    intent, _ = await engine.intents.submit(
        principal, gate(timeout_seconds=3600, on_timeout=fallback, default_outcome="approved")
    )
    task_id = (await the_task(engine, principal, intent.intent_id)).task_id
    clock.advance(3600)
    assert await engine.scheduler.tick() == 1
    assert (await engine.intents.get(principal, intent.intent_id)).status is status
    timed_out = await the_task(engine, principal, intent.intent_id)
    assert timed_out.state.value == ("decided" if fallback == "default_outcome" else "timed_out")
    with pytest.raises(TaskClosed):  # an answer after the timeout is refused
        await engine.tasks.decide(principal, task_id, Answer("approved"))


async def test_a_timeout_that_escalates_restarts_for_the_next_level(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    intent, _ = await engine.intents.submit(
        principal, gate(timeout_seconds=100, on_timeout="escalate", escalate_to="role:legal")
    )
    clock.advance(100)
    assert await engine.scheduler.tick() == 1
    assert (await the_task(engine, principal, intent.intent_id)).level == 1
    clock.advance(100)  # no level left: the task fails
    assert await engine.scheduler.tick() == 1
    failed = await engine.intents.get(principal, intent.intent_id)
    assert failed.status is Status.FAILED and failed.error is not None
    assert failed.error["code"] == "human_task_timeout"


async def test_a_restart_between_a_reminder_and_the_decision_changes_nothing(
    database_url: str, clock: FakeClock
) -> None:
    store = await open_store(database_url)
    engine = Engine(store, clock)
    _, secret = await engine.keys.create("tester")
    principal = await engine.keys.authenticate(secret)
    intent, _ = await engine.intents.submit(principal, gate(remind_after_seconds=60, max_reminders=2))
    clock.advance(60)
    assert await engine.scheduler.tick() == 1
    await store.close()

    store = await open_store(database_url)  # a new process on the same database
    engine = Engine(store, clock)
    try:
        clock.advance(60)
        assert await engine.scheduler.tick() == 1  # the second reminder, on schedule
        reminded = await the_task(engine, principal, intent.intent_id)
        assert reminded.reminders_sent == 2
        view = await engine.tasks.decide(principal, reminded.task_id, Answer("approved"))
        assert view.intent.status is Status.SUBMITTED
        clock.advance(3600)
        assert await engine.scheduler.tick() == 0
    finally:
        await store.close()


async def test_an_answer_and_the_timeout_at_the_same_moment_decide_once(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    intent, _ = await engine.intents.submit(principal, gate(timeout_seconds=60, on_timeout="cancel"))
    task_id = (await the_task(engine, principal, intent.intent_id)).task_id
    clock.advance(60)
    answered, fired = await asyncio.gather(
        engine.tasks.decide(principal, task_id, Answer("approved")),
        engine.scheduler.tick(),
        return_exceptions=True,
    )
    final = await engine.intents.get(principal, intent.intent_id)
    if isinstance(answered, TaskClosed):  # the timeout won: canceled, the answer refused
        assert final.status is Status.CANCELED
    else:  # the answer won: the timer finds nothing open
        assert not isinstance(answered, BaseException) and final.status is Status.SUBMITTED
    closed = [
        e for e in await engine.intents.events(principal, intent.intent_id) if "timed_out_task" in e.details
    ]
    assert len(closed) + (0 if isinstance(answered, TaskClosed) else 1) == 1


async def test_an_agent_asks_and_finds_the_answer_in_its_journal(
    engine: Engine, principal: Principal
) -> None:
    intent, _ = await engine.intents.submit(principal, task())
    [leased] = await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w", wait_seconds=0))
    assert leased.lease is not None
    asked = {"title": "Which vendor?", "task_type": "clarification"}
    parked = await engine.delivery.wait(
        principal,
        intent.intent_id,
        Wait(leased.lease.token, WaitingReason.HUMAN.value, human_task=asked, key="vendor"),
    )
    assert parked.lease is None and parked.status is Status.WAITING
    task_id = (await the_task(engine, principal, intent.intent_id)).task_id
    view = await engine.tasks.decide(principal, task_id, Answer("rejected", "ask legal first"))
    assert view.intent.status is Status.SUBMITTED  # every answer goes back to the agent that asked
    [entry] = await engine.runs.journal(principal, intent.intent_id)
    assert (entry.key, entry.result["outcome"], entry.result["comment"]) == (
        "vendor",
        "rejected",
        "ask legal first",
    )


async def test_delegation_moves_the_task_to_someone_else(engine: Engine, principal: Principal) -> None:
    intent, _ = await engine.intents.submit(principal, gate(task_type="delegation", assignees=[MANAGER]))
    task_id = (await the_task(engine, principal, intent.intent_id)).task_id
    manager = await approver(engine, MANAGER)
    view = await engine.tasks.decide(
        manager, task_id, Answer("delegated", data={"delegate_to": "deputy@acme.test"})
    )
    assert view.task.is_open and view.task.assignees == ("deputy@acme.test",)
    with pytest.raises(NotAssignee):
        await engine.tasks.decide(manager, task_id, Answer("delegated", data={"delegate_to": MANAGER}))
    deputy = await approver(engine, "deputy@acme.test")
    with pytest.raises(ValidationFailed) as exc:
        await engine.tasks.decide(deputy, task_id, Answer("delegated"))
    assert exc.value.details["field"] == "data.delegate_to"
    assert (await engine.tasks.decide(deputy, task_id, Answer("declined"))).intent.status is Status.CANCELED


async def test_an_answer_racing_the_question_answers_it_or_is_refused_never_lost(
    engine: Engine, principal: Principal
) -> None:
    for n in range(5):  # either order may win on either backend
        agent = f"{AGENT}-{n}"
        intent, _ = await engine.intents.submit(principal, task(to_agent=agent))
        [leased] = await engine.delivery.claim(principal, Claim(agent=agent, worker="w", wait_seconds=0))
        assert leased.lease is not None
        parked, answered = await asyncio.gather(
            engine.delivery.wait(
                principal,
                intent.intent_id,
                Wait(leased.lease.token, WaitingReason.HUMAN.value, human_task={"title": "Go?"}, key="go"),
            ),
            engine.intents.resume(principal, intent.intent_id, {"task_result": {"outcome": "approved"}}),
            return_exceptions=True,
        )
        assert not isinstance(parked, BaseException)
        entries = await engine.runs.journal(principal, intent.intent_id)
        if isinstance(answered, IntentNotWaiting):  # it came first: refused, and the question stays open
            assert (await the_task(engine, principal, intent.intent_id)).is_open and entries == []
        else:  # it came second: it answered the question
            assert not isinstance(answered, BaseException) and answered.status is Status.SUBMITTED
            assert [e.result["outcome"] for e in entries] == ["approved"]


async def test_a_signed_link_decides_only_for_one_of_the_tasks_people_and_only_once(
    engine: Engine, principal: Principal
) -> None:
    intent, _ = await engine.intents.submit(
        principal, gate(assignees=["role:finance"], notify_email="watcher@acme.test")
    )
    task_id = (await the_task(engine, principal, intent.intent_id)).task_id
    await approver(engine, "cfo@acme.test", "finance")

    def link(person: str, nonce: str) -> Principal:
        return Principal(f"link:{nonce}", principal.namespace, person, "link")

    with pytest.raises(NotAssignee):  # a link made for someone who is none of the task's people
        await engine.tasks.decide(
            link("stranger@acme.test", "n1"), task_id, Answer("approved"), link_nonce="n1"
        )
    view = await engine.tasks.decide(
        link("cfo@acme.test", "n2"), task_id, Answer("approved"), link_nonce="n2"
    )
    assert view.task.decision is not None and view.task.decision["decided_by"] == "cfo@acme.test"
    with pytest.raises(TaskClosed):  # the same link again changes nothing
        await engine.tasks.decide(link("cfo@acme.test", "n2"), task_id, Answer("rejected"), link_nonce="n2")


def test_the_engine_knows_every_task_type_and_fallback_the_wire_accepts() -> None:
    """The engine cannot import the wire format (a layer rule), so both spell the lists: kept equal."""
    assert tuple(DEFAULT_OUTCOMES) == wire.TASK_TYPES
    assert get_args(wire.humans.TimeoutFallback) == TIMEOUT_FALLBACKS
