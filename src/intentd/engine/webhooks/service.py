"""Webhook subscriptions and events (AXP's webhooks family, PROTOCOL.md §6), the dead letters of
both kinds of POST, and the callback of an agent registered with the ``http`` binding.

Subscriptions belong to an ``owner_agent`` within the caller's namespace (the caller's key name when
the request names none). An event published through the API goes to the active subscriptions of its
owner that list its type; an intent's lifecycle events go to every active subscription of the
intent's namespace that lists them (``effects.py``). Each event is kept with a stable ``event_id``
and POSTed once per subscription from the outbox; its counters are read from the outbox rows."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from intentd.model import (
    JSON,
    Conflict,
    Micros,
    OutboxDeliveryNotFound,
    SubscriptionNotFound,
    ValidationFailed,
    WebhookEventNotFound,
    new_id,
)
from intentd.store import Store, Tx, WebhookEvent, WebhookSubscription

from .. import audit
from ..inputs import Principal
from ..notify import OUTBOX_KEY
from .channels import PUSH
from .config import WebhookConfig
from .effects import LIFECYCLE_SOURCE, deliveries, queue
from .targets import Targets, matches
from .urls import check_callback

Clock = Callable[[], Micros]
MAX_EVENT_TYPES = 32


@dataclass(frozen=True, slots=True)
class UpsertSubscription:
    """Create the subscription of ``owner_agent`` to ``callback_url``, or change the one it has.
    ``secret`` None: a new subscription gets a generated one (returned once), a changed one keeps its
    own."""

    callback_url: str
    event_types: tuple[str, ...]
    owner_agent: str | None = None
    secret: str | None = None
    active: bool = True
    description: str | None = None


@dataclass(frozen=True, slots=True)
class PublishEvent:
    event_type: str
    source: str
    payload: JSON
    owner_agent: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionAnswer:
    subscription: WebhookSubscription
    secret: str | None = None  # only when the server generated it: shown this once


@dataclass(frozen=True, slots=True)
class EventReport:
    """An event and how its deliveries stand (AXP's five counters)."""

    event: WebhookEvent
    queued_deliveries: int
    delivered: int
    pending: int
    dead_lettered: int

    @property
    def processed_deliveries(self) -> int:
        return self.delivered + self.dead_lettered


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(24)}"


