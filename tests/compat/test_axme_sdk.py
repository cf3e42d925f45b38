"""The official ``axme`` SDK (PyPI 0.2.0), unmodified, against a real ``intentd serve`` process on both
backends: every call issue 3 lists, an agent written the AXME way finishing work submitted through
intentd's own API, and the reverse. The table of calls and the choices behind them are in
docs/axp-compat.md.

The SDK is synchronous and its ``listen``/``observe`` loop until a ``timeout_seconds``; agents and
observers run in threads with those timeouts, so a regression fails the test instead of hanging it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from axme import AxmeClient, AxmeClientConfig, AxmeHttpError, AxmeValidationError

from intentd.client import Client, Status
from intentd.engine import Engine, Principal, SubmitIntent
from intentd.worker import Worker
from tests._support.databases import BACKENDS
from tests._support.engine import FakeClock
from tests._support.servers import Server, module_server

pytestmark = pytest.mark.slow
TERMINAL = {"COMPLETED", "FAILED", "CANCELED", "TIMED_OUT"}
Json = dict[str, Any]


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One live server per backend for the module (a start costs seconds on a busy machine);
    tests stay apart by using their own agent addresses. Stopped before its database is dropped."""
    workdir = tmp_path_factory.mktemp(f"compat-{request.param}")
    with module_server(request, workdir, prefix="intentd_compat") as started:
        yield started


@dataclass(frozen=True)
class Agents:
    writer: str  # does the work
    boss: str  # asks for it, with reply_to = boss


@pytest.fixture
def agents() -> Agents:
    """Addresses of this test alone (the server is shared by the module)."""
    team = f"agent://acme/t{uuid.uuid4().hex[:10]}"
    return Agents(f"{team}/writer", f"{team}/boss")


@pytest.fixture
def connect(server: Server) -> Iterator[Callable[..., AxmeClient]]:
    """Official SDK clients configured as its docs say: a base URL and an API key, nothing else
    (``http_client`` only where a test counts the requests the SDK makes)."""
    opened: list[AxmeClient] = []

    def new_client(**options: Any) -> AxmeClient:
        assert server.api_key is not None
        config = AxmeClientConfig(base_url=server.url, api_key=server.api_key)
        opened.append(AxmeClient(config, **options))
        return opened[-1]

    yield new_client
    for client in opened:
        client.close()


@pytest.fixture
def axme(connect: Callable[..., AxmeClient]) -> AxmeClient:
    return connect()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    """intentd's own HTTP API, as any non-AXME client uses it."""
    with server.client() as client:
        yield client


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def intent(to_agent: str, **extra: Any) -> Json:
    return {
        "intent_type": "intent.article.draft.v1",
        "to_agent": to_agent,
        "payload": {"topic": "durable agents"},
        **extra,
    }


def create(axme: AxmeClient, body: Json) -> str:
    created = axme.create_intent(body, correlation_id=str(uuid.uuid4()))
    return str(created["intent_id"])


def axme_agent(client: AxmeClient, address: str) -> str:
    """An agent written the AXME way: ``listen`` → ``get_intent`` → ``resume_intent`` with the
    result. Returns the id of the intent it completed."""
    for delivery in client.listen(address, wait_seconds=2, timeout_seconds=30):
        current = client.get_intent(delivery["intent_id"])["intent"]
        if current["status"] in TERMINAL:
            continue
        draft = f"A draft about {current['payload']['topic']}."
        client.resume_intent(
            current["intent_id"], {"action": "complete", "draft": draft}, owner_agent=address
        )
        return str(current["intent_id"])
    raise AssertionError("listen ended without a delivery")


def claim(http: httpx.Client, address: str, wait_seconds: float = 10) -> Json:
    """One delivery for ``address`` through intentd's lease API (long-polls)."""
    response = http.post(
        f"/v1/agents/{address.removeprefix('agent://')}/claims",
        json={"worker_id": "lease-worker", "wait_seconds": wait_seconds},
    )
    (delivery,) = response.raise_for_status().json()["deliveries"]
    return dict(delivery)


