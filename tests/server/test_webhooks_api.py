"""AXP's webhooks family and the http binding through the API, on both backends, with the app's own
sender running and a real receiver: the AXP subscription shape and its secret shown once, lifecycle
and published events arriving signed, delivery counters, event replay, an http-bound agent that gets
its intent POSTed and finishes it through the API, dead letters listed and replayed, clear refusals
(which field, which code), and a namespace that sees and touches none of another's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from intentd.settings import Settings
from intentd.webhooks import verify, verify_axme
from tests._support.http_api import WRITER, intent_body
from tests._support.receiver import Receiver, arrived, hook_settings, receiver, until
from tests._support.servers import AppClient, app_settings

JSON = dict[str, Any]
SECRET = "whsec-api-0123456789"
ADDRESS = WRITER.removeprefix("agent://")
SUBSCRIPTIONS = "/v1/webhooks/subscriptions"
receiver = receiver  # the fixture


@pytest.fixture
def settings(database_url: str) -> Settings:
    return hook_settings(database_url)


async def ok(response: Any) -> JSON:
    assert response.status_code == 200, response.text
    body: JSON = response.json()
    return body


async def subscribe(api: AppClient, url: str, *types: str, **more: Any) -> JSON:
    body = {"callback_url": url, "event_types": list(types or ("intent.*",)), "secret": SECRET, **more}
    subscription: JSON = (await ok(await api.post(SUBSCRIPTIONS, json=body)))["subscription"]
    return subscription


# -- subscriptions -------------------------------------------------------------------------------------


async def test_a_subscription_has_the_axp_shape_and_its_generated_secret_is_shown_once(
    api: AppClient, receiver: Receiver
) -> None:
    made = await ok(
        await api.post(SUBSCRIPTIONS, json={"callback_url": receiver.url, "event_types": ["a.b.c"]})
    )
    sub = made["subscription"]
    assert set(sub) >= {
        "subscription_id",
        "owner_agent",
        "callback_url",
        "event_types",
        "active",
        "description",
        "created_at",
        "updated_at",
        "revoked_at",
        "secret_hint",
    }
    assert len(sub["secret"]) >= 32 and sub["secret_hint"] == f"****{sub['secret'][-4:]}"

    [listed] = (await ok(await api.get(SUBSCRIPTIONS)))["subscriptions"]
    assert "secret" not in listed and listed["subscription_id"] == sub["subscription_id"]
    revoked = await ok(await api.delete(f"{SUBSCRIPTIONS}/{sub['subscription_id']}"))
    assert revoked["subscription_id"] == sub["subscription_id"] and revoked["revoked_at"]
    assert (await ok(await api.get(SUBSCRIPTIONS)))["subscriptions"] == []
    [kept] = (await ok(await api.get(SUBSCRIPTIONS, params={"include_inactive": "true"})))["subscriptions"]
    assert (kept["active"], kept["revoked_at"]) == (False, revoked["revoked_at"])


async def test_lifecycle_events_arrive_signed_over_http(api: AppClient, receiver: Receiver) -> None:
    await subscribe(api, receiver.url, "intent.created")
    intent_id = (await ok(await api.post("/v1/intents", json=intent_body(WRITER))))["intent_id"]

    [post] = await arrived(receiver, 1)
    verify(SECRET, post.body, post.headers)
    verify_axme(SECRET, post.body, post.headers["X-Axme-Signature"])  # as AXME receivers check
    assert (post.json["event_type"], post.json["payload"]["intent_id"]) == ("intent.created", intent_id)


async def test_a_published_event_reports_its_counters_and_replays_under_its_id(
    api: AppClient, receiver: Receiver
) -> None:
    await subscribe(api, receiver.url, "invoice.paid")
    event = {"event_type": "invoice.paid", "source": "billing", "payload": {"amount": 3}}
    published = await ok(await api.post("/v1/webhooks/events", json=event))
    assert (published["queued_deliveries"], published["source"]) == (1, "billing")
    assert set(published) >= {"accepted_at", "event_id", "owner_agent", "processed_deliveries", "pending"}
    [first] = await arrived(receiver, 1)
    assert first.json["event_id"] == published["event_id"]

    async def settled() -> list[JSON]:
        sent = await api.get("/v1/webhooks/deliveries", params={"status": "sent"})
        found: list[JSON] = (await ok(sent))["deliveries"]
        return found

    await until(settled)  # the 2xx recorded
    replay = f"/v1/webhooks/events/{published['event_id']}/replay"
    replayed = await ok(await api.post(replay))  # AXP sends no body
    assert (replayed["event_id"], replayed["queued_deliveries"], replayed["delivered"]) == (
        published["event_id"],
        1,
        1,
    )
    assert replayed["replayed_at"]
    second = (await arrived(receiver, 2))[1]
    assert second.json["event_id"] == published["event_id"]
    missing = await api.post("/v1/webhooks/events/no-such-event/replay")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "webhook_event_not_found")


# -- the http binding ------------------------------------------------------------------------------------


async def test_an_http_bound_agent_gets_its_intent_posted_and_finishes_it_through_the_api(
    api: AppClient, receiver: Receiver
) -> None:
    bound = (
        await ok(
            await api.put(
                f"/v1/agents/{ADDRESS}/binding",
                json={"delivery_mode": "http", "callback_url": receiver.url, "lease_seconds": 60},
            )
        )
    )["binding"]
    secret = bound.pop("secret")  # generated, shown this once
    assert (bound["delivery_mode"], bound["callback_url"]) == ("http", receiver.url)
    again = (await ok(await api.get(f"/v1/agents/{ADDRESS}/binding")))["binding"]
    assert "secret" not in again and again == bound

    intent_id = (await ok(await api.post("/v1/intents", json=intent_body(WRITER))))["intent_id"]
    [post] = await arrived(receiver, 1)
    verify(secret, post.body, post.headers)
    assert post.json["intent"]["intent_id"] == intent_id

    async def delivered() -> bool:
        intent = (await ok(await api.get(f"/v1/intents/{intent_id}")))["intent"]
        return bool(intent["status"] == "DELIVERED")

    await until(delivered)  # the 2xx leased it to the agent
    resolved = await api.post(f"/v1/intents/{intent_id}/resolve", json={"status": "COMPLETED", "result": {}})
    assert resolved.status_code == 200, resolved.text


async def test_a_dead_letter_is_listed_and_replayed(api: AppClient, receiver: Receiver) -> None:
    await ok(
        await api.put(
            f"/v1/agents/{ADDRESS}/binding", json={"delivery_mode": "http", "callback_url": receiver.url}
        )
    )
    receiver.status = 500
    body = intent_body(WRITER, max_delivery_attempts=2)
    intent_id = (await ok(await api.post("/v1/intents", json=body)))["intent_id"]

    async def dead_letters() -> list[JSON]:
        found: list[JSON] = (await ok(await api.get("/v1/webhooks/deliveries")))["deliveries"]
        return found

    [dead] = await until(dead_letters)
    assert (dead["kind"], dead["subject"], dead["status"], dead["attempts"]) == ("http", intent_id, "dead", 2)
    assert dead["last_error"] == "callback answered HTTP 500"

    receiver.status = 200
    replayed = await ok(await api.post(f"/v1/webhooks/deliveries/{dead['delivery_id']}/replay"))
    assert replayed["delivery"]["status"] == "pending"
    assert (await arrived(receiver, 3))[2].json["intent_id"] == intent_id
    twice = await api.post(f"/v1/webhooks/deliveries/{dead['delivery_id']}/replay")
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "conflict")


# -- refusals --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (
            {"callback_url": "https://u:p@hooks.example.com/x", "event_types": ["a.b"]},
            "callback_url",
            "callback_url_refused",
        ),
        (
            {"callback_url": "gopher://hooks.example.com/x", "event_types": ["a.b"]},
            "callback_url",
            "callback_url_refused",
        ),
        (
            {"callback_url": "https://hooks.example.com/x", "event_types": []},
            "event_types",
            "validation_error",
        ),
        (
            {"callback_url": "https://hooks.example.com/x", "event_types": ["a b"]},
            "event_types",
            "validation_error",
        ),
        (
            {"callback_url": "https://hooks.example.com/x", "event_types": ["a.b"], "secret": "short"},
            "secret",
            "validation_error",
        ),
        (
            {"callback_url": "https://hooks.example.com/x", "event_types": ["a.b"], "extra": 1},
            "extra",
            "validation_error",
        ),
    ],
)
async def test_a_bad_subscription_is_refused_with_its_field_and_leaves_nothing(
    api: AppClient, body: JSON, field: str, code: str
) -> None:
    refused = await api.post(SUBSCRIPTIONS, json=body)

    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == code and field in str(error["details"]), error
    answer = await api.get(SUBSCRIPTIONS, params={"include_inactive": "true"})
    assert (await ok(answer))["subscriptions"] == []


async def test_private_callbacks_are_refused_unless_the_operator_allows_them(
    database_url: str, receiver: Receiver
) -> None:
    from tests._support.servers import build_app, serving

    async with serving(build_app(app_settings(database_url))) as strict:
        refused = await strict.post(
            SUBSCRIPTIONS, json={"callback_url": receiver.url, "event_types": ["a.b"]}
        )
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "callback_url_refused"
        bind = {"delivery_mode": "http", "callback_url": "http://169.254.169.254/latest"}
        refused = await strict.put(f"/v1/agents/{ADDRESS}/binding", json=bind)
        assert refused.status_code == 422 and refused.json()["error"]["details"]["field"] == "callback_url"


# -- namespaces ------------------------------------------------------------------------------------------


async def test_another_namespace_sees_and_touches_none_of_it(api: AppClient, receiver: Receiver) -> None:
    sub = await subscribe(api, receiver.url, "intent.created", "invoice.paid")
    event = {"event_type": "invoice.paid", "source": "billing", "payload": {}}
    published = await ok(await api.post("/v1/webhooks/events", json=event))
    await arrived(receiver, 1)
    receiver.status = 500
    await ok(await api.post("/v1/intents", json=intent_body(WRITER)))

    async def dead_letters() -> list[JSON]:
        found: list[JSON] = (await ok(await api.get("/v1/webhooks/deliveries")))["deliveries"]
        return found

    [dead] = await until(dead_letters)
    _, b_secret = await api.engine.keys.create("b-admin", namespace="tenant-b")
    async with AppClient(api.app, api_key=b_secret) as b:
        assert (await ok(await b.get(SUBSCRIPTIONS, params={"include_inactive": "true"})))[
            "subscriptions"
        ] == []
        assert (await ok(await b.get("/v1/webhooks/deliveries")))["deliveries"] == []
        for method, path, code in [
            ("DELETE", f"{SUBSCRIPTIONS}/{sub['subscription_id']}", "subscription_not_found"),
            ("POST", f"/v1/webhooks/events/{published['event_id']}/replay", "webhook_event_not_found"),
            ("POST", f"/v1/webhooks/deliveries/{dead['delivery_id']}/replay", "delivery_not_found"),
        ]:
            answer = await b.request(method, path)
            assert (answer.status_code, answer.json()["error"]["code"]) == (404, code), answer.text
        # B's own events and intents never reach A's subscription.
        receiver.status = 200
        await ok(await b.post("/v1/webhooks/events", json=event))
        await ok(await b.post("/v1/intents", json=intent_body(WRITER)))
    await ok(await api.post("/v1/webhooks/events", json=event))  # A's: the marker B's would precede
    arrivals = await arrived(receiver, 4)  # A's event, the 2 tries of A's intent.created, A's marker
    await asyncio.sleep(0.3)  # what B queued would have been sent by now
    assert len(receiver.received) == len(arrivals)
    assert [(await ok(await api.get(SUBSCRIPTIONS)))["subscriptions"][0]["revoked_at"]] == [None]
