"""The durable scheduler (ARCHITECTURE.md §6). Every ``serve`` process runs one. A tick takes due timers
and expired leases in batches of up to 200, one transaction per batch (deleting each timer, or ending
each lease, together with the change it makes); on PostgreSQL rows are taken with SKIP LOCKED, so N
replicas fire each timer exactly once. Timers are rows: a restart loses none, and overdue ones fire on
start. What a timer does is its kind's (``engine/timers``); the scheduler only looks it up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from intentd.model import EventType, Intent, Micros, Status
from intentd.store import SCHEDULER_KEY, Store, Tx

from ._change import Change
from .mesh import KillService, UnreachableWorkers
from .recorder import Recorder
from .timers import TimerKind

Clock = Callable[[], Micros]
log = logging.getLogger("intentd.engine.scheduler")
_BATCH = 200
_MAX_SLEEP = 1.0  # seconds; also how soon another replica's new timer is noticed without a NOTIFY


class Scheduler:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        recorder: Recorder,
        timer_kinds: Sequence[TimerKind],
        kills: KillService,
        unreachable: UnreachableWorkers,
    ) -> None:
        self._store = store
        self._kills = kills
        self._unreachable = unreachable
        self._clock = clock
        self._recorder = recorder
        self._kinds = {kind.kind: kind for kind in timer_kinds}
        self._task: asyncio.Task[None] | None = None
        # How it keeps up (engine/metrics/replica.py): when the last sweep ended, and how late after
        # its due time the last sweep that took something fired the earliest of it.
        self.last_sweep_at: Micros | None = None
        self.last_sweep_lateness: Micros = 0
        self._lateness: Micros | None = None  # of the sweep under way

    async def tick(self) -> int:
        """Fire everything due now; returns how many due timers and expired leases it took (a
        timer of an intent that already ended is taken and dropped)."""
        fired, self._lateness = 0, None
        while True:
            batch = await self._store.write(self._fire_due)
            fired += batch
            if batch < _BATCH:
                self._swept()
                return fired

    def _note_due(self, now: Micros, earliest_due: Micros) -> None:
        late = now - earliest_due
        self._lateness = late if self._lateness is None else max(self._lateness, late)

    def _swept(self) -> None:
        if self._lateness is not None:
            self.last_sweep_lateness = self._lateness
        self.last_sweep_at = self._clock()

    async def _fire_due(self, tx: Tx) -> int:
        now = self._clock()
        fired = await self._fire_timers(tx, now) + await self._expire_leases(tx, now)
        return fired + await self._unreachable.sweep(tx, now, _BATCH)

    async def _fire_timers(self, tx: Tx, now: Micros) -> int:
        timers = await tx.due_timers(now, _BATCH)
        if timers:
            self._note_due(now, timers[0].due_at)  # the earliest: they come in due order
        for timer in timers:
            await tx.delete_timer(timer.timer_id)
            intent = await tx.get_intent(timer.intent_id, for_update=True)
            kind = self._kinds.get(timer.kind)
            if kind is None:
                log.warning("dropped a timer of unknown kind %r (intent %s)", timer.kind, timer.intent_id)
                continue
            if intent is None or intent.is_terminal:
                continue
            change = await kind.fire(tx, intent, timer, now)
            if change is not None:
                await self._recorder.record(tx, change)
        return len(timers)

    async def _expire_leases(self, tx: Tx, now: Micros) -> int:
        expired = await tx.expired_leases(now, _BATCH)
        if expired and (lease := expired[0].lease) is not None:
            self._note_due(now, lease.expires_at)  # the earliest: they come in expiry order
        for intent in expired:
            # A killed agent's lease that escaped the kill's sweeps gets the kill's treatment.
            change = self._kills.expired(intent, now) or _after_expiry(intent, now)
            await self._recorder.record(tx, change)
        return len(expired)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="intentd-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        with self._store.hub.subscribe(SCHEDULER_KEY) as wake:
            while True:
                try:
                    await self.tick()
                    due = await self._store.read(lambda tx: tx.next_wakeup())
                except asyncio.CancelledError:
                    raise
                except Exception:  # a database hiccup must not kill the loop
                    log.exception("scheduler tick failed; retrying")
                    due = None
                delay = _MAX_SLEEP if due is None else (due - self._clock()) / 1_000_000
                await wake.wait(min(max(delay, 0.0), _MAX_SLEEP))


def _after_expiry(intent: Intent, now: Micros) -> Change:
    """An expired lease queues the intent again, or fails it once delivery attempts are used up."""
    change = Change(intent)
    details = {"delivery_attempt": intent.delivery_attempt}
    if intent.delivery_attempt >= intent.max_delivery_attempts:
        change.step(
            EventType.DELIVERY_FAILED,
            Status.FAILED,
            "scheduler",
            now,
            details={
                **details,
                "error": {
                    "code": "delivery_failed",
                    "message": f"no completion after {intent.delivery_attempt} delivery attempts",
                },
            },
        )
    else:
        change.step(EventType.LEASE_EXPIRED, Status.SUBMITTED, "scheduler", now, details=details)
    return change