def park_for_human(http: httpx.Client, address: str, intent_id: str) -> None:
    """An intentd worker takes the intent and parks it in WAITING for a human decision."""
    delivery = claim(http, address)
    assert delivery["intent"]["intent_id"] == intent_id
    http.post(
        f"/v1/intents/{intent_id}/wait",
        json={
            "lease_token": delivery["lease"]["token"],
            "reason": "WAITING_FOR_HUMAN",
        },
    ).raise_for_status()


def test_health_and_capabilities(axme: AxmeClient) -> None:
    assert axme.health()["ok"] is True
    capabilities = axme.get_capabilities()
    assert capabilities["ok"] is True
    assert len(capabilities["capabilities"]) >= 3
    assert all(t.startswith("intent.") and t.endswith(".v1") for t in capabilities["supported_intent_types"])


def test_create_get_and_list_events_with_an_exclusive_cursor(axme: AxmeClient, agents: Agents) -> None:
    intent_id = create(axme, intent(agents.writer))

    got = axme.get_intent(intent_id)["intent"]
    assert (got["intent_id"], got["status"], got["lifecycle_status"]) == (intent_id, "SUBMITTED", "SUBMITTED")
    assert (got["to_agent"], got["payload"]) == (agents.writer, {"topic": "durable agents"})
    events = axme.list_intent_events(intent_id)["events"]
    assert [(e["seq"], e["event_type"]) for e in events] == [(1, "intent.created"), (2, "intent.submitted")]
    assert [e["seq"] for e in axme.list_intent_events(intent_id, since=1)["events"]] == [2]
    assert axme.list_intent_events(intent_id, since=2)["events"] == []


def test_create_with_an_idempotency_key_is_deduplicated(axme: AxmeClient, agents: Agents) -> None:
    key, correlation = f"order-{uuid.uuid4().hex}", str(uuid.uuid4())
    first = axme.create_intent(intent(agents.writer), correlation_id=correlation, idempotency_key=key)
    again = axme.create_intent(intent(agents.writer), correlation_id=correlation, idempotency_key=key)
    assert again["intent_id"] == first["intent_id"]

    with pytest.raises(AxmeValidationError) as conflict:
        axme.create_intent(
            intent(agents.writer, payload={"topic": "other"}), correlation_id=correlation, idempotency_key=key
        )
    assert conflict.value.status_code == 409
    assert conflict.value.body["error"]["code"] == "idempotency_key_reused"


def test_controls_and_policy_are_compare_and_set(axme: AxmeClient, agents: Agents) -> None:
    intent_id = create(axme, intent(agents.writer))

    controls = axme.update_intent_controls(
        intent_id, {"controls_patch": {"timeout_seconds": 60}, "expected_policy_generation": 0}
    )
    assert (controls["applied"], controls["policy_generation"]) == (True, 1)
    grants = {f"delegate:{agents.boss}": {"allow": ["resume"]}}
    policy = axme.update_intent_policy(
        intent_id,
        {"grants_patch": grants, "envelope_patch": {"max_retry_count": 3}, "expected_policy_generation": 1},
    )
    assert policy["policy_generation"] == 2
    with pytest.raises(AxmeValidationError) as stale:
        axme.update_intent_controls(
            intent_id, {"controls_patch": {"timeout_seconds": 5}, "expected_policy_generation": 1}
        )
    assert stale.value.status_code == 409

    wcp = axme.get_intent(intent_id)["intent"]["workflow_control_policy"]
    assert (wcp["controls"]["timeout_seconds"], wcp["grants"]) == (60, grants)
    assert (wcp["envelope"], wcp["policy_generation"]) == ({"max_retry_count": 3}, 2)


