"""Notifications of human tasks: a durable outbox (``notifier.py``), pluggable channels (``channels.py``:
webhook and e-mail built in) and signed approve/reject links (``links.py``). docs/notifications.md
describes the configuration and the links' security."""

from __future__ import annotations

from .channels import Channel, EmailChannel, SendFailed, SmtpSettings, WebhookChannel
from .links import LinkClaims, LinkService, sign_token, verify_token
from .notice import NOTICE_KINDS, Notice, Outgoing
from .notifier import (
    OUTBOX_KEY,
    Notifier,
    NotifyConfig,
    OutboxChannel,
    OutboxMessage,
    RetryPolicy,
    configure,
    retry_delay,
)

__all__ = [
    "NOTICE_KINDS",
    "OUTBOX_KEY",
    "Channel",
    "EmailChannel",
    "LinkClaims",
    "LinkService",
    "Notice",
    "Notifier",
    "NotifyConfig",
    "OutboxChannel",
    "OutboxMessage",
    "Outgoing",
    "RetryPolicy",
    "SendFailed",
    "SmtpSettings",
    "WebhookChannel",
    "configure",
    "retry_delay",
    "sign_token",
    "verify_token",
]
