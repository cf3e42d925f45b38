"""The wake-up of a timed wait: a WAITING event with ``wake_at`` (a ``wait`` with a wake time, or a
retry's backoff) arms a timer; when it falls due the intent goes back to its agent. The timer lives
exactly as long as that wait: leaving WAITING any other way (a resume, an approval, a cancel)
deletes it."""

from __future__ import annotations

from intentd.model import EventType, Intent, Micros, Status
from intentd.store import Timer, Tx

from .._change import Change


class WakeUp:
    kind = "wake"

    async def apply(self, tx: Tx, change: Change) -> None:
        intent = change.intent
        if change.before.status is Status.WAITING and intent.status is not Status.WAITING:
            await tx.delete_intent_timers(intent.intent_id, self.kind)
        waiting = change.last(EventType.WAITING)
        if intent.status is Status.WAITING and waiting is not None:
            wake_at = waiting.details.get("wake_at")
            if wake_at is not None:
                await tx.add_timer(intent.intent_id, self.kind, wake_at)

    async def fire(self, tx: Tx, intent: Intent, timer: Timer, now: Micros) -> Change | None:
        if intent.status is not Status.WAITING:
            return None
        change = Change(intent)
        change.step(
            EventType.RESUMED, Status.SUBMITTED, "scheduler", now, details={"input": {"woken_at": now}}
        )
        return change