def test_resolve_is_final_and_wait_for_returns_the_terminal_event(axme: AxmeClient, agents: Agents) -> None:
    intent_id = create(axme, intent(agents.writer))

    resolved = axme.resolve_intent(intent_id, {"status": "COMPLETED", "result": {"n": 1}})
    assert resolved["intent"]["status"] == "COMPLETED"
    assert resolved["event"]["event_type"] == "intent.completed"
    with pytest.raises(AxmeValidationError) as again:
        axme.resolve_intent(intent_id, {"status": "CANCELED", "reason": "too late"})
    assert again.value.status_code == 409

    final = axme.wait_for(intent_id, wait_seconds=2, timeout_seconds=20)
    assert (final["event_type"], final["details"]["result"]) == ("intent.completed", {"n": 1})


def test_an_axme_agent_completes_work_submitted_through_intentd(
    connect: Callable[..., AxmeClient], server: Server, agents: Agents, pool: ThreadPoolExecutor
) -> None:
    agent: Future[str] = pool.submit(axme_agent, connect(), agents.writer)

    with Client(server.url, server.api_key) as sdk:  # intentd's own SDK submits the work
        submitted = sdk.submit(
            agents.writer,
            "intent.article.draft.v1",
            {"topic": "durable agents"},
            reply_to=agents.boss,
            correlation_id="c-1",
        )
        assert agent.result(timeout=60) == submitted.intent_id
        done = sdk.wait_for(submitted.intent_id, timeout=30)
    assert done.status is Status.COMPLETED
    assert done.result == {"draft": "A draft about durable agents."}
    # The requester's reply_to address finds the outcome in its inbox.
    (thread,) = connect().list_inbox(owner_agent=agents.boss)["threads"]
    assert (thread["thread_id"], thread["status"]) == (submitted.intent_id, "done")
    assert thread["timeline"][-1]["event_type"] == "intent_completion_delivered"
    assert thread["timeline"][-1]["details"]["result"] == done.result


def test_an_intentd_worker_completes_work_created_with_axme(
    axme: AxmeClient,
    connect: Callable[..., AxmeClient],
    server: Server,
    agents: Agents,
    pool: ThreadPoolExecutor,
) -> None:
    intent_id = create(axme, intent(agents.writer, reply_to=agents.boss))
    following = threading.Event()
    seen: list[Json] = []

    def observe() -> None:
        for event in connect().observe(intent_id, wait_seconds=2, timeout_seconds=30):
            seen.append(event)
            following.set()

    observer = pool.submit(observe)
    waiter = pool.submit(connect().wait_for, intent_id, wait_seconds=2, timeout_seconds=30)
    assert following.wait(30), "observe yielded nothing"

    # intentd's worker runtime (claims with a lease, heartbeats, completes) does the work.
    with Client(server.url, server.api_key) as sdk:
        worker = Worker(sdk, claim_wait_seconds=1.0)
        worker.agent(agents.writer)(lambda ctx, work: {"draft": f"by a worker, {work.payload['topic']}"})
        thread = worker.start()
        try:
            final = waiter.result(timeout=60)
        finally:
            worker.stop()
            thread.join(10)
    assert final["event_type"] == "intent.completed"
    assert final["details"]["result"] == {"draft": "by a worker, durable agents"}
    observer.result(timeout=60)
    assert [e["seq"] for e in seen] == list(range(1, len(seen) + 1))  # no gap, no duplicate
    assert [e["event_type"] for e in seen][-2:] == ["intent.delivered", "intent.completed"]
    (thread,) = axme.list_inbox(owner_agent=agents.boss)["threads"]
    assert thread["status"] == "done"


