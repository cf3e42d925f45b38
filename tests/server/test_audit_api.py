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
