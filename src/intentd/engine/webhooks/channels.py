"""The two outbox channels of this capability (``engine/notify``'s sender runs them):

- ``http``: an intent pushed to the callback URL of the agent it is addressed to (the ``http``
  binding). A 2xx acknowledges it: the intent is leased to the agent (DELIVERED, as a stream's
  delivery), which then finishes it through the API. Anything else is retried with backoff, up to
  the intent's ``max_delivery_attempts``; then the row is dead (a dead letter, which may be replayed)
  and the intent stays queued for a claim, a stream or the replay.
- ``subscription``: a webhook event POSTed to a subscription's callback URL.

Every POST is signed with the receiver's secret (``intentd.webhooks``): ``X-Intentd-Timestamp`` and
``X-Intentd-Signature`` (HMAC-SHA256 of ``timestamp.body``), and ``X-Axme-Signature`` (of the body
alone, as AXME signs). The secret is read when sending, so a rotated secret or a revoked
subscription applies to rows already queued."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import orjson

from intentd.model import CallbackRefused, Micros, Status, now_us
from intentd.store import Store, Tx
from intentd.webhooks import (
    AXME_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    axme_signature,
    signature,
)

from .._change import Change
from ..mesh import DeliveryGate
from ..notify import OutboxMessage, SendFailed
from ..recorder import Recorder
from .config import WebhookConfig
from .urls import check_callback

log = logging.getLogger("intentd.engine.webhooks")
Clock = Callable[[], Micros]
PUSH, SUBSCRIPTION = "http", "subscription"
DELIVERY_ID_HEADER = "X-Intentd-Delivery-Id"
EVENT_ID_HEADER = "X-Intentd-Event-Id"
ATTEMPT_HEADER = "X-Intentd-Attempt"
_US = 1_000_000


class Poster:
    """Signs and POSTs one body; raises :class:`SendFailed` unless the receiver answers 2xx."""

    def __init__(self, config: WebhookConfig, clock: Clock = now_us) -> None:
        self._config = config
        self._clock = clock
        self._client: httpx.AsyncClient | None = None

    async def post(self, url: str, secret: str, message: OutboxMessage) -> None:
        try:
            await check_callback(url, allow_private=self._config.allow_private, resolve=True)
        except CallbackRefused as refused:
            raise SendFailed(refused.message, permanent=True) from None
        body = orjson.dumps(message.body)
        timestamp = str(self._clock() // _US)
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(secret, timestamp, body),
            AXME_SIGNATURE_HEADER: axme_signature(secret, body),
            DELIVERY_ID_HEADER: message.notification_id,
            ATTEMPT_HEADER: str(message.attempt),
        }
        if message.subject:
            headers[EVENT_ID_HEADER] = message.subject
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._config.timeout_seconds, follow_redirects=False)
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendFailed(f"callback unreachable ({type(exc).__name__})") from None
        if not response.is_success:
            raise SendFailed(f"callback answered HTTP {response.status_code}")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class PushChannel:
    """Intents pushed to agents registered with the ``http`` binding."""

    name = PUSH

    def __init__(
        self,
        store: Store,
        clock: Clock,
        recorder: Recorder,
        config: WebhookConfig,
        gate: DeliveryGate,
    ) -> None:
        self.retry = config.retry
        self._store = store
        self._clock = clock
        self._recorder = recorder
        self._poster = Poster(config, clock)
        self._gate = gate

    async def send(self, message: OutboxMessage) -> None:
        # A killed agent is pushed nothing: the row backs off as a failed attempt would, and goes
        # out on a later attempt after resume (or is replayed from the dead letters).
        if self._gate.killed(message.namespace, message.recipient):
            raise SendFailed(f"{message.recipient} is killed")
        callback = await self._store.read(lambda tx: tx.agent_callback(message.namespace, message.recipient))
        if callback is None:
            raise SendFailed(f"{message.recipient} has no callback URL any more", permanent=True)
        await self._poster.post(callback["callback_url"], callback["secret"], message)

    async def settled(self, tx: Tx, message: OutboxMessage, outcome: str) -> None:
        if outcome != "sent":
            return
        # Acknowledged: the intent is the agent's now, leased as a stream's delivery would be, unless
        # something else took it meanwhile (a claim, a stream) or it was queued again since the POST.
        intent = await tx.get_intent(str(message.subject), for_update=True)
        if (
            intent is None
            or intent.status is not Status.SUBMITTED
            or intent.queued_at != message.body.get("queued_at")
            or await self._gate.holds(tx, intent, self._clock())
        ):
            return
        binding = await tx.agent_binding(message.namespace, message.recipient)
        lease_seconds = binding["lease_micros"] / _US if binding else 30.0
        change = Change(intent)
        change.lease(f"http:{message.recipient}", lease_seconds, self._clock())
        await self._recorder.record(tx, change)

    async def close(self) -> None:
        await self._poster.close()


class SubscriptionChannel:
    """Webhook events POSTed to their subscriptions."""

    name = SUBSCRIPTION

    def __init__(self, store: Store, clock: Clock, config: WebhookConfig) -> None:
        self.retry = config.retry
        self._store = store
        self._poster = Poster(config, clock)

    async def send(self, message: OutboxMessage) -> None:
        sub = await self._store.read(lambda tx: tx.webhook_subscription(message.namespace, message.recipient))
        if sub is None or not sub.live:
            raise SendFailed("the subscription was revoked or deactivated", permanent=True)
        await self._poster.post(sub.callback_url, sub.secret, message)

    async def settled(self, tx: Tx, message: OutboxMessage, outcome: str) -> None:
        if outcome == "dead":
            log.warning(
                "webhook event %s to subscription %s dead-lettered", message.subject, message.recipient
            )

    async def close(self) -> None:
        await self._poster.close()