def test_observe_reconnects_across_idle_stream_segments(
    server: Server,
    axme: AxmeClient,
    connect: Callable[..., AxmeClient],
    http: httpx.Client,
    agents: Agents,
    pool: ThreadPoolExecutor,
) -> None:
    """An idle segment ends with ``stream.timeout`` after ``wait_seconds``; the SDK reconnects from
    the last seq it saw, so an event written between segments arrives exactly once."""
    intent_id = create(axme, intent(agents.writer))
    opened = threading.Semaphore(0)

    def count_streams(request: httpx.Request) -> None:
        if request.url.path.endswith("/events/stream"):
            opened.release()

    # The SDK's own headers on an httpx client of ours, only to count its stream connections.
    headers = {"x-api-key": str(server.api_key), "Content-Type": "application/json"}
    with httpx.Client(
        base_url=server.url, headers=headers, event_hooks={"request": [count_streams]}
    ) as tapped:
        observer = connect(http_client=tapped)
        seen = pool.submit(
            lambda: list(
                observer.observe(intent_id, wait_seconds=1, poll_interval_seconds=0.05, timeout_seconds=30)
            )
        )
        assert opened.acquire(timeout=30) and opened.acquire(timeout=30)  # 1st segment idled out
        http.post(f"/v1/intents/{intent_id}/progress", json={"message": "outline done"}).raise_for_status()
        assert opened.acquire(timeout=30)  # and another one
        axme.resolve_intent(intent_id, {"status": "COMPLETED", "result": {}})
        events = seen.result(timeout=60)

    assert [(e["seq"], e["event_type"]) for e in events] == [
        (1, "intent.created"),
        (2, "intent.submitted"),
        (3, "intent.progress"),
        (4, "intent.completed"),
    ]


def test_resume_intent_hands_a_waiting_intent_back_to_its_agent(
    axme: AxmeClient, http: httpx.Client, agents: Agents
) -> None:
    intent_id = create(axme, intent(agents.writer))
    park_for_human(http, agents.writer, intent_id)

    resumed = axme.resume_intent(intent_id, {"answer": "use the blue one"}, owner_agent=agents.boss)
    assert resumed["applied"] is True and resumed["intent"]["status"] == "SUBMITTED"
    again = claim(http, agents.writer)
    assert (again["intent"]["intent_id"], again["lease"]["delivery_attempt"]) == (intent_id, 2)
    last = axme.list_intent_events(intent_id)["events"][-2]
    assert last["event_type"] == "intent.resumed"
    assert last["details"]["input"] == {"answer": "use the blue one"}


def test_approving_a_waiting_intent_resumes_it_and_rejecting_fails_it(
    axme: AxmeClient, http: httpx.Client, agents: Agents
) -> None:
    approved, rejected = create(axme, intent(agents.writer)), create(axme, intent(agents.writer))
    park_for_human(http, agents.writer, approved)
    park_for_human(http, agents.writer, rejected)

    decided = axme.decide_approval(approved, decision="approve", comment="ship it")
    assert decided["ok"] is True
    approval = decided["approval"]
    assert (approval["approval_id"], approval["decision"], approval["comment"]) == (
        approved,
        "approve",
        "ship it",
    )
    assert approval["decided_at"]
    assert decided["intent"]["status"] == "SUBMITTED"
    resumed = axme.list_intent_events(approved)["events"][-1]
    assert resumed["event_type"] == "intent.resumed"
    assert resumed["details"]["input"]["approval"]["decision"] == "approve"
    assert claim(http, agents.writer)["intent"]["intent_id"] == approved

    axme.decide_approval(rejected, decision="reject", comment="not this quarter")
    final = axme.wait_for(rejected, wait_seconds=2, timeout_seconds=20)
    assert final["event_type"] == "intent.failed"
    assert final["details"]["error"] == {"code": "approval_rejected", "message": "not this quarter"}


