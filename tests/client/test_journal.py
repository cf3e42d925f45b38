"""The SDK's journal calls (a supervisor's durable delegation): against the real app on both backends
with both clients, and against a failing network for what is retried."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from intentd.client import AsyncClient, ChildSpec, Delivery, StaleLease, Status
from tests._support.http_api import WRITER
from tests._support.sdk import Flavour, each_flavour, flaky_server, mock_client

EDITOR = "agent://acme/prod/editor"
ENTRY = {
    "key": "draft-1",
    "kind": "child",
    "status": "RUNNING",
    "attempt": 1,
    "child_intent_id": "i-2",
    "started_at": "2030-01-01T00:00:00Z",
}


async def claim_editor(sdk: AsyncClient) -> Delivery:
    await sdk.submit(EDITOR, "intent.edit.v1", {"topics": ["a", "b"]})
    [delivery] = await sdk.claim(EDITOR, wait_seconds=5)
    return delivery


async def test_spawned_children_are_journaled_once_per_key_and_join_the_run(sdk: AsyncClient) -> None:
    parent = await claim_editor(sdk)
    parent_id, token = parent.intent.intent_id, parent.lease_token
    first = await sdk.spawn(
        parent_id,
        token,
        [ChildSpec("draft-a", WRITER, "intent.draft.v1", {"topic": "a"}), ChildSpec("draft-b", WRITER)],
    )
    # Asked again (a handler that runs again) with one more: the two answer what they have.
    again = await sdk.spawn(parent_id, token, [ChildSpec("draft-b", WRITER), ChildSpec("draft-c", WRITER)])

    assert [e.key for e in first] == ["draft-a", "draft-b"]
    assert {(e.kind, e.status) for e in first} == {("child", "RUNNING")}
    assert again[0] == first[1] and again[1].key == "draft-c"
    journal = await sdk.journal(parent_id)
    assert [e.key for e in journal] == ["draft-a", "draft-b", "draft-c"]
    children = (await sdk.tree(parent_id)).children(parent_id)
    assert sorted((c.step_key, c.intent_id) for c in children) == sorted(
        (e.key, e.child_intent_id) for e in journal
    )
    child = next(c for c in children if c.step_key == "draft-a")
    assert (child.to_agent, child.intent_type, child.payload) == (WRITER, "intent.draft.v1", {"topic": "a"})
    assert (child.from_agent, child.correlation_id) == (EDITOR, parent.intent.correlation_id)


async def test_a_recorded_value_is_kept_by_its_first_write(sdk: AsyncClient) -> None:
    parent = await claim_editor(sdk)
    parent_id, token = parent.intent.intent_id, parent.lease_token

    first = await sdk.record_step(parent_id, token, "review", {"score": 7})
    second = await sdk.record_step(parent_id, token, "review", {"score": 9})

    assert first.recorded and not second.recorded
    assert first.entry.result == second.entry.result == {"score": 7}
    assert (first.entry.kind, first.entry.status, first.entry.finished) == ("value", "COMPLETED", True)
    assert [e.key for e in await sdk.journal(parent_id)] == ["review"]


async def test_await_parks_the_parent_without_a_lease_until_its_children_finish(sdk: AsyncClient) -> None:
    parent = await claim_editor(sdk)
    parent_id, token = parent.intent.intent_id, parent.lease_token
    await sdk.spawn(parent_id, token, [ChildSpec("draft-a", WRITER, payload={"n": 1})])

    parked = await sdk.await_entries(parent_id, token, ["draft-a"])
    waiting = await sdk.get(parent_id)
    assert parked.parked
    assert (waiting.status, waiting.waiting_reason, waiting.lease_expires_at) == (
        Status.WAITING,
        "WAITING_FOR_AGENT",
        None,
    )
    with pytest.raises(StaleLease):  # the lease ended with the park
        await sdk.record_step(parent_id, token, "late", 1)

    [child] = await sdk.claim(WRITER, wait_seconds=5)
    await sdk.complete(child.intent.intent_id, child.lease_token, {"draft": "A"})
    [again] = await sdk.claim(EDITOR, wait_seconds=5)  # queued again once its child finished
    answer = await sdk.await_entries(parent_id, again.lease_token, ["draft-a"])

    assert again.intent.intent_id == parent_id
    assert not answer.parked
    assert [(e.key, e.status, e.result) for e in answer.entries] == [("draft-a", "COMPLETED", {"draft": "A"})]
    await sdk.complete(parent_id, again.lease_token, {"done": True})  # the lease was kept


# --- what is retried (MockTransport plays a failing server) ---------------------------------------


@each_flavour
async def test_keyed_journal_writes_and_reads_are_retried(flavour: Flavour) -> None:
    answer = {"ok": True, "intent_id": "i-1", "entries": [ENTRY]}
    requests, transport = flaky_server([503, 200], answer)
    client = mock_client(flavour, transport)
    deadline = datetime(2030, 1, 2, tzinfo=UTC)
    spec = ChildSpec("draft-1", WRITER, "intent.draft.v1", {"n": 1}, deadline_at=deadline)

    [entry] = await client.spawn("i-1", "token", [spec, {"key": "raw", "to_agent": WRITER}])
    assert entry.child_intent_id == "i-2"
    assert len(requests) == 2 and requests[0].url.path == "/v1/intents/i-1/children"
    assert json.loads(requests[0].content) == json.loads(requests[1].content)
    assert json.loads(requests[0].content) == {
        "lease_token": "token",
        "children": [
            {
                "key": "draft-1",
                "to_agent": WRITER,
                "intent_type": "intent.draft.v1",
                "payload": {"n": 1},
                "deadline_at": "2030-01-02T00:00:00+00:00",
                "max_delivery_attempts": 5,
            },
            {"key": "raw", "to_agent": WRITER},
        ],
    }

    requests, transport = flaky_server([503, 200], answer)
    assert [e.key for e in await mock_client(flavour, transport).journal("i-1")] == ["draft-1"]
    assert [r.method for r in requests] == ["GET", "GET"]

    recorded = {"ok": True, "recorded": True, "entry": {**ENTRY, "kind": "value", "status": "COMPLETED"}}
    requests, transport = flaky_server([503, 200], recorded)
    assert (await mock_client(flavour, transport).record_step("i-1", "token", "k", [1])).recorded
    assert len(requests) == 2
    assert json.loads(requests[1].content) == {"lease_token": "token", "key": "k", "result": [1]}

    requests, transport = flaky_server([503, 200], {"ok": True, "parked": True, "entries": [ENTRY]})
    assert (await mock_client(flavour, transport).await_entries("i-1", "token", ["draft-1"])).parked
    assert len(requests) == 2
    assert json.loads(requests[1].content) == {"lease_token": "token", "keys": ["draft-1"]}
