"""Namespaces are tenants, on both backends: with an admin key of namespace B, every route that takes
an id or an address answers 404 for namespace A's intents, tasks, runs, threads, agents, feeds and
streams (404, not 403: B does not learn they exist), lists show none of them, nothing of A changes,
and B's agents never receive A's work at the same address: not by a claim, not by a claim waiting in
this process when A submits (the direct handoff), not on a held delivery stream. And the sandbox flag:
namespaces made with their first key or by ``intentd namespaces create``, and what
``GET /v1/namespaces/current`` says of them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from typer.testing import CliRunner

from intentd.cli.app import app as cli
from intentd.settings import Settings
from tests._support.http_api import REVIEWER, WRITER, intent_body, sse_events
from tests._support.servers import API_NAMESPACE, AppClient, app_settings

JSON = dict[str, Any]
B = "tenant-b"
ADDRESS = WRITER.removeprefix("agent://")
# What an id of another namespace is: something that does not exist (a route's own 404, not the
# router's ``not_found`` for a path no route takes).
FOUND_NOTHING = {"intent_not_found", "thread_not_found", "task_not_found", "agent_not_found"}
HOLD = 0.5  # seconds the app holds a stream (every stream ends by itself within it)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return app_settings(database_url, max_stream_wait_seconds=HOLD)


async def client_of(api: AppClient, namespace: str, name: str = "admin") -> AppClient:
    """A client of the same app with a new admin key of ``namespace``."""
    _, secret = await api.engine.keys.create(name, namespace=namespace)
    return AppClient(api.app, api_key=secret)


async def ok(response: Any) -> JSON:
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


async def seed(api: AppClient) -> JSON:
    """Namespace A's things, made with A's key: a leased intent with a reply-to thread, a human task, a
    workflow run, a mesh agent and a binding. Returns their ids and the lease token."""
    leased = (await ok(await api.post("/v1/intents", json=intent_body(WRITER, reply_to=REVIEWER))))[
        "intent_id"
    ]
    claimed = await ok(
        await api.post(f"/v1/agents/{ADDRESS}/claims", json={"worker_id": "a-worker", "lease_seconds": 600})
    )
    [delivery] = claimed["deliveries"]
    assert delivery["intent"]["intent_id"] == leased
    gated = await ok(
        await api.post("/v1/intents", json=intent_body(WRITER, human_task={"title": "Approve it"}))
    )
    tasks = await ok(await api.get("/v1/tasks", params={"intent_id": gated["intent_id"]}))
    run = await ok(
        await api.post(
            "/v1/scenarios/apply",
            json={
                "scenario_id": "tenancy.test",
                "agents": [{"role": "writer", "address": REVIEWER}],
                "workflow": {"steps": [{"step_id": "draft", "assigned_to": "writer"}]},
                "intent": {"type": "intent.article.v1", "payload": {}},
            },
        )
    )
    await ok(
        await api.post("/v1/mesh/heartbeat", json={"metrics": {"load": 1}}, params={"owner_agent": WRITER})
    )
    await ok(await api.put(f"/v1/agents/{ADDRESS}/binding", json={"delivery_mode": "stream"}))
    return {
        "leased": leased,
        "token": delivery["lease"]["token"],
        "gated": gated["intent_id"],
        "task": tasks["tasks"][0]["task_id"],
        "run": run["run_id"],
    }


def routes_by_id(a: JSON) -> list[tuple[str, str, JSON | None]]:
    """Every route that takes an id, with a body it would accept from A."""
    i, run, token, task = a["leased"], a["run"], a["token"], a["task"]
    lease = {"lease_token": token}
    return [
        ("GET", f"/v1/intents/{i}", None),
        ("GET", f"/v1/intents/{i}/tree", None),
        ("GET", f"/v1/intents/{i}/events", None),
        ("GET", f"/v1/intents/{i}/events/stream?wait_seconds=0", None),
        ("POST", f"/v1/intents/{i}/resolve", {"status": "COMPLETED", "result": {}}),
        ("POST", f"/v1/intents/{i}/cancel", {"reason": "b was here"}),
        ("POST", f"/v1/intents/{a['gated']}/resume", {}),
        ("POST", f"/v1/intents/{i}/controls", {"controls_patch": {"priority": 1}}),
        ("POST", f"/v1/intents/{i}/policy", {"grants_patch": {"x": 1}}),
        ("POST", f"/v1/intents/{i}/lease/heartbeat", lease),
        ("POST", f"/v1/intents/{i}/complete", {**lease, "result": {}}),
        ("POST", f"/v1/intents/{i}/fail", {**lease, "error": {"code": "x", "message": "x"}}),
        ("POST", f"/v1/intents/{i}/release", lease),
        ("POST", f"/v1/intents/{i}/wait", {**lease, "reason": "WAITING_FOR_HUMAN"}),
        ("POST", f"/v1/intents/{i}/progress", {**lease, "message": "half way"}),
        ("GET", f"/v1/intents/{run}/journal", None),
        ("GET", f"/v1/intents/{run}/tree", None),
        ("POST", f"/v1/intents/{i}/journal", {**lease, "key": "k", "result": 1}),
        (
            "POST",
            f"/v1/intents/{i}/children",
            {**lease, "children": [{"key": "c", "to_agent": WRITER, "intent_type": "a.b"}]},
        ),
        ("POST", f"/v1/intents/{i}/await", {**lease, "keys": ["k"]}),
        ("GET", f"/v1/inbox/{i}", None),
        ("POST", f"/v1/inbox/{i}/reply", {"message": "hello"}),
        ("POST", f"/v1/inbox/{i}/delegate", {"delegate_to": "agent://b/prod/thief"}),
        ("POST", f"/v1/inbox/{a['gated']}/approve", {}),
        ("POST", f"/v1/inbox/{a['gated']}/reject", {}),
        ("POST", f"/v1/inbox/{i}/messages/delete", {"mode": "both"}),
        ("GET", f"/v1/tasks/{task}", None),
        ("POST", f"/v1/tasks/{task}/decision", {"outcome": "approved"}),
        ("GET", f"/v1/mesh/agents/{ADDRESS}", None),
    ]


async def snapshot(api: AppClient, a: JSON) -> JSON:
    """What A sees of its own things: every intent with its events, the tasks, threads, agents and
    the binding."""
    intents = (await ok(await api.get("/v1/intents", params={"limit": 500})))["intents"]
    events = {
        i["intent_id"]: (await ok(await api.get(f"/v1/intents/{i['intent_id']}/events")))["events"]
        for i in intents
    }
    return {
        "intents": intents,
        "events": events,
        "tasks": (await ok(await api.get("/v1/tasks")))["tasks"],
        "thread": await ok(await api.get(f"/v1/inbox/{a['leased']}")),
        "agents": [
            {k: v for k, v in agent.items() if k != "health_status" and k != "status"}
            for agent in (await ok(await api.get("/v1/mesh/agents")))["agents"]
        ],
        "binding": await ok(await api.get(f"/v1/agents/{ADDRESS}/binding")),
    }


async def test_another_namespace_finds_none_of_its_things(api: AppClient) -> None:
    a = await seed(api)
    before = await snapshot(api, a)
    a_ids = {a["leased"], a["gated"], a["task"], a["run"], *before["events"]}

    async with await client_of(api, B) as b:
        for method, path, body in routes_by_id(a):
            answer = await b.request(method, path, json=body)
            assert answer.status_code == 404, f"{method} {path}: {answer.status_code} {answer.text}"
            assert answer.json()["error"]["code"] in FOUND_NOTHING, (method, path, answer.text)
            if method == "GET":  # while A finds it
                assert (await api.get(path)).status_code == 200, path

        # AXP records a decision on an id that names nothing (``intent: null``): on A's ids, B gets
        # exactly that, in B's namespace, and A's intent and task stay open.
        for approval_id in (a["gated"], a["task"]):
            answer = await ok(
                await b.post(f"/v1/approvals/{approval_id}/decision", json={"decision": "approve"})
            )
            assert answer["intent"] is None and answer["approval"]["intent_id"] is None, answer

        lists = [
            "/v1/intents",
            "/v1/tasks",
            "/v1/me/tasks",
            "/v1/inbox",
            "/v1/inbox/changes",
            "/v1/mesh/agents",
            f"/v1/agents/{ADDRESS}/binding",
            f"/v1/agents/{ADDRESS}/intents/stream?wait_seconds=0&status=SUBMITTED,DELIVERED,WAITING",
        ]
        for path in lists:
            answer = await b.get(path)
            assert answer.status_code == 200, f"{path}: {answer.text}"
            assert not [x for x in a_ids if x in answer.text], (
                f"{path} shows namespace A's ids: {answer.text}"
            )
        # The same address has no binding in B: A's is A's.
        assert (await b.get(f"/v1/agents/{ADDRESS}/binding")).json()["binding"]["delivery_mode"] is None

    assert await snapshot(api, a) == before


async def test_b_never_receives_a_work_at_the_same_address(api: AppClient) -> None:
    async with await client_of(api, B) as b:
        # A claim of B waits in this process while A submits: the handoff must not reach it.
        waiting = asyncio.create_task(
            b.post(f"/v1/agents/{ADDRESS}/claims", json={"worker_id": "b-worker", "wait_seconds": 1.0})
        )
        await api.engine.dispatcher.wait_for_waiter(B, WRITER)
        handed = (await ok(await api.post("/v1/intents", json=intent_body(WRITER))))["intent_id"]
        assert (await ok(await waiting))["deliveries"] == []

        # A delivery stream of B is held for the address while A submits: nothing is pushed on it.
        held = asyncio.create_task(
            b.get("/v1/deliveries/stream", params={"agent": WRITER, "worker_id": "b-w"})
        )
        await api.engine.dispatcher.wait_for_waiter(B, WRITER)
        streamed = (await ok(await api.post("/v1/intents", json=intent_body(WRITER))))["intent_id"]
        frames = [name for name, _ in sse_events(await held)]
        assert "delivery" not in frames and frames[0] == "ready", frames

        # Nor does B's claim from the database (nor its feed) find them.
        claimed = await ok(await b.post(f"/v1/agents/{ADDRESS}/claims", json={"worker_id": "b-worker"}))
        assert claimed["deliveries"] == []
        feed = await b.get(f"/v1/agents/{ADDRESS}/intents/stream", params={"wait_seconds": 0})
        assert handed not in feed.text and streamed not in feed.text

    # Both wait for A, untouched.
    mine = await ok(
        await api.post(f"/v1/agents/{ADDRESS}/claims", json={"worker_id": "a-worker", "max_intents": 10})
    )
    assert {d["intent"]["intent_id"] for d in mine["deliveries"]} == {handed, streamed}
    assert {d["intent"]["delivery_attempt"] for d in mine["deliveries"]} == {1}


async def test_b_work_goes_to_b_agents_only(api: AppClient) -> None:
    """The other way round, with a waiting claim of A: B's submission is B's."""
    async with await client_of(api, B) as b:
        waiting = asyncio.create_task(
            api.post(f"/v1/agents/{ADDRESS}/claims", json={"worker_id": "a-worker", "wait_seconds": 1.0})
        )
        await api.engine.dispatcher.wait_for_waiter(API_NAMESPACE, WRITER)
        theirs = (await ok(await b.post("/v1/intents", json=intent_body(WRITER))))["intent_id"]
        assert (await ok(await waiting))["deliveries"] == []
        claimed = await ok(await b.post(f"/v1/agents/{ADDRESS}/claims", json={"worker_id": "b-worker"}))
        assert [d["intent"]["intent_id"] for d in claimed["deliveries"]] == [theirs]


async def test_an_idempotency_key_is_per_namespace(api: AppClient) -> None:
    """The same key in two namespaces makes two intents, each its namespace's, and replays only there."""
    key = {"Idempotency-Key": "order-42"}
    mine = await ok(await api.post("/v1/intents", json=intent_body(WRITER, payload={"n": 1}), headers=key))
    async with await client_of(api, B) as b:
        theirs = await ok(
            await b.post("/v1/intents", json=intent_body(WRITER, payload={"n": 2}), headers=key)
        )
        again = await ok(await b.post("/v1/intents", json=intent_body(WRITER, payload={"n": 2}), headers=key))
    assert theirs["intent_id"] != mine["intent_id"] and again["intent_id"] == theirs["intent_id"]
    assert (await ok(await api.get(f"/v1/intents/{mine['intent_id']}")))["intent"]["payload"] == {"n": 1}


