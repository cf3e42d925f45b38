"""The Mesh over HTTP on both backends (docs/mesh.md): heartbeats with metrics and metadata, the fleet
with health, workers and open work, the kill switch (per agent, per version, per namespace) with its
choices, resume, the kill switches in force and the mesh events; bad kills refused with their field."""

from __future__ import annotations

from typing import Any

from tests._support.servers import AppClient

WRITER = "agent://acme/prod/writer"
V1, V2 = f"{WRITER}@v1", f"{WRITER}@v2"
EDITOR = "agent://acme/prod/editor"


async def _submit(api: AppClient, to_agent: str, **extra: Any) -> Any:
    body = {"intent_type": "draft.v1", "correlation_id": "c1", "to_agent": to_agent, "payload": {}, **extra}
    return await api.post("/v1/intents", json=body)


async def _claim(api: AppClient, agent: str, worker: str = "w1") -> list[dict[str, Any]]:
    path = f"/v1/agents/{agent.removeprefix('agent://')}/claims"
    answer = await api.post(path, json={"worker_id": worker, "max_intents": 10, "wait_seconds": 0})
    assert answer.status_code == 200, answer.text
    deliveries: list[dict[str, Any]] = answer.json()["deliveries"]
    return deliveries


async def test_a_heartbeat_registers_the_agent_with_its_metrics_and_metadata(api: AppClient) -> None:
    beat = await api.post(
        "/v1/mesh/heartbeat",
        params={"owner_agent": WRITER},
        json={"metrics": {"intents_total": 2, "cost_usd": 0.5}, "metadata": {"framework": "langgraph"}},
    )
    assert beat.status_code == 200 and beat.json()["health_status"] == "healthy"

    listed = (await api.get("/v1/mesh/agents")).json()
    (writer,) = [a for a in listed["agents"] if a["address"] == WRITER]
    assert writer["metadata"] == {"framework": "langgraph"} and writer["cost_period"] == 0.5
    assert writer["health_status"] == "healthy" and writer["kill"] is None
    assert listed["summary"]["healthy"] >= 1 and listed["summary"]["killed"] == 0


async def test_the_fleet_shows_workers_open_work_and_stuck_intents(api: AppClient) -> None:
    for _ in range(3):
        assert (await _submit(api, WRITER)).status_code == 200
    [leased] = (
        await api.post(
            f"/v1/agents/{WRITER.removeprefix('agent://')}/claims",
            json={"worker_id": "w-7", "max_intents": 1, "wait_seconds": 0},
        )
    ).json()["deliveries"]

    agent = (await api.get("/v1/mesh/agents/acme/prod/writer")).json()["agent"]

    assert [w["worker_id"] for w in agent["workers"]] == ["w-7"] and agent["workers"][0]["via"] == "claim"
    assert agent["binding"] is None
    await api.put("/v1/agents/acme/prod/writer/binding", json={"delivery_mode": "stream"})
    assert (await api.get("/v1/mesh/agents/acme/prod/writer")).json()["agent"]["binding"] == "stream"
    assert agent["open_work"] == {"SUBMITTED": 2, "DELIVERED": 1} and agent["in_flight"] == 1
    assert agent["health_status"] == "healthy"  # a worker claiming for it is a sign of life
    assert len(agent["oldest_open"]) == 3
    assert {i["intent_id"] for i in agent["oldest_open"]} >= {leased["intent"]["intent_id"]}
    missing = await api.get("/v1/mesh/agents/acme/prod/nobody")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "agent_not_found"


