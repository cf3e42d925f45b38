"""Delivery bindings on both backends: registering one, and what an agent stream's listener does with
the feed of a ``stream``-bound agent. It leases each SUBMITTED intent it is about to send (DELIVERED,
with the lease), leaves out work a claim took meanwhile, sends an expired intent again with the next
attempt, and sends an open lease again (never a second one) when its entry is read again. Without a
binding, or with ``poll``, nothing is leased."""

from __future__ import annotations

import math

import pytest

from intentd.engine import Claim, Engine, Principal, Resolve, Wait
from intentd.engine.bindings import BindAgent, FeedDelivery, Listener
from intentd.model import EventType, StaleLease, Status, ValidationFailed, WaitingReason
from intentd.store import FeedItem
from tests._support.engine import AGENT, US, FakeClock, task

OTHER = "agent://acme/test/other"
OWNER = "listener:tester"  # the principal fixture's key is named "tester"


async def feed(engine: Engine, principal: Principal, since: int = 0) -> list[FeedItem]:
    return await engine.delivery.feed(principal, AGENT, since, 200)


def listener(engine: Engine, principal: Principal) -> Listener:
    """The listener of one new connection of :data:`AGENT`'s stream."""
    return engine.bindings.listener(principal, AGENT)


async def read(engine: Engine, principal: Principal, since: int = 0) -> list[FeedDelivery]:
    """What one new connection of the agent's stream sends of the feed after ``since``."""
    return await listener(engine, principal).deliver(await feed(engine, principal, since))


async def delivered_events(engine: Engine, principal: Principal, intent_id: str) -> int:
    events = await engine.intents.events(principal, intent_id)
    return sum(e.event_type is EventType.DELIVERED for e in events)


@pytest.fixture
async def bound(engine: Engine, principal: Principal) -> None:
    await engine.bindings.bind(principal, BindAgent(AGENT, "stream", 20))


# -- registering -----------------------------------------------------------------------------------


async def test_an_agent_registers_nothing_by_default_and_its_stream_leases_nothing(
    engine: Engine, principal: Principal
) -> None:
    unregistered = await engine.bindings.binding(principal, AGENT)
    assert (unregistered.address, unregistered.delivery_mode, unregistered.lease_seconds) == (
        AGENT,
        None,
        None,
    )
    submitted, _ = await engine.intents.submit(principal, task())

    for mode in (None, "poll"):  # unregistered, then registered as poll: the stream is a feed
        if mode is not None:
            await engine.bindings.bind(principal, BindAgent(AGENT, mode, 20))
        [sent] = await read(engine, principal)
        assert (sent.item.intent_id, sent.item.status, sent.lease) == (submitted.intent_id, "SUBMITTED", None)
    assert (await engine.intents.get(principal, submitted.intent_id)).status is Status.SUBMITTED


