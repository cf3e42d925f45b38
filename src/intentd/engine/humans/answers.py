"""Asking and answering inside a transaction: the event that opens a task on a change, and what a
valid answer writes (the agent's journal entry, then the intent's move)."""

from __future__ import annotations

from intentd.model import (
    JSON,
    EntryKind,
    EntryStatus,
    EventType,
    HumanTask,
    Intent,
    JournalEntry,
    Micros,
    Status,
    ValidationFailed,
    WaitingReason,
    new_id,
)
from intentd.store import Tx

from .._change import Change
from .outcomes import (
    DELEGATED,
    ESCALATED,
    HUMAN_SCHEME,
    checked,
    conclude,
    delegates,
    escalation,
    reassign,
    record_of,
)
from .spec import normalise


def ask(change: Change, raw: JSON, actor: str, now: Micros, *, journal_key: str | None = None) -> str:
    """Park ``change``'s intent on a new human task (``intent.human_task_assigned``); its task id.
    An intent addressed to ``human://<role>`` is assigned to ``role:<role>`` unless it names people."""
    intent = change.intent
    role = intent.to_agent.removeprefix(HUMAN_SCHEME) if intent.to_agent.startswith(HUMAN_SCHEME) else None
    spec = normalise(
        raw, default_title=intent.intent_type, default_assignees=(f"role:{role}",) if role else ()
    )
    task_id = new_id()
    details = {
        "task_id": task_id,
        "human_task": spec,
        "assignees": spec["assignees"],
        "journal_key": journal_key,
    }
    change.step(
        EventType.HUMAN_TASK_ASSIGNED,
        Status.WAITING,
        actor,
        now,
        waiting_reason=WaitingReason.HUMAN,
        details=details,
    )
    return task_id


async def answer(
    tx: Tx,
    intent: Intent,
    task: HumanTask,
    outcome: str,
    comment: str | None,
    data: JSON | None,
    *,
    actor: str,
    via: str,
    now: Micros,
) -> Change:
    """The change a person's valid answer makes (``ValidationFailed`` names what is wrong)."""
    outcome, data = checked(task, outcome, comment, data)
    decision = record_of(task, outcome, comment, data, actor, now, via)
    if outcome == DELEGATED:
        return reassign(intent, task, delegates(data), decision, actor, now)
    if outcome == ESCALATED:
        escalated = escalation(intent, task, actor, now)
        if escalated is None:
            raise ValidationFailed("this task has no escalation level left", details={"field": "outcome"})
        return escalated
    return await settle(tx, intent, task, decision, actor, now)


async def settle(
    tx: Tx,
    intent: Intent,
    task: HumanTask,
    decision: JSON,
    actor: str,
    now: Micros,
    extra: JSON | None = None,
) -> Change:
    """A closing decision: journaled first when an agent asked (its handler finds the answer there
    when it runs again), then the intent moves on."""
    if task.journal_key is not None:
        entry = JournalEntry(
            run_id=intent.intent_id,
            key=task.journal_key,
            seq=await tx.next_journal_seq(intent.intent_id),
            kind=EntryKind.VALUE,
            status=EntryStatus.COMPLETED,
            started_at=task.created_at,
            result=decision,
            ended_at=now,
        )
        await tx.put_journal_entry(entry)
    return conclude(intent, task, decision, actor, now, extra)
