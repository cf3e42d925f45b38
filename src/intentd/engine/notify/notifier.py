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
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from intentd.model import Micros, new_id
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


def retry_delay(attempt: int, config: NotifyConfig, jitter: float) -> float:
    """Seconds before attempt ``attempt + 1``: doubling from ``first_retry_seconds``, capped, and
    spread over its upper half by ``jitter`` (0..1) so a receiver that comes back is not hit by every
    row at once."""
    base = min(config.first_retry_seconds * 2.0 ** (attempt - 1), config.max_retry_seconds)
    return base / 2 + base / 2 * jitter


@dataclass(frozen=True, slots=True)
class _Claimed:
    notification_id: str
    channel: str
    recipient: str
    notice: Notice
    attempt: int


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
                    Notice.from_json(row["notice"]),
                    int(row["attempts"]) + 1,
                )
            )
        return claimed

    async def _send_one(self, row: _Claimed, gate: asyncio.Semaphore) -> SendFailed | None:
        """None when sent, else why not."""
        channel = self._channels.get(row.channel)
        if channel is None:  # replicas should share their notification settings; this one lacks it
            return SendFailed(f"channel {row.channel!r} is not configured on this server")
        async with gate:
            try:
                async with asyncio.timeout(self.config.send_timeout_seconds):
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
            if failed is None:
                await tx.finish_notification(row.notification_id, row.attempt, "sent", None, now)
                continue
            error = str(failed)[:2000]
            if failed.permanent or row.attempt >= self.config.max_attempts:
                log.warning(
                    "notification %s (%s) given up after %d attempts: %s",
                    row.notification_id,
                    row.channel,
                    row.attempt,
                    error,
                )
                await tx.finish_notification(row.notification_id, row.attempt, "dead", error, now)
                continue
            delay = retry_delay(row.attempt, self.config, self._jitter())
            await tx.reschedule_notification(row.notification_id, row.attempt, now + int(delay * _US), error)

    def start(self) -> None:
        """Run the sender in this process (a no-op without channels)."""
        if self._channels and self._task is None:
            self._task = asyncio.create_task(self._run(), name="intentd-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for channel in self._channels.values():
            await channel.close()

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