async def test_kill_without_a_body_refuses_new_work_and_holds_what_it_had(api: AppClient) -> None:
    await _submit(api, WRITER)
    [leased] = await _claim(api, WRITER)

    killed = await api.post("/v1/mesh/agents/acme/prod/writer/kill")

    assert killed.status_code == 200, killed.text
    body = killed.json()
    assert body["status"] == "killed" and body["kill"]["target"] == WRITER
    assert (body["kill"]["new_work"], body["kill"]["in_flight"]) == ("refuse", "hold")
    assert body["swept"] == {"canceled": 0, "held": 1, "reassigned": 0}
    refused = await _submit(api, WRITER)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "agent_killed" and error["details"]["field"] == "to_agent"
    intent_id, token = leased["intent"]["intent_id"], leased["lease"]["token"]
    done = await api.post(f"/v1/intents/{intent_id}/complete", json={"lease_token": token})
    assert done.status_code == 409  # its lease was revoked
    beat = await api.post("/v1/mesh/heartbeat", params={"owner_agent": WRITER})
    assert beat.json()["health_status"] == "killed"
    listed = (await api.get("/v1/mesh/agents", params={"health": "killed"})).json()
    assert [a["address"] for a in listed["agents"]] == [WRITER] and listed["summary"]["killed"] == 1
    assert [k["target"] for k in (await api.get("/v1/mesh/kills")).json()["kills"]] == [WRITER]

    resumed = await api.post("/v1/mesh/agents/acme/prod/writer/resume")
    assert resumed.json() == {
        "ok": True,
        "status": "active",
        "target": WRITER,
        "was_killed": True,
        "killed_by": None,
    }
    assert (await _submit(api, WRITER)).status_code == 200
    assert len(await _claim(api, WRITER)) == 2  # the held one and the new one
    events = (await api.get("/v1/mesh/events", params={"limit": 2})).json()["events"]
    assert [e["event_type"] for e in events] == ["agent.resumed", "agent.killed"]
    assert events[1]["address"] == WRITER and events[1]["details"]["in_flight"] == "hold"


async def test_kill_one_version_and_reassign_its_work_to_the_next(api: AppClient) -> None:
    await _submit(api, V1)
    await _claim(api, V1)
    await _submit(api, V1)

    killed = await api.post(
        "/v1/mesh/agents/acme/prod/writer@v1/kill",
        json={"in_flight": "reassign", "reassign_to": "acme/prod/writer@v2", "reason": "bad prompt"},
    )

    assert killed.status_code == 200, killed.text
    assert killed.json()["swept"]["reassigned"] == 2
    assert len(await _claim(api, V2)) == 2
    assert (await _submit(api, V2)).status_code == 200  # only v1 is killed
    assert (await _submit(api, V1)).status_code == 403


async def test_a_namespace_kill_stops_every_agent(api: AppClient) -> None:
    killed = await api.post("/v1/mesh/kill", json={"new_work": "hold", "in_flight": "cancel"})
    assert killed.json()["kill"]["target"] == "*"

    held = await _submit(api, EDITOR)
    assert held.status_code == 200 and await _claim(api, EDITOR) == []
    still = await api.post("/v1/mesh/agents/acme/prod/editor/resume")
    assert still.json()["status"] == "killed" and still.json()["killed_by"]["target"] == "*"
    await api.post("/v1/mesh/resume")
    assert len(await _claim(api, EDITOR)) == 1


