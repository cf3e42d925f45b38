"""The audit trail over HTTP (docs/audit.md): the caller's namespace's records with the key that did
each, filters and paging, the chain's verification, and pruning by an admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests._support.servers import API_KEY, AppClient

AGENT = "agent://acme/prod/writer"


async def _done(api: AppClient, n: int) -> str:
    created = await api.post(
        "/v1/intents",
        json={"intent_type": "x.v1", "correlation_id": f"c{n}", "to_agent": AGENT, "payload": {"n": n}},
    )
    intent_id: str = created.json()["intent"]["intent_id"]
    claim = (await api.post(f"/v1/agents/{AGENT}/claims", json={"wait_seconds": 0})).json()
    token = claim["deliveries"][0]["lease"]["token"]
    await api.post(f"/v1/intents/{intent_id}/complete", json={"lease_token": token, "result": {"n": n}})
    return intent_id


async def test_records_name_the_key_that_did_each_change(api: AppClient) -> None:
    intent_id = await _done(api, 1)
    me = await api.engine.keys.authenticate(API_KEY)

    page = (await api.get("/v1/audit", params={"intent_id": intent_id})).json()

    assert [r["action"] for r in page["records"]] == [
        "intent.created",
        "intent.submitted",
        "intent.delivered",
        "intent.completed",
    ]
    assert {r["key_id"] for r in page["records"]} == {me.key_id}
    assert page["next_after"] is None


async def test_pages_follow_the_chain(api: AppClient) -> None:
    for n in range(3):
        await _done(api, n)

    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        page = (await api.get("/v1/audit", params={"after": after, "limit": 5})).json()
        seen += page["records"]
        if page["next_after"] is None:
            break
        after = page["next_after"]

    assert [r["seq"] for r in seen] == list(range(1, len(seen) + 1))
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(seen, seen[1:], strict=False))


async def test_verify_and_prune(api: AppClient) -> None:
    await _done(api, 1)

    verified = (await api.get("/v1/audit/verify")).json()
    pruned = await api.post("/v1/audit/prune", json={"before": datetime.now(UTC).isoformat()})
    after = (await api.get("/v1/audit/verify")).json()
    records = (await api.get("/v1/audit")).json()["records"]
    future = await api.post(
        "/v1/audit/prune", json={"before": (datetime.now(UTC) + timedelta(days=1)).isoformat()}
    )

    assert verified["valid"] is True and verified["records"] == verified["head_seq"] >= 4
    assert pruned.json()["pruned"] == verified["records"]
    assert after["valid"] is True
    assert all(r["details"] is None for r in records)
    assert future.status_code == 422 and future.json()["error"]["details"]["field"] == "before"


async def test_another_namespace_has_its_own_chain(api: AppClient) -> None:
    await _done(api, 1)
    _, secret = await api.engine.keys.create("auditor-b", "auditor", namespace="team-b")
    async with AppClient(api.app, api_key=secret) as other:
        theirs = (await other.get("/v1/audit")).json()["records"]
        verdict = (await other.get("/v1/audit/verify")).json()

    assert [r["action"] for r in theirs] == ["key.created"]
    assert verdict["namespace"] == "team-b" and verdict["valid"] is True


async def test_each_filter_takes_exactly_the_records_it_names(api: AppClient) -> None:
    first = await _done(api, 1)
    between = datetime.now(UTC)
    second = await _done(api, 2)
    _, secret = await api.engine.keys.create("ops", "submitter")
    async with AppClient(api.app, api_key=secret) as ops:
        third = (
            await ops.post(
                "/v1/intents",
                json={"intent_type": "x.v1", "correlation_id": "c1", "to_agent": AGENT, "payload": {}},
            )
        ).json()["intent"]["intent_id"]
    records = (await api.get("/v1/audit", params={"limit": 500})).json()["records"]
    at = {r["seq"]: datetime.fromisoformat(r["at"].replace("Z", "+00:00")) for r in records}
    me = await api.engine.keys.authenticate(API_KEY)

    cases: list[tuple[dict[str, str], Any]] = [
        ({"intent_id": second}, lambda r: r["intent_id"] == second),
        ({"correlation_id": "c1"}, lambda r: r["intent_id"] in (first, third)),
        ({"action": "intent.completed"}, lambda r: r["action"] == "intent.completed"),
        ({"agent": AGENT}, lambda r: r["agent"] == AGENT),
        ({"actor": "ops"}, lambda r: r["principal"] == "ops"),
        ({"actor": me.key_id}, lambda r: r["key_id"] == me.key_id),
        ({"since": between.isoformat()}, lambda r: at[r["seq"]] >= between),
        ({"until": between.isoformat()}, lambda r: at[r["seq"]] < between),
        ({"correlation_id": "c1", "actor": "ops"}, lambda r: r["intent_id"] == third),
    ]
    for params, wanted in cases:
        found = (await api.get("/v1/audit", params={**params, "limit": 500})).json()["records"]
        expected = [r for r in records if wanted(r)]
        assert found == expected, params
        assert 0 < len(found) < len(records), params  # each case tells records apart


async def test_a_bad_filter_is_refused_with_its_field(api: AppClient) -> None:
    for params, field in [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01T00:00:00Z"}, "until"),
        ({"until": "0.5"}, "until"),  # a number is no time, though lax parsing would read seconds
        ({"since": "1700000000"}, "since"),
        ({"since": "2026-01-01T00:00:00"}, "since"),  # no zone
        ({"actor": ""}, "actor"),
        ({"correlation_id": "x" * 401}, "correlation_id"),
    ]:
        refused = await api.get("/v1/audit", params=params)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["details"]["field"] == field
