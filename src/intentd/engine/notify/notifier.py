"""The notification outbox. :meth:`Notifier.enqueue` writes one row per (notice, channel, recipient) in
the caller's transaction, so a notice commits with the change it reports or not at all; a crash after
the commit loses nothing, because the rows wait in the database. The sender sends them after commit.

The sender sleeps until the earliest due row and is woken by the hub when a transaction queues one
(``OUTBOX_KEY`` in ``Tx.changes``; PostgreSQL's NOTIFY carries it to the other replicas). It claims
due rows in a write unit (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas never take the same
row) by moving each row's ``due_at`` past the send's time limit and counting the attempt: a lease. It
sends outside any transaction, then settles each row: sent; due again after an exponential, jittered
backoff; or dead after ``max_attempts`` (or at once when retrying cannot help). Only the claim that made
the attempt may settle it (the attempt count fences a sender that outlived its lease).

Delivery is at least once: a sender that dies after the send and before settling leaves the row to be
sent again when its lease ends. Every attempt carries the row's stable id, so receivers drop duplicates.

Two kinds of row share the outbox and its sender. A human task's notice goes to the notice channels
(``NotifyConfig.channels``: webhook, e-mail), which :meth:`Notifier.enqueue` fans it out to. Other
capabilities queue rows for an :class:`OutboxChannel` of their own (``register``), with the body they
POST as the row's JSON: HTTP push delivery and webhook subscriptions (``engine/webhooks``). Such a
channel settles its rows itself too, in the settling transaction (a pushed intent is leased once its
agent acknowledged it), and a row may carry its own ``max_attempts``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from intentd.model import JSON, Micros, new_id
from intentd.store import Store, Tx

from .channels import Channel, EmailChannel, SendFailed, WebhookChannel
from .links import LinkService
from .notice import Notice, Outgoing

Clock = Callable[[], Micros]
log = logging.getLogger("intentd.engine.notify")
OUTBOX_KEY = "notify:outbox"  # the hub key a transaction that queues a notification wakes the sender with
_BATCH = 50  # rows claimed per write unit
_CONCURRENCY = 8  # sends in flight at once
_MAX_SLEEP = 60.0  # seconds: a wake-up lost anyway (a clock step) costs at most this much delay
_US = 1_000_000
DEFAULT_LINK_TTL_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    """How notifications go out. The default has no channels: nothing is queued or sent."""

    channels: tuple[Channel, ...] = ()
    public_url: str = "http://127.0.0.1:8321"
    link_secret: str | None = None
    link_ttl_seconds: float = DEFAULT_LINK_TTL_SECONDS
    max_attempts: int = 10
    first_retry_seconds: float = 10.0  # then doubling, up to max_retry_seconds
    max_retry_seconds: float = 3600.0
    send_timeout_seconds: float = 60.0  # one send's limit, and how long a claim holds its row


def configure(
    *,
    smtp_url: str | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    public_url: str,
    link_secret: str | None = None,
    link_ttl_seconds: float = DEFAULT_LINK_TTL_SECONDS,
) -> NotifyConfig:
    """The built-in channels that are configured (``ValueError`` for a URL that cannot work)."""
    channels: list[Channel] = []
    if webhook_url:
        channels.append(WebhookChannel(webhook_url, webhook_secret))
    if smtp_url:
        channels.append(EmailChannel(smtp_url))
    return NotifyConfig(
        channels=tuple(channels),
        public_url=public_url,
        link_secret=link_secret,
        link_ttl_seconds=link_ttl_seconds,
    )


def retry_delay(attempt: int, config: NotifyConfig | RetryPolicy, jitter: float) -> float:
    """Seconds before attempt ``attempt + 1``: doubling from ``first_retry_seconds``, capped, and
    spread over its upper half by ``jitter`` (0..1) so a receiver that comes back is not hit by every
    row at once."""
    base = min(config.first_retry_seconds * 2.0 ** (attempt - 1), config.max_retry_seconds)
    return base / 2 + base / 2 * jitter


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How an :class:`OutboxChannel`'s rows are retried (a row's own ``max_attempts`` wins)."""

    max_attempts: int = 10
    first_retry_seconds: float = 10.0
    max_retry_seconds: float = 3600.0


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One row of an :class:`OutboxChannel` on its way out: ``body`` is what it POSTs, the same on
    every attempt; ``notification_id`` is stable across attempts."""

    notification_id: str
    namespace: str
    recipient: str
    subject: str | None
    body: JSON
    attempt: int


class OutboxChannel(Protocol):
    """A capability's own way out through the outbox (not fed by notices)."""

    name: str
    retry: RetryPolicy

    async def send(self, message: OutboxMessage) -> None:
        """Deliver or raise (:class:`SendFailed`, or any error: both are retried)."""
        ...

    async def settled(self, tx: Tx, message: OutboxMessage, outcome: str) -> None:
        """Called in the settling transaction: ``outcome`` is ``sent``, ``retry`` or ``dead``."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Claimed:
    notification_id: str
    channel: str
    recipient: str
    body: JSON
    attempt: int
    namespace: str = ""
    subject: str | None = None
    max_attempts: int | None = None

    @property
    def notice(self) -> Notice:
        return Notice.from_json(self.body)

    def message(self) -> OutboxMessage:
        return OutboxMessage(
            self.notification_id, self.namespace, self.recipient, self.subject, self.body, self.attempt
        )


class Notifier:
    """Queues notices (``enqueue``, in the caller's transaction) and sends them (``start``/``stop``
    run the sender; ``send_due`` is one pass of it, for tests and tools)."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        config: NotifyConfig | None = None,
        *,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config or NotifyConfig()
        self._store = store
        self._clock = clock
        self._jitter = jitter
        self._channels = {channel.name: channel for channel in self.config.channels}
        self._outbox_channels: dict[str, OutboxChannel] = {}
        self.links = LinkService(
            store,
            clock,
            secret=self.config.link_secret,
            ttl_seconds=self.config.link_ttl_seconds,
            public_url=self.config.public_url,
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def channels(self) -> Mapping[str, Channel]:
        return self._channels

    def register(self, channel: OutboxChannel) -> None:
        """Send the rows queued for ``channel.name`` through ``channel`` (before ``start``)."""
        self._outbox_channels[channel.name] = channel

    async def enqueue(self, tx: Tx, notice: Notice) -> int:
        """Queue ``notice`` for every configured channel and each of its recipients, in ``tx``;
        returns how many rows were queued (0 without channels or recipients)."""
        now = self._clock()
        notice_json = notice.to_json()
        rows = [
            {
                "notification_id": new_id(),
                "namespace": notice.namespace,
                "channel": channel.name,
                "recipient": recipient,
                "notice": notice_json,
                "due_at": now,
                "created_at": now,
            }
            for channel in self._channels.values()
            for recipient in channel.recipients(notice)
        ]
        if rows:
            await tx.insert_notifications(rows)
            tx.changes.add(OUTBOX_KEY)
        return len(rows)

    # -- the sender ---------------------------------------------------------------------------------
    async def send_due(self) -> int:
        """Send every row due now (claiming, sending and settling in batches); returns how many
        rows were attempted."""
        attempted = 0
        while True:
            claimed = await self._store.write(self._claim)
            if claimed:
                await self._send_batch(claimed)
            attempted += len(claimed)
            if len(claimed) < _BATCH:
                return attempted

    async def _send_batch(self, claimed: list[_Claimed]) -> None:
        gate = asyncio.Semaphore(_CONCURRENCY)
        results = await asyncio.gather(*(self._send_one(row, gate) for row in claimed))
        await self._store.write(lambda tx: self._settle(tx, claimed, results))

    async def _claim(self, tx: Tx) -> list[_Claimed]:
        now = self._clock()
        lease_until = now + int(self.config.send_timeout_seconds * _US)
        claimed = []
        for row in await tx.due_notifications(now, _BATCH):
            await tx.claim_notification(row["notification_id"], lease_until)
            claimed.append(
                _Claimed(
                    row["notification_id"],
                    row["channel"],
                    row["recipient"],
                    row["notice"],
                    int(row["attempts"]) + 1,
                    row["namespace"],
                    row.get("subject"),
                    row.get("max_attempts"),
                )
            )
        return claimed

    async def _send_one(self, row: _Claimed, gate: asyncio.Semaphore) -> SendFailed | None:
        """None when sent, else why not."""
        outbox = self._outbox_channels.get(row.channel)
        channel = self._channels.get(row.channel)
        if channel is None and outbox is None:  # replicas should share their settings; this one lacks it
            return SendFailed(f"channel {row.channel!r} is not configured on this server")
        async with gate:
            try:
                async with asyncio.timeout(self.config.send_timeout_seconds):
                    if outbox is not None:
                        await outbox.send(row.message())
                    elif channel is not None:
                        await channel.send(await self._outgoing(channel, row))
            except SendFailed as failed:
                return failed
            except TimeoutError:
                return SendFailed(f"no answer within {self.config.send_timeout_seconds:g}s")
            except Exception as exc:  # a channel's own bug must not stop the sender: retried, logged
                log.warning("notification %s: %s failed", row.notification_id, row.channel, exc_info=exc)
                return SendFailed(f"{type(exc).__name__}: {exc}")
        return None

    async def _outgoing(self, channel: Channel, row: _Claimed) -> Outgoing:
        notice = row.notice
        if not (channel.wants_links and row.recipient and notice.answerable_by_link):
            return Outgoing(row.notification_id, row.attempt, notice, row.recipient)
        links: dict[str, str] = {}
        expires_at = None
        for outcome in notice.outcomes:
            # The nonce follows from the row, so every attempt sends the same links: a duplicate
            # mail is the same mail, and using either link uses both.
            claims = self.links.claims(
                notice.namespace,
                notice.task_id,
                row.recipient,
                outcome,
                nonce=f"{row.notification_id}:{outcome}",
                at=notice.at,
            )
            links[outcome] = self.links.url(await self.links.sign(claims))
            expires_at = claims.expires_at
        return Outgoing(row.notification_id, row.attempt, notice, row.recipient, links, expires_at)

    async def _settle(self, tx: Tx, claimed: list[_Claimed], results: list[SendFailed | None]) -> None:
        now = self._clock()
        for row, failed in zip(claimed, results, strict=True):
            outbox = self._outbox_channels.get(row.channel)
            outcome = await self._settle_one(tx, row, failed, outbox, now)
            if outbox is not None and outcome != "stale":
                await outbox.settled(tx, row.message(), outcome)

    async def _settle_one(
        self, tx: Tx, row: _Claimed, failed: SendFailed | None, outbox: OutboxChannel | None, now: Micros
    ) -> str:
        policy: NotifyConfig | RetryPolicy = self.config if outbox is None else outbox.retry
        max_attempts = row.max_attempts or policy.max_attempts
        if failed is None:
            done = await tx.finish_notification(row.notification_id, row.attempt, "sent", None, now)
            return "sent" if done else "stale"  # stale: a later claim of the row settles it
        error = str(failed)[:2000]
        if failed.permanent or row.attempt >= max_attempts:
            log.warning(
                "notification %s (%s) given up after %d attempts: %s",
                row.notification_id,
                row.channel,
                row.attempt,
                error,
            )
            done = await tx.finish_notification(row.notification_id, row.attempt, "dead", error, now)
            return "dead" if done else "stale"
        delay = retry_delay(row.attempt, policy, self._jitter())
        due = now + int(delay * _US)
        return (
            "retry"
            if await tx.reschedule_notification(row.notification_id, row.attempt, due, error)
            else "stale"
        )

    def start(self) -> None:
        """Run the sender in this process (a no-op without channels)."""
        if (self._channels or self._outbox_channels) and self._task is None:
            self._task = asyncio.create_task(self._run(), name="intentd-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for channel in self._channels.values():
            await channel.close()
        for outbox in self._outbox_channels.values():
            await outbox.close()

    async def _run(self) -> None:
        # Subscribed before the first pass: a row queued while it runs still wakes the next wait.
        with self._store.hub.subscribe(OUTBOX_KEY) as wake:
            while True:
                try:
                    await self.send_due()
                    due = await self._store.read(lambda tx: tx.next_notification_due())
                except asyncio.CancelledError:
                    raise
                except Exception:  # a database hiccup must not end the sender
                    log.warning("notification sender pass failed; retrying", exc_info=True)
                    due = self._clock() + int(self.config.first_retry_seconds * _US)
                delay = _MAX_SLEEP if due is None else (due - self._clock()) / _US
                delay = min(max(delay, 0.0), _MAX_SLEEP)
                if wake.closed:  # the server is draining: the hub wakes nobody any more
                    await asyncio.sleep(min(delay, 1.0))
                else:
                    await wake.wait(delay)
