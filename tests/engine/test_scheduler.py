"""The durable scheduler on both backends: deadlines fire once, survive a restart, and are dropped
quietly for finished intents; the execution lease and the deadline are separate clocks; a wake timer
wakes only the wait it was set for."""

from __future__ import annotations

from intentd.engine import Claim, Engine, Principal, Wait
from intentd.model import EventType, Intent, Status, WaitingReason
from intentd.store import open_store
from tests._support.engine import AGENT, US, FakeClock, task


async def claim_one(engine: Engine, principal: Principal, lease_seconds: float = 10) -> tuple[Intent, str]:
    [intent] = await engine.delivery.claim(
        principal, Claim(agent=AGENT, worker="w1", lease_seconds=lease_seconds)
    )
    assert intent.lease is not None
    return intent, intent.lease.token


async def events_of(engine: Engine, principal: Principal, intent_id: str) -> list[EventType]:
    return [e.event_type for e in await engine.intents.events(principal, intent_id)]


# -- deadlines -------------------------------------------------------------------------------


async def test_a_deadline_times_the_intent_out_exactly_once(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    intent, _ = await engine.intents.submit(principal, task(deadline_at=clock.now + 60 * US))
    clock.advance(59)
    assert await engine.scheduler.tick() == 0

    clock.advance(2)
    assert await engine.scheduler.tick() == 1
    clock.advance(3600)
    assert await engine.scheduler.tick() == 0

    timed_out = await engine.intents.get(principal, intent.intent_id)
    assert timed_out.status is Status.TIMED_OUT
    assert timed_out.error is not None and timed_out.error["code"] == "intent_timeout"
    assert await events_of(engine, principal, intent.intent_id) == [
        EventType.CREATED,
        EventType.SUBMITTED,
        EventType.TIMED_OUT,
    ]
    assert await engine.store.read(lambda tx: tx.next_wakeup()) is None


async def test_a_deadline_that_passed_while_the_server_was_down_fires_on_start(
    database_url: str, clock: FakeClock
) -> None:
    store = await open_store(database_url)
    engine = Engine(store, clock)
    _, secret = await engine.keys.create("tester")
    principal = await engine.keys.authenticate(secret)
    intent, _ = await engine.intents.submit(principal, task(deadline_at=clock.now + 60 * US))
    await store.close()

    clock.advance(3600)  # an hour of downtime
    reopened = await open_store(database_url)
    try:
        restarted = Engine(reopened, clock)
        assert await restarted.scheduler.tick() == 1
        timed_out = await restarted.intents.get(principal, intent.intent_id)
    finally:
        await reopened.close()

    assert timed_out.status is Status.TIMED_OUT
    assert timed_out.last_seq == 3


async def test_the_timer_of_a_finished_intent_is_dropped_quietly(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    intent, _ = await engine.intents.submit(principal, task(deadline_at=clock.now + 60 * US))
    await engine.intents.cancel(principal, intent.intent_id, "done early")
    canceled = await engine.intents.get(principal, intent.intent_id)

    clock.advance(61)
    await engine.scheduler.tick()

    assert await engine.intents.get(principal, intent.intent_id) == canceled
    assert await engine.store.read(lambda tx: tx.next_wakeup()) is None  # the timer row is gone
    assert await engine.scheduler.tick() == 0


async def test_a_deadline_fires_while_the_intent_is_leased(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    intent, _ = await engine.intents.submit(principal, task(deadline_at=clock.now + 5 * US))
    _, token = await claim_one(engine, principal, lease_seconds=30)

    clock.advance(6)
    await engine.scheduler.tick()

    timed_out = await engine.intents.get(principal, intent.intent_id)
    assert (timed_out.status, timed_out.lease) == (Status.TIMED_OUT, None)
    clock.advance(60)  # the ended lease neither expires nor requeues anything
    assert await engine.scheduler.tick() == 0
    assert (await engine.intents.get(principal, intent.intent_id)) == timed_out


async def test_a_deadline_still_fires_for_a_parked_intent(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    intent, _ = await engine.intents.submit(principal, task(deadline_at=clock.now + 120 * US))
    leased, token = await claim_one(engine, principal, lease_seconds=10)
    await engine.delivery.wait(principal, leased.intent_id, Wait(token, WaitingReason.HUMAN.value))

    clock.advance(60)  # long past the lease: a parked wait holds none, so nothing happens
    await engine.scheduler.tick()
    assert (await engine.intents.get(principal, intent.intent_id)).status is Status.WAITING
    clock.advance(61)
    await engine.scheduler.tick()

    assert (await engine.intents.get(principal, intent.intent_id)).status is Status.TIMED_OUT


# -- wake timers -----------------------------------------------------------------------------


async def test_a_wake_timer_wakes_only_the_wait_it_was_set_for(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    await engine.intents.submit(principal, task())
    intent, token = await claim_one(engine, principal)
    await engine.delivery.wait(
        principal, intent.intent_id, Wait(token, WaitingReason.TIME.value, wake_at=clock.now + 60 * US)
    )
    await engine.intents.resume(principal, intent.intent_id, {"woken": "early, by hand"})
    _, token = await claim_one(engine, principal)
    await engine.delivery.wait(principal, intent.intent_id, Wait(token, WaitingReason.HUMAN.value))

    clock.advance(61)  # the first wait's timer falls due during the second wait
    await engine.scheduler.tick()

    parked = await engine.intents.get(principal, intent.intent_id)
    assert (parked.status, parked.waiting_reason) == (Status.WAITING, WaitingReason.HUMAN)


async def test_a_wake_timer_survives_progress_during_its_wait(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    await engine.intents.submit(principal, task())
    intent, token = await claim_one(engine, principal)
    await engine.delivery.wait(
        principal, intent.intent_id, Wait(token, WaitingReason.TIME.value, wake_at=clock.now + 60 * US)
    )
    await engine.delivery.progress(principal, intent.intent_id, None, "still sleeping", None)
    await engine.intents.update_controls(principal, intent.intent_id, {"k": 1}, None, None)

    clock.advance(61)
    await engine.scheduler.tick()

    assert (await engine.intents.get(principal, intent.intent_id)).status is Status.SUBMITTED
    assert (await events_of(engine, principal, intent.intent_id))[-1] is EventType.RESUMED
