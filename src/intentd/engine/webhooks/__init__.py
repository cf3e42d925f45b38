"""HTTP push delivery (the ``http`` binding) and AXP webhook subscriptions, sent through the
notification outbox (``engine/notify``): a POST is a row written in the transaction of the change it
reports, signed with the receiver's secret, retried with backoff and jitter, then dead-lettered and
replayable. docs/webhooks.md describes it for users."""

from __future__ import annotations

from .channels import PUSH, SUBSCRIPTION, PushChannel, SubscriptionChannel
from .config import WebhookConfig
from .effects import LIFECYCLE_SOURCE, PublishLifecycle, PushToCallback
from .service import (
    EventReport,
    PublishEvent,
    SubscriptionAnswer,
    UpsertSubscription,
    WebhookService,
    new_secret,
)
from .targets import Targets
from .urls import check_callback, is_internal

__all__ = [
    "LIFECYCLE_SOURCE",
    "PUSH",
    "SUBSCRIPTION",
    "EventReport",
    "PublishEvent",
    "PublishLifecycle",
    "PushChannel",
    "PushToCallback",
    "SubscriptionAnswer",
    "SubscriptionChannel",
    "Targets",
    "UpsertSubscription",
    "WebhookConfig",
    "WebhookService",
    "check_callback",
    "is_internal",
    "new_secret",
]
