"""A run's journal: what the runtime remembers of a parent intent's steps, one entry per key.

A parent intent that delegates (a declared workflow, or a supervisor agent's ``ctx.spawn`` and
``ctx.step``) owns one entry per step key: a child intent it spawned, or a value it journaled. Entries
make a run replayable: a handler that runs again, or the workflow interpreter deciding the next move,
reads them instead of doing the work twice. The parent's event log records every change of an entry
(``intent.step_*``); the entries are its current state, as the ``intents`` row is of an intent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from ._intent import JSON
from ._status import Status
from ._time import Micros, to_rfc3339


class EntryStatus(StrEnum):
    RUNNING = "RUNNING"  # a child intent is working on it
    WAITING = "WAITING"  # it moves on at ``due_at`` (backoff, delay) or when a human answers
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    SKIPPED = "SKIPPED"

    @property
    def finished(self) -> bool:
        return self not in (EntryStatus.RUNNING, EntryStatus.WAITING)


class EntryKind(StrEnum):
    CHILD = "child"  # a spawned child intent (code-first)
    VALUE = "value"  # a journaled result (code-first ``ctx.step``)
    STEP = "step"  # a step of a declared workflow


# How a child intent's end becomes its entry's status (a timeout is a failure of the step).
CHILD_OUTCOME: dict[Status, EntryStatus] = {
    Status.COMPLETED: EntryStatus.COMPLETED,
    Status.FAILED: EntryStatus.FAILED,
    Status.TIMED_OUT: EntryStatus.FAILED,
    Status.CANCELED: EntryStatus.CANCELED,
}


@dataclass(frozen=True, slots=True)
class JournalEntry:
    run_id: str
    key: str
    seq: int  # creation order within the run
    kind: EntryKind
    status: EntryStatus
    started_at: Micros
    attempt: int = 1
    child_intent_id: str | None = None
    result: Any = None
    error: JSON | None = None
    ended_at: Micros | None = None
    due_at: Micros | None = None
    awaited: bool = False  # the parent is parked until this entry finishes

    @property
    def finished(self) -> bool:
        return self.status.finished

    def ended(
        self, status: EntryStatus, at: Micros, *, result: Any = None, error: JSON | None = None
    ) -> JournalEntry:
        return replace(
            self, status=status, ended_at=at, result=result, error=error, due_at=None, awaited=False
        )

    def to_wire(self) -> JSON:
        return {
            "key": self.key,
            "kind": self.kind.value,
            "status": self.status.value,
            "attempt": self.attempt,
            "child_intent_id": self.child_intent_id,
            "result": self.result,
            "error": self.error,
            "started_at": to_rfc3339(self.started_at),
            "ended_at": to_rfc3339(self.ended_at),
            "due_at": to_rfc3339(self.due_at),
        }
