"""AXP's ways of answering a person's part, routed to human tasks (``engine/humans/``): a ``resume``
with ``{"task_result": {"outcome": ...}}`` or ``{"approve_current_step": true}``, and an approval
decision. Each answers the open task of the intent it names — or, named on a declared run, the task
of its one pending human step (a run moves only by its steps)."""

from __future__ import annotations

from intentd.model import (
    JSON,
    Intent,
    IntentNotWaiting,
    Micros,
    Status,
    ValidationFailed,
    WaitingReason,
)
from intentd.store import Tx

from .._change import Change
from ..humans.service import answer_waiting, closed
from ..inputs import Principal
from .plans import Plans


class HumanAnswers:
    """Answers to human tasks, for ``IntentService.resume`` and ``InboxService.decide``."""

    def __init__(self, plans: Plans) -> None:
        self._plans = plans

    async def resume(
        self, tx: Tx, principal: Principal, intent: Intent, body: JSON, actor: str, now: Micros
    ) -> Change | None:
        """The change a resume makes as an answer, or None when the body is no answer or the intent
        has no open task (the generic resume then applies)."""
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
        answered = await answer_waiting(
            tx, principal, target, task_result, actor=actor, via="resume", now=now
        )
        if answered is None and "task_result" in body and target.status is not Status.WAITING:
            await _no_question(tx, target)  # an answer must not pass for a plain resume
        return answered

    async def decide(
        self, tx: Tx, principal: Principal, intent: Intent, approve: bool, comment: str | None, now: Micros
    ) -> Change | None:
        """An approval decision as an answer to the intent's (or the run's step's) open task."""
        outcome = "approved" if approve else "rejected"
        body = {"task_result": {"outcome": outcome, "comment": comment}}
        return await self.resume(tx, principal, intent, body, principal.name, now)

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


async def _no_question(tx: Tx, intent: Intent) -> None:
    """A ``task_result`` for an intent no person is asked about: 409 (its last task's state, when it
    had one), so an answer that races the question is retried, never lost."""
    asked = await tx.list_human_tasks(intent.namespace, state=None, intent_id=intent.intent_id, limit=100)
    if asked:
        raise closed(asked[-1])
    raise IntentNotWaiting(
        f"intent {intent.intent_id} is {intent.status.value}: no human task waits for an answer",
        details={"intent_id": intent.intent_id, "status": intent.status.value},
    )


def _asks_a_person(intent: Intent) -> bool:
    return intent.status is Status.WAITING and intent.waiting_reason is WaitingReason.HUMAN
