"""The inbox, approval and mesh families of the SDK against the real ASGI app on both backends,
through both clients (the ``sdk`` fixture of conftest.py runs each test with ``AsyncClient`` and
with the generated ``Client``), plus their retry rules against a failing network."""

from __future__ import annotations

import pytest

from intentd.client import (
    AgentHealth,
    Approval,
    AsyncClient,
    Conflict,
    IntentTerminal,
    MeshAgent,
    NotFound,
    Status,
    Thread,
    Unavailable,
    ValidationFailed,
)
from tests._support.http_api import REVIEWER, WRITER
from tests._support.sdk import INTENT_WIRE, Flavour, each_flavour, flaky_server, mock_client

BOSS = "agent://acme/prod/boss"
AUDITOR = "agent://acme/prod/auditor"


# --- inbox ----------------------------------------------------------------------------------------


async def test_inbox_lists_the_threads_of_one_owner_and_filters_by_status(sdk: AsyncClient) -> None:
    mine = await sdk.submit(WRITER, "intent.draft.v1", {"topic": "x"}, reply_to=BOSS, correlation_id="c-1")
    theirs = await sdk.submit(WRITER, "intent.draft.v1", reply_to=AUDITOR)
    await sdk.submit(WRITER, "intent.draft.v1")  # no reply_to: no thread

    [thread] = await sdk.inbox(BOSS)
    assert isinstance(thread, Thread)
    assert (thread.thread_id, thread.owner_agent, thread.status, thread.intent_status) == (
        mine.intent_id,
        BOSS,
        "pending",
        Status.SUBMITTED,
    )
    assert (thread.to_agent, thread.intent_type, thread.correlation_id) == (WRITER, "intent.draft.v1", "c-1")
    assert [m["role"] for m in thread.messages] == ["requester"]
    everyone = {t.thread_id for t in await sdk.inbox()}  # no owner: the whole namespace
    assert everyone == {mine.intent_id, theirs.intent_id}  # never an intent without reply_to

    assert await sdk.inbox(BOSS, status="done") == []
    await sdk.resolve(mine.intent_id, "COMPLETED", result={"draft": "v1"})
    [done] = await sdk.inbox(BOSS, status="done")
    assert (done.thread_id, done.status, done.intent_status) == (mine.intent_id, "done", Status.COMPLETED)
    assert done.messages[-1]["role"] == "agent"
    assert done.messages[-1]["content"] == {"result": {"draft": "v1"}}
    assert await sdk.inbox(BOSS, status="pending") == []
    assert [t.thread_id for t in await sdk.inbox(status="pending")] == [theirs.intent_id]
    with pytest.raises(ValidationFailed):
        await sdk.inbox(BOSS, status="archived")


async def test_inbox_thread_is_found_only_by_its_owner(sdk: AsyncClient) -> None:
    mine = await sdk.submit(WRITER, "intent.draft.v1", reply_to=BOSS)
    theirs = await sdk.submit(WRITER, "intent.draft.v1", reply_to=AUDITOR)
    no_reply = await sdk.submit(WRITER, "intent.draft.v1")

    thread = await sdk.inbox_thread(mine.intent_id, BOSS)
    assert (thread.thread_id, thread.owner_agent) == (mine.intent_id, BOSS)
    assert [item["event_type"] for item in thread.timeline] == ["intent.created", "intent.submitted"]
    assert thread == await sdk.inbox_thread(mine.intent_id)  # no owner: any in the namespace
    for other in (theirs.intent_id, no_reply.intent_id, "no-such-thread"):
        with pytest.raises(NotFound) as caught:  # another owner's looks like an unknown one
            await sdk.inbox_thread(other, owner_agent=BOSS)
        assert (caught.value.code, caught.value.status_code) == ("thread_not_found", 404)


# --- approvals ------------------------------------------------------------------------------------


async def park(sdk: AsyncClient) -> str:
    """An intent a worker parked in WAITING for a human: what an approval decides."""
    intent = await sdk.submit(WRITER, "intent.publish.v1")
    [delivery] = await sdk.claim(WRITER)
    parked = await sdk.wait(intent.intent_id, delivery.lease_token, "human")
    assert parked.status is Status.WAITING
    return str(intent.intent_id)


async def test_approve_hands_a_waiting_intent_back_and_an_approval_is_decided_once(sdk: AsyncClient) -> None:
    waiting = await park(sdk)
    approval = await sdk.decide_approval(waiting, "approve", comment="ship it")

    assert isinstance(approval, Approval)
    assert (approval.approval_id, approval.decision, approval.comment, approval.intent_id) == (
        waiting,
        "approve",
        "ship it",
        waiting,
    )
    assert approval.intent is not None and approval.intent.status is Status.SUBMITTED
    assert approval.decided_by and not approval.replayed
    [again] = await sdk.claim(WRITER)  # back with its agent, the decision as its input
    assert again.intent.intent_id == waiting and again.attempt == 2
    resumed = [e for e in await sdk.events(waiting) if e.event_type == "intent.resumed"]
    assert resumed[0].details["input"]["approval"]["comment"] == "ship it"

    replay = await sdk.decide_approval(waiting, "approve", comment="ship it")  # a retry
    assert replay.replayed and replay.decided_at == approval.decided_at
    with pytest.raises(Conflict) as caught:
        await sdk.decide_approval(waiting, "reject")
    assert (caught.value.code, caught.value.status_code) == ("approval_decided", 409)
    assert caught.value.details["decision"] == "approve"


