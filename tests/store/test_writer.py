"""Group commit (store/_writer.py): concurrent writes share transactions, yet each unit stays
atomic; and, on PostgreSQL, replicas sharing one database never lease the same intent twice and wake
each other's waiters through LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from intentd.engine import Claim, Complete, Engine, Principal, SubmitIntent
from intentd.model import Conflict, EventType, IntentdError
from intentd.store import Store, Tx, agent_key, open_store
from intentd.store.postgres import PostgresStore

AGENT = "agent://acme/prod/worker"
FAR_FUTURE = 1 << 62


class CommitCounter:
    """Wraps a store's writer transaction factory to count what commits and what rolls back."""

    def __init__(self, store: Store) -> None:
        writer = store._writer  # type: ignore[attr-defined]  # the store's private BatchWriter
        self._inner: Callable[[], AbstractAsyncContextManager[Tx]] = writer._transaction
        writer._transaction = self._transaction
        self.commits = 0
        self.rollbacks = 0

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Tx]:
        try:
            async with self._inner() as tx:
                yield tx
        except BaseException:
            self.rollbacks += 1
            raise
        self.commits += 1


@pytest.fixture
async def single_writer(backend: str, database_url: str) -> AsyncIterator[Store]:
    """A store with exactly one writer task, so a test can steer which units share a batch."""
    store: Store = (
        await PostgresStore.open(database_url, writers=1)
        if backend == "postgres"
        else await open_store(database_url)
    )
    yield store
    await store.close()


async def _while_writer_busy(store: Store, units: list[Callable[[Tx], Any]]) -> list[Any]:
    """Queue ``units`` while the single writer is held inside another transaction, so they all
    land in the next batch together; returns each unit's result or exception."""
    entered, release = asyncio.Event(), asyncio.Event()

    async def hold(tx: Tx) -> None:
        entered.set()
        await release.wait()

    holder = asyncio.create_task(store.write(hold))
    await entered.wait()
    queued = [asyncio.create_task(store.write(unit)) for unit in units]
    await asyncio.sleep(0)  # let every task put its unit on the queue before the writer frees up
    release.set()
    await holder
    return await asyncio.gather(*queued, return_exceptions=True)


def _add_timer(intent_id: str, then_raise: BaseException | None = None) -> Callable[[Tx], Any]:
    async def unit(tx: Tx) -> str:
        await tx.add_timer(intent_id, "deadline", 1)
        if then_raise is not None:
            raise then_raise
        return intent_id

    return unit


async def _timer_owners(store: Store) -> set[str]:
    return {t.intent_id for t in await store.read(lambda tx: tx.due_timers(FAR_FUTURE, 1000))}


async def test_concurrent_writes_share_commits(engine: Engine, principal: Principal) -> None:
    counter = CommitCounter(engine.store)
    specs = [SubmitIntent("demo.task", f"c-{n}", AGENT, {"n": n}) for n in range(40)]
    created = await asyncio.gather(*(engine.intents.submit(principal, s) for s in specs))
    assert counter.commits < len(specs), "every write paid for its own commit"
    assert counter.rollbacks == 0
    page = await engine.intents.list(principal, limit=100)
    assert {i.intent_id for i in page.intents} == {i.intent_id for i, _ in created}
    for intent, _ in created:
        events = await engine.intents.events(principal, intent.intent_id)
        assert [e.event_type for e in events] == [EventType.CREATED, EventType.SUBMITTED]


async def test_a_unit_refused_before_writing_leaves_its_batch_intact(single_writer: Store) -> None:
    counter = CommitCounter(single_writer)
    refusal = Conflict("no", details={"why": "test"})

    async def refuse(tx: Tx) -> None:
        await tx.due_timers(FAR_FUTURE, 1)  # reads, decides, writes nothing
        raise refusal

    results = await _while_writer_busy(single_writer, [_add_timer("a"), refuse, _add_timer("c")])
    assert results == ["a", refusal, "c"]
    assert await _timer_owners(single_writer) == {"a", "c"}
    # The holder's batch and ONE batch for all three: no rollback, no unit-by-unit fallback.
    assert (counter.commits, counter.rollbacks) == (2, 0)


@pytest.mark.parametrize("failure", [RuntimeError("bug after write"), Conflict("refused after write")])
async def test_a_unit_failing_after_writing_leaves_nothing_and_neighbours_commit(
    single_writer: Store,
    failure: Exception,
) -> None:
    counter = CommitCounter(single_writer)
    results = await _while_writer_busy(
        single_writer, [_add_timer("a"), _add_timer("b", then_raise=failure), _add_timer("c")]
    )
    assert results == ["a", failure, "c"]
    assert await _timer_owners(single_writer) == {"a", "c"}
    # The shared batch rolled back, then each unit re-ran alone: two commits, one more rollback.
    assert (counter.commits, counter.rollbacks) == (1 + 2, 2)


async def test_a_lone_unit_failing_after_writing_is_rolled_back(single_writer: Store) -> None:
    with pytest.raises(IntentdError, match="late refusal"):
        await single_writer.write(_add_timer("x", then_raise=Conflict("late refusal")))
    assert await _timer_owners(single_writer) == set()


# -- PostgreSQL: two replicas on one database -----------------------------------------------

PG_ONLY = pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
REPLICA_PRINCIPAL = Principal("key-1", "default", "tester", "admin")


@pytest.fixture
async def replicas(database_url: str) -> AsyncIterator[tuple[Store, Store]]:
    first = await open_store(database_url)
    second = await open_store(database_url, migrate_schema=False)
    yield first, second
    await first.close()
    await second.close()