def test_an_approval_is_decided_once(axme: AxmeClient, agents: Agents) -> None:
    unknown = str(uuid.uuid4())  # conformance decides ids the server never issued: 200
    first = axme.decide_approval(unknown, decision="reject", comment="no")
    assert first["approval"]["decision"] == "reject" and first["intent"] is None
    replay = axme.decide_approval(unknown, decision="reject", comment="no")
    assert replay["approval"] == first["approval"]  # a retry answers the recorded decision
    with pytest.raises(AxmeValidationError) as changed:
        axme.decide_approval(unknown, decision="approve")
    assert changed.value.status_code == 409
    assert changed.value.body["error"]["code"] == "approval_decided"

    not_waiting = create(axme, intent(agents.writer))  # nobody parked it for a decision
    with pytest.raises(AxmeValidationError) as conflict:
        axme.decide_approval(not_waiting, decision="approve")
    assert conflict.value.body["error"]["code"] == "intent_not_waiting"
    assert axme.get_intent(not_waiting)["intent"]["status"] == "SUBMITTED"
    axme.resolve_intent(not_waiting, {"status": "CANCELED", "reason": "dropped"})
    with pytest.raises(AxmeValidationError) as terminal:
        axme.decide_approval(not_waiting, decision="approve")
    assert terminal.value.body["error"]["code"] == "intent_terminal"


def test_inbox_threads_are_scoped_to_their_owner_and_filtered_by_status(
    axme: AxmeClient, http: httpx.Client, agents: Agents
) -> None:
    # The claim below takes the agent's oldest intent: that thread becomes active.
    active, pending, done = (create(axme, intent(agents.writer, reply_to=agents.boss)) for _ in range(3))
    elsewhere = create(axme, intent(agents.writer, reply_to=f"{agents.boss}-2"))
    create(axme, intent(agents.writer))  # no reply_to: no thread
    assert claim(http, agents.writer)["intent"]["intent_id"] == active
    axme.resolve_intent(done, {"status": "COMPLETED", "result": {}})

    threads = axme.list_inbox(owner_agent=agents.boss)["threads"]
    assert [(t["thread_id"], t["status"]) for t in threads] == [  # latest update first
        (done, "done"),
        (active, "active"),
        (pending, "pending"),
    ]
    assert {t["owner_agent"] for t in threads} == {agents.boss}
    everyone = {t["thread_id"] for t in axme.list_inbox()["threads"]}  # no owner: the namespace
    assert {active, pending, done, elsewhere} <= everyone
    for status, expected in (("pending", pending), ("active", active), ("done", done)):
        listed = http.get("/v1/inbox", params={"owner_agent": agents.boss, "status": status})
        assert [t["thread_id"] for t in listed.json()["threads"]] == [expected]  # SQL = engine

    thread = axme.get_inbox_thread(done, owner_agent=agents.boss)["thread"]
    for item in thread["timeline"]:
        uuid.UUID(item["event_id"])
        assert {"event_type", "actor", "at", "details"} <= item.keys()
    assert [i["event_type"] for i in thread["timeline"]] == [
        "intent.created",
        "intent.submitted",
        "intent.completed",
        "intent_completion_delivered",
    ]
    with pytest.raises(AxmeHttpError) as not_theirs:
        axme.get_inbox_thread(elsewhere, owner_agent=agents.boss)
    assert not_theirs.value.status_code == 404
    mismatch = http.get(
        "/v1/inbox", params={"owner_agent": agents.boss}, headers={"x-owner-agent": f"{agents.boss}-2"}
    )
    assert mismatch.status_code == 400


def test_mesh_heartbeat_is_stored(axme: AxmeClient) -> None:
    assert axme.mesh.heartbeat()["status"] == "healthy"  # no body at all
    beat = axme.mesh.heartbeat(metrics={"intents_total": 3, "cost_usd": 0.25})
    assert beat["ok"] is True and beat["status"] == "healthy"

    listed = axme.mesh.list_agents()
    (me,) = [a for a in listed["agents"] if a["address_id"] == beat["address_id"]]
    assert me["health_status"] == "healthy"
    assert me["metrics"] == {"intents_total": 3, "cost_usd": 0.25}
    assert listed["summary"]["healthy"] >= 1
    assert axme.mesh.get_agent(beat["address_id"])["agent"]["metrics"] == me["metrics"]


