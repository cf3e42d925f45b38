"""AXP's webhooks family through the official ``axme`` SDK, unmodified, against a real ``intentd
serve`` on both backends: its five methods (upsert, list, delete a subscription; publish and replay an
event) get the answers its docs describe, with the owner scope of ``owner_agent``. The POSTs
themselves are tested in tests/server/test_webhooks_api.py and tests/e2e (signed, retried, replayed):
this server refuses callbacks on private addresses, so the subscriptions here name a public host."""

from __future__ import annotations

import uuid

import pytest
from axme import AxmeClient
from axme_sdk.exceptions import AxmeHttpError

from tests.compat import test_axme_sdk

pytestmark = pytest.mark.slow
server, connect, axme = test_axme_sdk.server, test_axme_sdk.connect, test_axme_sdk.axme
HOOK = "https://hooks.example.com/intentd"  # never reached: the events here are only queued


def test_the_sdk_manages_subscriptions_with_the_axp_shape(axme: AxmeClient) -> None:
    owner = f"agent://acme/t{uuid.uuid4().hex[:10]}/hooks"
    body = {"callback_url": HOOK, "event_types": ["inbox.thread_created", "intent.*"], "description": "ops"}
    made = axme.upsert_webhook_subscription(body, idempotency_key=str(uuid.uuid4()))
    sub = made["subscription"]
    assert made["ok"] is True and sub["callback_url"] == HOOK and sub["active"] is True
    assert sub["secret_hint"].startswith("****") and len(sub["secret"]) >= 32

    listed = axme.list_webhook_subscriptions()["subscriptions"]
    assert sub["subscription_id"] in {s["subscription_id"] for s in listed}
    assert all("secret" not in s for s in listed)
    assert axme.list_webhook_subscriptions(owner_agent=owner)["subscriptions"] == []

    revoked = axme.delete_webhook_subscription(sub["subscription_id"])
    assert revoked["subscription_id"] == sub["subscription_id"] and revoked["revoked_at"]
    with pytest.raises(AxmeHttpError) as missing:  # its owner scope: another owner finds nothing
        axme.delete_webhook_subscription(sub["subscription_id"], owner_agent=owner)
    assert missing.value.status_code == 404


def test_the_sdk_publishes_and_replays_an_event_with_its_counters(axme: AxmeClient) -> None:
    owner = f"agent://acme/t{uuid.uuid4().hex[:10]}/billing"
    axme.upsert_webhook_subscription({"callback_url": HOOK + "/billing", "event_types": ["invoice.paid"]})
    published = axme.publish_webhook_event(
        {"event_type": "invoice.paid", "source": "billing", "payload": {"amount": 7}}
    )
    counters = ("queued_deliveries", "processed_deliveries", "delivered", "pending", "dead_lettered")
    assert set(published) >= {
        "ok",
        "accepted_at",
        "event_type",
        "source",
        "owner_agent",
        "event_id",
        *counters,
    }
    assert (published["queued_deliveries"], published["event_type"]) == (1, "invoice.paid")

    replayed = axme.replay_webhook_event(published["event_id"])
    assert replayed["event_id"] == published["event_id"] and replayed["replayed_at"]
    assert set(replayed) >= set(counters) and replayed["queued_deliveries"] == 1
    assert (
        axme.publish_webhook_event(
            {"event_type": "invoice.paid", "source": "billing", "payload": {}}, owner_agent=owner
        )["queued_deliveries"]
        == 0
    )  # that owner has no subscription
    with pytest.raises(AxmeHttpError) as missing:
        axme.replay_webhook_event(str(uuid.uuid4()))
    assert missing.value.status_code == 404