@PG_ONLY
async def test_replicas_never_lease_the_same_intent_twice(replicas: tuple[Store, Store]) -> None:
    engines = [Engine(replicas[0]), Engine(replicas[1])]
    specs = [SubmitIntent("demo.task", "c", AGENT, {"n": n}) for n in range(30)]
    await asyncio.gather(*(engines[0].intents.submit(REPLICA_PRINCIPAL, s) for s in specs))

    async def claim(engine: Engine, worker: str) -> list[str]:
        leased = await engine.delivery.claim(REPLICA_PRINCIPAL, Claim(AGENT, worker, max_intents=3))
        return [i.intent_id for i in leased]

    rounds = await asyncio.gather(*(claim(engines[n % 2], f"w-{n}") for n in range(16)))
    leased = [intent_id for batch in rounds for intent_id in batch]
    while more := await claim(engines[0], "sweeper"):  # whatever the race left unclaimed
        leased += more
    assert sorted(leased) == sorted(set(leased)), "an intent was leased twice"
    assert len(leased) == len(specs)
    for intent_id in leased:
        events = await engines[1].intents.events(REPLICA_PRINCIPAL, intent_id)
        assert Counter(e.event_type for e in events)[EventType.DELIVERED] == 1


@PG_ONLY
async def test_a_commit_on_one_replica_wakes_a_waiter_on_the_other(
    replicas: tuple[Store, Store],
) -> None:
    writer, listener = replicas
    quiet = CommitCounter(listener)
    spec = SubmitIntent("demo.task", "c", AGENT, {})
    with (
        listener.hub.subscribe(agent_key("default", AGENT)) as wake,
        listener.hub.subscribe(agent_key("default", "agent://acme/prod/other")) as unrelated,
    ):
        started = time.monotonic()
        await Engine(writer).intents.submit(REPLICA_PRINCIPAL, spec)
        assert await wake.wait(10.0), "no wake-up reached the other replica"
        assert time.monotonic() - started < 5.0
        assert not await unrelated.wait(0)
    # The listener committed nothing itself: the wake-up can only have come through NOTIFY.
    assert quiet.commits == 0


@pytest.mark.postgres
async def test_handoffs_across_agents_never_deadlock_the_writers(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Chains a → b → c handed on with ``then``, many at once, on three writer connections: every
    batch writes feed entries for several agents. This pattern deadlocked when each unit took an
    agent's feed counter as it went (the benchmark found it); counters are now taken at the end of
    each transaction in one global order, and no batch may be rolled back for a deadlock."""
    caplog.set_level(logging.DEBUG, logger="intentd.store.writer")
    store = await PostgresStore.open(pg_url, writers=3)
    try:
        engine = Engine(store)
        _, secret = await engine.keys.create("chains")
        principal = await engine.keys.authenticate(secret)
        agents = ["agent://chain/x/a", "agent://chain/x/b", "agent://chain/x/c"]

        async def step(agent: str, then: str | None) -> None:
            [leased] = await engine.delivery.claim(principal, Claim(agent, "w", 1, 30, 10))
            follow = (SubmitIntent("intent.step.v1", "", then, {}),) if then else ()
            await engine.delivery.complete(
                principal, leased.intent_id, Complete(leased.lease.token if leased.lease else "", {}, follow)
            )

        async def chain(n: int) -> None:
            await engine.intents.submit(
                principal, SubmitIntent("intent.step.v1", f"chain-{n}", agents[0], {})
            )

        work = [chain(n) for n in range(120)]
        for _ in range(120):
            work += [step(agents[0], agents[1]), step(agents[1], agents[2]), step(agents[2], None)]
        await asyncio.wait_for(asyncio.gather(*work), 60)
    finally:
        await store.close()
    rollbacks = [r.getMessage() for r in caplog.records if "rolled back" in r.getMessage()]
    assert not [m for m in rollbacks if "eadlock" in m], rollbacks


@pytest.mark.postgres
async def test_batches_that_want_each_others_rows_do_not_deadlock(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two writers (two replicas here) whose batches lock the same two rows in opposite orders: a
    batch does not wait for the other's row (NOWAIT), so no deadlock; both re-run unit by unit."""
    first = await PostgresStore.open(pg_url, writers=1)
    second = await PostgresStore.open(pg_url, writers=1, migrate_schema=False)
    engine = Engine(first)
    a, b = [
        (await engine.intents.submit(REPLICA_PRINCIPAL, SubmitIntent("demo.task", "c", AGENT, {})))[
            0
        ].intent_id
        for _ in range(2)
    ]
    arrived: list[str] = []
    both_locked = asyncio.Event()

    def lock(intent_id: str, *, first_of_batch: bool) -> Callable[[Tx], Any]:
        async def unit(tx: Tx) -> str:
            await tx.get_intent(intent_id, for_update=True)
            if first_of_batch and not both_locked.is_set():
                # Once: each batch holds its first row before wanting the other's (a re-run alone
                # does not wait again).
                arrived.append(intent_id)
                if len(arrived) == 2:
                    both_locked.set()
                await both_locked.wait()
            return intent_id

        return unit

    caplog.set_level(logging.DEBUG, logger="intentd.store.writer")
    try:
        results = await asyncio.gather(
            _while_writer_busy(first, [lock(a, first_of_batch=True), lock(b, first_of_batch=False)]),
            _while_writer_busy(second, [lock(b, first_of_batch=True), lock(a, first_of_batch=False)]),
        )
    finally:
        await first.close()
        await second.close()
    assert results == [[a, b], [b, a]]
    rolled_back = [r.getMessage() for r in caplog.records if "rolled back" in r.getMessage()]
    assert rolled_back and all("LockNotAvailable" in m for m in rolled_back), rolled_back
