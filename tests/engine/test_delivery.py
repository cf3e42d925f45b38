"""Delivery on both backends: leases and fencing, expiry and redelivery, retries, release, handoff
with ``then``, long-poll claims, timed waits and cancel racing a worker."""

from __future__ import annotations

import asyncio
import time

import pytest

from intentd.engine import Claim, Complete, Engine, Fail, Principal, Wait
from intentd.model import EventType, Intent, IntentTerminal, StaleLease, Status, WaitingReason
from tests._support.engine import AGENT, US, FakeClock, task


async def claim_one(
    engine: Engine, principal: Principal, worker: str = "w1", lease_seconds: float = 10
) -> tuple[Intent, str]:
    [intent] = await engine.delivery.claim(
        principal, Claim(agent=AGENT, worker=worker, lease_seconds=lease_seconds)
    )
    assert intent.lease is not None
    return intent, intent.lease.token


async def event_types(engine: Engine, principal: Principal, intent_id: str) -> list[EventType]:
    return [e.event_type for e in await engine.intents.events(principal, intent_id)]


async def expire_lease(engine: Engine, clock: FakeClock, lease_seconds: float = 10) -> None:
    clock.advance(lease_seconds + 1)
    await engine.scheduler.tick()


# -- leases --------------------------------------------------------------------------------------


