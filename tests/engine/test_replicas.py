"""Two ``serve`` replicas on one PostgreSQL (ARCHITECTURE.md §5-6, §11): two Engines, each over its
own PostgresStore (own pool, writers and LISTEN connection) on the same database. Claims never lease
one intent twice, and concurrent schedulers fire each deadline and each lease expiry exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from intentd.engine import (
    AgentSwitch,
    Claim,
    Complete,
    Engine,
    Kill,
    OpenStream,
    Principal,
    Pushed,
    SubmitIntent,
)
from intentd.model import AgentKilled, EventType, PolicyLimitReached, Status
from intentd.store import Store, open_store
from tests._support.engine import AGENT, US, FakeClock

pytestmark = pytest.mark.postgres

INTENTS = 60


@pytest.fixture
async def replicas(pg_url: str, clock: FakeClock) -> AsyncIterator[tuple[Engine, Engine]]:
    stores: list[Store] = [await open_store(pg_url), await open_store(pg_url)]
    try:
        yield Engine(stores[0], clock), Engine(stores[1], clock)
    finally:
        for store in stores:
            await store.close()


@pytest.fixture
async def admin(replicas: tuple[Engine, Engine]) -> Principal:
    _, secret = await replicas[0].keys.create("tester")
    return await replicas[1].keys.authenticate(secret)  # a key made on one replica works on both


async def submit_many(engine: Engine, principal: Principal, deadline_at: int | None = None) -> list[str]:
    made = await asyncio.gather(
        *(
            engine.intents.submit(
                principal, SubmitIntent("demo.task", f"corr-{n}", AGENT, {"n": n}, deadline_at=deadline_at)
            )
            for n in range(INTENTS)
        )
    )
    return [intent.intent_id for intent, _ in made]


async def drain(engine: Engine, principal: Principal, worker: str, lease_seconds: float = 60) -> list[str]:
    """Claim until the queue is empty, as a busy worker would."""
    leased: list[str] = []
    while batch := await engine.delivery.claim(
        principal, Claim(agent=AGENT, worker=worker, max_intents=3, lease_seconds=lease_seconds)
    ):
        leased.extend(intent.intent_id for intent in batch)
    return leased


async def count_events(engine: Engine, principal: Principal, ids: list[str]) -> Counter[EventType]:
    counts: Counter[EventType] = Counter()
    for intent_id in ids:
        counts.update(e.event_type for e in await engine.intents.events(principal, intent_id))
    return counts


async def test_concurrent_claims_on_two_replicas_never_lease_an_intent_twice(
    replicas: tuple[Engine, Engine], admin: Principal
) -> None:
    ids = await submit_many(replicas[0], admin)

    workers = [drain(replicas[n % 2], admin, f"worker-{n}") for n in range(8)]
    leased = [i for batch in await asyncio.gather(*workers) for i in batch]

    assert sorted(leased) == sorted(ids)  # everything delivered, nothing twice
    counts = await count_events(replicas[1], admin, ids)
    assert counts[EventType.DELIVERED] == INTENTS


async def test_two_schedulers_fire_each_deadline_once(
    replicas: tuple[Engine, Engine], admin: Principal, clock: FakeClock
) -> None:
    ids = await submit_many(replicas[0], admin, deadline_at=clock.now + 30 * US)
    clock.advance(31)

    fired = await asyncio.gather(*(replicas[n % 2].scheduler.tick() for n in range(6)))

    assert sum(fired) == INTENTS
    counts = await count_events(replicas[1], admin, ids)
    assert counts[EventType.TIMED_OUT] == INTENTS
    for intent_id in ids:
        assert (await replicas[1].intents.get(admin, intent_id)).status is Status.TIMED_OUT


async def test_two_schedulers_expire_each_lease_once(
    replicas: tuple[Engine, Engine], admin: Principal, clock: FakeClock
) -> None:
    ids = await submit_many(replicas[0], admin)
    assert len(await drain(replicas[1], admin, "doomed", lease_seconds=10)) == INTENTS
    clock.advance(11)

    await asyncio.gather(*(replicas[n % 2].scheduler.tick() for n in range(6)))

    counts = await count_events(replicas[0], admin, ids)
    assert counts[EventType.LEASE_EXPIRED] == INTENTS
    again = await drain(replicas[0], admin, "survivor")
    assert sorted(again) == sorted(ids)  # each back in the queue once, on attempt 2
    for intent_id in ids:
        assert (await replicas[1].intents.get(admin, intent_id)).delivery_attempt == 2


async def test_a_claim_waiting_on_one_replica_wakes_for_work_submitted_on_the_other(
    replicas: tuple[Engine, Engine], admin: Principal
) -> None:
    waiting = asyncio.create_task(
        replicas[0].delivery.claim(admin, Claim(agent=AGENT, worker="poller", wait_seconds=5))
    )
    await replicas[0].dispatcher.wait_for_waiter(admin.namespace, AGENT)

    submitted, _ = await replicas[1].intents.submit(admin, SubmitIntent("demo.task", "corr", AGENT, {}))
    claimed = await asyncio.wait_for(waiting, timeout=3)  # LISTEN/NOTIFY, not the 5 s timeout

    assert [i.intent_id for i in claimed] == [submitted.intent_id]


async def test_waiting_claims_on_both_replicas_share_work_submitted_on_both(
    replicas: tuple[Engine, Engine], admin: Principal
) -> None:
    all_submitted = asyncio.Event()

    async def poll(engine: Engine, worker: str) -> list[str]:
        leased: list[str] = []
        while True:
            batch = await engine.delivery.claim(
                admin, Claim(agent=AGENT, worker=worker, max_intents=2, wait_seconds=0.5)
            )
            leased.extend(intent.intent_id for intent in batch)
            if not batch and all_submitted.is_set():
                return leased

    pollers = [asyncio.create_task(poll(replicas[n % 2], f"w{n}")) for n in range(6)]
    await asyncio.gather(  # each replica's three pollers are parked
        *(engine.dispatcher.wait_for_waiter(admin.namespace, AGENT, count=3) for engine in replicas)
    )
    made = await asyncio.gather(
        *(
            replicas[n % 2].intents.submit(admin, SubmitIntent("demo.task", "corr", AGENT, {"n": n}))
            for n in range(INTENTS)
        )
    )
    all_submitted.set()
    leased = [i for batch in await asyncio.wait_for(asyncio.gather(*pollers), 20) for i in batch]

    ids = [intent.intent_id for intent, _ in made]
    assert sorted(leased) == sorted(ids)  # handed off or claimed, each exactly once
    assert (await count_events(replicas[0], admin, ids))[EventType.DELIVERED] == INTENTS


async def test_a_kill_on_one_replica_reaches_a_stream_held_on_the_other(
    replicas: tuple[Engine, Engine], admin: Principal
) -> None:
    first, second = replicas
    await second.switches.start()  # as `serve` does: it follows the kill switches of every replica
    try:
        stream = second.streams.deliveries(admin, OpenStream((AGENT,), "far", lease_seconds=30))
        pending = asyncio.ensure_future(anext(stream))
        await second.dispatcher.wait_for_waiter(admin.namespace, AGENT)
        submitted, _ = await second.intents.submit(admin, SubmitIntent("demo.task", "c", AGENT, {}))
        [pushed] = await asyncio.wait_for(pending, 5)
        assert isinstance(pushed, Pushed) and pushed.intent.intent_id == submitted.intent_id

        _, swept = await first.kills.kill(admin, Kill(AGENT, in_flight="cancel"))

        [switch] = await asyncio.wait_for(anext(stream), 5)  # told by NOTIFY, not by a poll
        assert isinstance(switch, AgentSwitch) and switch.kill is not None and switch.agent == AGENT
        assert swept.canceled == 1
        with pytest.raises(AgentKilled):  # the second replica refuses work for it too
            await second.intents.submit(admin, SubmitIntent("demo.task", "c", AGENT, {}))
        await first.kills.resume(admin, AGENT)
        [resumed] = await asyncio.wait_for(anext(stream), 5)
        assert isinstance(resumed, AgentSwitch) and resumed.kill is None
        await stream.aclose()
    finally:
        await first.stop()
        await second.stop()


async def test_a_spend_cap_raced_by_two_replicas_counts_every_report_and_holds_on_both(
    replicas: tuple[Engine, Engine], admin: Principal
) -> None:
    first, second = replicas
    await first.policies.set(admin, AGENT, {"max_cost_per_day_usd": 5.0})
    await second.policy_table.load()  # as its follower does on the NOTIFY
    spec = SubmitIntent("demo.task", "c", AGENT, {})
    for _ in range(INTENTS // 2):
        await first.intents.submit(admin, spec)
    work = await drain(first, admin, "w1")
    held = [(await second.intents.submit(admin, spec))[0].intent_id for _ in range(2)]  # queued, not leased

    async def complete(engine: Engine, intent_id: str) -> None:
        intent = await engine.intents.get(admin, intent_id)
        assert intent.lease is not None
        usage = {"cost_usd": 0.25}
        await engine.delivery.complete(admin, intent_id, Complete(intent.lease.token, {}, usage=usage))

    # Every report lands on one of two replicas at once: none of the counter's updates is lost.
    await asyncio.gather(*(complete(replicas[n % 2], i) for n, i in enumerate(work)))

    used = (await first.policies.explain(admin, AGENT)).used["max_cost_per_day_usd"]
    assert used == 0.25 * len(work) == 7.5
    for engine in replicas:  # over the cap: nothing more is leased or admitted, on either replica
        assert await engine.delivery.claim(admin, Claim(AGENT, "w2", wait_seconds=0)) == []
        with pytest.raises(PolicyLimitReached):
            await engine.intents.submit(admin, spec)
    assert {(await first.intents.get(admin, i)).status for i in held} == {Status.SUBMITTED}
