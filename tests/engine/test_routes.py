"""Versioned routing on both backends (docs/mesh.md): new work for a base address goes to its versions
by weight, chosen by correlation id (a run never mixes versions); work in flight stays pinned to its
version, so a version with weight 0 drains; a canary split holds its ratio; rollback is a route
change; bad routes are refused with their field."""

from __future__ import annotations

from collections import Counter

import pytest

from intentd.engine import Claim, Complete, Engine, Principal
from intentd.engine.mesh import pick
from intentd.model import EventType, Status, ValidationFailed
from tests._support.engine import AGENT, task

V1, V2 = f"{AGENT}@v1", f"{AGENT}@v2"


async def submit(engine: Engine, principal: Principal, correlation_id: str = "c") -> str:
    intent, _ = await engine.intents.submit(principal, task(correlation_id=correlation_id))
    return intent.to_agent


async def test_new_work_goes_to_v2_while_v1_drains_its_own(engine: Engine, principal: Principal) -> None:
    await engine.routes.set(principal, AGENT, {"v1": 100})
    pinned, _ = await engine.intents.submit(principal, task())
    assert pinned.to_agent == V1
    [leased] = await engine.delivery.claim(principal, Claim(V1, "old", wait_seconds=0))
    events = await engine.intents.events(principal, pinned.intent_id)
    routed = [e for e in events if e.event_type is EventType.REROUTED]
    assert routed[0].details == {"to_agent": V1, "from_agent": AGENT, "reason": "route"}

    state = await engine.routes.set(principal, AGENT, {"v1": 0, "v2": 100})

    assert [await submit(engine, principal, f"c{n}") for n in range(5)] == [V2] * 5
    assert (await engine.intents.get(principal, pinned.intent_id)).to_agent == V1  # in flight: pinned
    v1 = next(v for v in state.versions if v.version == "v1")
    assert v1.open == 1 and not v1.drained
    assert leased.lease is not None
    await engine.delivery.complete(principal, leased.intent_id, Complete(leased.lease.token, {}))
    after = await engine.routes.state(principal, AGENT)
    assert [(v.version, v.weight, v.open, v.drained) for v in after.versions] == [
        ("v1", 0, 0, True),
        ("v2", 100, 5, False),
    ]


async def test_drain_gives_a_version_no_new_work(engine: Engine, principal: Principal) -> None:
    await engine.routes.set(principal, AGENT, {"v1": 50, "v2": 50})
    state = await engine.routes.drain(principal, V1)
    assert state.route is not None and state.route.weights == {"v1": 0, "v2": 50}
    assert {await submit(engine, principal, f"c{n}") for n in range(20)} == {V2}
    with pytest.raises(ValidationFailed):
        await engine.routes.drain(principal, V2)  # nothing would take new work
    with pytest.raises(ValidationFailed):
        await engine.routes.drain(principal, AGENT)  # names no version


async def test_a_canary_split_holds_its_ratio_and_a_run_never_mixes_versions(
    engine: Engine, principal: Principal
) -> None:
    await engine.routes.set(principal, AGENT, {"v1": 90, "v2": 10})

    split = Counter([await submit(engine, principal, f"run-{n}") for n in range(1000)])

    assert split[V1] + split[V2] == 1000
    assert 60 <= split[V2] <= 140, split  # 10 % of 1,000 within four standard deviations
    for run in range(20):  # every intent of one run lands on the version its first did
        assert len({await submit(engine, principal, f"sticky-{run}") for _ in range(3)}) == 1


async def test_rollback_and_removal(engine: Engine, principal: Principal) -> None:
    await engine.routes.set(principal, AGENT, {"v2": 1})
    assert await submit(engine, principal) == V2
    await engine.routes.set(principal, AGENT, {"v1": 1})  # rollback: new work back to v1
    assert await submit(engine, principal) == V1
    assert await engine.routes.remove(principal, AGENT)
    assert await submit(engine, principal) == AGENT  # unrouted: addressed as sent
    assert not await engine.routes.remove(principal, AGENT)
    explicit, _ = await engine.intents.submit(principal, task(to_agent=V2))
    assert explicit.to_agent == V2 and explicit.status is Status.SUBMITTED


async def test_bad_routes_are_refused(engine: Engine, principal: Principal) -> None:
    for address, weights in [
        (V1, {"v2": 1}),  # routes are set on the base address
        (AGENT, {}),
        (AGENT, {"v1": 0}),
        (AGENT, {"v@1": 1}),
        (AGENT, {"v1": -1}),
        (AGENT, {f"v{n}": 1 for n in range(21)}),
    ]:
        with pytest.raises(ValidationFailed):
            await engine.routes.set(principal, address, weights)
    assert engine.routes.list(principal) == []


def test_the_choice_is_a_pure_function_of_the_correlation_id() -> None:
    assert pick({"a": 1, "b": 1}, "x") == pick({"b": 1, "a": 1}, "x")
    assert pick({"a": 0, "b": 5}, "anything") == "b"
    assert pick({"a": 0}, "x") is None
