"""HTTP push delivery and webhooks in the store (queries in ``sql/webhooks.sql``): agents' callback
URLs, webhook subscriptions and events, and their POSTs as rows of the notification outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intentd.model import JSON, Micros

from ._codec import dumps, loads
from ._txbase import TxBase


@dataclass(frozen=True, slots=True)
class OutboxDelivery:
    """One POST to make, as an outbox row: ``channel`` says how (``http``: an intent pushed to an
    agent; ``subscription``: an event to a webhook subscription), ``recipient`` to whom (the agent's
    address, the subscription's id), ``subject`` what (the intent's or the event's id)."""

    notification_id: str
    namespace: str
    channel: str
    recipient: str
    body: JSON
    subject: str
    due_at: Micros
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    subscription_id: str
    namespace: str
    owner_agent: str
    callback_url: str
    event_types: tuple[str, ...]
    secret: str
    active: bool
    description: str | None
    created_at: Micros
    updated_at: Micros
    revoked_at: Micros | None = None

    @property
    def live(self) -> bool:
        """Active and not revoked: it is sent what it takes."""
        return self.active and self.revoked_at is None


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    event_id: str
    namespace: str
    owner_agent: str
    event_type: str
    source: str
    payload: JSON
    accepted_at: Micros


class WebhookRows(TxBase):
    # -- the outbox ---------------------------------------------------------------------------------
    async def insert_outbox_deliveries(self, rows: list[OutboxDelivery], now: Micros) -> None:
        """Queue POSTs in this transaction; the caller wakes the sender (``OUTBOX_KEY``)."""
        if not rows:
            return
        self.writes += 1
        await self._ex.executemany(
            self._q["insert_outbox_delivery"],
            [
                {
                    "notification_id": r.notification_id,
                    "namespace": r.namespace,
                    "channel": r.channel,
                    "recipient": r.recipient,
                    "notice": dumps(r.body),
                    "due_at": r.due_at,
                    "created_at": now,
                    "subject": r.subject,
                    "max_attempts": r.max_attempts,
                }
                for r in rows
            ],
        )

    async def outbox_delivery(self, namespace: str, notification_id: str) -> dict[str, Any] | None:
        row = await self._one("get_outbox_delivery", namespace=namespace, notification_id=notification_id)
        return _outbox_row(row) if row else None

    async def outbox_deliveries(self, namespace: str, status: str, limit: int) -> list[dict[str, Any]]:
        rows = await self._rows("list_outbox_deliveries", namespace=namespace, status=status, limit=limit)
        return [_outbox_row(r) for r in rows]

    async def revive_outbox_delivery(self, namespace: str, notification_id: str, now: Micros) -> bool:
        changed = await self._write(
            "revive_outbox_delivery", namespace=namespace, notification_id=notification_id, now=now
        )
        return changed == 1

    async def outbox_delivery_counts(self, subject: str) -> dict[str, int]:
        """How many rows delivering ``subject`` are pending, sent and dead."""
        rows = await self._rows("outbox_delivery_counts", subject=subject)
        return {r["status"]: int(r["n"]) for r in rows}

    # -- agents' callbacks (the http binding) -------------------------------------------------------
    async def put_agent_callback(
        self, namespace: str, address: str, callback_url: str, secret: str, now: Micros
    ) -> None:
        await self._write(
            "put_agent_callback",
            namespace=namespace,
            address=address,
            callback_url=callback_url,
            secret=secret,
            now=now,
        )

    async def agent_callback(self, namespace: str, address: str) -> dict[str, Any] | None:
        row = await self._one("get_agent_callback", namespace=namespace, address=address)
        return dict(row) if row else None

    async def http_bound_agents(self) -> list[tuple[str, str]]:
        return [(r["namespace"], r["address"]) for r in await self._rows("http_bound_agents")]

    # -- subscriptions and events -------------------------------------------------------------------
    async def insert_webhook_subscription(self, sub: WebhookSubscription) -> None:
        await self._write(
            "insert_webhook_subscription",
            subscription_id=sub.subscription_id,
            namespace=sub.namespace,
            owner_agent=sub.owner_agent,
            callback_url=sub.callback_url,
            event_types=dumps(list(sub.event_types)),
            secret=sub.secret,
            active=int(sub.active),
            description=sub.description,
            now=sub.created_at,
        )

    async def update_webhook_subscription(self, sub: WebhookSubscription) -> None:
        await self._write(
            "update_webhook_subscription",
            subscription_id=sub.subscription_id,
            event_types=dumps(list(sub.event_types)),
            secret=sub.secret,
            active=int(sub.active),
            description=sub.description,
            now=sub.updated_at,
        )

    async def find_webhook_subscription(
        self, namespace: str, owner_agent: str, callback_url: str
    ) -> WebhookSubscription | None:
        row = await self._one(
            "find_webhook_subscription",
            namespace=namespace,
            owner_agent=owner_agent,
            callback_url=callback_url,
        )
        return _subscription(row) if row else None

    async def webhook_subscription(self, namespace: str, subscription_id: str) -> WebhookSubscription | None:
        row = await self._one(
            "get_webhook_subscription", namespace=namespace, subscription_id=subscription_id
        )
        return _subscription(row) if row else None

    async def webhook_subscriptions(self, namespace: str) -> list[WebhookSubscription]:
        return [_subscription(r) for r in await self._rows("list_webhook_subscriptions", namespace=namespace)]

    async def active_webhook_subscriptions(self) -> list[WebhookSubscription]:
        return [_subscription(r) for r in await self._rows("active_webhook_subscriptions")]

    async def revoke_webhook_subscription(self, namespace: str, subscription_id: str, now: Micros) -> bool:
        changed = await self._write(
            "revoke_webhook_subscription", namespace=namespace, subscription_id=subscription_id, now=now
        )
        return changed == 1

    async def insert_webhook_event(self, event: WebhookEvent) -> None:
        await self._write(
            "insert_webhook_event",
            event_id=event.event_id,
            namespace=event.namespace,
            owner_agent=event.owner_agent,
            event_type=event.event_type,
            source=event.source,
            payload=dumps(event.payload),
            accepted_at=event.accepted_at,
        )

    async def webhook_event(self, namespace: str, event_id: str) -> WebhookEvent | None:
        row = await self._one("get_webhook_event", namespace=namespace, event_id=event_id)
        if row is None:
            return None
        return WebhookEvent(
            row["event_id"],
            row["namespace"],
            row["owner_agent"],
            row["event_type"],
            row["source"],
            loads(row["payload"]),
            row["accepted_at"],
        )


def _outbox_row(row: Any) -> dict[str, Any]:
    return {**dict(row), "notice": loads(row["notice"])}


def _subscription(row: Any) -> WebhookSubscription:
    return WebhookSubscription(
        row["subscription_id"],
        row["namespace"],
        row["owner_agent"],
        row["callback_url"],
        tuple(loads(row["event_types"])),
        row["secret"],
        bool(row["active"]),
        row["description"],
        row["created_at"],
        row["updated_at"],
        row["revoked_at"],
    )
