"""The life of a human task around its intent's events: one effect and one timer kind.

As an *effect* it keeps the ``human_tasks`` row in step with the intent's events — opened by
``intent.human_task_assigned``, counted by ``intent.reminder``, moved up by ``intent.escalated``, and
closed when the intent leaves its wait (decided when the event carries the decision, timed out, or
canceled) — and arms the task's one timer at its next due moment (``schedule.py``). As a *timer kind*
it fires that timer: a reminder, an escalation, or the timeout's fallback. Every step announces itself
to the people concerned (``announce``) in the same transaction, so a notice is never lost."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from intentd.model import (
    JSON,
    Event,
    EventType,
    HumanTask,
    Intent,
    Micros,
    Status,
    TaskState,
    WaitingReason,
)
from intentd.store import Timer, Tx

from .._change import Change
from .answers import settle
from .outcomes import escalation, record_of
from .schedule import Due, next_due

# (tx, what happened, the task as it is now, its intent, details): notifications (engine/notify/).
Announce = Callable[[Tx, str, HumanTask, Intent, JSON], Awaitable[None]]
_TASK_EVENTS = frozenset({EventType.HUMAN_TASK_ASSIGNED, EventType.REMINDER, EventType.ESCALATED})
SCHEDULER = "scheduler"


class HumanTasks:
    kind = "human_task"

    def __init__(self, announce: Announce | None = None) -> None:
        self._announce = announce

    # -- the effect ---------------------------------------------------------------------------------
    async def apply(self, tx: Tx, change: Change) -> None:
        before, intent = change.before, change.intent
        left_wait = before.waiting_reason is WaitingReason.HUMAN and intent.status is not Status.WAITING
        events = [e for e in change.events if e.event_type in _TASK_EVENTS]
        if not events and not left_wait:
            return  # every other change pays these two checks
        task = None if change.is_new else await tx.open_human_task(intent.intent_id)
        for event in events:
            task = await self._project(tx, task, intent, event)
        if left_wait and task is not None:
            task = await self._close(tx, task, change)
        if not change.is_new:  # a new intent has no timer yet
            await tx.delete_intent_timers(intent.intent_id, self.kind)
        due = next_due(task) if task is not None and task.is_open else None
        if due is not None:
            await tx.add_timer(intent.intent_id, self.kind, due[0])

    async def _project(self, tx: Tx, task: HumanTask | None, intent: Intent, event: Event) -> HumanTask:
        d = event.details
        if event.event_type is EventType.HUMAN_TASK_ASSIGNED and "human_task" in d:
            if task is not None:  # asked again while a task was open: the new question replaces it
                await tx.update_human_task(replace(task, state=TaskState.CANCELED, updated_at=event.at))
            opened = HumanTask(
                task_id=d["task_id"],
                namespace=intent.namespace,
                intent_id=intent.intent_id,
                spec=d["human_task"],
                assignees=tuple(d["assignees"]),
                created_at=event.at,
                level_started_at=event.at,
                journal_key=d.get("journal_key"),
                updated_at=event.at,
            )
            await tx.insert_human_task(opened)
            await self._tell(tx, "assigned", opened, intent, {})
            return opened
        assert task is not None, f"{event.event_type.value} of an intent with no open task"
        if event.event_type is EventType.HUMAN_TASK_ASSIGNED:  # delegated
            task = replace(task, assignees=tuple(d["assignees"]), reminders_sent=0, level_started_at=event.at)
            kind = "assigned"
        elif event.event_type is EventType.REMINDER:
            task = replace(task, reminders_sent=d["reminder"])
            kind = "reminder"
        else:
            task = replace(
                task,
                level=d["level"],
                assignees=tuple(d["assignees"]),
                reminders_sent=0,
                level_started_at=event.at,
            )
            kind = "escalated"
        task = replace(task, updated_at=event.at)
        await tx.update_human_task(task)
        await self._tell(tx, kind, task, intent, d)
        return task

    async def _close(self, tx: Tx, task: HumanTask, change: Change) -> HumanTask:
        # The event that ended the wait, not the last one: a claim waiting for the agent may be handed
        # the intent in the same change (intent.delivered after it), which carries no decision.
        last = next(e for e in change.events if e.status is not Status.WAITING)
        decision = last.details.get("decision")
        if decision:  # a person's answer, or the default outcome a timeout took
            state = TaskState.DECIDED
        elif last.details.get("timed_out_task") == task.task_id:
            state = TaskState.TIMED_OUT
        else:  # canceled, timed out by its intent's deadline, failed some other way
            state = TaskState.CANCELED
        closed = replace(task, state=state, decision=decision, updated_at=last.at)
        await tx.update_human_task(closed)
        await self._tell(tx, "decided" if decision else state.value, closed, change.intent, decision or {})
        return closed

    async def _tell(self, tx: Tx, kind: str, task: HumanTask, intent: Intent, details: JSON) -> None:
        if self._announce is not None:
            await self._announce(tx, kind, task, intent, details)

    # -- the timer kind -------------------------------------------------------------------------------
    async def fire(self, tx: Tx, intent: Intent, timer: Timer, now: Micros) -> Change | None:
        task = await tx.open_human_task(intent.intent_id)
        if task is None or intent.status is not Status.WAITING:
            return None
        due = next_due(task)
        if due is None:
            return None
        at, what = due
        if at > now:  # the schedule moved (a delegation restarted it): wait for the new moment
            await tx.add_timer(intent.intent_id, self.kind, at)
            return None
        if what is Due.REMIND:
            return _remind(intent, task, now)
        if what is Due.ESCALATE:
            return escalation(intent, task, SCHEDULER, now)
        return await _time_out(tx, intent, task, now)


def _remind(intent: Intent, task: HumanTask, now: Micros) -> Change:
    change = Change(intent)
    pending_with = {"type": "human", "ref": ", ".join(task.assignees), "name": task.spec["title"]}
    details = {"task_id": task.task_id, "reminder": task.reminders_sent + 1, "pending_with": pending_with}
    change.step(EventType.REMINDER, Status.WAITING, SCHEDULER, now, details=details)
    return change


async def _time_out(tx: Tx, intent: Intent, task: HumanTask, now: Micros) -> Change:
    """Nobody answered in time: the task's declared fallback."""
    spec = task.spec
    fallback = spec["on_timeout"]
    if fallback == "escalate":
        escalated = escalation(intent, task, SCHEDULER, now)
        if escalated is not None:
            return escalated
        fallback = "fail"  # no one left to escalate to
    if fallback == "default_outcome":
        outcome = spec["default_outcome"]
        decision = record_of(task, outcome, "nobody answered in time", {}, SCHEDULER, now, "timeout")
        return await settle(tx, intent, task, decision, SCHEDULER, now, {"timed_out_task": task.task_id})
    message = f"nobody answered the human task {spec['title']!r} in {spec['timeout_seconds']} s"
    change = Change(intent)
    marker: JSON = {"timed_out_task": task.task_id}
    if fallback == "fail":
        error = {"code": "human_task_timeout", "message": message, "task_id": task.task_id}
        change.step(EventType.FAILED, Status.FAILED, SCHEDULER, now, details={**marker, "error": error})
    else:
        change.step(
            EventType.CANCELED, Status.CANCELED, SCHEDULER, now, details={**marker, "reason": message}
        )
    return change
