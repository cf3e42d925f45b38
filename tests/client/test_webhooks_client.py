"""The SDK's webhooks and HTTP push against the real app on both backends, through both clients (the
``sdk`` fixture), with the app's own sender and a real receiver: the http binding with its secret in
the registration's answer only, a signed push, a dead letter listed, typed and replayed, AXP
subscriptions round trip (subscribe, list, publish, replay the event, revoke) and their owner scope;
then each method's retry rule against a failing network."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import pytest

from intentd.client import (
    AgentBinding,
    AsyncClient,
    Conflict,
    NotFound,
    Unavailable,
    ValidationFailed,
    WebhookDelivery,
    WebhookEventPublished,
    WebhookEventReplayed,
    WebhookSubscription,
    WebhookSubscriptionRevoked,
)
from intentd.settings import Settings
from intentd.webhooks import verify
from tests._support.http_api import WRITER
from tests._support.receiver import Receiver, arrived, hook_settings, receiver, until
from tests._support.sdk import Flavour, each_flavour, flaky_server, mock_client

T = TypeVar("T")
SECRET = "whsec-sdk-0123456789"
receiver = receiver  # the fixture


@pytest.fixture
def settings(database_url: str) -> Settings:
    return hook_settings(database_url)


BOSS = "agent://acme/prod/boss"


# --- the http binding ------------------------------------------------------------------------------


async def test_an_http_binding_shows_its_generated_secret_once_and_the_push_arrives_signed(
    sdk: AsyncClient, receiver: Receiver
) -> None:
    bound = await sdk.bind(WRITER, delivery_mode="http", callback_url=receiver.url, lease_seconds=60)

    assert isinstance(bound, AgentBinding)
    assert (bound.delivery_mode, bound.callback_url, bound.lease_seconds) == ("http", receiver.url, 60.0)
    assert bound.secret is not None and len(bound.secret) >= 16
    read = await sdk.binding(WRITER)
    assert (read.callback_url, read.secret) == (receiver.url, None)  # the secret: never again
    assert "secret" not in read.raw

    intent = await sdk.submit(WRITER, "intent.draft.v1", {"topic": "push"})
    [post] = await arrived(receiver, 1)
    verify(bound.secret, post.body, post.headers)
    assert post.json["intent"]["intent_id"] == intent.intent_id

    own = await sdk.bind(WRITER, delivery_mode="http", callback_url=receiver.url, secret=SECRET)
    assert own.secret is None and own.raw.get("secret") is None  # given, so not shown back
    with pytest.raises(ValidationFailed) as refused:
        await sdk.bind(WRITER, delivery_mode="http")
    assert refused.value.details["field"] == "callback_url"


async def test_a_dead_letter_is_listed_typed_and_replayed(sdk: AsyncClient, receiver: Receiver) -> None:
    await sdk.bind(WRITER, delivery_mode="http", callback_url=receiver.url, secret=SECRET)
    receiver.status = 500
    intent = await sdk.submit(WRITER, "intent.draft.v1", max_delivery_attempts=2)

    [dead] = await until(sdk.webhook_deliveries)
    assert isinstance(dead, WebhookDelivery)
    assert (dead.kind, dead.recipient, dead.subject, dead.status, dead.attempts) == (
        "http",
        WRITER,
        intent.intent_id,
        "dead",
        2,
    )
    assert dead.last_error == "callback answered HTTP 500"
    assert isinstance(dead.created_at, datetime) and dead.finished_at is not None
    assert dead.body["intent"]["intent_id"] == intent.intent_id
    assert dead.raw["delivery_id"] == dead.delivery_id
    assert await sdk.webhook_deliveries("pending") == [] and await sdk.webhook_deliveries("sent") == []
    assert len(await arrived(receiver, 2)) == 2

    receiver.status = 200
    again = await sdk.replay_delivery(dead.delivery_id)
    assert (again.delivery_id, again.status, again.attempts) == (dead.delivery_id, "pending", 0)
    third = (await arrived(receiver, 3))[2]
    verify(SECRET, third.body, third.headers)
    assert third.json["intent_id"] == intent.intent_id

    async def sent() -> list[WebhookDelivery]:
        return await sdk.webhook_deliveries(status="sent", limit=10)

    [done] = await until(sent)
    assert (done.delivery_id, done.attempts) == (dead.delivery_id, 1)
    assert await sdk.webhook_deliveries() == []
    with pytest.raises(Conflict) as twice:
        await sdk.replay_delivery(dead.delivery_id)  # only a dead letter is replayed
    assert twice.value.details["status"] == "sent"
    with pytest.raises(NotFound) as missing:
        await sdk.replay_delivery("no-such-delivery")
    assert missing.value.code == "delivery_not_found"


# --- subscriptions ---------------------------------------------------------------------------------


async def test_a_subscription_round_trip_publish_replay_and_revoke(
    sdk: AsyncClient, receiver: Receiver
) -> None:
    sub = await sdk.subscribe_webhook(receiver.url, ["invoice.paid"], description="billing")
    assert isinstance(sub, WebhookSubscription)
    assert (sub.callback_url, sub.event_types, sub.active, sub.description) == (
        receiver.url,
        ["invoice.paid"],
        True,
        "billing",
    )
    assert sub.secret is not None and sub.secret_hint == f"****{sub.secret[-4:]}"
    [listed] = await sdk.webhook_subscriptions()
    assert listed.subscription_id == sub.subscription_id and listed.secret is None  # shown once

    published = await sdk.publish_webhook_event("invoice.paid", "billing", {"amount": 3})
    assert isinstance(published, WebhookEventPublished)
    assert (published.event_type, published.source, published.queued_deliveries) == (
        "invoice.paid",
        "billing",
        1,
    )
    [first] = await arrived(receiver, 1)
    verify(sub.secret, first.body, first.headers)
    assert (first.json["event_id"], first.json["payload"]) == (published.event_id, {"amount": 3})
    await until(lambda: sdk.webhook_deliveries("sent"))  # the 2xx recorded

    replayed = await sdk.replay_webhook_event(published.event_id)
    assert isinstance(replayed, WebhookEventReplayed)
    assert (replayed.event_id, replayed.queued_deliveries, replayed.delivered) == (published.event_id, 1, 1)
    assert (await arrived(receiver, 2))[1].json["event_id"] == published.event_id
    with pytest.raises(NotFound) as missing:
        await sdk.replay_webhook_event("no-such-event")
    assert missing.value.code == "webhook_event_not_found"

    revoked = await sdk.revoke_webhook_subscription(sub.subscription_id)
    assert isinstance(revoked, WebhookSubscriptionRevoked)
    assert revoked.subscription_id == sub.subscription_id
    assert await sdk.webhook_subscriptions() == []
    [kept] = await sdk.webhook_subscriptions(include_inactive=True)
    assert (kept.active, kept.revoked_at) == (False, revoked.revoked_at)
    assert (await sdk.revoke_webhook_subscription(sub.subscription_id)).revoked_at == revoked.revoked_at


async def test_a_given_secret_is_not_shown_back_and_the_owner_scopes_subscriptions(
    sdk: AsyncClient, receiver: Receiver
) -> None:
    sub = await sdk.subscribe_webhook(receiver.url, ["a.b"], secret=SECRET, owner_agent=BOSS)
    assert (sub.owner_agent, sub.secret, sub.secret_hint) == (BOSS, None, f"****{SECRET[-4:]}")
    changed = await sdk.subscribe_webhook(receiver.url, ["a.b", "c.d"], secret=SECRET, owner_agent=BOSS)
    assert (changed.subscription_id, changed.event_types) == (sub.subscription_id, ["a.b", "c.d"])

    assert await sdk.webhook_subscriptions(owner_agent=WRITER) == []
    assert [s.subscription_id for s in await sdk.webhook_subscriptions(owner_agent=BOSS)] == [
        sub.subscription_id
    ]
    assert await sdk.webhook_subscriptions() == [changed]  # no owner: every owner's in the namespace
    with pytest.raises(NotFound) as other:
        await sdk.revoke_webhook_subscription(sub.subscription_id, owner_agent=WRITER)
    assert other.value.code == "subscription_not_found"
    assert (await sdk.revoke_webhook_subscription(sub.subscription_id, owner_agent=BOSS)).revoked_at
    with pytest.raises(ValidationFailed):
        await sdk.subscribe_webhook(receiver.url, [], owner_agent=BOSS)


# --- retry rules ---------------------------------------------------------------------------------------

AT = "2030-01-01T00:00:00Z"
SUBSCRIPTION_WIRE: dict[str, Any] = {
    "ok": True,
    "subscription": {
        "subscription_id": "s-1",
        "owner_agent": BOSS,
        "callback_url": "https://hooks.example.com/x",
        "event_types": ["a.b"],
        "active": True,
        "created_at": AT,
        "updated_at": AT,
        "secret_hint": "****6789",
    },
}
DELIVERY: dict[str, Any] = {
    "delivery_id": "d-1",
    "kind": "http",
    "recipient": WRITER,
    "subject": "i-1",
    "status": "pending",
    "attempts": 0,
    "created_at": AT,
    "body": {},
}


@each_flavour
async def test_reads_revocations_replays_of_a_dead_letter_and_keyed_subscribes_are_retried(
    flavour: Flavour,
) -> None:
    requests, transport = flaky_server([503, 200], {"ok": True, "deliveries": [DELIVERY]})
    [listed] = await mock_client(flavour, transport).webhook_deliveries("pending", 5)
    assert (listed.delivery_id, len(requests)) == ("d-1", 2)
    assert dict(requests[0].url.params) == {"status": "pending", "limit": "5"}

    requests, transport = flaky_server([503, 200], {"ok": True, "delivery": DELIVERY})
    assert (await mock_client(flavour, transport).replay_delivery("d/1")).status == "pending"
    assert [r.url.raw_path for r in requests] == [b"/v1/webhooks/deliveries/d%2F1/replay"] * 2

    requests, transport = flaky_server([503, 200], SUBSCRIPTION_WIRE)
    await mock_client(flavour, transport).subscribe_webhook(
        "https://hooks.example.com/x", ["a.b"], secret=SECRET
    )
    assert len(requests) == 2 and requests[0].content == requests[1].content

    revoked = {"ok": True, "subscription_id": "s-1", "revoked_at": AT}
    requests, transport = flaky_server([503, 200], revoked)
    await mock_client(flavour, transport).revoke_webhook_subscription("s-1", owner_agent=BOSS)
    assert len(requests) == 2 and requests[0].url.params["owner_agent"] == BOSS


@each_flavour
async def test_what_could_apply_twice_is_sent_once(flavour: Flavour) -> None:
    """A subscribe whose secret the server generates (a retry would answer without it), a publish
    (another event) and an event's replay (queued again)."""
    sends = [
        lambda c: c.subscribe_webhook("https://hooks.example.com/x", ["a.b"]),
        lambda c: c.publish_webhook_event("a.b", "billing", {"n": 1}),
        lambda c: c.replay_webhook_event("e-1"),
    ]
    for send in sends:
        requests, transport = flaky_server([503, 200], {})
        with pytest.raises(Unavailable):
            await send(mock_client(flavour, transport))
        assert len(requests) == 1


@each_flavour
async def test_bind_sends_the_callback_url_and_secret_only_when_given(flavour: Flavour) -> None:
    answer = {"ok": True, "binding": {"address": WRITER, "delivery_mode": "stream"}}
    requests, transport = flaky_server([200], answer)
    client = mock_client(flavour, transport)
    await client.bind(WRITER)
    await client.bind(WRITER, delivery_mode="http", callback_url="https://a.example.com/w", secret=SECRET)
    assert [r.content for r in requests] == [
        b'{"delivery_mode":"stream","lease_seconds":30.0}',
        b'{"delivery_mode":"http","lease_seconds":30.0,"callback_url":"https://a.example.com/w",'
        b'"secret":"' + SECRET.encode() + b'"}',
    ]
