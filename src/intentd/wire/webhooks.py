"""Webhooks on the wire: AXP's webhooks family (PROTOCOL.md §6) — subscriptions, published events with
their delivery counters, replay — and intentd's dead letters of webhook and push deliveries
(docs/webhooks.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._model import WireModel
from .limits import NO_NUL

CallbackUrl = Annotated[str, Field(min_length=8, max_length=2048, pattern=NO_NUL)]
EventType = Annotated[str, Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9_.:*\-]+$")]
Secret = Annotated[str, Field(min_length=16, max_length=128, pattern=NO_NUL)]


class SubscriptionBody(BaseModel):
    """``POST /v1/webhooks/subscriptions``: create the owner's subscription to ``callback_url``, or
    change the one it has (upsert by owner and URL)."""

    model_config = ConfigDict(extra="forbid")

    callback_url: CallbackUrl
    event_types: list[EventType] = Field(min_length=1, max_length=32)
    secret: Secret | None = Field(None, description="signs the POSTs; default: generated, shown once")
    active: bool = True
    description: str | None = Field(None, max_length=500, pattern=NO_NUL)


class PublishBody(BaseModel):
    """``POST /v1/webhooks/events``: an event for the owner's subscriptions."""

    model_config = ConfigDict(extra="forbid")

    event_type: EventType
    source: str = Field(min_length=2, max_length=100, pattern=NO_NUL)
    payload: dict[str, Any] = Field(default_factory=dict)


class Subscription(WireModel):
    subscription_id: str
    owner_agent: str
    callback_url: str
    event_types: list[str]
    active: bool
    description: str | None = None
    created_at: datetime
    updated_at: datetime
    revoked_at: datetime | None = None
    secret_hint: str = Field(
        description="the secret's last characters; the secret itself is never shown again"
    )
    secret: str | None = Field(None, description="only in the answer that generated it")


class SubscriptionAnswer(WireModel):
    ok: bool = True
    subscription: Subscription


class SubscriptionsAnswer(WireModel):
    ok: bool = True
    subscriptions: list[Subscription]


class RevokedAnswer(WireModel):
    ok: bool = True
    subscription_id: str
    revoked_at: datetime


class EventCounters(WireModel):
    event_id: str
    owner_agent: str
    event_type: str
    queued_deliveries: int
    processed_deliveries: int
    delivered: int
    pending: int
    dead_lettered: int


class PublishedAnswer(EventCounters):
    ok: bool = True
    accepted_at: datetime
    source: str


class ReplayedAnswer(EventCounters):
    ok: bool = True
    replayed_at: datetime


class WebhookDelivery(WireModel):
    """One POST of either kind: ``http`` (an intent pushed to its agent) or ``subscription``."""

    delivery_id: str
    kind: Literal["http", "subscription"]
    recipient: str = Field(description="the agent's address, or the subscription's id")
    subject: str | None = Field(None, description="the intent's id, or the event's id")
    status: Literal["pending", "sent", "dead"]
    attempts: int
    last_error: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    body: dict[str, Any]


class DeliveriesAnswer(WireModel):
    ok: bool = True
    deliveries: list[WebhookDelivery]


class DeliveryAnswer(WireModel):
    ok: bool = True
    delivery: WebhookDelivery
