"""Storage conformance, run on SQLite and PostgreSQL: the event log, the projection it rebuilds, the
idempotency index, the claim queue, per-agent feeds, keyset listing and timers."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from intentd.engine import Claim, Complete, Engine, Fail, Principal, SubmitIntent, Wait
from intentd.model import Event, EventType, Intent, Status, new_id, rebuild
from intentd.store import Store, Tx
from tests.conftest import FakeClock

ORG = "agent://acme/prod"
DUPLICATE_KEY = (sqlite3.IntegrityError, asyncpg.UniqueViolationError)


def _spec(agent: str, correlation_id: str = "c-1", **fields: Any) -> SubmitIntent:
    return SubmitIntent(
        intent_type="demo.task",
        correlation_id=correlation_id,
        to_agent=f"{ORG}/{agent}",
        payload={"agent": agent},
        **fields,
    )


async def _submit(engine: Engine, principal: Principal, agent: str, **fields: Any) -> Intent:
    intent, created = await engine.intents.submit(principal, _spec(agent, **fields))
    assert created
    return intent


async def _claim(engine: Engine, principal: Principal, agent: str, lease_seconds: float = 30.0) -> Intent:
    claimed = await engine.delivery.claim(
        principal, Claim(agent=f"{ORG}/{agent}", worker="w-1", lease_seconds=lease_seconds)
    )
    assert len(claimed) == 1
    return claimed[0]


async def _events(store: Store, intent_id: str) -> list[Event]:
    return await store.read(lambda tx: tx.list_events(intent_id, 0, 10_000))


async def _all_intents(engine: Engine, principal: Principal, limit: int = 50, **filters: str) -> list[Intent]:
    """Walk every page of the keyset listing."""
    seen: list[Intent] = []
    before = None
    while True:
        page = await engine.intents.list(principal, before=before, limit=limit, **filters)
        assert len(page.intents) <= limit
        seen += page.intents
        if page.next_cursor is None:
            return seen
        assert before is None or page.next_cursor < before, "the cursor did not move on"
        before = page.next_cursor


def _lifecycle_only(intent: Intent) -> Intent:
    """Drop what is operational rather than event-sourced: request hash, claim order, and lease
    expiry (heartbeats move it without an event)."""
    lease = replace(intent.lease, expires_at=0) if intent.lease else None
    return replace(intent, request_hash=None, queued_at=None, lease=lease)


def _token(intent: Intent) -> str:
    assert intent.lease is not None, f"{intent.intent_id} holds no lease"
    return intent.lease.token


async def _mixed_history(engine: Engine, principal: Principal, clock: FakeClock) -> None:
    """One intent per path through the lifecycle."""
    await _submit(engine, principal, "idle")
    await _submit(engine, principal, "handoff")
    handed = await _claim(engine, principal, "handoff")
    await engine.delivery.progress(principal, handed.intent_id, _token(handed), "half", {"tokens": 3})
    await engine.delivery.wait(principal, handed.intent_id, Wait(_token(handed), "WAITING_FOR_HUMAN"))
    await engine.intents.resume(principal, handed.intent_id, {"approved": True})
    again = await _claim(engine, principal, "handoff")
    await engine.delivery.complete(
        principal,
        again.intent_id,
        Complete(_token(again), {"ok": 1}, then=(_spec("next"),), usage={"tokens": 2}),
    )

    await _submit(engine, principal, "flaky")
    first = await _claim(engine, principal, "flaky")
    await engine.delivery.fail(principal, first.intent_id, Fail(_token(first), {"code": "x"}, retry=True))
    second = await _claim(engine, principal, "flaky")
    await engine.delivery.fail(principal, second.intent_id, Fail(_token(second), {"code": "y"}))

    governed = await _submit(engine, principal, "governed", controls={"mode": {"a": 1}})
    await engine.intents.update_controls(principal, governed.intent_id, {"mode": {"a": None}}, 0, "op")
    await engine.intents.update_policy(principal, governed.intent_id, {"grants": {"x": 1}}, 1, None)
    await engine.intents.cancel(principal, governed.intent_id, "not needed")

    await _submit(engine, principal, "late", deadline_at=clock.now + 5_000_000)
    await _submit(engine, principal, "once", max_delivery_attempts=1)
    await _claim(engine, principal, "once", lease_seconds=2)
    await _submit(engine, principal, "retried")
    await _claim(engine, principal, "retried", lease_seconds=2)
    await _submit(engine, principal, "released")
    released = await _claim(engine, principal, "released")
    await engine.delivery.heartbeat(principal, released.intent_id, _token(released), 60)
    await engine.delivery.release(principal, released.intent_id, _token(released))
    await _submit(engine, principal, "held")
    held = await _claim(engine, principal, "held", lease_seconds=600)
    await engine.delivery.heartbeat(principal, held.intent_id, _token(held), 900)
    clock.advance(10)
    assert await engine.scheduler.tick() == 3  # a deadline, a failed delivery, a requeue


async def test_every_row_is_its_events_folded(engine: Engine, principal: Principal, clock: FakeClock) -> None:
    await _mixed_history(engine, principal, clock)
    intents = await _all_intents(engine, principal)
    statuses = {i.to_agent.rsplit("/", 1)[1]: i.status for i in intents}
    assert statuses == {
        "idle": Status.SUBMITTED,
        "handoff": Status.COMPLETED,
        "next": Status.SUBMITTED,
        "flaky": Status.FAILED,
        "governed": Status.CANCELED,
        "late": Status.TIMED_OUT,
        "once": Status.FAILED,
        "retried": Status.SUBMITTED,
        "released": Status.SUBMITTED,
        "held": Status.DELIVERED,
    }
    for row in intents:
        events = await _events(engine.store, row.intent_id)
        assert [e.seq for e in events] == list(range(1, row.last_seq + 1))
        assert _lifecycle_only(rebuild(events)) == _lifecycle_only(row), row.to_agent


async def test_the_event_log_refuses_a_second_event_at_the_same_seq(
    store: Store,
    engine: Engine,
    principal: Principal,
) -> None:
    intent = await _submit(engine, principal, "a")
    forged = Event(
        intent.intent_id, intent.last_seq, EventType.CANCELED, Status.CANCELED, intent.updated_at, "forger"
    )
    with pytest.raises(DUPLICATE_KEY):
        await store.write(lambda tx: tx.save_intent(replace(intent, status=Status.CANCELED), [forged]))
    assert (await engine.intents.get(principal, intent.intent_id)).status is Status.SUBMITTED
    assert [e.event_type for e in await _events(store, intent.intent_id)] == [
        EventType.CREATED,
        EventType.SUBMITTED,
    ]


async def test_idempotency_key_is_unique_per_namespace(
    store: Store, engine: Engine, principal: Principal
) -> None:
    first, _ = await engine.intents.submit(principal, _spec("a"), idempotency_key="k-1")
    events = await _events(store, first.intent_id)

    def copy(namespace: str, key: str | None) -> Intent:
        return replace(first, intent_id=new_id(), namespace=namespace, idempotency_key=key)

    async def insert(intent: Intent) -> None:
        await store.write(
            lambda tx: tx.insert_intent(intent, [replace(e, intent_id=intent.intent_id) for e in events])
        )

    with pytest.raises(DUPLICATE_KEY):
        await insert(copy(principal.namespace, "k-1"))
    await insert(copy("elsewhere", "k-1"))  # namespaces are tenants: the same key is fine
    await insert(copy(principal.namespace, None))  # intents without a key never collide
    await insert(copy(principal.namespace, None))
    found = await store.read(lambda tx: tx.intent_by_idempotency_key(principal.namespace, "k-1"))
    assert found is not None and found.intent_id == first.intent_id


async def test_claim_queue_is_submitted_intents_of_one_agent_in_queue_order(
    store: Store,
    engine: Engine,
    principal: Principal,
    clock: FakeClock,
) -> None:
    first = await _submit(engine, principal, "a")
    second = await _submit(engine, principal, "a")
    await _submit(engine, principal, "b")
    third = await _submit(engine, principal, "a")
    leased = await _claim(engine, principal, "a")
    assert leased.intent_id == first.intent_id
    clock.advance(1)
    await engine.delivery.release(principal, first.intent_id, _token(leased))
    queue = await store.read(lambda tx: tx.claimable_intents(principal.namespace, f"{ORG}/a", 10))
    # The released intent went to the back of the queue: it was queued again last.
    assert [i.intent_id for i in queue] == [second.intent_id, third.intent_id, first.intent_id]
    assert [i.queued_at for i in queue] == sorted(i.queued_at or 0 for i in queue)
    assert all(i.status is Status.SUBMITTED for i in queue)
    limited = await store.read(lambda tx: tx.claimable_intents(principal.namespace, f"{ORG}/a", 1))
    assert [i.intent_id for i in limited] == [second.intent_id]


async def test_feed_cursor_is_monotonic_per_agent_and_independent_across_agents(
    store: Store,
    engine: Engine,
    principal: Principal,
) -> None:
    other = replace(principal, namespace="tenant-2")
    a1 = await _submit(engine, principal, "a")
    await _submit(engine, principal, "b", reply_to=f"{ORG}/c")
    a2 = await _submit(engine, principal, "a")
    await _submit(engine, other, "a")
    leased = await _claim(engine, principal, "b")
    await engine.delivery.complete(principal, leased.intent_id, Complete(_token(leased)))
    await engine.delivery.release(principal, a1.intent_id, _token(await _claim(engine, principal, "a")))

    async def feed(who: Principal, agent: str, since: int = 0) -> list[tuple[int, str, str]]:
        items = await store.read(lambda tx: tx.read_feed(who.namespace, f"{ORG}/{agent}", since, 100))
        return [(i.seq, i.intent_id, i.event_type) for i in items]

    assert await feed(principal, "a") == [
        (1, a1.intent_id, "intent.submitted"),
        (2, a2.intent_id, "intent.submitted"),
        (3, a1.intent_id, "intent.submitted"),
    ]
    assert await feed(principal, "a", since=2) == [(3, a1.intent_id, "intent.submitted")]
    assert [s for s, *_ in await feed(principal, "b")] == [1]
    assert await feed(principal, "c") == [(1, leased.intent_id, "intent.completed")]
    assert [s for s, *_ in await feed(other, "a")] == [1]  # another tenant counts on its own


async def test_listing_pages_cover_every_row_once_newest_first(
    engine: Engine,
    principal: Principal,
    clock: FakeClock,
) -> None:
    created = []
    for batch in range(3):  # several intents per microsecond: the intent_id breaks the tie
        created += [
            await _submit(engine, principal, "a" if n % 2 else "b", correlation_id=f"c-{n % 3}")
            for n in range(batch + 2)
        ]
        clock.advance(1)
    await _submit(engine, replace(principal, namespace="tenant-2"), "a")
    newest_first = sorted(created, key=lambda i: (i.created_at, i.intent_id), reverse=True)
    for limit in (1, 2, 3, len(created), 100):
        listed = await _all_intents(engine, principal, limit=limit)
        assert [i.intent_id for i in listed] == [i.intent_id for i in newest_first], limit
    leased = await _claim(engine, principal, "a")
    filters: list[dict[str, str]] = [
        {"to_agent": f"{ORG}/a"},
        {"correlation_id": "c-1"},
        {"status": "DELIVERED"},
        {"status": "SUBMITTED", "to_agent": f"{ORG}/b", "correlation_id": "c-0"},
    ]
    for chosen in filters:
        listed = await _all_intents(engine, principal, limit=2, **chosen)
        expected = [
            i.intent_id
            for i in newest_first
            if _matches(leased if i.intent_id == leased.intent_id else i, chosen)
        ]
        assert [i.intent_id for i in listed] == expected, chosen
        assert expected, f"filter {chosen} matched nothing: the test proves nothing"


def _matches(intent: Intent, chosen: dict[str, str]) -> bool:
    values = {
        "to_agent": intent.to_agent,
        "correlation_id": intent.correlation_id,
        "status": intent.status.value,
    }
    return all(values[k] == v for k, v in chosen.items())


async def test_due_timers_come_oldest_first_and_delete_for_good(store: Store) -> None:
    now = 1_800_000_000_000_000
    assert await store.read(lambda tx: tx.next_wakeup()) is None

    async def add(tx: Tx) -> None:
        for name, offset in (("later", 50), ("due-2", -10), ("due-1", -20), ("now", 0)):
            await tx.add_timer(f"i-{name}", "deadline", now + offset, {"name": name})

    await store.write(add)
    due = await store.read(lambda tx: tx.due_timers(now, 10))
    assert [t.payload["name"] for t in due] == ["due-1", "due-2", "now"]
    assert [t.intent_id for t in await store.read(lambda tx: tx.due_timers(now, 2))] == ["i-due-1", "i-due-2"]
    assert await store.read(lambda tx: tx.next_wakeup()) == now - 20
    await store.write(lambda tx: tx.delete_timer(due[0].timer_id))
    assert [t.timer_id for t in await store.read(lambda tx: tx.due_timers(now, 10))] == [
        due[1].timer_id,
        due[2].timer_id,
    ]
    assert await store.read(lambda tx: tx.next_wakeup()) == now - 10


async def test_next_wakeup_includes_lease_expiry(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    await _submit(engine, principal, "a", deadline_at=clock.now + 60_000_000)
    assert await engine.store.read(lambda tx: tx.next_wakeup()) == clock.now + 60_000_000
    leased = await _claim(engine, principal, "a", lease_seconds=5)
    assert leased.lease is not None
    assert await engine.store.read(lambda tx: tx.next_wakeup()) == leased.lease.expires_at
    await engine.delivery.complete(principal, leased.intent_id, Complete(leased.lease.token))
    # The lease ended with the completion; the deadline timer stays until it fires harmlessly.
    assert await engine.store.read(lambda tx: tx.next_wakeup()) == clock.now + 60_000_000
