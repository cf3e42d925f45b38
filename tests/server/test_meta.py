"""Health, capabilities, OpenAPI and the correlation headers every response carries (PROTOCOL.md §2.2,
§8): the SDK reads ``x-request-id`` and ``x-trace-id`` off every response, errors included."""

from __future__ import annotations

import pytest

from tests._support.servers import AppClient


def keyless(api: AppClient) -> AppClient:
    """A client on the same running app that sends no API key."""
    return AppClient(api.app, api_key=None)


async def test_health_answers_ok_without_a_key(api: AppClient, backend: str) -> None:
    async with keyless(api) as client:
        response = await client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["service"] == "intentd"
    assert body["database"] == backend


async def test_every_response_carries_a_fresh_request_id(api: AppClient, subtests: pytest.Subtests) -> None:
    for path in ("/health", "/v1/intents", "/v1/intents/nope", "/no/such/route"):
        with subtests.test(path=path):
            first = await api.get(path)
            second = await api.get(path)
            assert first.headers["x-request-id"]
            assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_trace_id_is_echoed_on_success_and_error(api: AppClient) -> None:
    ok = await api.get("/health", headers={"X-Trace-Id": "trace-abc-123"})
    missing = await api.get("/v1/intents/does-not-exist", headers={"X-Trace-Id": "trace-404"})

    assert ok.headers["x-trace-id"] == "trace-abc-123"
    assert missing.status_code == 404
    assert missing.headers["x-trace-id"] == "trace-404"


async def test_no_trace_id_header_when_the_caller_sent_none(api: AppClient) -> None:
    response = await api.get("/health")

    assert "x-trace-id" not in response.headers


async def test_openapi_lists_the_intent_claim_and_lease_paths(api: AppClient) -> None:
    async with keyless(api) as client:
        response = await client.get("/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/v1/intents",
        "/v1/intents/{intent_id}",
        "/v1/intents/{intent_id}/events",
        "/v1/intents/{intent_id}/events/stream",
        "/v1/intents/{intent_id}/resolve",
        "/v1/agents/{address}/claims",
        "/v1/agents/{address}/intents/stream",
        "/v1/intents/{intent_id}/lease/heartbeat",
        "/v1/intents/{intent_id}/complete",
    ):
        assert path in paths, path
    assert "post" in paths["/v1/intents"] and "get" in paths["/v1/intents"]


async def test_capabilities_need_a_key(api: AppClient) -> None:
    async with keyless(api) as client:
        refused = await client.get("/v1/capabilities")
    allowed = await api.get("/v1/capabilities")

    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "missing_api_key"
    assert allowed.status_code == 200
    body = allowed.json()
    assert body["ok"] is True
    # PROTOCOL.md §2.4: capability names are strings of at least 3 characters.
    assert body["capabilities"] and all(len(c) >= 3 for c in body["capabilities"])
    assert "intents.create" in body["capabilities"]
    assert body["supported_intent_types"] == ["intent.*.v1"]
