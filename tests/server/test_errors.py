"""One error shape everywhere (PROTOCOL.md §8): ``{"ok": false, "error": {code, message, details,
retryable}, "detail": message}`` for unknown routes, wrong methods, crashes, oversized bodies and every
conflict (terminal intents, stale generations)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from tests._support.servers import AppClient, app_settings, build_app, serving

JSON = dict[str, Any]
AGENT = "agent://acme/prod/writer"
SMALL_LIMIT = 512  # bytes: small enough that an oversized body is cheap to build
INTENT = {
    "intent_type": "intent.demo.v1",
    "correlation_id": "corr-err",
    "to_agent": AGENT,
    "payload": {"n": 1},
}


def assert_error_shape(response: httpx.Response, status: int, code: str) -> JSON:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-request-id"]
    body: JSON = response.json()
    assert body["ok"] is False
    assert set(body["error"]) == {"code", "message", "details", "retryable"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert body["detail"] == body["error"]["message"]
    return body


@pytest.fixture
def own_app(database_url: str) -> FastAPI:
    """An app this module builds itself: small body limit, a route that crashes, no scheduler."""
    app = build_app(app_settings(database_url, max_body_bytes=SMALL_LIMIT), run_scheduler=False)

    async def crash() -> JSON:
        raise RuntimeError("db password is hunter2")

    app.add_api_route("/test-only/crash", crash)
    return app


@pytest.fixture
async def own_api(own_app: FastAPI) -> AsyncIterator[AppClient]:
    # The crash must come back as the 500 a real client sees, not re-raised into the test.
    async with serving(own_app, raise_app_exceptions=False) as client:
        yield client


# --- routing and crashes -------------------------------------------------------------------------


async def test_unknown_route_is_404_with_the_error_shape(api: httpx.AsyncClient) -> None:
    body = assert_error_shape(await api.get("/v1/no-such-family"), 404, "not_found")

    assert body["error"]["retryable"] is False


async def test_wrong_method_is_405_with_the_error_shape(api: httpx.AsyncClient) -> None:
    response = await api.delete("/v1/intents")
    body = assert_error_shape(response, 405, "method_not_allowed")

    assert body["error"]["retryable"] is False
    # The framework's Allow header survives the error shape (Starlette names the methods of the
    # first route matching the path).
    assert "POST" in response.headers["allow"]


async def test_malformed_json_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/intents", content=b'{"intent_type": ', headers={"Content-Type": "application/json"}
    )

    body = assert_error_shape(response, 400, "bad_request")
    assert body["error"]["details"] == {"field": "body"}


async def test_crash_is_500_without_a_stack_trace(
    own_api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="intentd.server"):
        response = await own_api.get("/test-only/crash", headers={"X-Trace-Id": "trace-500"})

    body = assert_error_shape(response, 500, "internal_error")
    assert body["error"]["retryable"] is True
    assert "Traceback" not in response.text
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    # The message points at the log entry that holds the details.
    assert response.headers["x-request-id"] in body["error"]["message"]
    assert response.headers["x-trace-id"] == "trace-500"
    assert "hunter2" in caplog.text


# --- body size limit -----------------------------------------------------------------------------


def oversized_body() -> bytes:
    body = orjson.dumps({**INTENT, "payload": {"blob": "x" * SMALL_LIMIT}})
    assert len(body) > SMALL_LIMIT
    return body


async def chunks(data: bytes, size: int = 100) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_body_over_the_limit_is_413_and_stores_nothing(
    own_api: httpx.AsyncClient, framing: str
) -> None:
    data = oversized_body()
    # Without a length the body arrives in pieces and the limit is enforced while reading it.
    content = data if framing == "content-length" else chunks(data)

    response = await own_api.post(
        "/v1/intents", content=content, headers={"Content-Type": "application/json"}
    )

    body = assert_error_shape(response, 413, "payload_too_large")
    assert body["error"]["details"]["limit_bytes"] == SMALL_LIMIT
    assert (await own_api.get("/v1/intents")).json()["intents"] == []


async def test_chunked_body_under_the_limit_is_accepted(own_api: httpx.AsyncClient) -> None:
    response = await own_api.post(
        "/v1/intents", content=chunks(orjson.dumps(INTENT)), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "SUBMITTED"


# --- conflicts -----------------------------------------------------------------------------------


async def claimed_then_completed(api: httpx.AsyncClient) -> tuple[str, str]:
    """An intent that was leased to a worker and then resolved: (intent_id, the old lease token)."""
    intent_id = (await api.post("/v1/intents", json=INTENT)).json()["intent_id"]
    claim = await api.post("/v1/agents/acme/prod/writer/claims", json={"worker_id": "w1"})
    token = claim.json()["deliveries"][0]["lease"]["token"]
    resolved = await api.post(
        f"/v1/intents/{intent_id}/resolve", json={"status": "COMPLETED", "result": {"done": True}}
    )
    assert resolved.status_code == 200
    return intent_id, token


MUTATIONS: list[tuple[str, JSON]] = [
    ("resolve", {"status": "COMPLETED", "result": {"again": True}}),
    ("resolve", {"status": "FAILED", "error": "too late"}),
    ("resolve", {"status": "CANCELED", "reason": "too late"}),
    ("cancel", {}),
    ("resume", {}),
    ("resume", {"action": "fail", "error": "too late"}),
    ("resume", {"action": "resume"}),
    ("controls", {"controls_patch": {"timeout_seconds": 5}}),
    ("policy", {"envelope_patch": {"max_retry_count": 1}}),
    ("lease/heartbeat", {"lease_token": "$token"}),
    ("complete", {"lease_token": "$token", "result": {}}),
    ("fail", {"lease_token": "$token", "error": "late"}),
    ("release", {"lease_token": "$token"}),
    ("wait", {"lease_token": "$token", "reason": "WAITING_FOR_HUMAN"}),
    ("progress", {"lease_token": "$token", "message": "still going"}),
    ("progress", {"message": "no token"}),
]


async def test_every_mutation_of_a_terminal_intent_is_409(
    api: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    intent_id, token = await claimed_then_completed(api)

    # One terminal intent serves every case: each refusal must leave it exactly as it was.
    for operation, template in MUTATIONS:
        body = {k: token if v == "$token" else v for k, v in template.items()}
        with subtests.test(operation=operation, body=body):
            response = await api.post(f"/v1/intents/{intent_id}/{operation}", json=body)
            assert_error_shape(response, 409, "intent_terminal")

    events = (await api.get(f"/v1/intents/{intent_id}/events")).json()["events"]
    assert events[-1]["event_type"] == "intent.completed"  # nothing was appended
    intent = (await api.get(f"/v1/intents/{intent_id}")).json()["intent"]
    assert intent["status"] == "COMPLETED" and intent["result"] == {"done": True}


STALE_GENERATION: list[tuple[str, JSON]] = [
    ("resolve", {"status": "COMPLETED", "result": {}}),
    ("controls", {"controls_patch": {"b": 2}}),
    ("policy", {"envelope_patch": {"b": 2}}),
    ("resume", {"answer": 1}),
]


async def test_stale_policy_generation_is_409_and_changes_nothing(
    api: httpx.AsyncClient, subtests: pytest.Subtests
) -> None:
    intent_id = (await api.post("/v1/intents", json=INTENT)).json()["intent_id"]
    bumped = await api.post(f"/v1/intents/{intent_id}/controls", json={"controls_patch": {"a": 1}})
    assert bumped.json()["policy_generation"] == 1

    for operation, body in STALE_GENERATION:
        with subtests.test(operation=operation):
            response = await api.post(
                f"/v1/intents/{intent_id}/{operation}", json={**body, "expected_policy_generation": 0}
            )
            error = assert_error_shape(response, 409, "stale_policy_generation")["error"]
            assert error["details"] == {"policy_generation": 1, "expected": 0}

    intent = (await api.get(f"/v1/intents/{intent_id}")).json()["intent"]
    assert intent["status"] == "SUBMITTED" and intent["last_seq"] == 3