async def test_claim_leases_with_token_expiry_and_attempt(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    submitted, _ = await engine.intents.submit(principal, task())

    intent, token = await claim_one(engine, principal, worker="w1", lease_seconds=10)

    assert (intent.intent_id, intent.status, intent.delivery_attempt) == (
        submitted.intent_id,
        Status.DELIVERED,
        1,
    )
    assert intent.lease is not None
    assert (intent.lease.owner, intent.lease.attempt) == ("w1", 1)
    assert intent.lease.expires_at == clock.now + 10 * US
    delivered = (await engine.intents.events(principal, intent.intent_id))[-1]
    assert delivered.event_type is EventType.DELIVERED
    assert delivered.details["lease_token"] == token and delivered.details["delivery_attempt"] == 1
    assert await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w2")) == []


async def test_heartbeat_extends_the_lease(engine: Engine, principal: Principal, clock: FakeClock) -> None:
    await engine.intents.submit(principal, task())
    intent, token = await claim_one(engine, principal, lease_seconds=10)
    clock.advance(8)

    beat = await engine.delivery.heartbeat(principal, intent.intent_id, token, 10)

    assert beat.lease is not None and beat.lease.expires_at == clock.now + 10 * US
    clock.advance(8)  # past the first expiry, inside the extended one
    await engine.scheduler.tick()
    stored = await engine.intents.get(principal, intent.intent_id)
    assert stored.status is Status.DELIVERED and stored.lease == beat.lease
    assert stored.last_seq == intent.last_seq  # a heartbeat writes no event


async def test_every_lease_operation_needs_the_current_token(engine: Engine, principal: Principal) -> None:
    await engine.intents.submit(principal, task())
    intent, _ = await claim_one(engine, principal)
    delivery, iid, bad = engine.delivery, intent.intent_id, "not-the-token"

    for attempt in (
        delivery.complete(principal, iid, Complete(bad, {"x": 1})),
        delivery.fail(principal, iid, Fail(bad, {"code": "x"})),
        delivery.release(principal, iid, bad),
        delivery.wait(principal, iid, Wait(bad, WaitingReason.HUMAN.value)),
        delivery.heartbeat(principal, iid, bad, 30),
        delivery.progress(principal, iid, bad, "hi", None),
    ):
        with pytest.raises(StaleLease) as caught:
            await attempt
        assert (caught.value.http_status, caught.value.code) == (409, "stale_lease")
    assert await engine.intents.get(principal, iid) == intent


async def test_a_zombie_worker_never_completes_the_newer_attempt(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    await engine.intents.submit(principal, task())
    first, zombie_token = await claim_one(engine, principal, worker="zombie")
    await expire_lease(engine, clock)
    second, token = await claim_one(engine, principal, worker="fresh")
    assert second.intent_id == first.intent_id and second.delivery_attempt == 2

    for late in (
        engine.delivery.complete(principal, first.intent_id, Complete(zombie_token, {"by": "zombie"})),
        engine.delivery.heartbeat(principal, first.intent_id, zombie_token, 30),
    ):
        with pytest.raises(StaleLease):
            await late
    done = await engine.delivery.complete(principal, first.intent_id, Complete(token, {"by": "w"}))

    assert (done.intent.status, done.intent.result) == (Status.COMPLETED, {"by": "w"})
    with pytest.raises(IntentTerminal):  # and after the completion, still nothing from the zombie
        await engine.delivery.complete(principal, first.intent_id, Complete(zombie_token))


async def test_an_expired_lease_makes_the_intent_claimable_again(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    await engine.intents.submit(principal, task())
    intent, _ = await claim_one(engine, principal)
    clock.advance(9)
    await engine.scheduler.tick()
    assert (await engine.intents.get(principal, intent.intent_id)).status is Status.DELIVERED

    await expire_lease(engine, clock, 1)

    expired = await engine.intents.get(principal, intent.intent_id)
    assert (expired.status, expired.lease) == (Status.SUBMITTED, None)
    assert (await event_types(engine, principal, intent.intent_id))[-1] is EventType.LEASE_EXPIRED
    again, _ = await claim_one(engine, principal, worker="w2")
    assert (again.intent_id, again.delivery_attempt) == (intent.intent_id, 2)


async def test_delivery_fails_once_attempts_are_used_up(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    submitted, _ = await engine.intents.submit(principal, task(max_delivery_attempts=2))
    for _ in range(2):
        await claim_one(engine, principal)
        await expire_lease(engine, clock)

    failed = await engine.intents.get(principal, submitted.intent_id)

    assert (failed.status, failed.delivery_attempt) == (Status.FAILED, 2)
    assert failed.error is not None and failed.error["code"] == "delivery_failed"
    last = (await engine.intents.events(principal, submitted.intent_id))[-1]
    assert (last.event_type, last.details["delivery_attempt"]) == (EventType.DELIVERY_FAILED, 2)
    assert await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w")) == []


# -- fail, release, wait -----------------------------------------------------------------------


async def test_fail_with_retry_requeues_while_attempts_remain(engine: Engine, principal: Principal) -> None:
    await engine.intents.submit(principal, task(max_delivery_attempts=2))
    intent, token = await claim_one(engine, principal)
    error = {"code": "flaky", "message": "try again"}

    retried = await engine.delivery.fail(principal, intent.intent_id, Fail(token, error, True))
    assert (retried.status, retried.lease, retried.error) == (Status.SUBMITTED, None, None)
    again, token = await claim_one(engine, principal)
    assert again.delivery_attempt == 2
    final = await engine.delivery.fail(principal, intent.intent_id, Fail(token, error, True))

    assert (final.status, final.error) == (Status.FAILED, error)
    assert (await event_types(engine, principal, intent.intent_id))[-3:] == [
        EventType.RELEASED,
        EventType.DELIVERED,
        EventType.FAILED,
    ]


async def test_fail_without_retry_is_final(engine: Engine, principal: Principal) -> None:
    await engine.intents.submit(principal, task(max_delivery_attempts=5))
    intent, token = await claim_one(engine, principal)

    failed = await engine.delivery.fail(principal, intent.intent_id, Fail(token, {"code": "bad"}))

    assert (failed.status, failed.error) == (Status.FAILED, {"code": "bad"})


async def test_release_requeues_at_once(engine: Engine, principal: Principal) -> None:
    await engine.intents.submit(principal, task())
    intent, token = await claim_one(engine, principal, worker="stopping")

    released = await engine.delivery.release(principal, intent.intent_id, token)

    assert (released.status, released.lease) == (Status.SUBMITTED, None)
    again, _ = await claim_one(engine, principal, worker="w2")  # no lease expiry needed
    assert (again.intent_id, again.delivery_attempt) == (intent.intent_id, 2)
    with pytest.raises(StaleLease):
        await engine.delivery.complete(principal, intent.intent_id, Complete(token))


async def test_a_timed_wait_comes_back_through_the_scheduler(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    await engine.intents.submit(principal, task())
    intent, token = await claim_one(engine, principal, lease_seconds=10)

    parked = await engine.delivery.wait(
        principal,
        intent.intent_id,
        Wait(token, WaitingReason.TIME.value, wake_at=clock.now + 60 * US, details={"why": "backoff"}),
    )

    assert (parked.status, parked.waiting_reason, parked.lease) == (Status.WAITING, WaitingReason.TIME, None)
    clock.advance(30)  # the old lease would have expired by now: a parked wait holds no lease
    await engine.scheduler.tick()
    assert (await engine.intents.get(principal, intent.intent_id)).status is Status.WAITING
    clock.advance(31)
    await engine.scheduler.tick()
    woken = await engine.intents.get(principal, intent.intent_id)
    assert (woken.status, woken.waiting_reason) == (Status.SUBMITTED, None)
    last = (await engine.intents.events(principal, intent.intent_id))[-1]
    assert (last.event_type, last.actor) == (EventType.RESUMED, "scheduler")
    again, _ = await claim_one(engine, principal)
    assert (again.intent_id, again.delivery_attempt) == (intent.intent_id, 2)


async def test_cancel_wins_over_the_worker_holding_the_lease(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    await engine.intents.submit(principal, task())
    intent, token = await claim_one(engine, principal)

    canceled, _ = await engine.intents.cancel(principal, intent.intent_id, "user gave up")

    assert (canceled.status, canceled.lease, canceled.reason) == (Status.CANCELED, None, "user gave up")
    with pytest.raises(IntentTerminal) as caught:
        await engine.delivery.heartbeat(principal, intent.intent_id, token, 30)
    assert (caught.value.http_status, caught.value.code) == (409, "intent_terminal")
    await expire_lease(engine, clock)  # the ended lease does not come back to life
    assert await engine.intents.get(principal, intent.intent_id) == canceled


# -- completion and handoff ------------------------------------------------------------------


async def test_complete_submits_follow_ups_in_the_same_transaction(
    engine: Engine, principal: Principal
) -> None:
    await engine.intents.submit(principal, task(correlation_id="trip-7"))
    parent, token = await claim_one(engine, principal)
    review = task(intent_type="demo.review", correlation_id="", to_agent="agent://acme/test/rev")
    notify = task(intent_type="demo.notify", correlation_id="own-corr")

    done = await engine.delivery.complete(
        principal, parent.intent_id, Complete(token, {"draft": "v1"}, then=(review, notify))
    )

    assert (done.intent.status, done.intent.result, done.replayed) == (
        Status.COMPLETED,
        {"draft": "v1"},
        False,
    )
    first, second = done.then
    for child in done.then:
        assert (child.status, child.parent_intent_id, child.root_intent_id, child.from_agent) == (
            Status.SUBMITTED,
            parent.intent_id,
            parent.intent_id,
            AGENT,
        )
        assert await engine.intents.get(principal, child.intent_id) == child
    assert (first.correlation_id, second.correlation_id) == ("trip-7", "own-corr")
    [handed] = await engine.delivery.claim(principal, Claim(agent="agent://acme/test/rev", worker="r"))
    assert handed.intent_id == first.intent_id


async def test_grandchildren_keep_the_root(engine: Engine, principal: Principal) -> None:
    await engine.intents.submit(principal, task())
    root, token = await claim_one(engine, principal)
    child = (
        await engine.delivery.complete(
            principal, root.intent_id, Complete(token, then=(task(correlation_id=""),))
        )
    ).then[0]
    leased, token = await claim_one(engine, principal)
    assert leased.intent_id == child.intent_id

    done = await engine.delivery.complete(
        principal, child.intent_id, Complete(token, then=(task(correlation_id=""),))
    )

    grandchild = done.then[0]
    assert (grandchild.parent_intent_id, grandchild.root_intent_id) == (child.intent_id, root.intent_id)


async def test_a_completion_whose_follow_up_cannot_be_stored_changes_nothing(
    engine: Engine, principal: Principal
) -> None:
    await engine.intents.submit(principal, task())
    parent, token = await claim_one(engine, principal)
    unstorable = task(payload={"values": {1, 2}})  # a set has no JSON form

    with pytest.raises(TypeError):
        await engine.delivery.complete(
            principal, parent.intent_id, Complete(token, {"ok": True}, then=(task(), unstorable))
        )

    assert await engine.intents.get(principal, parent.intent_id) == parent
    assert [i.intent_id for i in (await engine.intents.list(principal)).intents] == [parent.intent_id]


async def test_a_retried_completion_is_replayed_without_duplicate_follow_ups(
    engine: Engine, principal: Principal
) -> None:
    await engine.intents.submit(principal, task())
    parent, token = await claim_one(engine, principal)
    request = Complete(token, {"ok": True}, then=(task(intent_type="demo.next"),))
    first = await engine.delivery.complete(principal, parent.intent_id, request)

    retried = await engine.delivery.complete(principal, parent.intent_id, request)

    assert retried.replayed
    assert [c.intent_id for c in retried.then] == [c.intent_id for c in first.then]
    assert retried.intent == first.intent
    listed = (await engine.intents.list(principal)).intents
    assert sorted(i.intent_id for i in listed) == sorted([parent.intent_id, first.then[0].intent_id])
    assert (await event_types(engine, principal, parent.intent_id)).count(EventType.COMPLETED) == 1


# -- long-poll claims --------------------------------------------------------------------------


async def test_a_waiting_claim_wakes_when_work_arrives(engine: Engine, principal: Principal) -> None:
    started = time.monotonic()
    waiting = asyncio.create_task(
        engine.delivery.claim(principal, Claim(agent=AGENT, worker="poller", wait_seconds=5))
    )
    await engine.dispatcher.wait_for_waiter(principal.namespace, AGENT)
    assert not waiting.done()

    submitted, _ = await engine.intents.submit(principal, task())
    claimed = await asyncio.wait_for(waiting, timeout=5)

    assert [i.intent_id for i in claimed] == [submitted.intent_id]
    assert time.monotonic() - started < 2  # woken by the commit, not by the 5 s timeout


async def test_wait_for_waiter_returns_once_enough_claims_wait(engine: Engine, principal: Principal) -> None:
    with pytest.raises(TimeoutError):  # nobody is claiming yet
        await engine.dispatcher.wait_for_waiter(principal.namespace, AGENT, timeout=0.05)
    claims = [
        asyncio.create_task(
            engine.delivery.claim(principal, Claim(agent=AGENT, worker=f"w{n}", wait_seconds=5))
        )
        for n in range(2)
    ]
    await engine.dispatcher.wait_for_waiter(principal.namespace, AGENT, count=2)
    with pytest.raises(TimeoutError):  # a third never comes
        await engine.dispatcher.wait_for_waiter(principal.namespace, AGENT, count=3, timeout=0.05)

    submitted = [intent for intent, _ in [await engine.intents.submit(principal, task()) for _ in claims]]
    claimed = [intent for batch in await asyncio.wait_for(asyncio.gather(*claims), 5) for intent in batch]
    assert sorted(i.intent_id for i in claimed) == sorted(i.intent_id for i in submitted)


async def test_a_waiting_claim_ignores_other_agents_and_times_out(
    engine: Engine, principal: Principal
) -> None:
    waiting = asyncio.create_task(
        engine.delivery.claim(principal, Claim(agent=AGENT, worker="poller", wait_seconds=0.3))
    )
    await engine.dispatcher.wait_for_waiter(principal.namespace, AGENT)

    await engine.intents.submit(principal, task(to_agent="agent://acme/test/someone-else"))

    assert await asyncio.wait_for(waiting, timeout=5) == []


async def poll_until_idle(
    engine: Engine, principal: Principal, worker: str, all_submitted: asyncio.Event
) -> list[str]:
    """A worker's long-poll loop: claim until the burst is over and the queue stays empty."""
    leased: list[str] = []
    while True:
        batch = await engine.delivery.claim(
            principal, Claim(agent=AGENT, worker=worker, max_intents=2, wait_seconds=0.5)
        )
        leased.extend(intent.intent_id for intent in batch)
        if not batch and all_submitted.is_set():
            return leased


async def test_waiting_claims_share_a_burst_without_losing_or_doubling_work(
    engine: Engine, principal: Principal
) -> None:
    all_submitted = asyncio.Event()
    pollers = [
        asyncio.create_task(poll_until_idle(engine, principal, f"w{n}", all_submitted)) for n in range(4)
    ]
    await engine.dispatcher.wait_for_waiter(principal.namespace, AGENT, count=len(pollers))

    made = await asyncio.gather(
        *(engine.intents.submit(principal, task(payload={"n": n})) for n in range(20))
    )
    all_submitted.set()
    leased = [i for batch in await asyncio.wait_for(asyncio.gather(*pollers), 10) for i in batch]

    assert sorted(leased) == sorted(intent.intent_id for intent, _ in made)
    for intent, _ in made:
        assert (await event_types(engine, principal, intent.intent_id)).count(EventType.DELIVERED) == 1
