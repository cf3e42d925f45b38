"""API-key authentication over HTTP (PROTOCOL.md §7, §10.1): ``x-api-key`` or ``Authorization: Bearer``
(the conformance suite sends the key as Bearer), 401 with a code the client can act on, revocation."""

from __future__ import annotations

import pytest

from tests._support.servers import AppClient

INTENT = {
    "intent_type": "intent.demo.v1",
    "correlation_id": "corr-auth",
    "to_agent": "agent://acme/prod/writer",
    "payload": {"n": 1},
}


def client_with(api: AppClient, headers: dict[str, str]) -> AppClient:
    """A client on the same running app with exactly these headers (no preset key)."""
    return AppClient(api.app, api_key=None, headers=headers)


async def test_x_api_key_header_is_accepted(api: AppClient) -> None:
    response = await api.post("/v1/intents", json=INTENT)

    assert response.status_code == 200
    assert response.json()["ok"] is True


async def test_bearer_token_is_accepted(api: AppClient) -> None:
    _, secret = await api.engine.keys.create("bearer-user")
    async with client_with(api, {"Authorization": f"Bearer {secret}"}) as client:
        response = await client.post("/v1/intents", json=INTENT)

    assert response.status_code == 200
    # The key's name is the caller's identity when the body names no sender.
    assert response.json()["intent"]["from_agent"] == "bearer-user"


async def test_no_key_is_401_missing_api_key_saying_how_to_send_one(
    api: AppClient, subtests: pytest.Subtests
) -> None:
    for headers in ({}, {"x-api-key": ""}, {"Authorization": "Basic dXNlcjpwdw=="}):
        with subtests.test(headers=headers):
            async with client_with(api, headers) as client:
                response = await client.get("/v1/intents")
            assert response.status_code == 401
            body = response.json()
            assert body["ok"] is False
            assert body["error"]["code"] == "missing_api_key"
            assert body["error"]["retryable"] is False
            assert "x-api-key" in body["error"]["message"]
            assert "Bearer" in body["error"]["message"]
            assert body["detail"] == body["error"]["message"]


async def test_wrong_key_is_401_invalid_api_key(api: AppClient, subtests: pytest.Subtests) -> None:
    for headers in ({"x-api-key": "itd_not_a_real_key"}, {"Authorization": "Bearer itd_not_a_real_key"}):
        with subtests.test(headers=headers):
            async with client_with(api, headers) as client:
                response = await client.get("/v1/intents")
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "invalid_api_key"
            assert response.headers["x-request-id"]


async def test_revoked_key_is_refused_at_once(api: AppClient) -> None:
    keys = api.engine.keys
    record, secret = await keys.create("soon-revoked")
    async with client_with(api, {"x-api-key": secret}) as client:
        before = await client.get("/v1/intents")  # also puts the key in the 5 s cache
        assert await keys.revoke(record.key_id)
        after = await client.get("/v1/intents")

    assert before.status_code == 200
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "api_key_revoked"


async def test_other_keys_keep_working_after_a_revocation(api: AppClient) -> None:
    keys = api.engine.keys
    record, _ = await keys.create("revoked")
    await keys.revoke(record.key_id)

    response = await api.get("/v1/intents")

    assert response.status_code == 200


async def test_a_key_of_another_namespace_cannot_see_the_intent(api: AppClient) -> None:
    created = (await api.post("/v1/intents", json=INTENT)).json()
    _, secret = await api.engine.keys.create("outsider", namespace="other-team")

    async with client_with(api, {"x-api-key": secret}) as client:
        direct = await client.get(f"/v1/intents/{created['intent_id']}")
        listed = await client.get("/v1/intents")

    # Another namespace's intent looks exactly like one that does not exist.
    assert direct.status_code == 404
    assert direct.json()["error"]["code"] == "intent_not_found"
    assert listed.json()["intents"] == []
