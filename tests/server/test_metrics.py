"""``/metrics`` on both backends (docs/operations.md, "Metrics"): real work through the API (submits,
claims, completions with usage, a failure retried, leases left to expire, human tasks decided) moves
every figure as it should, each scrape parsed with prometheus_client's own parser; a change rolled back
counts for nothing; a key sees its own namespace's series only, needs the role to read them, may send
itself as a Bearer token as Prometheus does, and ``INTENTD_METRICS_PUBLIC`` serves every namespace
without a key."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from intentd.engine.metrics import series
from intentd.store import agent_key
from tests._support.servers import (
    API_KEY,
    AppClient,
    Servers,
    SubscriptionWatch,
    app_settings,
    build_app,
    serving,
)
from tests._support.workers import until

JSON = dict[str, Any]
DOCS = Path(__file__).resolve().parents[2] / "docs"
WRITER = "agent://acme/prod/writer"
EDITOR = "agent://acme/prod/editor"
REVIEWER = "agent://acme/prod/reviewer"
PURCHASING = "agent://acme/prod/purchasing"


class Scrape:
    """One answer of ``/metrics``, parsed by prometheus_client (so it is valid text format)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: list[Sample] = [s for f in text_string_to_metric_families(text) for s in f.samples]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples called ``name`` whose labels include ``labels`` (0 if none)."""
        return sum(s.value for s in self.samples if s.name == name and labels.items() <= s.labels.items())

    def has(self, name: str, **labels: str) -> bool:
        return any(s.name == name and labels.items() <= s.labels.items() for s in self.samples)

    def series_names(self) -> set[str]:
        """Every series name a query may use, samples or not (a family with none has its HELP)."""
        suffixes = {"histogram": ("_bucket", "_count", "_sum"), "counter": ("_total",)}
        return {
            family.name + suffix
            for family in text_string_to_metric_families(self.text)
            for suffix in suffixes.get(family.type, ("",))
        }

    def namespaces(self) -> set[str]:
        return {s.labels["namespace"] for s in self.samples if "namespace" in s.labels}


async def scrape(client: httpx.AsyncClient, **headers: str) -> Scrape:
    answer = await client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return Scrape(answer.text)


async def submit(api: httpx.AsyncClient, to_agent: str = WRITER, **extra: Any) -> JSON:
    body = {"intent_type": "draft.v1", "correlation_id": "c1", "to_agent": to_agent, "payload": {}, **extra}
    answer = await api.post("/v1/intents", json=body)
    assert answer.status_code == 200, answer.text
    intent: JSON = answer.json()["intent"]
    return intent


async def claim(api: httpx.AsyncClient, agent: str = WRITER, **body: Any) -> list[JSON]:
    path = f"/v1/agents/{agent.removeprefix('agent://')}/claims"
    answer = await api.post(path, json={"worker_id": "w1", "max_intents": 10, **body})
    assert answer.status_code == 200, answer.text
    deliveries: list[JSON] = answer.json()["deliveries"]
    return deliveries


async def act(api: httpx.AsyncClient, delivery: JSON, operation: str, **body: Any) -> httpx.Response:
    intent_id, token = delivery["intent"]["intent_id"], delivery["lease"]["token"]
    return await api.post(f"/v1/intents/{intent_id}/{operation}", json={"lease_token": token, **body})


async def intent_of(api: httpx.AsyncClient, intent_id: str) -> JSON:
    intent: JSON = (await api.get(f"/v1/intents/{intent_id}")).json()["intent"]
    return intent


async def times(api: httpx.AsyncClient, intent_id: str) -> dict[str, float]:
    """When each event type of the intent first happened (seconds, from its event log)."""
    events = (await api.get(f"/v1/intents/{intent_id}/events")).json()["events"]
    first: dict[str, float] = {}
    for event in events:
        first.setdefault(event["event_type"], seconds(event["at"]))
    return first


def seconds(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


# --- what real work moves ------------------------------------------------------------------------------


async def test_handoffs_completions_failures_and_spend_move_their_figures(api: AppClient) -> None:
    ids = [(await submit(api))["intent_id"] for _ in range(3)]
    queued = await scrape(api)
    assert queued.value("intentd_intents", namespace="default", agent=WRITER, status="SUBMITTED") == 3
    assert queued.value("intentd_queue_depth", agent=WRITER) == 3
    assert queued.value("intentd_queue_oldest_age_seconds", agent=WRITER) > 0
    assert queued.value("intentd_database_up") == 1
    assert not queued.has("intentd_handoff_seconds_count")  # nothing leased yet

    first, second, third = await claim(api)
    done = await act(
        api, first, "complete", result={}, usage={"cost_usd": 0.25, "tokens_in": 120, "tokens_out": 40}
    )
    assert done.status_code == 200, done.text
    retried = await act(api, second, "fail", error={"code": "flaky"}, retry=True)
    assert retried.json()["intent"]["status"] == "SUBMITTED", retried.text
    [again] = await claim(api)
    assert (
        await act(api, again, "fail", error={"code": "broken"}, usage={"cost_usd": 0.5})
    ).status_code == 200

    after = await scrape(api)
    writer = {"namespace": "default", "agent": WRITER}
    assert after.value("intentd_handoff_seconds_count", **writer) == 3  # first leases only
    handoffs = [await times(api, i) for i in ids]
    expected = sum(t["intent.delivered"] - t["intent.created"] for t in handoffs)
    assert after.value("intentd_handoff_seconds_sum", **writer) == pytest.approx(expected, abs=1e-4)
    assert after.value("intentd_redeliveries_total", **writer) == 1
    assert after.value("intentd_end_to_end_seconds_count", **writer, status="COMPLETED") == 1
    assert after.value("intentd_end_to_end_seconds_count", **writer, status="FAILED") == 1
    completed = await times(api, first["intent"]["intent_id"])
    assert after.value("intentd_end_to_end_seconds_sum", **writer, status="COMPLETED") == pytest.approx(
        completed["intent.completed"] - completed["intent.created"], abs=1e-4
    )
    assert after.value("intentd_usage_cost_usd_total", **writer) == pytest.approx(0.75)
    assert after.value("intentd_usage_tokens_total", **writer, direction="in") == 120
    assert after.value("intentd_usage_tokens_total", **writer, direction="out") == 40
    assert after.value("intentd_intents", **writer, status="COMPLETED") == 1
    assert after.value("intentd_intents", **writer, status="FAILED") == 1
    assert after.value("intentd_intents", **writer, status="DELIVERED") == 1
    assert after.value("intentd_queue_depth", **writer) == 0
    assert after.value("intentd_queue_oldest_age_seconds", **writer) == 0

    # An AXP agent reports its cost in its heartbeat: it is spend too, as in the Mesh's rollups.
    beat = await api.post(
        "/v1/mesh/heartbeat", params={"owner_agent": WRITER}, json={"metrics": {"cost_usd": 0.5}}
    )
    assert beat.status_code == 200, beat.text
    assert (await scrape(api)).value("intentd_usage_cost_usd_total", **writer) == pytest.approx(1.25)


async def test_expired_leases_are_counted_with_the_scheduler_s_lag(api: AppClient) -> None:
    kept = await submit(api)
    [delivery] = await claim(api, lease_seconds=0.2)

    async def requeued() -> bool:
        return (await intent_of(api, kept["intent_id"]))["status"] == "SUBMITTED"

    await until(requeued, "the scheduler to expire the lease")
    expired = await scrape(api)
    assert expired.value("intentd_lease_expiries_total", agent=WRITER, outcome="requeued") == 1
    assert expired.value("intentd_lease_expiries_total", outcome="failed") == 0
    # The sweep that took the lease fired it this late after the lease's expiry time.
    late = (await times(api, kept["intent_id"]))["intent.lease_expired"] - seconds(
        delivery["lease"]["expires_at"]
    )
    assert expired.value("intentd_scheduler_lag_seconds") == pytest.approx(late, abs=1e-4)
    assert 0 <= late < 30
    swept = expired.value("intentd_scheduler_last_sweep_timestamp_seconds")
    assert swept >= seconds(delivery["lease"]["expires_at"])

    [redelivered] = await claim(api)
    assert redelivered["lease"]["delivery_attempt"] == 2
    last_try = await submit(api, EDITOR, max_delivery_attempts=1)
    await claim(api, EDITOR, lease_seconds=0.2)

    async def failed() -> bool:
        return (await intent_of(api, last_try["intent_id"]))["status"] == "FAILED"

    await until(failed, "the scheduler to fail the intent out of attempts")
    after = await scrape(api)
    assert after.value("intentd_redeliveries_total", agent=WRITER) == 1
    assert after.value("intentd_lease_expiries_total", agent=EDITOR, outcome="failed") == 1
    assert after.value("intentd_end_to_end_seconds_count", agent=EDITOR, status="FAILED") == 1
    assert after.value("intentd_scheduler_last_sweep_timestamp_seconds") >= swept


async def test_human_tasks_are_observed_when_they_close_with_how_long_they_waited(api: AppClient) -> None:
    waits = []
    for outcome in ("approved", "rejected"):
        gated = await submit(api, PURCHASING, human_task={"title": "Approve spend over $1,000"})
        tasks = (await api.get("/v1/tasks", params={"intent_id": gated["intent_id"], "state": "open"})).json()
        [task] = tasks["tasks"]
        decided = await api.post(f"/v1/tasks/{task['task_id']}/decision", json={"outcome": outcome})
        assert decided.status_code == 200, decided.text
        closed = decided.json()["task"]
        waits.append(seconds(closed["decision"]["decided_at"]) - seconds(task["assigned_at"]))

    scraped = await scrape(api)
    labels = {"namespace": "default", "task_type": "approval"}
    assert scraped.value("intentd_human_task_wait_seconds_count", **labels, outcome="approved") == 1
    assert scraped.value("intentd_human_task_wait_seconds_count", **labels, outcome="rejected") == 1
    assert scraped.value("intentd_human_task_wait_seconds_sum", **labels) == pytest.approx(
        sum(waits), abs=1e-4
    )
    # The rejection canceled its gate; the approval let it through to its agent's queue.
    assert scraped.value("intentd_end_to_end_seconds_count", agent=PURCHASING, status="CANCELED") == 1
    assert scraped.value("intentd_queue_depth", agent=PURCHASING) == 1
    [through] = await claim(api, PURCHASING)
    handed = await times(api, through["intent"]["intent_id"])
    after = await scrape(api)  # its handoff counts from when the person let it into the queue
    assert after.value("intentd_handoff_seconds_sum", agent=PURCHASING) == pytest.approx(
        handed["intent.delivered"] - handed["intent.resumed"], abs=1e-4
    )


async def test_a_change_rolled_back_counts_for_nothing(
    api: AppClient, subscriptions: SubscriptionWatch
) -> None:
    # The reviewer may not receive this type: a completion handing work to the editor (leased at once
    # to the editor's waiting claim) and to the reviewer rolls back whole, handoff included.
    policy = {"policy": {"receive": {"deny": ["forbidden.*"]}}}
    assert (await api.put("/v1/mesh/policies/acme/prod/reviewer", json=policy)).status_code == 200
    await submit(api)
    [delivery] = await claim(api)
    then = [
        {"to_agent": EDITOR, "intent_type": "edit.v1", "payload": {}},
        {"to_agent": REVIEWER, "intent_type": "forbidden.v1", "payload": {}},
    ]
    waiting = asyncio.create_task(claim(api, EDITOR, wait_seconds=1))
    await subscriptions.wait_for(agent_key("default", EDITOR))
    refused = await act(api, delivery, "complete", result={}, then=then, usage={"cost_usd": 1.0})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "policy_denied")
    assert await waiting == []

    scraped = await scrape(api)
    assert not scraped.has("intentd_handoff_seconds_count", agent=EDITOR)
    assert scraped.value("intentd_end_to_end_seconds_count") == 0
    assert scraped.value("intentd_usage_cost_usd_total") == 0
    assert scraped.value("intentd_intents", agent=WRITER, status="DELIVERED") == 1

    # The same handoff committed is counted: handed over in the completion's own transaction.
    waiting = asyncio.create_task(claim(api, EDITOR, wait_seconds=5))
    await subscriptions.wait_for(agent_key("default", EDITOR))
    assert (await act(api, delivery, "complete", result={}, then=then[:1])).status_code == 200
    assert len(await waiting) == 1
    committed = await scrape(api)
    assert committed.value("intentd_handoff_seconds_count", agent=EDITOR) == 1
    assert committed.value("intentd_handoff_seconds_sum", agent=EDITOR) == 0  # no time in a queue
    assert committed.value("intentd_end_to_end_seconds_count", agent=WRITER, status="COMPLETED") == 1


async def test_labels_past_the_limit_share_one_series(
    api: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(series, "MAX_SERIES", 2)
    for n in range(4):
        await submit(api, f"agent://acme/prod/a{n}")
        await claim(api, f"agent://acme/prod/a{n}")

    scraped = await scrape(api)
    assert scraped.value("intentd_handoff_seconds_count", agent="agent://acme/prod/a0") == 1
    assert scraped.value("intentd_handoff_seconds_count", agent="agent://acme/prod/a1") == 1
    assert scraped.value("intentd_handoff_seconds_count", namespace="default", agent="other") == 2
    # The database's figures are read afresh at each scrape: every agent there keeps its own.
    assert scraped.value("intentd_intents", agent="agent://acme/prod/a3", status="DELIVERED") == 1


# --- who may scrape ------------------------------------------------------------------------------------


async def test_a_scrape_needs_a_key_that_may_read_the_fleet(api: AppClient) -> None:
    async with AppClient(api.app, api_key=None) as anonymous:
        missing = await anonymous.get("/metrics")
        assert (missing.status_code, missing.json()["error"]["code"]) == (401, "missing_api_key")
        wrong = await anonymous.get("/metrics", headers={"authorization": "Bearer itd_not_a_key"})
        assert wrong.status_code == 401
        for role in ("submitter", "agent", "approver"):
            _, secret = await api.engine.keys.create(
                f"{role}-key", role, agents=(WRITER,) if role == "agent" else ()
            )
            refused = await anonymous.get("/metrics", headers={"authorization": f"Bearer {secret}"})
            assert (refused.status_code, refused.json()["error"]["code"]) == (403, "role_not_allowed"), role
        _, auditor = await api.engine.keys.create("prometheus", "auditor")
        scraped = await scrape(anonymous, authorization=f"Bearer {auditor}")  # as Prometheus sends it
        assert scraped.has("intentd_build_info")


async def test_a_key_sees_its_own_namespace_and_the_process_s_figures(api: AppClient) -> None:
    _, team_b = await api.engine.keys.create("b-submitter", "submitter", "team-b")
    _, team_b_auditor = await api.engine.keys.create("b-auditor", "auditor", "team-b")
    async with AppClient(api.app, api_key=team_b) as b:
        await submit(b, REVIEWER)
        await claim_as_admin_of(api, "team-b")
    await submit(api, WRITER)

    default = await scrape(api)
    assert default.namespaces() == {"default"}
    assert not default.has("intentd_intents", agent=REVIEWER)
    async with AppClient(api.app, api_key=team_b_auditor) as b_auditor:
        seen_by_b = await scrape(b_auditor)
    assert seen_by_b.namespaces() == {"team-b"}
    assert seen_by_b.value("intentd_intents", agent=REVIEWER) == 1
    assert seen_by_b.value("intentd_handoff_seconds_count", agent=REVIEWER) == 1
    assert WRITER not in seen_by_b.text
    for process_wide in (
        "intentd_build_info",
        "intentd_database_up",
        "intentd_scheduler_last_sweep_timestamp_seconds",
    ):
        assert default.has(process_wide) and seen_by_b.has(process_wide), process_wide


async def claim_as_admin_of(api: AppClient, namespace: str) -> None:
    _, admin = await api.engine.keys.create(f"{namespace}-admin", "admin", namespace)
    async with AppClient(api.app, api_key=admin) as client:
        assert len(await claim(client, REVIEWER)) == 1


async def test_public_metrics_need_no_key_and_show_every_namespace(database_url: str) -> None:
    async with serving(build_app(app_settings(database_url, metrics_public=True))) as api:
        _, team_b = await api.engine.keys.create("b-submitter", "submitter", "team-b")
        await submit(api, WRITER)
        async with AppClient(api.app, api_key=team_b) as b:
            await submit(b, REVIEWER)
        async with AppClient(api.app, api_key=None) as anonymous:
            scraped = await scrape(anonymous)
    assert scraped.namespaces() == {"default", "team-b"}
    assert scraped.value("intentd_queue_depth", namespace="team-b", agent=REVIEWER) == 1


async def test_a_served_process_answers_prometheus_s_scrape(database_url: str, tmp_path: Path) -> None:
    with Servers(tmp_path) as started:
        server = started.start(database_url)
        async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": API_KEY}) as client:
            await submit(client)
            [delivery] = await claim(client)
            assert (await act(client, delivery, "complete", result={})).status_code == 200
            scraped = await scrape(client, authorization=f"Bearer {API_KEY}")
    database = "postgres" if database_url.startswith("postgresql") else "sqlite"
    assert scraped.value("intentd_build_info", database=database) == 1
    assert scraped.value("intentd_end_to_end_seconds_count", agent=WRITER, status="COMPLETED") == 1
    assert scraped.value("intentd_intents", agent=WRITER, status="COMPLETED") == 1
    assert scraped.has("process_resident_memory_bytes")


async def test_the_documents_name_what_is_served(api: AppClient) -> None:
    """Every series the Grafana dashboard queries is served, and every family served is on the
    dashboard and in docs/operations.md."""

    async def swept() -> bool:
        return api.engine.scheduler.last_sweep_at is not None

    await until(swept, "the scheduler's first sweep")
    served = (await scrape(api)).series_names()
    dashboard = json.loads((DOCS / "grafana" / "intentd.json").read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    queried = {name for expr in queries for name in re.findall(r"\bintentd_[a-z_]+", expr)}
    assert queried - served == set(), "the dashboard queries series that /metrics does not serve"

    def family(name: str) -> str:
        return re.sub(r"_(bucket|count|sum|total)$", "", name)

    ours = {family(name) for name in served if name.startswith("intentd_")}
    assert ours - {family(name) for name in queried} == set(), "families missing from the dashboard"
    documented = re.findall(r"`(intentd_[a-z_]+)`", (DOCS / "operations.md").read_text())
    assert ours - {family(name) for name in documented} == set(), "families missing from docs/operations.md"
