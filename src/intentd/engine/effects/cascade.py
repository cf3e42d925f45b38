"""A run that ends without completing (canceled, failed, timed out) ends its steps too: every entry
of its journal still open is canceled, and so is its child intent, in the same transaction. A canceled
child that is itself a run cancels its own children the same way, so a whole tree stops at once, and
pending retries and backoff timers die with the entries they belonged to (a timer of a terminal run is
dropped when it falls due). A run that completes lets what still runs finish (a notification, the
branches a join let finish)."""

from __future__ import annotations

from intentd.model import EntryStatus, EventType, Status
from intentd.store import Tx

from .._change import Change

_ENDINGS = frozenset({Status.CANCELED, Status.FAILED, Status.TIMED_OUT})


class CancelChildren:
    async def apply(self, tx: Tx, change: Change) -> None:
        run, ended = change.intent, change.entered
        if ended not in _ENDINGS:
            return
        now = change.events[-1].at
        for entry in await tx.journal(run.intent_id):
            if entry.finished:
                continue
            message = f"its run {run.intent_id} ended {run.status.value}"
            await tx.put_journal_entry(
                entry.ended(EntryStatus.CANCELED, now, error={"code": "canceled", "message": message})
            )
            child = (
                await tx.get_intent(entry.child_intent_id, for_update=True) if entry.child_intent_id else None
            )
            if child is not None and not child.is_terminal:
                cancel = Change(child)
                cancel.step(EventType.CANCELED, Status.CANCELED, "runtime", now, details={"reason": message})
                change.follow_ups.append(cancel)