class WebhookService:
    def __init__(self, store: Store, clock: Clock, config: WebhookConfig, targets: Targets) -> None:
        self.config = config
        self._store = store
        self._clock = clock
        self._targets = targets

    # -- the http binding's callback ----------------------------------------------------------------
    async def check_callback(self, url: str) -> None:
        await check_callback(url, allow_private=self.config.allow_private, resolve=True)

    async def put_callback(self, tx: Tx, namespace: str, address: str, url: str, secret: str) -> None:
        """Write an agent's callback in the caller's transaction (its binding is written with it)."""
        await tx.put_agent_callback(namespace, address, url, secret, self._clock())
        tx.after_commit.append(self._targets.invalidate)

    # -- subscriptions ------------------------------------------------------------------------------
    async def upsert(self, principal: Principal, req: UpsertSubscription) -> SubscriptionAnswer:
        _check_event_types(req.event_types)
        await self.check_callback(req.callback_url)
        owner = req.owner_agent or principal.name
        now = self._clock()

        async def unit(tx: Tx) -> SubscriptionAnswer:
            found = await tx.find_webhook_subscription(principal.namespace, owner, req.callback_url)
            if found is not None:
                changed = replace(
                    found,
                    event_types=tuple(dict.fromkeys(req.event_types)),
                    secret=req.secret or found.secret,
                    active=req.active,
                    description=req.description,
                    updated_at=now,
                )
                await tx.update_webhook_subscription(changed)
                _audit(tx, "webhook.subscription_changed", changed)
                return SubscriptionAnswer(changed)
            secret = req.secret or new_secret()
            sub = WebhookSubscription(
                new_id(),
                principal.namespace,
                owner,
                req.callback_url,
                tuple(dict.fromkeys(req.event_types)),
                secret,
                req.active,
                req.description,
                now,
                now,
            )
            await tx.insert_webhook_subscription(sub)
            _audit(tx, "webhook.subscription_created", sub)
            return SubscriptionAnswer(sub, None if req.secret else secret)

        answer = await self._store.write(unit)
        self._targets.invalidate()
        return answer

    async def subscriptions(
        self, principal: Principal, owner_agent: str | None = None, include_inactive: bool = False
    ) -> list[WebhookSubscription]:
        subs = await self._store.read(lambda tx: tx.webhook_subscriptions(principal.namespace))
        return [
            s
            for s in subs
            if (owner_agent is None or s.owner_agent == owner_agent) and (include_inactive or s.live)
        ]

    async def revoke(
        self, principal: Principal, subscription_id: str, owner_agent: str | None = None
    ) -> WebhookSubscription:
        """Revoke (not delete): the subscription gets no more deliveries, queued ones included."""
        now = self._clock()

        async def unit(tx: Tx) -> WebhookSubscription:
            sub = await tx.webhook_subscription(principal.namespace, subscription_id)
            if sub is None or (owner_agent is not None and sub.owner_agent != owner_agent):
                raise SubscriptionNotFound(details={"subscription_id": subscription_id})
            if sub.revoked_at is None:
                await tx.revoke_webhook_subscription(principal.namespace, subscription_id, now)
                sub = replace(sub, revoked_at=now, active=False, updated_at=now)
                _audit(tx, "webhook.subscription_revoked", sub)
            return sub

        sub = await self._store.write(unit)
        self._targets.invalidate()
        return sub

    # -- events -------------------------------------------------------------------------------------
    async def publish(self, principal: Principal, req: PublishEvent) -> EventReport:
        """Accept an event and queue one delivery per matching subscription of its owner."""
        owner = req.owner_agent or principal.name
        now = self._clock()
        event = WebhookEvent(
            new_id(), principal.namespace, owner, req.event_type, req.source, req.payload, now
        )

        async def unit(tx: Tx) -> int:
            await tx.insert_webhook_event(event)
            return await self._queue(tx, event, now)

        queued = await self._store.write(unit)
        return EventReport(event, queued, 0, queued, 0)

    async def replay(
        self, principal: Principal, event_id: str, owner_agent: str | None = None
    ) -> EventReport:
        """Queue the event again to every active subscription that takes it now (same ``event_id``:
        receivers that saw it drop the copy)."""
        now = self._clock()

        async def unit(tx: Tx) -> EventReport:
            event = await tx.webhook_event(principal.namespace, event_id)
            if event is None or (owner_agent is not None and event.owner_agent != owner_agent):
                raise WebhookEventNotFound(details={"event_id": event_id})
            queued = await self._queue(tx, event, now)
            details = {"event_id": event_id, "event_type": event.event_type, "queued_deliveries": queued}
            audit.record(tx, event.namespace, now, "webhook.event_replayed", details=details)
            return await _report(tx, event, queued)

        return await self._store.write(unit)

    async def event(self, principal: Principal, event_id: str) -> EventReport:
        async def unit(tx: Tx) -> EventReport:
            event = await tx.webhook_event(principal.namespace, event_id)
            if event is None:
                raise WebhookEventNotFound(details={"event_id": event_id})
            return await _report(tx, event, 0)

        return await self._store.read(unit)

    async def _queue(self, tx: Tx, event: WebhookEvent, now: Micros) -> int:
        subs = [
            s
            for s in await tx.webhook_subscriptions(event.namespace)
            if s.live
            and matches(s, event.event_type)
            and (event.source == LIFECYCLE_SOURCE or s.owner_agent == event.owner_agent)
        ]
        rows = deliveries(event, [s.subscription_id for s in subs], now)
        await queue(tx, rows)
        return len(rows)

    # -- dead letters -------------------------------------------------------------------------------
    async def deliveries(self, principal: Principal, status: str = "dead", limit: int = 100) -> list[JSON]:
        """The POSTs of both kinds in ``status`` (``dead``: the dead letters), oldest first."""
        return await self._store.read(lambda tx: tx.outbox_deliveries(principal.namespace, status, limit))

    async def replay_delivery(self, principal: Principal, delivery_id: str) -> JSON:
        """Send a dead letter again, from its first attempt (a pushed intent only while it is open)."""
        now = self._clock()

        async def unit(tx: Tx) -> JSON:
            row = await tx.outbox_delivery(principal.namespace, delivery_id)
            if row is None or row["channel"] not in (PUSH, "subscription"):
                raise OutboxDeliveryNotFound(details={"delivery_id": delivery_id})
            if row["status"] != "dead":
                raise Conflict(
                    f"only a dead delivery can be replayed; this one is {row['status']}",
                    details={"delivery_id": delivery_id, "status": row["status"]},
                )
            if row["channel"] == PUSH:
                intent = await tx.get_intent(row["subject"])
                if intent is None or intent.is_terminal:
                    raise Conflict(
                        "the pushed intent has ended: there is nothing to deliver",
                        details={"delivery_id": delivery_id, "intent_id": row["subject"]},
                    )
            await tx.revive_outbox_delivery(principal.namespace, delivery_id, now)
            tx.changes.add(OUTBOX_KEY)
            pushed = row["subject"] if row["channel"] == PUSH else None
            details = {"delivery_id": delivery_id, "kind": row["channel"], "recipient": row["recipient"]}
            audit.record(
                tx, principal.namespace, now, "webhook.delivery_replayed", intent_id=pushed, details=details
            )
            return {**row, "status": "pending", "attempts": 0, "due_at": now, "finished_at": None}

        return await self._store.write(unit)


async def _report(tx: Tx, event: WebhookEvent, queued: int) -> EventReport:
    """The event's counters, read from its outbox rows."""
    counts = await tx.outbox_delivery_counts(event.event_id)
    return EventReport(event, queued, counts.get("sent", 0), counts.get("pending", 0), counts.get("dead", 0))


def _audit(tx: Tx, action: str, sub: WebhookSubscription) -> None:
    """A subscription's change in the audit trail: what it sends where, never its secret."""
    details = {
        "subscription_id": sub.subscription_id,
        "owner_agent": sub.owner_agent,
        "callback_url": sub.callback_url,
        "event_types": list(sub.event_types),
        "active": sub.active,
    }
    audit.record(tx, sub.namespace, sub.updated_at, action, details=details)


def _check_event_types(event_types: tuple[str, ...]) -> None:
    if not 1 <= len(event_types) <= MAX_EVENT_TYPES:
        raise ValidationFailed(
            f"event_types must list 1 to {MAX_EVENT_TYPES} event types", details={"field": "event_types"}
        )
    for event_type in event_types:
        if not 1 <= len(event_type) <= 100:
            raise ValidationFailed("each event type is 1 to 100 characters", details={"field": "event_types"})
