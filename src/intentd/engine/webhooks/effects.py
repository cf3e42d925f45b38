"""The lifecycle effects of this capability, run by the recorder in the transaction of each change
(``engine/recorder.py``), so a POST is queued if and only if its change commits:

- :class:`PushToCallback`: an intent queued for an agent registered with the ``http`` binding gets a
  push row (runs after the direct handoff: an intent a waiting claim took is not pushed);
- :class:`PublishLifecycle`: each event of the change that an active subscription of the namespace
  lists becomes a webhook event with a stable id, and one row per subscription (runs last: it sees
  every event the other effects added)."""

from __future__ import annotations

from collections.abc import Callable

from intentd.model import Micros, Status, new_id, to_rfc3339
from intentd.store import OutboxDelivery, Tx, WebhookEvent

from .._change import Change
from ..notify import OUTBOX_KEY
from .channels import PUSH, SUBSCRIPTION
from .targets import Targets

Clock = Callable[[], Micros]
LIFECYCLE_SOURCE = "intentd.lifecycle"


class PushToCallback:
    def __init__(self, targets: Targets) -> None:
        self._targets = targets

    async def apply(self, tx: Tx, change: Change) -> None:
        intent = change.intent
        if intent.status is not Status.SUBMITTED or not await self._targets.pushes_to(
            tx, intent.namespace, intent.to_agent
        ):
            return
        delivery_id = new_id()
        at = change.events[-1].at
        body = {
            "delivery_id": delivery_id,
            "event_type": "intent.delivered",
            "intent_id": intent.intent_id,
            "queued_at": intent.queued_at,
            "intent": intent.to_wire(),
        }
        row = OutboxDelivery(
            delivery_id,
            intent.namespace,
            PUSH,
            intent.to_agent,
            body,
            intent.intent_id,
            at,
            intent.max_delivery_attempts,
        )
        await queue(tx, [row])


class PublishLifecycle:
    def __init__(self, targets: Targets) -> None:
        self._targets = targets

    async def apply(self, tx: Tx, change: Change) -> None:
        intent = change.intent
        rows: list[OutboxDelivery] = []
        for event in change.events:
            subs = await self._targets.subscribed(tx, intent.namespace, event.event_type.value)
            if not subs:
                continue
            payload = {
                "intent_id": intent.intent_id,
                "intent_type": intent.intent_type,
                "correlation_id": intent.correlation_id,
                "from_agent": intent.from_agent,
                "to_agent": intent.to_agent,
                "event": _public(event.to_wire()),
            }
            webhook_event = WebhookEvent(
                new_id(),
                intent.namespace,
                intent.from_agent,
                event.event_type.value,
                LIFECYCLE_SOURCE,
                payload,
                event.at,
            )
            await tx.insert_webhook_event(webhook_event)
            rows.extend(deliveries(webhook_event, [s.subscription_id for s in subs], event.at))
        await queue(tx, rows)


async def queue(tx: Tx, rows: list[OutboxDelivery]) -> None:
    """Write ``rows`` to the outbox in ``tx`` and wake the sender at its commit."""
    if rows:
        await tx.insert_outbox_deliveries(rows, rows[0].due_at)
        tx.changes.add(OUTBOX_KEY)


def deliveries(event: WebhookEvent, subscription_ids: list[str], now: Micros) -> list[OutboxDelivery]:
    """One outbox row per subscription, each POSTing the event with its stable ``event_id``."""
    rows = []
    for subscription_id in subscription_ids:
        delivery_id = new_id()
        body = {
            "event_id": event.event_id,
            "event_type": event.event_type,
            "source": event.source,
            "owner_agent": event.owner_agent,
            "occurred_at": to_rfc3339(event.accepted_at),
            "subscription_id": subscription_id,
            "delivery_id": delivery_id,
            "payload": event.payload,
        }
        rows.append(
            OutboxDelivery(
                delivery_id, event.namespace, SUBSCRIPTION, subscription_id, body, event.event_id, now
            )
        )
    return rows


def _public(event: dict[str, object]) -> dict[str, object]:
    """The event without its lease token: a subscriber watches, it does not hold the lease."""
    details = event.get("details")
    if isinstance(details, dict) and "lease_token" in details:
        event = {**event, "details": {k: v for k, v in details.items() if k != "lease_token"}}
    return event
