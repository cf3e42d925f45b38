"""AXP delivery bindings over HTTP, on both backends: ``PUT``/``GET /v1/agents/{address}/binding``,
bad bindings refused with their field, a ScenarioBundle's ``agents[].delivery_mode`` registering one,
and what the AXP agent stream of a bound agent sends: its work DELIVERED and leased (heartbeat, fenced
resume), nothing leased for an unbound agent (a claim still gets the work), an expired lease sent again
with attempt 2, and a reconnect from ``since`` that leases nothing twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from tests._support.http_api import create
from tests._support.servers import API_KEY, AppClient, listening
from tests.server.test_streams import Block, agent_blocks

JSON = dict[str, Any]
AGENT = "agent://acme/test/bound"
PATH = "acme/test/bound"
BINDING = f"/v1/agents/{PATH}/binding"


async def bind(api: httpx.AsyncClient, body: JSON, path: str = BINDING) -> JSON:
    response = await api.put(path, json=body)
    assert response.status_code == 200, response.text
    binding: JSON = response.json()["binding"]
    return binding


async def intent(api: httpx.AsyncClient, intent_id: str) -> JSON:
    response = await api.get(f"/v1/intents/{intent_id}")
    assert response.status_code == 200, response.text
    found: JSON = response.json()["intent"]
    return found


async def event_types(api: httpx.AsyncClient, intent_id: str) -> list[str]:
    events = (await api.get(f"/v1/intents/{intent_id}/events")).json()["events"]
    return [e["event_type"] for e in events]


def deliveries(blocks: list[Block]) -> list[JSON]:
    return [b.data for b in blocks if b.event != "stream.timeout"]


# --- registering ------------------------------------------------------------------------------------


async def test_a_binding_is_registered_and_read_back(api: AppClient, subtests: pytest.Subtests) -> None:
    unregistered = (await api.get(BINDING)).json()
    assert unregistered == {
        "ok": True,
        "binding": {
            "address": AGENT,
            "delivery_mode": None,
            "lease_seconds": None,
            "created_at": None,
            "updated_at": None,
            "callback_url": None,
        },
    }

    registered = await bind(api, {"delivery_mode": "stream", "lease_seconds": 45})

    assert (registered["address"], registered["delivery_mode"], registered["lease_seconds"]) == (
        AGENT,
        "stream",
        45.0,
    )
    assert registered["created_at"] == registered["updated_at"] and registered["created_at"].endswith("Z")
    for address in (PATH, AGENT, "agent%3A%2F%2Facme%2Ftest%2Fbound"):
        with subtests.test(address=address):
            read = (await api.get(f"/v1/agents/{address}/binding")).json()["binding"]
            assert read == registered
    changed = await bind(api, {"delivery_mode": "poll"})
    assert (changed["delivery_mode"], changed["lease_seconds"]) == ("poll", 30.0)
    assert changed["created_at"] == registered["created_at"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "delivery_mode"),
        ({"delivery_mode": "smtp"}, "delivery_mode"),
        ({"delivery_mode": "http"}, "callback_url"),
        ({"delivery_mode": "http", "callback_url": "http://10.0.0.1/hook"}, "callback_url"),
        ({"delivery_mode": None}, "delivery_mode"),
        ({"delivery_mode": "stream", "lease_seconds": 0}, "lease_seconds"),
        ({"delivery_mode": "stream", "lease_seconds": -5}, "lease_seconds"),
        ({"delivery_mode": "stream", "lease_seconds": 3601}, "lease_seconds"),
        ({"delivery_mode": "stream", "lease_seconds": "30"}, "lease_seconds"),
        ({"delivery_mode": "stream", "lease_seconds": True}, "lease_seconds"),
    ],
)
async def test_a_bad_binding_is_refused_with_its_field(api: AppClient, body: JSON, field: str) -> None:
    response = await api.put(BINDING, json=body)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == field
    assert (await api.get(BINDING)).json()["binding"]["delivery_mode"] is None


async def test_a_binding_of_a_malformed_address_is_refused(api: AppClient) -> None:
    for method in ("GET", "PUT"):
        response = await api.request(
            method, "/v1/agents/acme/test/bo%20und/binding", json={"delivery_mode": "stream"}
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["details"]["field"] == "address"


async def test_applying_a_scenario_registers_the_bindings_its_agents_declare(api: AppClient) -> None:
    await bind(api, {"delivery_mode": "poll", "lease_seconds": 90}, "/v1/agents/acme/test/writer/binding")
    bundle = {
        "scenario_id": "bindings.apply",
        "agents": [
            {"role": "writer", "address": "agent://acme/test/writer", "delivery_mode": "stream"},
            {"role": "reviewer", "address": "acme/test/reviewer", "delivery_mode": "poll"},
            {"role": "hook", "address": "agent://acme/test/hook", "delivery_mode": "http"},
            {"role": "plain", "address": "agent://acme/test/plain"},
        ],
        "workflow": {
            "steps": [{"step_id": "draft", "tool_id": "tool.agent.task.v1", "assigned_to": "writer"}]
        },
        "intent": {"type": "intent.article.v1", "payload": {"topic": "bindings"}},
    }

    applied = await api.post("/v1/scenarios/apply", json=bundle)

    assert applied.status_code == 200, applied.text
    modes = {
        name: (await api.get(f"/v1/agents/acme/test/{name}/binding")).json()["binding"]
        for name in ("writer", "reviewer", "hook", "plain")
    }
    assert {name: (b["delivery_mode"], b["lease_seconds"]) for name, b in modes.items()} == {
        "writer": ("stream", 90.0),  # the mode changed, the lease length registered before stayed
        "reviewer": ("poll", 30.0),
        "hook": (None, None),  # http is registered through the binding's own call (its secret)
        "plain": (None, None),
    }
    # The run's first step went to the writer, whose stream now leases it.
    [step] = deliveries(await agent_blocks(api, "acme/test/writer"))
    assert (step["status"], step["delivery_attempt"]) == ("DELIVERED", 1)
    assert (await intent(api, step["intent_id"]))["parent_intent_id"] == applied.json()["intent_id"]


# --- the agent stream of a bound agent --------------------------------------------------------------


async def test_a_bound_agent_s_stream_sends_its_work_delivered_and_leased(api: AppClient) -> None:
    await bind(api, {"delivery_mode": "stream", "lease_seconds": 30})
    intent_id = await create(api, to_agent=AGENT)

    blocks = await agent_blocks(api, PATH)

    assert [(b.id, b.event) for b in blocks] == [(1, "intent.delivered"), (None, "stream.timeout")]
    data = blocks[0].data
    assert (data["intent_id"], data["status"], data["event_type"]) == (
        intent_id,
        "DELIVERED",
        "intent.delivered",
    )
    assert data["delivery_attempt"] == 1 and data["lease_token"] and "resumed" not in data
    stored = await intent(api, intent_id)
    assert (stored["status"], stored["lease_expires_at"]) == ("DELIVERED", data["lease_expires_at"])
    assert (await event_types(api, intent_id))[-1] == "intent.delivered"
    # Leased to the listener: a claim finds nothing; the lease API takes its token.
    claimed = await api.post(f"/v1/agents/{PATH}/claims", json={"worker_id": "w"})
    assert claimed.json()["deliveries"] == []
    token = data["lease_token"]
    beat = await api.post(f"/v1/intents/{intent_id}/lease/heartbeat", json={"lease_token": token})
    assert beat.status_code == 200, beat.text
    stale = await api.post(
        f"/v1/intents/{intent_id}/resume", json={"action": "complete", "lease_token": "old"}
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_lease"
    done = await api.post(
        f"/v1/intents/{intent_id}/resume", json={"action": "complete", "lease_token": token}
    )
    assert done.status_code == 200 and done.json()["intent"]["status"] == "COMPLETED"


async def test_an_unbound_agent_s_stream_leases_nothing_and_a_claim_gets_the_work(api: AppClient) -> None:
    unbound = await create(api, to_agent=AGENT)
    [seen] = deliveries(await agent_blocks(api, PATH))
    assert (seen["intent_id"], seen["status"]) == (unbound, "SUBMITTED")
    assert "lease_token" not in seen
    # Bound, but a stream that does not ask for DELIVERED intents is a watcher: it leases nothing.
    await bind(api, {"delivery_mode": "stream"})
    [watched] = deliveries(await agent_blocks(api, PATH, status="SUBMITTED"))
    assert (watched["intent_id"], watched["status"]) == (unbound, "SUBMITTED")
    await bind(api, {"delivery_mode": "poll"})  # poll: a feed again
    [polled] = deliveries(await agent_blocks(api, PATH))
    assert polled["status"] == "SUBMITTED"

    assert (await intent(api, unbound))["status"] == "SUBMITTED"
    claimed = (await api.post(f"/v1/agents/{PATH}/claims", json={"worker_id": "w"})).json()["deliveries"]
    assert [d["intent"]["intent_id"] for d in claimed] == [unbound]


async def test_a_reconnect_from_since_leases_nothing_twice(api: AppClient) -> None:
    await bind(api, {"delivery_mode": "stream"})
    intent_id = await create(api, to_agent=AGENT)
    [first] = deliveries(await agent_blocks(api, PATH))

    # From before the entry (a frame lost with its connection, an agent started again from 0): the
    # same lease, marked resumed. From the last seq seen: nothing.
    [again] = deliveries(await agent_blocks(api, PATH, since=0))
    later = deliveries(await agent_blocks(api, PATH, since=first["seq"]))

    assert {k: again[k] for k in ("seq", "lease_token", "lease_expires_at", "delivery_attempt")} == {
        k: first[k] for k in ("seq", "lease_token", "lease_expires_at", "delivery_attempt")
    }
    assert again["resumed"] is True and later == []
    assert (await event_types(api, intent_id)).count("intent.delivered") == 1


@pytest.fixture
async def http(api: AppClient) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        listening(api.app) as url,
        httpx.AsyncClient(base_url=url, headers={"x-api-key": API_KEY}) as client,
    ):
        yield client


async def next_delivery(lines: AsyncIterator[str], timeout: float = 15.0) -> JSON:
    event, data = "", ""
    async with asyncio.timeout(timeout):
        async for line in lines:
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif not line and event:
                assert event == "intent.delivered", (event, data)
                parsed: JSON = orjson.loads(data)
                return parsed
    raise AssertionError("the stream ended")


async def test_an_expired_lease_is_sent_again_with_attempt_2(http: httpx.AsyncClient) -> None:
    await bind(http, {"delivery_mode": "stream", "lease_seconds": 0.5})
    intent_id = await create(http, to_agent=AGENT)
    stream = f"/v1/agents/{PATH}/intents/stream"

    async with http.stream("GET", stream, params={"wait_seconds": 30}, timeout=30) as response:
        lines = response.aiter_lines()
        first = await next_delivery(lines)
        again = await next_delivery(lines)  # no heartbeat, no resolve: the lease lapses

    assert (first["intent_id"], first["delivery_attempt"]) == (intent_id, 1)
    assert (again["intent_id"], again["delivery_attempt"]) == (intent_id, 2)
    assert again["seq"] > first["seq"] and again["lease_token"] != first["lease_token"]
    url = f"/v1/intents/{intent_id}/complete"
    stale = await http.post(url, json={"lease_token": first["lease_token"]})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_lease"
    done = await http.post(url, json={"lease_token": again["lease_token"], "result": {}})
    assert done.status_code == 200, done.text
