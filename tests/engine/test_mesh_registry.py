"""The fleet registry on both backends (docs/mesh.md, "Registry and health"): an agent is seen through
its heartbeats and its workers' claims and streams; health follows from the last sign of life, from
its failures over the last hour and from the kill switch; its open work and oldest intent show where
work is stuck."""

from __future__ import annotations

import asyncio

from intentd.engine import Claim, Complete, Engine, Fail, Kill, OpenStream, Principal
from intentd.engine.mesh import ERROR_RATE_MIN_FINISHED, FleetAgent
from intentd.model import Status
from tests._support.engine import AGENT, FakeClock, task


async def fleet_of(engine: Engine, principal: Principal) -> dict[str, FleetAgent]:
    return {a.agent.address: a for a in await engine.mesh.fleet(principal)}


async def test_health_follows_the_last_sign_of_life_of_any_kind(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    await engine.intents.submit(principal, task())
    assert (await fleet_of(engine, principal))[AGENT].health == "unknown"  # only sent work

    await engine.delivery.claim(principal, Claim(AGENT, "w1", wait_seconds=0))
    fleet = (await fleet_of(engine, principal))[AGENT]
    assert fleet.health == "healthy" and [w.worker_id for w in fleet.workers] == ["w1"]
    assert fleet.open_work == {"DELIVERED": 1} and fleet.in_flight == 1
    assert fleet.oldest_open_at is not None

    clock.advance(120)
    assert (await fleet_of(engine, principal))[AGENT].health == "degraded"
    clock.advance(300)
    assert (await fleet_of(engine, principal))[AGENT].health == "unreachable"
    await engine.mesh.heartbeat(principal, AGENT)
    assert (await fleet_of(engine, principal))[AGENT].health == "healthy"

    await engine.kills.kill(principal, Kill(AGENT))
    assert (await fleet_of(engine, principal))[AGENT].health == "killed"


async def test_a_held_stream_registers_its_worker(engine: Engine, principal: Principal) -> None:
    stream = engine.streams.deliveries(principal, OpenStream((AGENT,), "streamer", lease_seconds=10))
    pending = asyncio.ensure_future(anext(stream))
    await engine.dispatcher.wait_for_waiter(principal.namespace, AGENT)
    await engine.intents.submit(principal, task())
    await asyncio.wait_for(pending, 5)
    await stream.aclose()

    [worker] = (await fleet_of(engine, principal))[AGENT].workers
    assert (worker.worker_id, worker.via) == ("streamer", "stream")


async def test_an_agent_whose_recent_work_mostly_fails_is_degraded(
    engine: Engine, principal: Principal
) -> None:
    await engine.mesh.heartbeat(principal, AGENT)
    for n in range(ERROR_RATE_MIN_FINISHED):
        await engine.intents.submit(principal, task())
        [leased] = await engine.delivery.claim(principal, Claim(AGENT, "w1", wait_seconds=0))
        assert leased.lease is not None
        if n % 2:
            await engine.delivery.complete(principal, leased.intent_id, Complete(leased.lease.token, {}))
        else:
            await engine.delivery.fail(principal, leased.intent_id, Fail(leased.lease.token, {"code": "x"}))

    fleet = (await fleet_of(engine, principal))[AGENT]
    assert fleet.error_rate == 0.5 and fleet.health == "degraded"
    assert fleet.finished_day == {"COMPLETED": 5, "FAILED": 5}


async def test_the_leases_of_a_worker_gone_silent_are_released(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    for _ in range(2):
        await engine.intents.submit(principal, task())
    silent = await engine.delivery.claim(
        principal, Claim(AGENT, "silent", lease_seconds=3600, wait_seconds=0)
    )
    [alive] = await engine.delivery.claim(
        principal, Claim(AGENT, "alive", lease_seconds=3600, wait_seconds=0)
    )
    assert len(silent) == 1 and alive.lease is not None

    clock.advance(200)
    await engine.delivery.heartbeat(principal, alive.intent_id, alive.lease.token, 3600)  # alive: seen
    clock.advance(200)  # "silent" last seen 400 s ago, "alive" 200 s ago
    assert await engine.scheduler.tick() == 1

    released = await engine.intents.get(principal, silent[0].intent_id)
    assert released.status is Status.SUBMITTED and released.lease is None
    events = await engine.intents.events(principal, released.intent_id)
    assert events[-1].details["reason"] == "worker_unreachable"
    assert (await engine.intents.get(principal, alive.intent_id)).lease is not None
