"""Held delivery streams on both backends: push with leases, room bounded by max_in_flight, places
freed by every way a lease ends, redelivery after expiry, resumed leases on reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from intentd.engine import Claim, Complete, Engine, Fail, OpenStream, Principal, Pushed, Wait
from intentd.model import Status, ValidationFailed
from tests._support.engine import AGENT, FakeClock, task

OTHER = "agent://acme/prod/other"


async def next_batch(stream: AsyncIterator[list[Pushed]], timeout: float = 5.0) -> list[Pushed]:
    """The next non-empty batch (idle batches are keep-alives)."""
    async with asyncio.timeout(timeout):
        while True:
            batch = await anext(stream)
            if batch:
                return batch


async def nothing_more(stream: AsyncIterator[list[Pushed]]) -> asyncio.Future[list[Pushed]]:
    """Asserts the stream has nothing to send now; returns the wait for its next batch (cancelling
    it would end the stream)."""
    pending = asyncio.ensure_future(next_batch(stream))
    await asyncio.sleep(0.2)
    assert not pending.done(), pending.result() if pending.done() else None
    return pending


def open_stream(
    engine: Engine, principal: Principal, *agents: str, worker: str = "w1", room: int = 8
) -> AsyncIterator[list[Pushed]]:
    return engine.streams.deliveries(
        principal, OpenStream(agents or (AGENT,), worker, lease_seconds=10, max_in_flight=room)
    )


async def test_work_submitted_while_held_is_pushed_leased(engine: Engine, principal: Principal) -> None:
    stream = open_stream(engine, principal)
    first = asyncio.ensure_future(next_batch(stream))
    await engine.dispatcher.wait_for_waiter(principal.namespace, AGENT)

    submitted, _ = await engine.intents.submit(principal, task())

    [pushed] = await first
    assert pushed.intent.intent_id == submitted.intent_id and not pushed.resumed
    assert pushed.intent.status is Status.DELIVERED
    assert pushed.intent.lease is not None and pushed.intent.lease.owner == "w1"
    stored = await engine.intents.get(principal, submitted.intent_id)
    assert stored.lease == pushed.intent.lease
    await stream.aclose()


async def test_backlog_is_leased_up_to_max_in_flight_and_more_as_places_free(
    engine: Engine, principal: Principal
) -> None:
    ids = [(await engine.intents.submit(principal, task()))[0].intent_id for _ in range(5)]
    stream = open_stream(engine, principal, room=2)

    batch = await next_batch(stream)
    assert [p.intent.intent_id for p in batch] == ids[:2]  # in queue order
    waiting = await nothing_more(stream)

    done = batch[0].intent
    assert done.lease is not None
    await engine.delivery.complete(principal, done.intent_id, Complete(lease_token=done.lease.token))
    [third] = await waiting
    assert third.intent.intent_id == ids[2]
    await stream.aclose()


@pytest.mark.parametrize("ending", ["fail", "release", "wait", "cancel"])
async def test_every_way_a_lease_ends_frees_its_place(
    engine: Engine, principal: Principal, ending: str
) -> None:
    first, _ = await engine.intents.submit(principal, task())
    second, _ = await engine.intents.submit(principal, task())
    stream = open_stream(engine, principal, room=1)
    [pushed] = await next_batch(stream)
    assert pushed.intent.intent_id == first.intent_id and pushed.intent.lease is not None
    token = pushed.intent.lease.token

    if ending == "fail":
        await engine.delivery.fail(principal, first.intent_id, Fail(token, {"code": "x", "message": "x"}))
    elif ending == "release":
        await engine.delivery.release(principal, first.intent_id, token)
    elif ending == "wait":
        await engine.delivery.wait(principal, first.intent_id, Wait(token, reason="WAITING_FOR_AGENT"))
    else:
        await engine.intents.cancel(principal, first.intent_id, "no longer needed")

    [next_one] = await next_batch(stream)
    # A released intent is queued again (at the same fake time as the second one).
    expected = {second.intent_id, first.intent_id} if ending == "release" else {second.intent_id}
    assert next_one.intent.intent_id in expected
    await stream.aclose()


async def test_an_expired_lease_is_delivered_again(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    submitted, _ = await engine.intents.submit(principal, task())
    stream = open_stream(engine, principal, room=1)
    [first] = await next_batch(stream)

    clock.advance(11)  # the silent agent's lease runs out
    await engine.scheduler.tick()

    [again] = await next_batch(stream)
    assert again.intent.intent_id == submitted.intent_id
    assert again.intent.delivery_attempt == first.intent.delivery_attempt + 1
    assert again.intent.lease is not None and first.intent.lease is not None
    assert again.intent.lease.token != first.intent.lease.token
    await stream.aclose()


async def test_a_reconnect_sends_the_workers_open_leases_again(engine: Engine, principal: Principal) -> None:
    submitted, _ = await engine.intents.submit(principal, task())
    stream = open_stream(engine, principal)
    [pushed] = await next_batch(stream)
    await stream.aclose()  # the connection dropped; the lease stays the worker's

    again = open_stream(engine, principal)
    [resumed] = await next_batch(again)
    assert resumed.resumed and resumed.intent.intent_id == submitted.intent_id
    assert resumed.intent.lease == pushed.intent.lease
    (await nothing_more(again)).cancel()  # and it is not leased a second time

    other_worker = open_stream(engine, principal, worker="w2")
    (await nothing_more(other_worker)).cancel()  # another worker's stream does not get it


async def test_one_stream_serves_several_agents_and_claims_still_work(
    engine: Engine, principal: Principal
) -> None:
    stream = open_stream(engine, principal, AGENT, OTHER)
    waiting = asyncio.ensure_future(next_batch(stream))
    await engine.dispatcher.wait_for_waiter(principal.namespace, OTHER)
    to_other, _ = await engine.intents.submit(principal, task(to_agent=OTHER))
    [pushed] = await waiting
    assert pushed.intent.intent_id == to_other.intent_id
    await stream.aclose()

    # No stream held: claims lease as before.
    queued, _ = await engine.intents.submit(principal, task())
    [claimed] = await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w9"))
    assert claimed.intent_id == queued.intent_id


async def test_bad_requests_are_refused(engine: Engine, principal: Principal) -> None:
    for req, field in [
        (OpenStream((), "w"), "agent"),
        (OpenStream((AGENT,), "w", max_in_flight=0), "max_in_flight"),
        (OpenStream((AGENT,), "w", lease_seconds=0), "lease_seconds"),
    ]:
        with pytest.raises(ValidationFailed) as raised:
            await anext(engine.streams.deliveries(principal, req))
        assert raised.value.details["field"] == field
