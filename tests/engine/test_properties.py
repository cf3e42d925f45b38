"""Property: whatever sequence of operations clients, workers and the scheduler throw at a few intents,
the event log stays gap-free, terminal intents never change again, and the stored row is exactly the
fold of its events (ARCHITECTURE.md §3-4). Many examples on SQLite, a handful on PostgreSQL."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from intentd.engine import Claim, Complete, Engine, Fail, Principal, Resolve, SubmitIntent, Wait
from intentd.model import Intent, IntentdError, Status, WaitingReason, new_id, rebuild
from intentd.store import open_store
from tests._support.engine import US, FakeClock

INTENTS = 3  # each to its own agent, so a claim picks the intent the example names


@dataclass
class World:
    engine: Engine
    principal: Principal
    clock: FakeClock
    ids: list[str] = field(default_factory=list)
    tokens: dict[str, list[str]] = field(default_factory=dict)  # every lease ever handed out
    frozen: dict[str, tuple[Status, int]] = field(default_factory=dict)  # terminal snapshots

    def agent(self, index: int) -> str:
        return f"agent://acme/prop/a{index}"

    def token(self, intent_id: str, pick: str) -> str:
        seen = self.tokens.get(intent_id, [])
        if pick == "latest" and seen:
            return seen[-1]
        if pick == "older" and len(seen) > 1:
            return seen[-2]
        return "bogus-token"


# -- operations: (name, intent index, arguments) ---------------------------------------------


async def _claim(w: World, i: int, lease_seconds: float) -> None:
    for intent in await w.engine.delivery.claim(
        w.principal, Claim(agent=w.agent(i), worker=f"w{i}", lease_seconds=lease_seconds)
    ):
        assert intent.lease is not None
        w.tokens.setdefault(intent.intent_id, []).append(intent.lease.token)


async def _complete(w: World, i: int, pick: str, follow_up: bool) -> None:
    then = (SubmitIntent("prop.next", "", w.agent(i), {"from": i}),) if follow_up else ()
    await w.engine.delivery.complete(
        w.principal, w.ids[i], Complete(w.token(w.ids[i], pick), {"done": i}, then=then)
    )


async def _deliver(w: World, i: int, lease_seconds: float, action: tuple[Any, ...]) -> None:
    """A worker's turn: claim, then act on the fresh lease (complete, fail, release, wait...)."""
    await _claim(w, i, lease_seconds)
    name, *args = action
    await OPERATIONS[name](w, i, "latest", *args)


async def _tick(w: World, _: int, seconds: float) -> None:
    w.clock.advance(seconds)
    await w.engine.scheduler.tick()


OPERATIONS: dict[str, Callable[..., Awaitable[Any]]] = {
    "resolve": lambda w, i, status: w.engine.intents.resolve(
        w.principal, w.ids[i], Resolve(status=status, result={"r": i}, reason="prop")
    ),
    "cancel": lambda w, i: w.engine.intents.cancel(w.principal, w.ids[i], "prop"),
    "resume": lambda w, i, body: w.engine.intents.resume(w.principal, w.ids[i], dict(body)),
    "controls": lambda w, i, patch, gen: w.engine.intents.update_controls(
        w.principal, w.ids[i], dict(patch), gen, None
    ),
    "policy": lambda w, i, patch, gen: w.engine.intents.update_policy(
        w.principal, w.ids[i], dict(patch), gen, None
    ),
    "claim": _claim,
    "complete": _complete,
    "fail": lambda w, i, pick, retry: w.engine.delivery.fail(
        w.principal, w.ids[i], Fail(w.token(w.ids[i], pick), {"code": "prop"}, retry)
    ),
    "release": lambda w, i, pick: w.engine.delivery.release(w.principal, w.ids[i], w.token(w.ids[i], pick)),
    "wait": lambda w, i, pick, reason, wake_in: w.engine.delivery.wait(
        w.principal,
        w.ids[i],
        Wait(w.token(w.ids[i], pick), reason, None if wake_in is None else w.clock.now + wake_in * US),
    ),
    "heartbeat": lambda w, i, pick: w.engine.delivery.heartbeat(
        w.principal, w.ids[i], w.token(w.ids[i], pick), 20
    ),
    "progress": lambda w, i, cost: w.engine.delivery.progress(
        w.principal, w.ids[i], None, "working", {"cost": cost}
    ),
    "tick": _tick,
    "deliver": _deliver,
}

target = st.integers(0, INTENTS - 1)
pick = st.sampled_from(["latest", "latest", "latest", "older", "bogus"])  # mostly the live lease
patch = st.dictionaries(st.sampled_from(["a", "b"]), st.one_of(st.none(), st.integers(0, 3)), max_size=2).map(
    lambda d: tuple(d.items())
)
generation = st.one_of(st.none(), st.integers(0, 3))
resume_body = st.sampled_from(
    [
        (),
        (("result", {"r": 1}),),
        (("action", "fail"),),
        (("action", "resume"), ("x", 1)),
        (("action", "complete"),),
    ]
)
reason = st.sampled_from([r.value for r in WaitingReason])
wake_in = st.sampled_from([None, 10, 60])


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Pick a strategy with the given odds (sampled_from draws uniformly; repeats give weight)."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(lambda chosen: chosen)


