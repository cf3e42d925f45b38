"""Scoped API keys over HTTP (docs/security.md): an admin creates, lists, revokes and rotates its
namespace's keys; a secret is shown once; expired, revoked and rotated keys stop as documented; an
agent key acts only for its agents and submits as one of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from intentd.settings import Settings
from tests._support import servers
from tests._support.servers import AppClient

WRITER = "agent://acme/prod/writer"
EDITOR = "agent://acme/prod/editor"


def _as(api: AppClient, secret: str) -> AppClient:
    return AppClient(api.app, api_key=secret)


async def _create(api: AppClient, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/keys", json={"name": "k", **body})
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_created_key_is_shown_once_and_works(api: AppClient) -> None:
    created = await _create(api, name="billing", role="submitter")
    key_id, secret = created["key"]["key_id"], created["api_key"]

    listed = (await api.get("/v1/keys")).json()["keys"]
    one = (await api.get(f"/v1/keys/{key_id}")).json()["key"]
    async with _as(api, secret) as submitter:
        submitted = await submitter.post(
            "/v1/intents",
            json={"intent_type": "x.v1", "correlation_id": "c1", "to_agent": WRITER, "payload": {}},
        )

    assert created["key"]["role"] == "submitter" and created["key"]["status"] == "active"
    assert secret.startswith("itd_")
    assert one == created["key"]
    assert key_id in {k["key_id"] for k in listed}
    assert secret not in str(listed) and secret not in str(one)  # never shown again
    assert submitted.status_code == 200


async def test_a_revoked_key_is_refused_at_once_with_its_own_code(api: AppClient) -> None:
    created = await _create(api, role="submitter")
    async with _as(api, created["api_key"]) as client:
        before = await client.get("/v1/intents")
        revoked = await api.post(f"/v1/keys/{created['key']['key_id']}/revoke")
        after = await client.get("/v1/intents")

    assert before.status_code == 200
    assert revoked.json()["key"]["status"] == "revoked"
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "api_key_revoked"


async def test_a_key_stops_when_it_expires_even_while_cached(api: AppClient) -> None:
    # Far enough ahead that a busy machine still creates and uses the key before it ends (a CI run
    # under load once took over a second to answer the create).
    expires = datetime.now(UTC) + timedelta(seconds=3)
    created = await _create(api, role="auditor", expires_at=expires.isoformat())
    async with _as(api, created["api_key"]) as client:
        before = await client.get("/v1/intents")  # verified and cached
        await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.05)
        after = await client.get("/v1/intents")

    assert before.status_code == 200
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "api_key_expired"
    assert (await api.get(f"/v1/keys/{created['key']['key_id']}")).json()["key"]["status"] == "expired"


async def test_rotation_gives_a_new_secret_and_ends_the_old_after_its_grace(api: AppClient) -> None:
    old = await _create(api, name="writer", role="agent", agents=[WRITER])
    old_id = old["key"]["key_id"]

    graced = (await api.post(f"/v1/keys/{old_id}/rotate", json={"grace_seconds": 60})).json()
    async with _as(api, old["api_key"]) as old_client, _as(api, graced["api_key"]) as new_client:
        old_during_grace = await old_client.get(f"/v1/agents/{WRITER}/binding")
        new_works = await new_client.get(f"/v1/agents/{WRITER}/binding")
    described = (await api.get(f"/v1/keys/{old_id}")).json()["key"]
    again = await api.post(f"/v1/keys/{old_id}/rotate", json={})

    assert graced["key"]["key_id"] != old_id
    assert {k: graced["key"][k] for k in ("name", "role", "agents")} == {
        "name": "writer",
        "role": "agent",
        "agents": [WRITER],
    }
    assert old_during_grace.status_code == 200 and new_works.status_code == 200
    assert described["status"] == "rotated" and described["rotated_to"] == graced["key"]["key_id"]
    assert again.status_code == 422  # a rotated key is not rotated twice


async def test_rotation_without_grace_ends_the_old_key_now(api: AppClient) -> None:
    old = await _create(api, role="submitter")
    rotated = await api.post(f"/v1/keys/{old['key']['key_id']}/rotate", json={"grace_seconds": 0})
    async with _as(api, old["api_key"]) as old_client, _as(api, rotated.json()["api_key"]) as new:
        refused = await old_client.get("/v1/intents")
        works = await new.get("/v1/intents")

    assert refused.status_code == 401 and refused.json()["error"]["code"] == "api_key_expired"
    assert works.status_code == 200


async def test_another_namespaces_keys_are_not_found(api: AppClient) -> None:
    record, _ = await api.engine.keys.create("theirs", "submitter", namespace="team-b")

    for answer in (
        await api.get(f"/v1/keys/{record.key_id}"),
        await api.post(f"/v1/keys/{record.key_id}/revoke"),
        await api.post(f"/v1/keys/{record.key_id}/rotate", json={}),
    ):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "key_not_found"
    assert record.key_id not in str((await api.get("/v1/keys")).json())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "agent"}, "agents"),
        ({"role": "submitter", "agents": [WRITER]}, "agents"),
        ({"role": "submitter", "task_roles": ["finance"]}, "task_roles"),
        ({"role": "owner"}, "role"),
        ({"role": "auditor", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"role": "agent", "agents": ["not an address"]}, "agents"),
    ],
)
async def test_a_bad_key_request_names_its_field(api: AppClient, body: dict[str, Any], field: str) -> None:
    response = await api.post("/v1/keys", json={"name": "bad", **body})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in str(error["details"])


# -- agent keys ----------------------------------------------------------------------------------


@pytest.fixture
async def writer(api: AppClient) -> AsyncIterator[AppClient]:
    """A client with an agent key bound to the writer only."""
    _, secret = await api.engine.keys.create("writer", "agent", agents=(WRITER,))
    async with _as(api, secret) as client:
        yield client


async def _submit(client: AppClient, to_agent: str, **extra: Any) -> Any:
    return await client.post(
        "/v1/intents",
        json={"intent_type": "x.v1", "correlation_id": "c1", "to_agent": to_agent, "payload": {}, **extra},
    )


async def test_an_agent_key_submits_as_its_agent(api: AppClient, writer: AppClient) -> None:
    unnamed = await _submit(writer, EDITOR)
    named = await _submit(writer, EDITOR, from_agent=WRITER)
    impersonating = await _submit(writer, EDITOR, from_agent=EDITOR)

    assert unnamed.json()["intent"]["from_agent"] == WRITER
    assert named.json()["intent"]["from_agent"] == WRITER
    assert impersonating.status_code == 403
    assert impersonating.json()["error"]["code"] == "agent_not_allowed"


async def test_an_agent_key_claims_and_completes_only_its_agents_work(
    api: AppClient, writer: AppClient
) -> None:
    for_editor = (await _submit(api, EDITOR)).json()["intent"]["intent_id"]
    for_writer = (await _submit(api, WRITER)).json()["intent"]["intent_id"]

    other_claim = await writer.post(f"/v1/agents/{EDITOR}/claims", json={"wait_seconds": 0})
    own_claim = await writer.post(f"/v1/agents/{WRITER}/claims", json={"wait_seconds": 0})
    # The admin leases the editor's intent; the writer's key may not complete it even with the token.
    editor_lease = (await api.post(f"/v1/agents/{EDITOR}/claims", json={"wait_seconds": 0})).json()
    token = editor_lease["deliveries"][0]["lease"]["token"]
    not_its_own = await writer.post(f"/v1/intents/{for_editor}/complete", json={"lease_token": token})
    delivery = own_claim.json()["deliveries"][0]
    completed = await writer.post(
        f"/v1/intents/{for_writer}/complete", json={"lease_token": delivery["lease"]["token"]}
    )

    assert other_claim.status_code == 403
    assert other_claim.json()["error"]["code"] == "agent_not_allowed"
    assert delivery["intent"]["intent_id"] == for_writer
    assert not_its_own.status_code == 403
    assert not_its_own.json()["error"]["code"] == "agent_not_allowed"
    assert completed.status_code == 200


async def test_an_agent_key_streams_only_its_agents(writer: AppClient) -> None:
    others = await writer.get("/v1/deliveries/stream", params={"agent": EDITOR, "worker_id": "w1"})
    feed = await writer.get(f"/v1/agents/{EDITOR}/intents/stream", params={"wait_seconds": 0})
    binding = await writer.put(f"/v1/agents/{EDITOR}/binding", json={"delivery_mode": "stream"})

    for refused in (others, feed, binding):
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "agent_not_allowed"


# -- replicas ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_revocation_reaches_another_replica_within_its_cache_bound(database_url: str) -> None:
    settings: Settings = servers.app_settings(database_url, key_cache_seconds=0.5)
    async with (
        servers.serving(servers.build_app(settings)) as first,
        servers.serving(servers.build_app(settings)) as second,
    ):
        created = await _create(first, role="submitter")
        async with _as(second, created["api_key"]) as elsewhere:
            assert (await elsewhere.get("/v1/intents")).status_code == 200  # cached there now
            await first.post(f"/v1/keys/{created['key']['key_id']}/revoke")
            refused_at = None
            for attempt in range(40):
                if (await elsewhere.get("/v1/intents")).status_code == 401:
                    refused_at = attempt * 0.05
                    break
                await asyncio.sleep(0.05)

    assert refused_at is not None and refused_at <= 0.5 + 0.2
