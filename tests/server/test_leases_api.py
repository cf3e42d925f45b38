"""Claims and leases over HTTP: a pull worker claims intents for an agent and must present the lease token
(fencing) to heartbeat, complete (with follow-ups), fail, release, park (wait) or report progress."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests._support.http_api import WRITER, create
from tests._support.servers import API_NAMESPACE, AppClient

JSON = dict[str, Any]
CLAIMS = "/v1/agents/acme/prod/writer/claims"


async def claim(api: httpx.AsyncClient, **body: Any) -> list[JSON]:
    response = await api.post(CLAIMS, json={"worker_id": "w1", **body})
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    deliveries: list[JSON] = response.json()["deliveries"]
    return deliveries


async def leased(api: httpx.AsyncClient, **extra: Any) -> tuple[str, str]:
    """A new intent claimed by worker w1: (intent_id, lease token)."""
    intent_id = await create(api, **extra)
    [delivery] = await claim(api)
    assert delivery["intent"]["intent_id"] == intent_id
    return intent_id, delivery["lease"]["token"]


async def post(api: httpx.AsyncClient, intent_id: str, operation: str, body: JSON) -> JSON:
    response = await api.post(f"/v1/intents/{intent_id}/{operation}", json=body)
    assert response.status_code == 200, response.text
    result: JSON = response.json()
    return result


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def event_types(api: httpx.AsyncClient, intent_id: str) -> list[str]:
    events = (await api.get(f"/v1/intents/{intent_id}/events")).json()["events"]
    return [e["event_type"] for e in events]


async def test_claim_returns_deliveries_with_a_lease(api: httpx.AsyncClient) -> None:
    first = await create(api)
    second = await create(api)
    await create(api, to_agent="agent://acme/prod/other")

    deliveries = await claim(api, max_intents=5, lease_seconds=60)

    assert [d["intent"]["intent_id"] for d in deliveries] == [first, second]  # oldest first
    for delivery in deliveries:
        assert delivery["intent"]["status"] == "DELIVERED"
        assert delivery["lease"]["token"]
        assert delivery["lease"]["delivery_attempt"] == 1
        assert delivery["lease"]["expires_at"].endswith("Z")
    assert len({d["lease"]["token"] for d in deliveries}) == 2
    assert await claim(api) == []  # nothing left for this agent
    assert (await event_types(api, first))[-1] == "intent.delivered"


async def test_claim_long_polls_until_work_arrives(api: AppClient) -> None:
    waiting = asyncio.create_task(api.post(CLAIMS, json={"wait_seconds": 20}))
    await api.engine.dispatcher.wait_for_waiter(API_NAMESPACE, WRITER)

    intent_id = await create(api)
    async with asyncio.timeout(10):  # woken by the commit, not by the 20 s deadline
        response = await waiting

    assert [d["intent"]["intent_id"] for d in response.json()["deliveries"]] == [intent_id]


async def test_heartbeat_extends_the_lease(api: httpx.AsyncClient) -> None:
    intent_id, token = await leased(api)
    before = (await api.get(f"/v1/intents/{intent_id}")).json()["intent"]["lease_expires_at"]

    body = await post(api, intent_id, "lease/heartbeat", {"lease_token": token, "lease_seconds": 600})

    assert body["lease"]["token"] == token
    assert parse_time(body["lease"]["expires_at"]) > parse_time(before)
    after = (await api.get(f"/v1/intents/{intent_id}")).json()["intent"]["lease_expires_at"]
    assert after == body["lease"]["expires_at"]


async def test_complete_with_then_submits_follow_ups(api: httpx.AsyncClient) -> None:
    intent_id, token = await leased(api)
    follow_up = {
        "intent_type": "intent.review.v1",
        "correlation_id": "corr-lease",
        "to_agent": "agent://acme/prod/reviewer",
        "payload": {"draft": "v1"},
    }

    body = await post(
        api,
        intent_id,
        "complete",
        {"lease_token": token, "result": {"draft": "v1"}, "usage": {"tokens": 12}, "then": [follow_up]},
    )

    assert body["intent"]["status"] == "COMPLETED"
    assert body["intent"]["result"] == {"draft": "v1"}
    assert body["intent"]["usage"] == {"tokens": 12}
    assert body["replayed"] is False
    [child] = body["then"]
    assert child["status"] == "SUBMITTED"
    assert child["parent_intent_id"] == intent_id
    assert child["from_agent"] == WRITER  # the follow-up comes from the agent that did the work
    [delivery] = (await api.post("/v1/agents/acme/prod/reviewer/claims", json={})).json()["deliveries"]
    assert delivery["intent"]["intent_id"] == child["intent_id"]


async def test_a_retried_complete_is_answered_as_a_replay(api: httpx.AsyncClient) -> None:
    intent_id, token = await leased(api)
    request = {"lease_token": token, "result": {"n": 1}}
    await post(api, intent_id, "complete", request)

    again = await post(api, intent_id, "complete", request)

    assert again["replayed"] is True
    assert again["intent"]["status"] == "COMPLETED"
    assert (await event_types(api, intent_id)).count("intent.completed") == 1


@pytest.mark.parametrize(("retry", "status"), [(False, "FAILED"), (True, "SUBMITTED")])
async def test_fail_ends_the_intent_or_queues_it_again(
    api: httpx.AsyncClient, retry: bool, status: str
) -> None:
    intent_id, token = await leased(api)

    body = await post(
        api,
        intent_id,
        "fail",
        {"lease_token": token, "error": {"code": "upstream", "message": "503"}, "retry": retry},
    )

    assert body["intent"]["status"] == status
    if retry:  # the next claim gets it again as a second attempt
        [delivery] = await claim(api)
        assert delivery["lease"]["delivery_attempt"] == 2
    else:
        assert body["intent"]["error"] == {"code": "upstream", "message": "503"}


async def test_release_hands_the_intent_to_the_next_claim(api: httpx.AsyncClient) -> None:
    intent_id, token = await leased(api)

    body = await post(api, intent_id, "release", {"lease_token": token})
    [again] = await claim(api)

    assert body["intent"]["status"] == "SUBMITTED"
    assert again["intent"]["intent_id"] == intent_id
    assert again["lease"]["delivery_attempt"] == 2
    assert again["lease"]["token"] != token


async def test_wait_parks_the_intent_and_resume_sends_it_back(api: httpx.AsyncClient) -> None:
    intent_id, token = await leased(api)

    parked = await post(
        api,
        intent_id,
        "wait",
        {"lease_token": token, "reason": "WAITING_FOR_HUMAN", "details": {"question": "ship it?"}},
    )
    resumed = await post(api, intent_id, "resume", {"approved": True})

    assert parked["intent"]["status"] == "WAITING"
    assert parked["intent"]["waiting_reason"] == "WAITING_FOR_HUMAN"
    assert parked["intent"]["lease_expires_at"] is None  # a parked wait holds no worker
    assert resumed["intent"]["status"] == "SUBMITTED"
    events = (await api.get(f"/v1/intents/{intent_id}/events")).json()["events"]
    assert events[-1]["event_type"] == "intent.resumed"
    assert events[-1]["details"]["input"] == {"approved": True}
    [delivery] = await claim(api)
    assert delivery["intent"]["intent_id"] == intent_id


async def test_progress_records_an_event_and_sums_usage(api: httpx.AsyncClient) -> None:
    intent_id, token = await leased(api)

    await post(api, intent_id, "progress", {"lease_token": token, "message": "half", "usage": {"tokens": 10}})
    body = await post(api, intent_id, "progress", {"lease_token": token, "usage": {"tokens": 5}})

    assert body["intent"]["status"] == "DELIVERED"  # progress does not move the status
    assert body["intent"]["usage"] == {"tokens": 15}
    assert (await event_types(api, intent_id))[-2:] == ["intent.progress", "intent.progress"]


STALE_TOKEN_OPERATIONS: list[tuple[str, JSON]] = [
    ("lease/heartbeat", {}),
    ("complete", {"result": {}}),
    ("fail", {"error": "x"}),
    ("release", {}),
    ("wait", {"reason": "WAITING_FOR_TOOL"}),
    ("progress", {"message": "x"}),
]


async def test_a_superseded_lease_token_is_409_stale_lease(
    api: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    intent_id, old_token = await leased(api)
    await post(api, intent_id, "release", {"lease_token": old_token})
    [current] = await claim(api)  # a second worker now holds the intent

    for operation, extra in STALE_TOKEN_OPERATIONS:
        with subtests.test(operation=operation):
            response = await api.post(
                f"/v1/intents/{intent_id}/{operation}", json={"lease_token": old_token, **extra}
            )
            assert response.status_code == 409
            assert response.json()["error"]["code"] == "stale_lease"

    intent = (await api.get(f"/v1/intents/{intent_id}")).json()["intent"]
    assert intent["status"] == "DELIVERED"
    assert intent["delivery_attempt"] == current["lease"]["delivery_attempt"] == 2
    assert (await event_types(api, intent_id))[-1] == "intent.delivered"


INVALID_BODIES: list[tuple[str, JSON, str]] = [
    (CLAIMS, {"max_intents": 0}, "max_intents"),
    (CLAIMS, {"lease_seconds": 0}, "lease_seconds"),
    (CLAIMS, {"wait_seconds": 61}, "wait_seconds"),
    ("lease/heartbeat", {}, "lease_token"),
    ("lease/heartbeat", {"lease_token": "$token", "lease_seconds": -1}, "lease_seconds"),
    ("complete", {"lease_token": "$token", "result": [1]}, "result"),
    ("complete", {"lease_token": "$token", "then": [{"intent_type": "bad type"}]}, "then.0.intent_type"),
    ("fail", {"lease_token": "$token"}, "error"),
    ("release", {"lease_token": ""}, "lease_token"),
    ("wait", {"lease_token": "$token"}, "reason"),
    ("wait", {"lease_token": "$token", "reason": "WAITING_FOR_GODOT"}, "reason"),
]


async def test_invalid_lease_bodies_are_422_naming_the_field(
    api: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    intent_id, token = await leased(api)

    for path, template, field in INVALID_BODIES:
        body = {k: token if v == "$token" else v for k, v in template.items()}
        url = path if path.startswith("/") else f"/v1/intents/{intent_id}/{path}"
        with subtests.test(path=path, body=body):
            response = await api.post(url, json=body)
            assert response.status_code == 422, response.text
            assert response.json()["error"]["code"] == "validation_error"
            assert response.json()["error"]["details"]["field"] == field

    # None of them touched the delivery: the worker can still complete it.
    completed = await post(api, intent_id, "complete", {"lease_token": token})
    assert completed["intent"]["status"] == "COMPLETED"
    assert completed["then"] == []


async def test_lease_operations_on_an_unknown_intent_are_404(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/intents/01900000-0000-7000-8000-000000000000/complete", json={"lease_token": "whatever"}
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "intent_not_found"
