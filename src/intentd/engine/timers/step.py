"""A declared workflow's own timers: a ``delay`` step ending and a step's retry after its backoff. The
run's ``intent.step_started`` (a delay) and ``intent.step_retrying`` events carry ``due_at``; this arms
one timer per such event, and when one falls due the run moves every entry whose time has come. A
timer of a run that has ended is dropped by the scheduler."""

from __future__ import annotations

from intentd.model import EventType, Intent, Micros
from intentd.store import Timer, Tx

from .._change import Change
from ..workflows import DeclaredRun, Plans

_TIMED = frozenset({EventType.STEP_STARTED, EventType.STEP_RETRYING})


class StepTimer:
    kind = "step"

    def __init__(self, plans: Plans) -> None:
        self._plans = plans

    async def apply(self, tx: Tx, change: Change) -> None:
        for event in change.events:
            due_at = event.details.get("due_at") if event.event_type in _TIMED else None
            if due_at is not None:
                await tx.add_timer(change.intent.intent_id, self.kind, due_at)

    async def fire(self, tx: Tx, intent: Intent, timer: Timer, now: Micros) -> Change | None:
        plan = await self._plans.of(tx, intent.intent_id)
        if plan is None:
            return None
        run = DeclaredRun(tx, Change(intent), plan, await tx.journal(intent.intent_id), now)
        await run.timer_fired()
        run.change.follow_ups += run.follow_ups
        return run.change if run.change.events else None