async def test_reject_fails_the_intent_and_only_a_waiting_intent_can_be_decided(sdk: AsyncClient) -> None:
    waiting = await park(sdk)
    rejected = await sdk.decide_approval(waiting, "reject", "not this quarter")
    assert rejected.intent is not None and rejected.intent.status is Status.FAILED
    assert rejected.intent.error == {"code": "approval_rejected", "message": "not this quarter"}

    submitted = await sdk.submit(WRITER, "intent.publish.v1")
    with pytest.raises(Conflict) as not_waiting:
        await sdk.decide_approval(submitted.intent_id, "approve")
    assert not_waiting.value.code == "intent_not_waiting"
    await sdk.resolve(submitted.intent_id, "CANCELED")  # the refused decision left no record
    with pytest.raises(IntentTerminal):
        await sdk.decide_approval(submitted.intent_id, "approve")
    unknown = await sdk.decide_approval("ticket-7", "approve")  # recorded, moves nothing
    assert (unknown.intent_id, unknown.intent) == (None, None)


# --- mesh -----------------------------------------------------------------------------------------


async def test_a_heartbeat_shows_up_in_mesh_agents_as_healthy(sdk: AsyncClient) -> None:
    beat = await sdk.mesh_heartbeat({"intents_total": 3}, owner_agent=WRITER)
    assert isinstance(beat, AgentHealth)
    assert (beat.address, beat.address_id, beat.health) == (WRITER, "acme/prod/writer", "healthy")
    assert beat.last_heartbeat_at is not None
    by_key = await sdk.mesh_heartbeat()  # no owner, no metrics: the API key's own address
    assert by_key.address != WRITER and by_key.health == "healthy"
    await sdk.submit(REVIEWER, "intent.review.v1")  # only sent work: never beat

    agents = {a.address: a for a in await sdk.mesh_agents()}
    writer = agents[WRITER]
    assert isinstance(writer, MeshAgent)
    assert (writer.health, writer.metrics, writer.display_name) == ("healthy", {"intents_total": 3}, "writer")
    assert writer.last_heartbeat_at == beat.last_heartbeat_at
    assert agents[REVIEWER].health == "unknown" and agents[REVIEWER].last_heartbeat_at is None
    healthy = {a.address for a in await sdk.mesh_agents(health="healthy")}
    assert healthy == {WRITER, by_key.address}
    assert len(await sdk.mesh_agents(limit=1)) == 1

    assert await sdk.mesh_agent(WRITER) == writer
    assert await sdk.mesh_agent("acme/prod/writer") == writer  # the address id works too
    with pytest.raises(NotFound) as caught:
        await sdk.mesh_agent("agent://acme/prod/nobody")
    assert caught.value.code == "agent_not_found"
    with pytest.raises(ValidationFailed):
        await sdk.mesh_agents(health="sick")


# --- retries --------------------------------------------------------------------------------------

APPROVAL_WIRE = {
    "ok": True,
    "replayed": True,
    "intent": INTENT_WIRE,
    "approval": {
        "approval_id": "i-1",
        "decision": "approve",
        "comment": None,
        "decided_at": "2030-01-01T00:00:00Z",
        "decided_by": "bootstrap",
        "intent_id": "i-1",
    },
}
BEAT_WIRE = {
    "ok": True,
    "status": "healthy",
    "health_status": "healthy",
    "address": WRITER,
    "address_id": "acme/prod/writer",
    "last_heartbeat_at": "2030-01-01T00:00:00Z",
}


@each_flavour
async def test_a_decision_and_a_heartbeat_are_retried_with_the_same_body(flavour: Flavour) -> None:
    requests, transport = flaky_server([503, 200], APPROVAL_WIRE)
    approval = await mock_client(flavour, transport).decide_approval("i-1", "approve")
    assert approval.replayed and approval.intent is not None and approval.intent.intent_id == "i-1"
    assert [r.content for r in requests] == [b'{"decision":"approve"}'] * 2

    requests, transport = flaky_server([503, 200], BEAT_WIRE)
    beat = await mock_client(flavour, transport).mesh_heartbeat(owner_agent=WRITER)
    assert (beat.health, len(requests)) == ("healthy", 2)
    assert requests[0].url.params["owner_agent"] == WRITER
    requests, transport = flaky_server([503], {})
    with pytest.raises(Unavailable):
        await mock_client(flavour, transport).inbox(BOSS)
    assert len(requests) == 3  # a read: retried up to max_retries