async def test_bad_kills_are_refused_with_their_field(api: AppClient) -> None:
    cases = [
        ({"in_flight": "maybe"}, "in_flight"),
        ({"new_work": "queue"}, "new_work"),
        ({"in_flight": "reassign"}, "reassign_to"),
        ({"in_flight": "reassign", "reassign_to": "acme/prod/writer@v9"}, "reassign_to"),  # killed too
        ({"reassign_to": "not an address"}, "reassign_to"),
        ({"surprise": 1}, "surprise"),
    ]
    for body, field in cases:
        answer = await api.post("/v1/mesh/agents/acme/prod/writer/kill", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert field in answer.text, (body, answer.text)
    assert (await api.get("/v1/mesh/kills")).json()["kills"] == []
    assert (await api.post("/v1/mesh/agents/not a/kill")).status_code == 422


async def test_a_route_sends_new_work_to_v2_while_v1_drains(api: AppClient) -> None:
    await api.put("/v1/mesh/routes/acme/prod/writer", json={"weights": {"v1": 1}})
    old = (await _submit(api, WRITER)).json()
    assert old["intent"]["to_agent"] == V1  # pinned to v1 when queued

    routed = await api.put("/v1/mesh/routes/acme/prod/writer", json={"weights": {"v1": 0, "v2": 100}})

    assert routed.status_code == 200, routed.text
    new = (await _submit(api, WRITER)).json()
    assert new["intent"]["to_agent"] == V2
    state = (await api.get("/v1/mesh/routes/acme/prod/writer")).json()
    assert [(v["version"], v["open"], v["drained"]) for v in state["versions"]] == [
        ("v1", 1, False),
        ("v2", 1, False),
    ]
    [leased] = await _claim(api, V1)
    intent_id, token = leased["intent"]["intent_id"], leased["lease"]["token"]
    await api.post(f"/v1/intents/{intent_id}/complete", json={"lease_token": token})
    drained = (await api.get("/v1/mesh/routes/acme/prod/writer")).json()["versions"][0]
    assert drained == {"version": "v1", "address": V1, "weight": 0, "share": 0.0, "open": 0, "drained": True}
    assert [r["address"] for r in (await api.get("/v1/mesh/routes")).json()["routes"]] == [WRITER]

    rolled_back = await api.put("/v1/mesh/routes/acme/prod/writer", json={"weights": {"v1": 1, "v2": 0}})
    assert rolled_back.json()["route"]["weights"] == {"v1": 1, "v2": 0}
    removed = await api.delete("/v1/mesh/routes/acme/prod/writer")
    assert removed.json() == {"ok": True, "address": WRITER, "removed": True}
    assert (await _submit(api, WRITER)).json()["intent"]["to_agent"] == WRITER
    events = (await api.get("/v1/mesh/events", params={"limit": 3})).json()["events"]
    assert [e["event_type"] for e in events] == ["agent.route_removed", "agent.routed", "agent.routed"]


async def test_drain_and_bad_routes(api: AppClient) -> None:
    await api.put("/v1/mesh/routes/acme/prod/writer", json={"weights": {"v1": 5, "v2": 5}})
    drained = await api.post("/v1/mesh/agents/acme/prod/writer@v1/drain")
    assert drained.status_code == 200 and drained.json()["route"]["weights"] == {"v1": 0, "v2": 5}
    cases = [
        ("/v1/mesh/routes/acme/prod/writer", {"weights": {}}, "weights"),
        ("/v1/mesh/routes/acme/prod/writer", {"weights": {"v1": 0}}, "weights"),
        ("/v1/mesh/routes/acme/prod/writer", {"weights": {"v1": "5"}}, "v1"),
        ("/v1/mesh/routes/acme/prod/writer", {"weights": {"v@1": 5}}, "weights"),
        ("/v1/mesh/routes/acme/prod/writer", {"weights": {"v1": 10_001}}, "v1"),
        ("/v1/mesh/routes/acme/prod/writer@v1", {"weights": {"v2": 1}}, "address"),
    ]
    for path, body, field in cases:
        answer = await api.put(path, json=body)
        assert answer.status_code == 422 and field in answer.text, (body, answer.text)
    no_version = await api.post("/v1/mesh/agents/acme/prod/writer/drain")
    assert no_version.status_code == 422


async def test_policies_over_http(api: AppClient) -> None:
    put = await api.put(
        "/v1/mesh/policies/acme/prod/writer",
        json={
            "policy": {"max_intents_per_hour": 1, "receive": {"deny": ["secret.*"]}},
            "expected_generation": 0,
        },
    )
    assert put.status_code == 200, put.text
    assert put.json()["policy"]["generation"] == 1 and put.json()["policy"]["scope"] == WRITER
    await api.put("/v1/mesh/policies/*", json={"policy": {"max_cost_per_day_usd": 50}})

    assert (await _submit(api, WRITER)).status_code == 200
    limited = await _submit(api, WRITER)
    assert limited.status_code == 429
    error = limited.json()["error"]
    assert error["code"] == "policy_limit_reached" and error["details"]["rule"] == "max_intents_per_hour"
    denied = await _submit(api, EDITOR, intent_type="secret.plan")  # EDITOR: no type rule, allowed
    assert denied.status_code == 200
    refused = await _submit(api, V2, intent_type="secret.plan")  # a version of WRITER: its rules apply
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "policy_denied"

    effective = (await api.get("/v1/mesh/agents/acme/prod/writer/policy")).json()
    rules = {r["rule"]: r for r in effective["rules"]}
    assert rules["max_intents_per_hour"]["used"] == 1 and rules["max_intents_per_hour"]["scope"] == WRITER
    assert rules["max_cost_per_day_usd"]["scope"] == "*" and effective["on_breach"] == "block"
    stale = await api.put("/v1/mesh/policies/acme/prod/writer", json={"policy": {}, "expected_generation": 0})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_mesh_policy"
    listed = (await api.get("/v1/mesh/policies")).json()["policies"]
    assert sorted(p["scope"] for p in listed) == ["*", WRITER]
    removed = await api.delete("/v1/mesh/policies/acme/prod/writer")
    assert removed.json() == {"ok": True, "scope": WRITER, "removed": True}
    assert (await _submit(api, WRITER)).status_code == 200


async def test_bad_policies_are_refused_with_their_field(api: AppClient) -> None:
    cases = [
        ({"policy": {"max_concurrency": -1}}, "max_concurrency"),
        ({"policy": {"max_concurrency": 1.5}}, "max_concurrency"),
        ({"policy": {"max_cost_per_day_usd": "5"}}, "max_cost_per_day_usd"),
        ({"policy": {"on_breach": "explode"}}, "on_breach"),
        ({"policy": {"tools": {"allow": "search"}}}, "allow"),
        ({"policy": {"receive": {"maybe": []}}}, "maybe"),
        ({"policy": {"surprise": 1}}, "surprise"),
        ({}, "policy"),
    ]
    for body, field in cases:
        answer = await api.put("/v1/mesh/policies/acme/prod/writer", json=body)
        assert answer.status_code == 422 and field in answer.text, (body, answer.text)
    assert (await api.put("/v1/mesh/policies/not an address", json={"policy": {}})).status_code == 422


async def test_a_dry_run_reports_without_enforcing(api: AppClient) -> None:
    synthetic = [{"to_agent": WRITER, "intent_type": "draft.v1", "cost_usd": 2.0} for _ in range(4)]
    answer = await api.post(
        "/v1/mesh/dry-run",
        json={"scope": "acme/prod/writer", "policy": {"max_cost_per_day_usd": 5}, "intents": synthetic},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["allowed"], report["blocked"], report["saved_usd"]) == (3, 1, 2.0)
    assert report["decisions"][0]["rule"] == "max_cost_per_day_usd" and report["scope"] == WRITER
    assert (await api.get("/v1/mesh/policies")).json()["policies"] == []
    recorded = await api.post("/v1/mesh/dry-run", json={"scope": "*", "policy": {"receive": {"deny": ["*"]}}})
    assert recorded.status_code == 200 and recorded.json()["evaluated"] == 0
    bad = await api.post("/v1/mesh/dry-run", json={"scope": "*", "policy": {}, "since": 5})
    assert bad.status_code == 422 and "since" in bad.text


async def test_synthetic_intents_are_refused_outside_a_sandbox(api: AppClient) -> None:
    refused = await _submit(api, WRITER, synthetic=True)
    assert refused.status_code == 422 and refused.json()["error"]["details"]["field"] == "synthetic"
    assert (await _submit(api, WRITER, synthetic="yes")).status_code == 422  # strict: true or false
    real = (await _submit(api, WRITER)).json()["intent"]
    assert real["synthetic"] is False
