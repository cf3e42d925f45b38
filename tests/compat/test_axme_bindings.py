"""The AXP ``stream`` delivery binding through the official ``axme`` SDK, unmodified, against a real
``intentd serve`` on both backends. An agent written as AXME's examples write one acts only on
deliveries whose status is DELIVERED: once its binding is registered (the binding route, or a
ScenarioBundle's ``delivery_mode: stream``) it finishes the work sent to it; without one it only
watches, and an intentd worker's claim still gets the work."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from axme import AxmeClient

from tests.compat import test_axme_sdk
from tests.compat.test_axme_sdk import Agents, claim, create, intent

pytestmark = pytest.mark.slow
# The live server per backend and the clients and helpers of test_axme_sdk.py, shared as fixtures.
server, connect, agents = test_axme_sdk.server, test_axme_sdk.connect, test_axme_sdk.agents
axme, http, pool = test_axme_sdk.axme, test_axme_sdk.http, test_axme_sdk.pool
Json = dict[str, Any]


def delivered_only_agent(client: AxmeClient, address: str, timeout: float = 30) -> Json:
    """An AXME-style agent: ``listen``, act only on a delivery whose status is DELIVERED (as AXME's
    example agents and CLI agents do), finish it with ``resume_intent``. Returns that delivery."""
    for delivery in client.listen(address, wait_seconds=2, timeout_seconds=timeout):
        if delivery["status"] != "DELIVERED":
            continue
        current = client.get_intent(delivery["intent_id"])["intent"]
        payload = current["payload"].get("parent_payload") or current["payload"]
        client.resume_intent(
            delivery["intent_id"],
            {"action": "complete", "draft": f"On {payload['topic']}."},
            owner_agent=address,
        )
        return dict(delivery)
    raise AssertionError("listen ended without a delivery")


def bind(http: httpx.Client, address: str) -> None:
    path = f"/v1/agents/{address.removeprefix('agent://')}/binding"
    http.put(path, json={"delivery_mode": "stream", "lease_seconds": 30}).raise_for_status()


def test_a_bound_axme_agent_acting_only_on_delivered_finishes_its_work(
    axme: AxmeClient,
    connect: Callable[..., AxmeClient],
    http: httpx.Client,
    agents: Agents,
    pool: ThreadPoolExecutor,
) -> None:
    bind(http, agents.writer)
    agent: Future[Json] = pool.submit(delivered_only_agent, connect(), agents.writer)

    intent_id = create(axme, intent(agents.writer, reply_to=agents.boss))

    delivery = agent.result(timeout=60)
    assert (delivery["intent_id"], delivery["event_type"]) == (intent_id, "intent.delivered")
    assert delivery["delivery_attempt"] == 1 and delivery["lease_token"]
    final = axme.wait_for(intent_id, timeout_seconds=30)
    assert (final["event_type"], final["details"]["result"]) == (
        "intent.completed",
        {"draft": "On durable agents."},
    )
    events = [e["event_type"] for e in axme.list_intent_events(intent_id)["events"]]
    assert events == ["intent.created", "intent.submitted", "intent.delivered", "intent.completed"]


def test_a_scenario_s_stream_agent_finishes_its_step_acting_only_on_delivered(
    axme: AxmeClient, connect: Callable[..., AxmeClient], agents: Agents, pool: ThreadPoolExecutor
) -> None:
    bundle = {
        "scenario_id": "compat.stream_binding",
        "agents": [{"role": "writer", "address": agents.writer, "delivery_mode": "stream"}],
        "workflow": {
            "steps": [{"step_id": "draft", "tool_id": "tool.agent.task.v1", "assigned_to": "writer"}]
        },
        "intent": {"type": "intent.article.v1", "payload": {"topic": "bindings"}},
    }
    agent: Future[Json] = pool.submit(delivered_only_agent, connect(), agents.writer)

    applied = axme.apply_scenario(bundle, idempotency_key=f"apply-{uuid.uuid4()}")

    step = agent.result(timeout=60)
    assert step["status"] == "DELIVERED" and step["delivery_attempt"] == 1
    terminal = axme.wait_for(applied["intent_id"], timeout_seconds=30)
    assert terminal["event_type"] == "intent.completed"
    run = axme.get_intent(applied["intent_id"])["intent"]
    assert run["result"]["steps"]["draft"] == {"draft": "On bindings."}


def test_without_a_binding_the_axme_agent_only_watches_and_a_claim_gets_the_work(
    axme: AxmeClient, connect: Callable[..., AxmeClient], http: httpx.Client, agents: Agents
) -> None:
    intent_id = create(axme, intent(agents.writer))

    seen = []
    with pytest.raises(TimeoutError):  # it never sees a DELIVERED intent, so it never acts
        for delivery in connect().listen(agents.writer, wait_seconds=1, timeout_seconds=3):
            seen.append((delivery["intent_id"], delivery["status"]))
    assert seen == [(intent_id, "SUBMITTED")]
    assert axme.get_intent(intent_id)["intent"]["status"] == "SUBMITTED"
    assert claim(http, agents.writer)["intent"]["intent_id"] == intent_id