async def test_a_stream_open_before_the_binding_leases_from_its_next_page(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    stream = listener(engine, principal)
    first, _ = await engine.intents.submit(principal, task())
    [watched] = await stream.deliver(await feed(engine, principal))
    assert watched.lease is None
    await engine.bindings.bind(principal, BindAgent(AGENT, "stream"))
    second, _ = await engine.intents.submit(principal, task())

    [leased] = await stream.deliver(await feed(engine, principal, watched.item.seq))

    assert leased.item.intent_id == second.intent_id and leased.lease is not None
    assert leased.lease.expires_at == clock.now + 30 * US  # the default lease length
    assert (await engine.intents.get(principal, first.intent_id)).status is Status.SUBMITTED


async def test_a_binding_is_registered_and_changed(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    first = await engine.bindings.bind(principal, BindAgent(AGENT, "stream", 45))
    assert (first.delivery_mode, first.lease_seconds) == ("stream", 45.0)
    assert first.created_at == first.updated_at == clock.now
    assert await engine.bindings.binding(principal, AGENT) == first
    registered_at = clock.now
    clock.advance(5)

    # A ScenarioBundle names only the mode: the lease length registered before stays.
    changed = await engine.bindings.bind(principal, BindAgent(AGENT, "poll"))

    assert (changed.delivery_mode, changed.lease_seconds) == ("poll", 45.0)
    assert (changed.created_at, changed.updated_at) == (registered_at, clock.now)
    assert (await engine.bindings.binding(principal, OTHER)).delivery_mode is None  # per agent
    fresh = await engine.bindings.bind(principal, BindAgent(OTHER, "stream"))
    assert fresh.lease_seconds == 30.0  # the default


@pytest.mark.parametrize(
    ("req", "field"),
    [
        (BindAgent(AGENT, "smtp"), "delivery_mode"),
        (BindAgent(AGENT, "STREAM"), "delivery_mode"),
        (BindAgent(AGENT, "http"), "callback_url"),  # the http binding needs somewhere to POST
        (BindAgent(AGENT, "http", callback_url="ftp://example.com/hook"), "callback_url"),
        (BindAgent(AGENT, "http", callback_url="https://u:p@example.com/hook"), "callback_url"),
        (BindAgent(AGENT, "http", callback_url="http://127.0.0.1:9/hook"), "callback_url"),
        (BindAgent(AGENT, "http", callback_url="https://example.com/h", secret="short"), "secret"),
        (BindAgent(AGENT, "stream", 0), "lease_seconds"),
        (BindAgent(AGENT, "stream", -1), "lease_seconds"),
        (BindAgent(AGENT, "stream", 3601), "lease_seconds"),
        (BindAgent(AGENT, "stream", math.nan), "lease_seconds"),
    ],
)
async def test_a_bad_binding_is_refused_with_its_field(
    engine: Engine, principal: Principal, req: BindAgent, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await engine.bindings.bind(principal, req)
    assert refused.value.details["field"] == field
    assert (await engine.bindings.binding(principal, AGENT)).delivery_mode is None


# -- a bound agent's stream ------------------------------------------------------------------------


async def test_a_bound_stream_leases_what_it_sends(
    engine: Engine, principal: Principal, clock: FakeClock, bound: None
) -> None:
    first, _ = await engine.intents.submit(principal, task())
    second, _ = await engine.intents.submit(principal, task(payload={"n": 2}))

    sent = await read(engine, principal)

    assert [d.item.intent_id for d in sent] == [first.intent_id, second.intent_id]
    for delivery in sent:
        assert (delivery.item.status, delivery.item.event_type) == ("DELIVERED", "intent.delivered")
        assert delivery.lease is not None and not delivery.resumed
        assert (delivery.lease.owner, delivery.lease.attempt) == (OWNER, 1)
        assert delivery.lease.expires_at == clock.now + 20 * US
        stored = await engine.intents.get(principal, delivery.item.intent_id)
        assert (stored.status, stored.lease) == (Status.DELIVERED, delivery.lease)
        last = (await engine.intents.events(principal, stored.intent_id))[-1]
        assert (last.event_type, last.actor) == (EventType.DELIVERED, OWNER)
    # Leased: a claim finds nothing left.
    assert await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w")) == []


async def test_an_unbound_stream_leases_nothing_and_a_claim_gets_the_work(
    engine: Engine, principal: Principal
) -> None:
    submitted, _ = await engine.intents.submit(principal, task())

    [item] = await feed(engine, principal)

    assert item.status == "SUBMITTED"
    assert [d.lease for d in await read(engine, principal)] == [None]
    [claimed] = await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w"))
    assert (claimed.intent_id, claimed.delivery_attempt) == (submitted.intent_id, 1)


async def test_work_a_claim_took_meanwhile_is_not_sent_as_delivered(
    engine: Engine, principal: Principal, bound: None
) -> None:
    await engine.intents.submit(principal, task())
    items = await feed(engine, principal)  # read as SUBMITTED ...
    [claimed] = await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w"))  # ... then taken

    assert await listener(engine, principal).deliver(items) == []
    stored = await engine.intents.get(principal, claimed.intent_id)
    assert stored.lease is not None and stored.lease.owner == "w"
    assert await read(engine, principal) == []  # nor when read again: the lease is the worker's


async def test_an_expired_lease_is_sent_again_with_the_next_attempt(
    engine: Engine, principal: Principal, clock: FakeClock, bound: None
) -> None:
    submitted, _ = await engine.intents.submit(principal, task())
    stream = listener(engine, principal)
    [first] = await stream.deliver(await feed(engine, principal))
    clock.advance(21)  # no resolve, no heartbeat
    await engine.scheduler.tick()

    # Queued again: a new feed entry, and the same connection leases it again.
    [again] = await stream.deliver(await feed(engine, principal, first.item.seq))

    assert again.item.intent_id == submitted.intent_id and again.item.seq > first.item.seq
    assert first.lease is not None and again.lease is not None
    assert (again.lease.attempt, again.resumed) == (2, False)
    assert again.lease.token != first.lease.token
    with pytest.raises(StaleLease):  # the first attempt is fenced off
        await engine.delivery.heartbeat(principal, submitted.intent_id, first.lease.token, 20)
    # Read from 0, the first entry is passed over: the second one delivers the intent.
    [replayed] = await read(engine, principal)
    assert (replayed.item.seq, replayed.lease, replayed.resumed) == (again.item.seq, again.lease, True)


async def test_an_entry_read_again_sends_the_open_lease_and_leases_nothing_more(
    engine: Engine, principal: Principal, bound: None
) -> None:
    submitted, _ = await engine.intents.submit(principal, task())
    [first] = await read(engine, principal)

    # A reconnect from before the entry (or an agent restarted from 0) gets its lease again ...
    [again] = await read(engine, principal)
    assert (again.item.seq, again.item.status, again.lease, again.resumed) == (
        first.item.seq,
        "DELIVERED",
        first.lease,
        True,
    )
    # ... and a reconnect from the last seq it saw reads past it.
    assert await read(engine, principal, first.item.seq) == []
    assert await delivered_events(engine, principal, submitted.intent_id) == 1


async def test_another_key_s_listener_does_not_get_the_lease(
    engine: Engine, principal: Principal, bound: None
) -> None:
    await engine.intents.submit(principal, task())
    [mine] = await read(engine, principal)
    _, secret = await engine.keys.create("someone-else")
    other = await engine.keys.authenticate(secret)

    assert await read(engine, other) == []
    assert mine.lease is not None and mine.lease.owner == OWNER


async def test_an_intent_queued_again_is_delivered_once_at_its_latest_entry(
    engine: Engine, principal: Principal, clock: FakeClock, bound: None
) -> None:
    submitted, _ = await engine.intents.submit(principal, task())
    [first] = await read(engine, principal)
    assert first.lease is not None
    clock.advance(1)
    await engine.delivery.release(principal, submitted.intent_id, first.lease.token)  # a new entry

    sent = await read(engine, principal)

    assert [(d.item.intent_id, d.lease.attempt if d.lease else None) for d in sent] == [
        (submitted.intent_id, 2)
    ]
    assert sent[0].item.seq > first.item.seq


async def test_two_entries_of_the_same_moment_send_the_intent_once(
    engine: Engine, principal: Principal, bound: None
) -> None:
    submitted, _ = await engine.intents.submit(principal, task())
    [first] = await read(engine, principal)
    assert first.lease is not None
    # Released in the same microsecond (the clock stands still): both entries look current.
    await engine.delivery.release(principal, submitted.intent_id, first.lease.token)

    sent = await read(engine, principal)

    assert [d.item.intent_id for d in sent] == [submitted.intent_id]
    assert await delivered_events(engine, principal, submitted.intent_id) == 2  # two attempts, not three


async def test_replies_and_intents_in_other_statuses_pass_as_they_are(
    engine: Engine, principal: Principal, bound: None
) -> None:
    asked, _ = await engine.intents.submit(principal, task(to_agent=OTHER, reply_to=AGENT))
    [claimed] = await engine.delivery.claim(principal, Claim(agent=OTHER, worker="w"))
    assert claimed.lease is not None
    await engine.delivery.release(principal, asked.intent_id, claimed.lease.token)
    await engine.intents.cancel(principal, asked.intent_id, "no longer needed")  # a reply to AGENT
    parked, _ = await engine.intents.submit(principal, task())
    [leased] = await engine.delivery.claim(principal, Claim(agent=AGENT, worker="w"))
    assert leased.lease is not None
    await engine.delivery.wait(
        principal, parked.intent_id, Wait(leased.lease.token, WaitingReason.HUMAN.value)
    )

    sent = await read(engine, principal)

    assert [(d.item.intent_id, d.item.status, d.lease) for d in sent] == [
        (asked.intent_id, "CANCELED", None),
        (parked.intent_id, "WAITING", None),
    ]


async def test_a_delivered_intent_is_resolved_resumed_and_heartbeaten_as_a_claimed_one(
    engine: Engine, principal: Principal, clock: FakeClock, bound: None
) -> None:
    first, _ = await engine.intents.submit(principal, task())
    second, _ = await engine.intents.submit(principal, task())
    by_id = {d.item.intent_id: d.lease for d in await read(engine, principal)}
    lease = by_id[first.intent_id]
    assert lease is not None

    beat = await engine.delivery.heartbeat(principal, first.intent_id, lease.token, 60)
    assert beat.lease is not None and beat.lease.expires_at == clock.now + 60 * US
    with pytest.raises(StaleLease):  # a resume that carries a token is fenced
        await engine.intents.resume(principal, first.intent_id, {"action": "complete", "lease_token": "x"})
    done = await engine.intents.resume(
        principal, first.intent_id, {"action": "complete", "lease_token": lease.token, "draft": "d"}
    )
    assert (done.status, done.result, done.lease) == (Status.COMPLETED, {"draft": "d"}, None)
    # AXP's resolve carries no token: it acts on the DELIVERED intent as on any open one.
    resolved, _ = await engine.intents.resolve(principal, second.intent_id, Resolve("COMPLETED", {"ok": 1}))
    assert resolved.status is Status.COMPLETED
