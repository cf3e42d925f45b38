"""The SDK's journal calls (a supervisor's durable delegation): what they send, and what is retried
against a failing network."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from intentd.client import ChildSpec
from tests._support.http_api import WRITER
from tests._support.sdk import Flavour, each_flavour, flaky_server, mock_client

ENTRY = {
    "key": "draft-1",
    "kind": "child",
    "status": "RUNNING",
    "attempt": 1,
    "child_intent_id": "i-2",
    "started_at": "2030-01-01T00:00:00Z",
}


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