lease_action = weighted(
    (2, st.tuples(st.just("complete"), st.booleans())),
    (2, st.tuples(st.just("fail"), st.booleans())),
    (1, st.tuples(st.just("release"))),
    (1, st.tuples(st.just("heartbeat"))),
    (2, st.tuples(st.just("wait"), reason, wake_in)),
)

# Odds tuned so that a typical example gets through a few deliveries before its intents end.
operation = weighted(
    (6, st.tuples(st.just("deliver"), target, st.sampled_from([5.0, 30.0]), lease_action)),
    (2, st.tuples(st.just("claim"), target, st.sampled_from([5.0, 30.0]))),
    (3, st.tuples(st.just("tick"), target, st.sampled_from([0.0, 1.0, 6.0, 31.0, 61.0]))),
    (1, st.tuples(st.just("wait"), target, pick, reason, wake_in)),
    (1, st.tuples(st.just("release"), target, pick)),
    (1, st.tuples(st.just("heartbeat"), target, pick)),
    (1, st.tuples(st.just("progress"), target, st.integers(0, 5))),
    (1, st.tuples(st.sampled_from(["controls", "policy"]), target, patch, generation)),
    (1, st.tuples(st.just("fail"), target, pick, st.booleans())),
    (1, st.tuples(st.just("complete"), target, pick, st.booleans())),
    (2, st.tuples(st.just("resume"), target, resume_body)),
    (1, st.tuples(st.just("resume"), target, st.just((("action", "resume"),)))),
    (1, st.tuples(st.just("cancel"), target)),
    (1, st.tuples(st.just("resolve"), target, st.sampled_from(["COMPLETED", "FAILED", "CANCELED"]))),
)
specs = st.lists(
    st.tuples(st.sampled_from([None, 20, 90]), st.integers(1, 3)), min_size=INTENTS, max_size=INTENTS
)
scenarios = st.tuples(specs, st.lists(operation, min_size=4, max_size=30))


# -- invariants ----------------------------------------------------------------------------


def _operational_fields_cleared(intent: Intent) -> Intent:
    """request_hash, queued_at and a heartbeat's lease expiry live outside the event log."""
    lease = replace(intent.lease, expires_at=0) if intent.lease else None
    return replace(intent, request_hash=None, queued_at=None, lease=lease)


async def check_invariants(w: World) -> None:
    for intent in (await w.engine.intents.list(w.principal, limit=200)).intents:
        events = await w.engine.intents.events(w.principal, intent.intent_id)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert intent.last_seq == len(events)
        assert _operational_fields_cleared(intent) == _operational_fields_cleared(rebuild(events))
        assert (intent.lease is not None) == (intent.status is Status.DELIVERED), intent
        frozen = w.frozen.get(intent.intent_id)
        if frozen is not None:
            assert (intent.status, intent.last_seq) == frozen, "a terminal intent changed"
        elif intent.is_terminal:
            w.frozen[intent.intent_id] = (intent.status, intent.last_seq)


async def run_scenario(url: str, scenario: tuple[list[tuple[int | None, int]], list[Any]]) -> None:
    intent_specs, steps = scenario
    store = await open_store(url)
    try:
        clock = FakeClock()
        w = World(Engine(store, clock), await _principal(Engine(store, clock)), clock)
        for index, (deadline_in, attempts) in enumerate(intent_specs):
            deadline = None if deadline_in is None else clock.now + deadline_in * US
            intent, _ = await w.engine.intents.submit(
                w.principal,
                SubmitIntent(
                    "prop.task",
                    f"corr-{index}",
                    w.agent(index),
                    {"i": index},
                    deadline_at=deadline,
                    max_delivery_attempts=attempts,
                ),
            )
            w.ids.append(intent.intent_id)
        for name, index, *args in steps:
            try:
                await OPERATIONS[name](w, index, *args)
            except IntentdError as refused:  # 409s and 422s are answers, not failures
                assert refused.http_status in (409, 422), refused
            await check_invariants(w)
    finally:
        await store.close()


async def _principal(engine: Engine) -> Principal:
    _, secret = await engine.keys.create("prop", namespace=f"prop-{new_id()}")
    return await engine.keys.authenticate(secret)


# -- the runs ------------------------------------------------------------------------------

# Found by this test: resuming a DELIVERED intent queued it but kept its lease, which then expired
# on the queued intent and failed it as an exhausted delivery.
REQUEUED_WHILE_LEASED = (
    [(None, 1)] * INTENTS,
    [("claim", 0, 5.0), ("resume", 0, (("action", "resume"),)), ("tick", 0, 6.0)],
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios)
@example(scenario=REQUEUED_WHILE_LEASED)
def test_sqlite_history_is_consistent_under_any_operation_sequence(scenario: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run_scenario(f"sqlite:///{Path(folder) / 'prop.db'}", scenario))


@pytest.mark.postgres
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios)
def test_postgres_history_is_consistent_under_any_operation_sequence(pg_url: str, scenario: Any) -> None:
    # One database serves all examples: each example works in a namespace of its own.
    asyncio.run(run_scenario(pg_url, scenario))