async def test_mesh_health_follows_the_age_of_the_last_heartbeat(
    engine: Engine, principal: Principal, clock: FakeClock
) -> None:
    beating, fed = "agent://acme/prod/beating", "agent://acme/prod/only-sent-work"
    await engine.intents.submit(principal, SubmitIntent("intent.demo.v1", "c", fed, {}))
    await engine.mesh.heartbeat(principal, beating, {"intents_total": 1})

    async def health() -> dict[str, str]:
        return {a.address: a.health(clock()) for a in await engine.mesh.agents(principal)}

    assert await health() == {beating: "healthy", fed: "unknown"}
    clock.advance(90)
    assert (await health())[beating] == "degraded"
    clock.advance(210)
    assert (await health())[beating] == "unreachable"
    await engine.mesh.heartbeat(principal, beating)
    assert (await health())[beating] == "healthy"


def step_agent(client: AxmeClient, address: str) -> Json:
    """An AXME scenario agent: ``listen`` for its step intent, read the run's payload from
    ``parent_payload`` and finish the step with ``resume`` ``{"action": "complete", ...}``."""
    for delivery in client.listen(address, wait_seconds=2, timeout_seconds=30):
        step = client.get_intent(delivery["intent_id"])["intent"]
        if step["status"] in TERMINAL:
            continue
        topic = step["payload"]["parent_payload"]["topic"]
        client.resume_intent(
            step["intent_id"], {"action": "complete", "draft": f"On {topic}."}, owner_agent=address
        )
        return dict(step)
    raise AssertionError("listen ended without a step")


def test_apply_scenario_runs_a_workflow_that_axme_agents_and_humans_finish(
    axme: AxmeClient, connect: Callable[..., AxmeClient], agents: Agents, pool: ThreadPoolExecutor
) -> None:
    bundle = {
        "scenario_id": "compat.draft_and_signoff",
        "agents": [{"role": "writer", "address": agents.writer, "delivery_mode": "stream"}],
        "humans": [{"role": "editor", "contact": "editor@example.com"}],
        "workflow": {
            "steps": [
                {
                    "step_id": "draft",
                    "tool_id": "tool.agent.task.v1",
                    "assigned_to": "writer",
                    "on_success": "signoff",
                },
                {"step_id": "signoff", "tool_id": "tool.approval.human_signoff", "assigned_to": "editor"},
            ]
        },
        "intent": {"type": "intent.article.v1", "payload": {"topic": "durability"}},
    }
    assert axme.validate_scenario(bundle)["valid"] is True
    agent: Future[Json] = pool.submit(step_agent, connect(), agents.writer)

    applied = axme.apply_scenario(bundle, idempotency_key=f"apply-{uuid.uuid4()}")
    run_id = applied["intent_id"]
    assert applied["status"] == "WAITING" and applied["compile_id"]
    step = agent.result(timeout=60)
    assert step["parent_intent_id"] == run_id and step["payload"]["step_id"] == "draft"

    observed: Future[Json] = pool.submit(axme.wait_for, run_id, timeout_seconds=30)
    axme.resume_intent(run_id, {"task_result": {"outcome": "approved", "comment": "ship it"}})
    terminal = observed.result(timeout=60)
    assert terminal["event_type"] == "intent.completed"
    run = axme.get_intent(run_id)["intent"]
    assert run["result"]["steps"]["draft"] == {"draft": "On durability."}
    assert run["result"]["output"]["outcome"] == "approved"


def test_validate_scenario_refuses_a_bundle_with_problems(axme: AxmeClient) -> None:
    bundle = {
        "scenario_id": "compat.broken",
        "workflow": {"steps": [{"step_id": "a", "on_success": "missing"}]},
        "intent": {"type": "intent.x.v1", "to_agent": "agent://acme/prod/a"},
    }
    with pytest.raises(AxmeValidationError) as refused:
        axme.validate_scenario(bundle)
    assert "workflow.steps[0].on_success" in str(refused.value.body)
