"""A person's answer to a run's human step (a ``human`` step, an approval a step requires, or an
escalation). Such a step is a child intent parked WAITING_FOR_HUMAN that no agent will ever claim; the
answer ends it (completed with the ``task_result``, or failed when the outcome is a rejection) and the
run moves on in the same transaction (``effects/join.py``).

Answers arrive through AXP ``resume`` with ``{"task_result": {"outcome": ...}}`` (or
``{"approve_current_step": true}``) or through an approval decision, on the step's intent or on the
run's (which forwards to its one pending human step). Human tasks in full (reminders, assignees, forms)
build on this in the human-tasks work.
"""

from __future__ import annotations

from typing import Any

from intentd.model import (
    JSON,
    EventType,
    Intent,
    IntentNotWaiting,
    Micros,
    Status,
    ValidationFailed,
    WaitingReason,
)
from intentd.store import Tx

from .._change import Change
from .plans import Plans

# Outcomes that end the step as a failure; every other allowed outcome completes it.
REJECTIONS = frozenset({"rejected", "abort"})
_ALIASES = {"approve": "approved", "reject": "rejected"}


class HumanAnswers:
    """Answers to runs' human steps, for ``IntentService.resume`` and ``InboxService.decide``."""

    def __init__(self, plans: Plans) -> None:
        self._plans = plans

    async def resume(self, tx: Tx, intent: Intent, body: JSON, actor: str, now: Micros) -> Change | None:
        """The change a resume makes as an answer, or None when ``intent`` is no run's and the body
        is no answer (the generic resume then applies)."""
        task_result = body.get("task_result")
        if task_result is None and body.get("approve_current_step") is True:
            task_result = {"outcome": "approved", "comment": body.get("reason")}
        is_run = intent.step_key is None and await self._plans.of(tx, intent.intent_id) is not None
        if task_result is None:
            if is_run:
                raise ValidationFailed(
                    "a workflow run moves by its steps: answer its human step with task_result, or cancel it",
                    details={"field": "task_result"},
                )
            return None
        if not isinstance(task_result, dict):
            raise ValidationFailed("task_result must be an object", details={"field": "task_result"})
        target = await self._pending_step(tx, intent) if is_run else intent
        if not _asks_a_person(target):
            return None
        return answer(target, task_result, actor, now)

    async def decide(
        self, tx: Tx, intent: Intent, approve: bool, comment: str | None, actor: str, now: Micros
    ) -> Change | None:
        """An approval decision on a run's human step (or on the run): None for any other intent."""
        outcome = "approved" if approve else "rejected"
        return await self.resume(
            tx, intent, {"task_result": {"outcome": outcome, "comment": comment}}, actor, now
        )

    async def _pending_step(self, tx: Tx, run: Intent) -> Intent:
        waiting = []
        for entry in await tx.journal(run.intent_id):
            if entry.finished or entry.child_intent_id is None:
                continue
            child = await tx.get_intent(entry.child_intent_id, for_update=True)
            if child is not None and _asks_a_person(child):
                waiting.append(child)
        if len(waiting) != 1:
            ids = [c.intent_id for c in waiting]
            raise IntentNotWaiting(
                f"run {run.intent_id} waits for {len(waiting)} human steps: answer the step's own intent",
                details={"intent_id": run.intent_id, "waiting_steps": ids},
            )
        return waiting[0]


def answer(step: Intent, task_result: JSON, actor: str, now: Micros) -> Change:
    outcome = _outcome(task_result.get("outcome"))
    allowed = _allowed(step)
    if allowed and outcome not in allowed:
        raise ValidationFailed(
            f"outcome must be one of {', '.join(allowed)}",
            details={"field": "task_result.outcome", "allowed": allowed},
        )
    change = Change(step)
    result = {**task_result, "outcome": outcome}
    if outcome in REJECTIONS:
        comment = task_result.get("comment")
        error = {"code": "rejected", "message": str(comment or f"{outcome} by {actor}"), "outcome": outcome}
        change.step(
            EventType.FAILED, Status.FAILED, actor, now, details={"error": error, "task_result": result}
        )
    else:
        change.step(EventType.COMPLETED, Status.COMPLETED, actor, now, details={"result": result})
    return change


def _asks_a_person(intent: Intent) -> bool:
    return (
        intent.step_key is not None
        and intent.status is Status.WAITING
        and intent.waiting_reason is WaitingReason.HUMAN
    )


def _outcome(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("task_result.outcome is required", details={"field": "task_result.outcome"})
    text = value.strip().lower()
    return _ALIASES.get(text, text)


def _allowed(step: Intent) -> list[str]:
    task = step.controls.get("human_task") if isinstance(step.controls, dict) else None
    outcomes = task.get("allowed_outcomes") if isinstance(task, dict) else None
    return [_ALIASES.get(o.lower(), o.lower()) for o in outcomes] if isinstance(outcomes, list) else []
