"""``deadline_at``: a timer armed when the intent is created; when it falls due, a still unfinished
intent moves to TIMED_OUT (also when the deadline passed while the server was down)."""

from __future__ import annotations

from intentd.model import EventType, Intent, Micros, Status
from intentd.store import Timer, Tx

from .._change import Change


class Deadline:
    kind = "deadline"

    async def apply(self, tx: Tx, change: Change) -> None:
        deadline = change.intent.deadline_at
        if change.is_new and deadline is not None:
            await tx.add_timer(change.intent.intent_id, self.kind, deadline)

    async def fire(self, tx: Tx, intent: Intent, timer: Timer, now: Micros) -> Change | None:
        change = Change(intent)
        error = {"code": "intent_timeout", "message": "deadline_at passed"}
        change.step(EventType.TIMED_OUT, Status.TIMED_OUT, "scheduler", now, details={"error": error})
        return change
