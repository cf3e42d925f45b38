"""The kill switch on both backends (docs/mesh.md): new work refused or held, in-flight work held,
canceled or reassigned, nothing leased to a killed agent on any delivery path (claim, held stream,
direct handoff), the stream told at once, resume restoring it, and the audit trail recording both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from intentd.engine import AgentSwitch, Claim, Complete, Engine, Kill, OpenStream, Principal, Pushed, Sent
from intentd.engine.audit import acting_as
from intentd.model import AgentKilled, EventType, StaleLease, Status, ValidationFailed, rebuild
from intentd.store import AuditQuery
from tests._support.engine import AGENT, FakeClock, task

V1, V2 = f"{AGENT}@v1", f"{AGENT}@v2"
OTHER = "agent://acme/test/other"


async def lease_one(engine: Engine, principal: Principal, agent: str = AGENT) -> str:
    submitted, _ = await engine.intents.submit(principal, task(to_agent=agent))
    [leased] = await engine.delivery.claim(principal, Claim(agent, "w1"))
    assert leased.intent_id == submitted.intent_id
    return leased.intent_id


async def claim_now(engine: Engine, principal: Principal, agent: str = AGENT) -> list[str]:
    leased = await engine.delivery.claim(principal, Claim(agent, "w2", max_intents=10, wait_seconds=0))
    return [i.intent_id for i in leased]


async def test_a_killed_agent_refuses_new_work_and_sends_none(engine: Engine, principal: Principal) -> None:
    await engine.kills.kill(principal, Kill(AGENT, reason="runaway loop"))

    with pytest.raises(AgentKilled) as refused:
        await engine.intents.submit(principal, task())
    assert refused.value.details["field"] == "to_agent"
    assert refused.value.details["kill"]["reason"] == "runaway loop"
    with pytest.raises(AgentKilled) as sent:
        await engine.intents.submit(principal, task(to_agent=OTHER, from_agent=AGENT))
    assert sent.value.details["field"] == "from_agent"
    await engine.intents.submit(principal, task(to_agent=OTHER))  # other agents are not stopped

    resumed = await engine.kills.resume(principal, AGENT)
    assert resumed.was_killed and resumed.still_killed_by is None
    await engine.intents.submit(principal, task())


async def test_hold_accepts_new_work_and_delivers_it_after_resume(
    engine: Engine, principal: Principal
) -> None:
    await engine.kills.kill(principal, Kill(AGENT, new_work="hold"))
    held, _ = await engine.intents.submit(principal, task())
    assert held.status is Status.SUBMITTED
    assert await claim_now(engine, principal) == []

    await engine.kills.resume(principal, AGENT)
    assert await claim_now(engine, principal) == [held.intent_id]


async def test_in_flight_work_is_held_its_lease_revoked(engine: Engine, principal: Principal) -> None:
    leased_id = await lease_one(engine, principal)
    before = await engine.intents.get(principal, leased_id)
    queued, _ = await engine.intents.submit(principal, task())

    _, swept = await engine.kills.kill(principal, Kill(AGENT))

    assert (swept.held, swept.canceled, swept.reassigned) == (1, 0, 0)
    after = await engine.intents.get(principal, leased_id)
    assert after.status is Status.SUBMITTED and after.lease is None
    assert before.lease is not None
    with pytest.raises(StaleLease):  # the worker that held it can no longer finish it
        await engine.delivery.complete(principal, leased_id, Complete(before.lease.token, {}))
    assert (await engine.intents.get(principal, queued.intent_id)).status is Status.SUBMITTED
    assert await claim_now(engine, principal) == []

    await engine.kills.resume(principal, AGENT)
    assert sorted(await claim_now(engine, principal)) == sorted([leased_id, queued.intent_id])


async def test_cancel_cancels_queued_and_leased_work(engine: Engine, principal: Principal) -> None:
    leased_id = await lease_one(engine, principal)
    queued, _ = await engine.intents.submit(principal, task())
    other, _ = await engine.intents.submit(principal, task(to_agent=OTHER))

    _, swept = await engine.kills.kill(principal, Kill(AGENT, in_flight="cancel", reason="bad deploy"))

    assert swept.canceled == 2
    for intent_id in (leased_id, queued.intent_id):
        canceled = await engine.intents.get(principal, intent_id)
        assert canceled.status is Status.CANCELED and canceled.reason == "agent_killed"
    assert (await engine.intents.get(principal, other.intent_id)).status is Status.SUBMITTED


async def test_reassign_hands_work_to_another_version(engine: Engine, principal: Principal) -> None:
    leased_id = await lease_one(engine, principal, V1)
    queued, _ = await engine.intents.submit(principal, task(to_agent=V1))

    _, swept = await engine.kills.kill(principal, Kill(V1, in_flight="reassign", reassign_to=V2))

    assert swept.reassigned == 2
    for intent_id in (leased_id, queued.intent_id):
        moved = await engine.intents.get(principal, intent_id)
        assert moved.to_agent == V2 and moved.status is Status.SUBMITTED and moved.lease is None
        events = await engine.intents.events(principal, intent_id)
        rerouted = [e for e in events if e.event_type is EventType.REROUTED]
        assert rerouted[0].details["from_agent"] == V1 and rerouted[0].details["to_agent"] == V2
        assert rebuild(events).to_agent == V2  # the projection follows from the events
    assert sorted(await claim_now(engine, principal, V2)) == sorted([leased_id, queued.intent_id])


async def test_reassign_is_checked(engine: Engine, principal: Principal) -> None:
    with pytest.raises(ValidationFailed):
        await engine.kills.kill(principal, Kill(AGENT, in_flight="reassign"))
    with pytest.raises(ValidationFailed):  # every version of AGENT is killed: V2 too
        await engine.kills.kill(principal, Kill(AGENT, in_flight="reassign", reassign_to=V2))
    with pytest.raises(ValidationFailed):
        await engine.kills.kill(principal, Kill(AGENT, new_work="maybe"))
    assert engine.kills.kills(principal) == []


async def test_targets_cover_a_version_every_version_or_the_namespace(
    engine: Engine, principal: Principal
) -> None:
    await engine.kills.kill(principal, Kill(V1))
    with pytest.raises(AgentKilled):
        await engine.intents.submit(principal, task(to_agent=V1))
    await engine.intents.submit(principal, task(to_agent=V2))

    await engine.kills.kill(principal, Kill(AGENT))  # the base: every version
    with pytest.raises(AgentKilled):
        await engine.intents.submit(principal, task(to_agent=V2))
    resumed = await engine.kills.resume(principal, V1)
    assert resumed.was_killed and resumed.still_killed_by is not None
    assert resumed.still_killed_by.target == AGENT
    await engine.kills.resume(principal, AGENT)

    await engine.kills.kill(principal, Kill("*"))
    with pytest.raises(AgentKilled):
        await engine.intents.submit(principal, task(to_agent=OTHER))
    assert [k.target for k in engine.kills.kills(principal)] == ["*"]
    assert (await engine.kills.resume(principal, "*")).was_killed
    assert not (await engine.kills.resume(principal, "*")).was_killed  # idempotent
    await engine.intents.submit(principal, task(to_agent=OTHER))


async def test_a_waiting_claim_is_handed_nothing_until_resume(engine: Engine, principal: Principal) -> None:
    await engine.kills.kill(principal, Kill(AGENT, new_work="hold"))
    claim = asyncio.create_task(
        engine.delivery.claim(principal, Claim(AGENT, "w1", max_intents=1, wait_seconds=10))
    )
    await engine.dispatcher.wait_for_waiter(principal.namespace, AGENT)
    held, _ = await engine.intents.submit(principal, task())  # the direct handoff passes it over
    await asyncio.sleep(0.2)
    assert not claim.done()
    assert (await engine.intents.get(principal, held.intent_id)).status is Status.SUBMITTED

    await engine.kills.resume(principal, AGENT)  # wakes the claim, which takes it
    [leased] = await asyncio.wait_for(claim, 5)
    assert leased.intent_id == held.intent_id


async def next_sent(stream: AsyncIterator[list[Sent]], timeout: float = 5.0) -> list[Sent]:
    async with asyncio.timeout(timeout):
        while True:
            batch = await anext(stream)
            if batch:
                return batch


async def test_a_held_stream_is_told_at_once_and_leased_nothing_while_killed(
    engine: Engine, principal: Principal
) -> None:
    stream = engine.streams.deliveries(principal, OpenStream((AGENT, OTHER), "w1", lease_seconds=10))
    first = asyncio.ensure_future(next_sent(stream))
    await engine.dispatcher.wait_for_waiter(principal.namespace, AGENT)
    submitted, _ = await engine.intents.submit(principal, task())
    [pushed] = await first
    assert isinstance(pushed, Pushed) and pushed.intent.intent_id == submitted.intent_id

    _, swept = await engine.kills.kill(principal, Kill(AGENT, new_work="hold", reason="stop"))
    assert swept.held == 1
    [switch] = await next_sent(stream)
    assert isinstance(switch, AgentSwitch) and switch.agent == AGENT
    assert switch.kill is not None and switch.kill.reason == "stop"

    await engine.intents.submit(principal, task())  # held: not pushed
    other, _ = await engine.intents.submit(principal, task(to_agent=OTHER))
    [pushed_other] = await next_sent(stream)
    assert isinstance(pushed_other, Pushed) and pushed_other.intent.intent_id == other.intent_id

    await engine.kills.resume(principal, AGENT)
    sent = await next_sent(stream)
    assert isinstance(sent[0], AgentSwitch) and sent[0].kill is None
    pushed_after = [s for s in sent if isinstance(s, Pushed)] or await next_sent(stream)
    assert {p.intent.to_agent for p in pushed_after if isinstance(p, Pushed)} == {AGENT}
    await stream.aclose()


async def test_kills_and_resumes_are_audited_and_listed_as_mesh_events(
    engine: Engine, principal: Principal
) -> None:
    acting_as(principal)  # as the server names the caller of each request
    await engine.kills.kill(principal, Kill(AGENT, in_flight="cancel", reason="leak"))
    await engine.kills.resume(principal, AGENT)

    records = await engine.audit.list(principal, query=AuditQuery(agent=AGENT))
    killed = [r for r in records if r.action == "agent.killed"]
    assert killed and killed[0].details == {
        "target": AGENT,
        "new_work": "refuse",
        "in_flight": "cancel",
        "reason": "leak",
    }
    assert killed[0].principal == principal.name
    events = await engine.mesh.events(principal, None, 10)
    assert [e.action for e in events][:2] == ["agent.resumed", "agent.killed"]
    assert [e.action for e in await engine.mesh.events(principal, "agent.killed", 10)] == ["agent.killed"]
    assert (await engine.audit.verify(principal.namespace)).ok


async def test_an_expired_lease_of_a_killed_agent_gets_the_kills_treatment(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    leased_id = await lease_one(engine, principal)
    intent = await engine.intents.get(principal, leased_id)
    await engine.kills.kill(principal, Kill(OTHER, in_flight="cancel"))
    assert engine.kills.expired(intent, clock()) is None  # not killed
    record, _ = await engine.kills.kill(principal, Kill(AGENT, in_flight="cancel"))
    change = engine.kills.expired(intent, clock())
    assert change is not None and change.intent.status is Status.CANCELED