# -- namespaces and the sandbox flag ----------------------------------------------------------------


async def current(client: AppClient) -> JSON:
    namespace: JSON = (await ok(await client.get("/v1/namespaces/current")))["namespace"]
    return namespace


async def test_a_first_key_makes_a_production_namespace(api: AppClient) -> None:
    assert (await current(api))["name"] == API_NAMESPACE
    assert (await current(api))["sandbox"] is False
    async with await client_of(api, "fresh-team") as fresh:
        assert {k: v for k, v in (await current(fresh)).items() if k != "created_at"} == {
            "name": "fresh-team",
            "sandbox": False,
        }
    names = [n.name for n in await api.engine.namespaces.list()]
    assert names == sorted([API_NAMESPACE, "fresh-team"])


async def test_a_sandbox_is_made_explicitly_and_said_so(api: AppClient) -> None:
    created = await api.engine.namespaces.create("staging-tests", sandbox=True)
    assert created.sandbox is True
    async with await client_of(api, "staging-tests") as sandboxed:
        assert (await current(sandboxed))["sandbox"] is True
        # A key made later does not change the flag.
        assert [n.sandbox for n in await api.engine.namespaces.list() if n.name == "staging-tests"] == [True]


async def test_namespace_names_and_duplicates_are_refused_clearly(api: AppClient) -> None:
    from intentd.model import Conflict, ValidationFailed

    for bad in ["", "-leading", "has space", "slash/ed", "x" * 129, "nul\x00"]:
        with pytest.raises(ValidationFailed) as refused:
            await api.engine.namespaces.create(bad)
        assert refused.value.details == {"field": "name"}
    with pytest.raises(Conflict):
        await api.engine.namespaces.create(API_NAMESPACE, sandbox=True)  # a typo never flips a flag
    assert (await current(api))["sandbox"] is False


def test_the_cli_creates_and_lists_namespaces(database_url: str) -> None:
    runner = CliRunner()
    base = ["--database", database_url, "namespaces"]
    made = runner.invoke(cli, [*base, "create", "qa-sandbox", "--sandbox", "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.output)["sandbox"] is True
    assert runner.invoke(cli, [*base, "create", "prod-eu"]).exit_code == 0
    again = runner.invoke(cli, [*base, "create", "prod-eu"])
    assert again.exit_code == 1 and "exists already" in again.output
    listed = runner.invoke(cli, [*base, "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [(n["name"], n["sandbox"]) for n in json.loads(listed.output)] == [
        ("prod-eu", False),
        ("qa-sandbox", True),
    ]
