"""What a declared run's journal says, read without writing anything: how a join stands, which
completed step to undo next, how the run ended, what it waits for, and the scope its input expressions
see. The interpreter (``declared.py``) decides its moves from these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from intentd.model import JSON, EntryKind, EntryStatus, Intent, JournalEntry, WaitingReason

from .plan import Plan, Step, StepKind

COMPENSATE = "compensate:"
APPROVAL = ":approval"
ESCALATION = ":escalation"
FAILURE = "$failed"  # the entry that remembers which step failed the run, and why (as code-first runs)

Entries = Mapping[str, JournalEntry]


@dataclass(frozen=True)
class JoinState:
    """Where a parallel step's branches stand."""

    branches: int
    completed: int
    needed: int
    running: list[JournalEntry]

    @property
    def succeeded(self) -> bool:
        return self.completed >= self.needed

    @property
    def decided(self) -> bool:
        """Enough branches completed, or too few can still complete."""
        return self.succeeded or self.completed + len(self.running) < self.needed


def join_state(parallel: Step, entries: Entries) -> JoinState:
    branches = [entries.get(b) for b in parallel.branches]
    return JoinState(
        branches=len(branches),
        completed=sum(1 for b in branches if b is not None and b.status is EntryStatus.COMPLETED),
        needed=parallel.join.needed(len(branches)),
        running=[b for b in branches if b is not None and not b.finished],
    )


def tally(parallel: Step, entries: Entries) -> dict[str, int]:
    """Each branch counted once: completed, failed, canceled, never_ran (canceled before any
    delivery) or still running."""
    counts = dict.fromkeys(("completed", "failed", "canceled", "never_ran", "running"), 0)
    for branch in parallel.branches:
        entry = entries.get(branch)
        if entry is None or (entry.error or {}).get("never_ran"):
            counts["never_ran"] += 1
        elif not entry.finished:
            counts["running"] += 1
        else:
            name = entry.status.value.lower()
            counts[name if name in counts else "failed"] += 1
    return counts


def join_outputs(parallel: Step, entries: Entries) -> JSON:
    done = (entries.get(b) for b in parallel.branches)
    return {e.key: e.result for e in done if e is not None and e.status is EntryStatus.COMPLETED}


def join_errors(parallel: Step, entries: Entries) -> JSON:
    ended = (entries.get(b) for b in parallel.branches)
    return {e.key: e.error for e in ended if e is not None and e.error is not None}


def next_to_compensate(plan: Plan, entries: Entries) -> Step | None:
    """The newest completed step with a ``compensate`` whose compensation has not started."""
    steps = {s.step_id: s for s in plan.steps}
    completed = [
        e
        for e in entries.values()
        if e.kind is EntryKind.STEP
        and e.status is EntryStatus.COMPLETED
        and e.key in steps
        and steps[e.key].compensate is not None
    ]
    for entry in sorted(completed, key=lambda e: (e.ended_at or 0, e.seq), reverse=True):
        if COMPENSATE + entry.key not in entries:
            return steps[entry.key]
    return None


def failure_error(entries: Entries) -> JSON:
    """The failed run's error: which step failed and why, and what was undone."""
    failure = entries[FAILURE].error or {}
    step_id, cause = failure.get("step_id"), failure.get("cause") or {}
    compensations = [e for e in entries.values() if e.key.startswith(COMPENSATE)]
    error: JSON = {
        "code": "step_failed",
        "message": f"step {step_id!r} failed: {cause.get('message', cause.get('code', 'failed'))}",
        "step_id": step_id,
        "cause": cause,
        "compensated": [
            e.key.removeprefix(COMPENSATE) for e in compensations if e.status is EntryStatus.COMPLETED
        ],
    }
    failed = [e.key.removeprefix(COMPENSATE) for e in compensations if e.status is not EntryStatus.COMPLETED]
    if failed:
        error["compensation_failed"] = failed
    return error


def completion_result(plan: Plan, entries: Entries, last: Step | None) -> JSON:
    """The completed run's result: the last step's output and every completed step's."""
    steps = {s.step_id for s in plan.steps}
    outputs = {
        key: e.result for key, e in entries.items() if key in steps and e.status is EntryStatus.COMPLETED
    }
    return {"output": entries[last.step_id].result if last else None, "steps": outputs}


def waiting_for(plan: Plan, entries: Entries) -> WaitingReason:
    """A person (a human step, an approval or an escalation is open), time (only timers are), or agents."""
    open_entries = [e for e in entries.values() if not e.finished]
    if any(_asks_a_person(plan, e) for e in open_entries if e.status is EntryStatus.RUNNING):
        return WaitingReason.HUMAN
    if open_entries and all(e.status is EntryStatus.WAITING and e.due_at for e in open_entries):
        return WaitingReason.TIME
    return WaitingReason.AGENT


def _asks_a_person(plan: Plan, entry: JournalEntry) -> bool:
    if entry.key.endswith((APPROVAL, ESCALATION)):
        return True
    steps = {s.step_id: s for s in plan.steps}
    return entry.key in steps and steps[entry.key].kind is StepKind.HUMAN


def scope(run: Intent, plan: Plan, entries: Entries) -> dict[str, Any]:
    """What input expressions see (``expressions.py``): the run, each step's output, the parameters."""
    return {
        "run": {"payload": run.payload, "intent_id": run.intent_id, "correlation_id": run.correlation_id},
        "steps": {
            key: {"output": e.result, "status": e.status.value, "error": e.error}
            for key, e in entries.items()
        },
        "parameters": plan.parameters,
    }


def signoff(step: Step) -> JSON:
    """The task of a human step that declares none: approve or reject."""
    return {
        "title": f"Sign off step {step.step_id!r}",
        "task_type": "approval",
        "allowed_outcomes": ["approved", "rejected"],
    }


def decision(entry: JournalEntry) -> str:
    """The outcome a person chose (an escalation's retry, skip or abort)."""
    result = entry.result if isinstance(entry.result, dict) else {}
    return str(result.get("outcome", "")).strip().lower()


def comment(entry: JournalEntry) -> str | None:
    source = entry.result if isinstance(entry.result, dict) else entry.error or {}
    text = source.get("comment") or source.get("message")
    return str(text) if text else None
