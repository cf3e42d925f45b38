"""Sandbox namespaces and synthetic intents on both backends (docs/mesh.md): synthetic intents are
refused outside a sandbox namespace, flagged for their whole run (a ``then`` follow-up inherits the
flag), left out of usage rollups and the fleet's figures, and replayed by a dry-run like any other."""

from __future__ import annotations

import pytest

from intentd.engine import Claim, Complete, Engine, Principal, SubmitIntent
from intentd.model import ValidationFailed
from tests._support.engine import AGENT, task

NEXT = "agent://acme/test/next"


@pytest.fixture
async def lab(engine: Engine) -> Principal:
    await engine.namespaces.create("lab", sandbox=True)
    _, secret = await engine.keys.create("tester", namespace="lab")
    return await engine.keys.authenticate(secret)


async def test_synthetic_intents_only_run_in_a_sandbox(engine: Engine, principal: Principal) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await engine.intents.submit(principal, task(synthetic=True))
    assert refused.value.details["field"] == "synthetic"
    await engine.namespaces.create("prod")
    _, secret = await engine.keys.create("p", namespace="prod")
    with pytest.raises(ValidationFailed):
        await engine.intents.submit(await engine.keys.authenticate(secret), task(synthetic=True))


async def test_a_synthetic_run_is_flagged_throughout_and_counts_for_nothing(
    engine: Engine, lab: Principal
) -> None:
    await engine.policies.set(lab, "*", {"max_cost_per_day_usd": 100, "max_intents_per_hour": 100})
    submitted, _ = await engine.intents.submit(lab, task(synthetic=True))
    assert submitted.synthetic
    [leased] = await engine.delivery.claim(lab, Claim(AGENT, "w", wait_seconds=0))
    assert leased.lease is not None
    follow_up = SubmitIntent("demo.next", "", NEXT, {})
    done = await engine.delivery.complete(
        lab, leased.intent_id, Complete(leased.lease.token, {}, then=(follow_up,), usage={"cost_usd": 3.0})
    )
    assert done.then[0].synthetic and done.then[0].root_intent_id == submitted.intent_id

    used = (await engine.policies.explain(lab, AGENT)).used
    assert used == {"namespace:max_cost_per_day_usd": 0.0, "namespace:max_intents_per_hour": 0.0}
    fleet = {a.agent.address: a for a in await engine.mesh.fleet(lab)}
    assert fleet[AGENT].finished_day == {} and fleet[NEXT].open_work == {}

    real, _ = await engine.intents.submit(lab, task())  # a sandbox takes real traffic too: it counts
    assert not real.synthetic
    assert (await engine.policies.explain(lab, AGENT)).used["namespace:max_intents_per_hour"] == 1.0
    report = await engine.policies.dry_run(lab, AGENT, {"receive": {"deny": ["demo.*"]}})
    assert report.to_json()["denied"] == 2  # the synthetic intent and the real one
