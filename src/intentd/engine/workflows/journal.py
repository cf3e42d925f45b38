"""What both kinds of run do with their journal inside a transaction: spawn a child intent under a
key, and turn a child's end into its entry's outcome."""

from __future__ import annotations

from dataclasses import replace

from intentd.model import (
    CHILD_OUTCOME,
    JSON,
    EntryKind,
    EntryStatus,
    EventType,
    Intent,
    JournalEntry,
    Micros,
    Status,
    WaitingReason,
)

from .._change import Change, new_intent
from ..humans.answers import ask
from ..inputs import SubmitIntent


def spawn(
    parent: Intent,
    key: str,
    spec: SubmitIntent,
    now: Micros,
    *,
    waiting_for: WaitingReason | None = None,
) -> Change:
    """The change creating ``parent``'s child under ``key``: it joins the parent's run (root,
    correlation, synthetic flag, and trace unless the spawning request carried a context of its own)
    and comes from the parent's agent. ``waiting_for`` parks it at once (a human step is never queued
    for an agent)."""
    spec = replace(
        spec,
        correlation_id=parent.correlation_id,
        parent_intent_id=parent.intent_id,
        step_key=key,
        from_agent=parent.to_agent,
        synthetic=parent.synthetic,
        trace_context=spec.trace_context or parent.trace_context,
    )
    change = new_intent(
        parent.namespace, spec, now, actor=parent.to_agent, root_intent_id=parent.root_intent_id
    )
    task = spec.controls.get("human_task")
    if waiting_for is WaitingReason.HUMAN and isinstance(task, dict):
        ask(change, task, parent.to_agent, now)  # a human step is a human task
    elif waiting_for is not None:
        change.step(EventType.WAITING, Status.WAITING, parent.to_agent, now, waiting_reason=waiting_for)
    return change


def child_entry(
    run_id: str,
    key: str,
    seq: int,
    child: Intent,
    now: Micros,
    *,
    attempt: int = 1,
    kind: EntryKind = EntryKind.CHILD,
) -> JournalEntry:
    return JournalEntry(
        run_id=run_id,
        key=key,
        seq=seq,
        kind=kind,
        status=EntryStatus.RUNNING,
        started_at=now,
        attempt=attempt,
        child_intent_id=child.intent_id,
    )


def outcome(entry: JournalEntry, child: Intent, now: Micros) -> JournalEntry:
    """``entry`` ended the way its (terminal) child did."""
    status = CHILD_OUTCOME[child.status]
    if status is EntryStatus.COMPLETED:
        return entry.ended(status, now, result=child.result if child.result is not None else {})
    return entry.ended(status, now, error=child_error(child))


def child_error(child: Intent) -> JSON:
    """The error a child's end reports to its parent (a timeout is ``step_timeout``)."""
    if child.status is Status.CANCELED:
        return {"code": "canceled", "message": child.reason or "canceled"}
    error = child.error if isinstance(child.error, dict) else {"code": "failed", "message": str(child.error)}
    if child.status is Status.TIMED_OUT:
        return {**error, "code": "step_timeout", "message": "the step's deadline passed"}
    return error
