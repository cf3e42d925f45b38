"""Mesh policies on both backends (docs/mesh.md, "Policies"): type rules refuse what an agent may not
receive or send; spend per day and per run, intents per hour and concurrency are limited, blocking
(429, queued work held) or pausing on an override task a person decides; usage is rolled up exactly;
policies are versioned, compare-and-set and audited; the effective policy says where each rule comes
from and what is used."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from intentd.engine import Claim, Complete, Engine, OpenStream, Principal
from intentd.engine.audit import acting_as
from intentd.engine.inputs import Answer
from intentd.model import PolicyDenied, PolicyLimitReached, StaleMeshPolicy, Status, ValidationFailed
from tests._support.engine import AGENT, FakeClock, task

OTHER = "agent://acme/test/other"
V2 = f"{AGENT}@v2"


async def finish(engine: Engine, principal: Principal, cost: float, agent: str = AGENT, **spec: Any) -> str:
    """Submit to ``agent``, lease and complete it reporting ``cost``."""
    submitted, _ = await engine.intents.submit(principal, task(to_agent=agent, **spec))
    [leased] = await engine.delivery.claim(principal, Claim(agent, "w", wait_seconds=0))
    assert leased.lease is not None
    usage = {"cost_usd": cost, "tokens_in": 10, "tokens_out": 5}
    await engine.delivery.complete(principal, leased.intent_id, Complete(leased.lease.token, {}, usage=usage))
    return submitted.intent_id


async def test_type_rules_refuse_what_an_agent_may_not_receive_or_send(
    engine: Engine, principal: Principal
) -> None:
    await engine.policies.set(
        principal, AGENT, {"receive": {"allow": ["billing.*"], "deny": ["billing.refund*"]}}
    )
    await engine.policies.set(principal, OTHER, {"send": {"deny": ["billing.*"]}})

    await engine.intents.submit(principal, task(intent_type="billing.charge"))
    for intent_type in ("demo.task", "billing.refund_v2"):
        with pytest.raises(PolicyDenied) as denied:
            await engine.intents.submit(principal, task(intent_type=intent_type))
        assert denied.value.details["policy"] == AGENT and denied.value.details["rule"] == "receive"
    with pytest.raises(PolicyDenied) as sent:
        await engine.intents.submit(
            principal, task(to_agent="agent://acme/test/any", intent_type="billing.x", from_agent=OTHER)
        )
    assert sent.value.details["rule"] == "send"


async def test_a_daily_spend_cap_blocks_new_work_and_holds_queued_work(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    await engine.policies.set(principal, AGENT, {"max_cost_per_day_usd": 1.0})  # every version of it
    await finish(engine, principal, 0.6)
    queued, _ = await engine.intents.submit(principal, task(to_agent=V2))  # admitted at 0.6
    await finish(engine, principal, 0.5)  # admitted at 0.6 too: over the cap once it reports

    with pytest.raises(PolicyLimitReached) as blocked:
        await engine.intents.submit(principal, task())
    assert blocked.value.http_status == 429
    assert blocked.value.details["rule"] == "max_cost_per_day_usd" and blocked.value.details["used"] == 1.1
    assert await engine.delivery.claim(principal, Claim(V2, "w", wait_seconds=0)) == []  # held
    assert (await engine.intents.get(principal, queued.intent_id)).status is Status.SUBMITTED
    await engine.intents.submit(principal, task(to_agent=OTHER))  # other agents are not limited

    clock.advance(24 * 3600)  # a new UTC day
    [leased] = await engine.delivery.claim(principal, Claim(V2, "w", wait_seconds=0))
    assert leased.intent_id == queued.intent_id
    await engine.intents.submit(principal, task())


async def test_pause_parks_new_work_on_an_override_a_person_decides(
    engine: Engine, principal: Principal
) -> None:
    await engine.policies.set(principal, AGENT, {"max_cost_per_day_usd": 0.5, "on_breach": "pause"})
    await finish(engine, principal, 0.7)

    paused, _ = await engine.intents.submit(principal, task())
    rejected, _ = await engine.intents.submit(principal, task())

    assert paused.status is Status.WAITING
    tasks = {t.intent.intent_id: t.task for t in await engine.tasks.list(principal)}
    assert tasks[paused.intent_id].spec["task_type"] == "override"
    assert "max_cost_per_day_usd" in (tasks[paused.intent_id].spec.get("description") or "")
    await engine.tasks.decide(principal, tasks[paused.intent_id].task_id, Answer("override_approved"))
    await engine.tasks.decide(principal, tasks[rejected.intent_id].task_id, Answer("rejected"))
    [leased] = await engine.delivery.claim(principal, Claim(AGENT, "w", wait_seconds=0))
    assert leased.intent_id == paused.intent_id  # a person let it through: the cap does not hold it
    assert (await engine.intents.get(principal, rejected.intent_id)).status is Status.CANCELED


async def test_a_run_s_spend_cap_counts_its_whole_tree(engine: Engine, principal: Principal) -> None:
    await engine.policies.set(principal, OTHER, {"max_cost_per_tree_usd": 1.0})
    root = await finish(engine, principal, 0.8)
    child = await finish(engine, principal, 0.4, parent_intent_id=root)  # to AGENT: OTHER's cap is not its
    assert (await engine.intents.get(principal, child)).root_intent_id == root

    with pytest.raises(PolicyLimitReached) as blocked:
        await engine.intents.submit(principal, task(to_agent=OTHER, parent_intent_id=root))
    assert blocked.value.details["rule"] == "max_cost_per_tree_usd"
    await engine.intents.submit(principal, task(to_agent=OTHER))  # another run has spent nothing


async def test_intents_per_hour_on_the_namespace(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    await engine.policies.set(principal, "*", {"max_intents_per_hour": 3})
    for agent in (AGENT, OTHER, AGENT):
        await engine.intents.submit(principal, task(to_agent=agent))
    with pytest.raises(PolicyLimitReached) as blocked:
        await engine.intents.submit(principal, task(to_agent=OTHER))
    assert blocked.value.details["policy"] == "*"
    clock.advance(3600)
    await engine.intents.submit(principal, task(to_agent=OTHER))


async def test_concurrency_is_limited_on_every_delivery_path(engine: Engine, principal: Principal) -> None:
    await engine.policies.set(principal, AGENT, {"max_concurrency": 1})
    for _ in range(3):
        await engine.intents.submit(principal, task())

    [first] = await engine.delivery.claim(principal, Claim(AGENT, "w", max_intents=10, wait_seconds=0))
    assert await engine.delivery.claim(principal, Claim(AGENT, "w", max_intents=10, wait_seconds=0)) == []

    stream = engine.streams.deliveries(
        principal, OpenStream((AGENT,), "s", lease_seconds=10, max_in_flight=5)
    )
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.2)
    assert not pending.done()  # the stream has room, the limit does not
    assert first.lease is not None
    await engine.delivery.complete(principal, first.intent_id, Complete(first.lease.token, {}))
    [pushed] = await asyncio.wait_for(pending, 5)  # the freed place wakes the stream
    assert pushed.intent.status is Status.DELIVERED
    await stream.aclose()


async def test_usage_is_rolled_up_per_agent_base_namespace_and_tree(
    engine: Engine, principal: Principal
) -> None:
    await engine.policies.set(principal, AGENT, {"max_cost_per_day_usd": 100})
    root = await finish(engine, principal, 0.25, agent=V2)
    await finish(engine, principal, 0.5, agent=OTHER, parent_intent_id=root)

    explained = await engine.policies.explain(principal, V2)  # the base's cap counts its versions
    assert explained.used == {"max_cost_per_day_usd": 0.25}
    await engine.policies.set(principal, "*", {"max_cost_per_day_usd": 100, "max_cost_per_tree_usd": 9})
    explained = await engine.policies.explain(principal, OTHER)
    assert explained.used == {"namespace:max_cost_per_day_usd": 0.75}
    rule = explained.effective.rules["namespace:max_cost_per_tree_usd"]
    assert (rule.scope, rule.value) == ("*", 9)
    tree = await engine.store.read(lambda tx: tx.usage(principal.namespace, "tree", root, 0, 0))
    assert (tree.cost_usd, tree.tokens_in, tree.tokens_out) == (0.75, 20, 10)


async def test_policies_are_versioned_compare_and_set_and_audited(
    engine: Engine, principal: Principal
) -> None:
    acting_as(principal)
    first = await engine.policies.set(principal, AGENT, {"max_concurrency": 2}, expected_generation=0)
    second = await engine.policies.set(principal, AGENT, {"max_concurrency": 3}, expected_generation=1)
    assert (first.generation, second.generation) == (1, 2)
    with pytest.raises(StaleMeshPolicy):
        await engine.policies.set(principal, AGENT, {"max_concurrency": 4}, expected_generation=1)
    with pytest.raises(ValidationFailed) as bad:
        await engine.policies.set(principal, AGENT, {"max_concurrency": -1})
    assert bad.value.details["field"] == "max_concurrency"
    events = await engine.mesh.events(principal, "agent.policy_set", 10)
    assert [e.details["generation"] for e in events if e.details] == [2, 1]
    assert await engine.policies.remove(principal, AGENT)
    assert engine.policies.of(principal) == []


async def test_effective_policy_merges_namespace_base_and_version(
    engine: Engine, principal: Principal
) -> None:
    await engine.policies.set(principal, "*", {"max_concurrency": 10, "on_breach": "pause"})
    await engine.policies.set(principal, AGENT, {"max_concurrency": 4, "tools": {"allow": ["search"]}})
    await engine.policies.set(principal, V2, {"max_concurrency": 2})

    rules = (await engine.policies.explain(principal, V2)).effective.rules
    assert (rules["max_concurrency"].value, rules["max_concurrency"].scope) == (2, V2)
    assert rules["namespace:max_concurrency"].value == 10
    assert rules["tools"].scope == AGENT and rules["on_breach"].value == "pause"


async def test_a_tool_call_outside_the_policy_is_refused(engine: Engine, principal: Principal) -> None:
    await engine.policies.set(principal, AGENT, {"tools": {"allow": ["search", "fetch_*"]}})
    await engine.intents.submit(principal, task())
    [leased] = await engine.delivery.claim(principal, Claim(AGENT, "w", wait_seconds=0))
    assert leased.lease is not None

    await engine.delivery.progress(principal, leased.intent_id, leased.lease.token, None, None, "fetch_page")
    with pytest.raises(PolicyDenied) as denied:
        await engine.delivery.progress(principal, leased.intent_id, leased.lease.token, None, None, "shell")
    assert denied.value.details["rule"] == "tools"
    events = await engine.intents.events(principal, leased.intent_id)
    assert [e.details.get("tool") for e in events if e.details.get("tool")] == ["fetch_page"]


async def test_a_dry_run_replays_recorded_history_without_enforcing(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    for cost in (0.4, 0.4, 0.4, 0.4):
        await finish(engine, principal, cost)
        clock.advance(60)
    await finish(engine, principal, 0.3, intent_type="billing.refund")
    proposal = {"max_cost_per_day_usd": 1.0, "receive": {"deny": ["billing.*"]}}

    report = await engine.policies.dry_run(principal, AGENT, proposal)

    summary = report.to_json()
    assert (summary["evaluated"], summary["allowed"], summary["blocked"], summary["denied"]) == (5, 3, 1, 1)
    assert summary["saved_usd"] == pytest.approx(0.7)
    assert summary["by_rule"] == {"max_cost_per_day_usd": 1, "receive": 1}
    assert [d["outcome"] for d in summary["decisions"]] == ["block", "deny"]
    assert engine.policies.of(principal) == []  # nothing was set
    await engine.intents.submit(principal, task(intent_type="billing.refund"))  # nor enforced

    paused = await engine.policies.dry_run(
        principal, AGENT, {"max_cost_per_day_usd": 1.0, "on_breach": "pause"}
    )
    # The two over the cap, and the refund just submitted (it has spent nothing yet).
    assert paused.to_json()["paused"] == 3 and paused.to_json()["paused_usd"] == pytest.approx(0.7)
    window = await engine.policies.dry_run(principal, AGENT, proposal, since=clock() + 1)
    assert window.to_json()["evaluated"] == 0


async def test_a_dry_run_of_synthetic_intents(engine: Engine, principal: Principal, clock: FakeClock) -> None:
    from intentd.engine.mesh.dryrun import Trial

    trials = [Trial(AGENT, "demo.task", clock() + n, cost_usd=1.0) for n in range(5)]
    report = await engine.policies.dry_run(principal, "*", {"max_intents_per_hour": 2}, synthetic=trials)
    assert (report.to_json()["allowed"], report.to_json()["blocked"]) == (2, 3)
