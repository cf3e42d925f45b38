"""Code-first runs: a supervisor agent's handler journals its spawns and steps on its own intent
(``ctx.spawn`` / ``ctx.gather`` / ``ctx.step`` in the worker) and parks while children run. The runtime
does not interpret these runs; it keeps the journal and wakes the parent when every entry it awaits
has finished, so it is delivered again, to any worker, and its handler replays from the journal."""

from __future__ import annotations

from intentd.model import JSON, EventType, Intent, JournalEntry, Micros, Status, WaitingReason
from intentd.store import Tx

from .._change import Change


async def entry_ended(tx: Tx, parent: Change, before: JournalEntry, ended: JournalEntry, now: Micros) -> None:
    """Record on the parent that a child it spawned ended, and wake the parent if that was the last
    entry it awaited (a parked parent holds no worker: this is what brings it back)."""
    event_type = EventType.STEP_COMPLETED if ended.status.value == "COMPLETED" else EventType.STEP_FAILED
    details: JSON = {"key": ended.key, "status": ended.status.value, "child_intent_id": ended.child_intent_id}
    if ended.error is not None:
        details["error"] = ended.error
    run = parent.intent
    parent.step(event_type, run.status, "runtime", now, details=details)
    if before.awaited and _parked(run) and await tx.awaited_unfinished(run.intent_id) == 0:
        wake(parent, now)


def wake(parent: Change, now: Micros) -> None:
    """Queue the parked parent again: every entry it awaited has finished."""
    parent.step(
        EventType.RESUMED,
        Status.SUBMITTED,
        "runtime",
        now,
        details={"input": {"children": "finished"}, "restart_attempts": True},
    )


def _parked(run: Intent) -> bool:
    return run.status is Status.WAITING and run.waiting_reason is WaitingReason.AGENT
