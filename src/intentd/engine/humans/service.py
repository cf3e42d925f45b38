"""Human tasks as an API: what waits for whom, and a person's decision. A decision locks the task's
intent, checks the task is still open and the person may decide it, validates the answer, and moves
the intent in the same transaction (``answers.py``): deciding twice, or after a timeout, is a 409
that changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from intentd.model import (
    JSON,
    HumanTask,
    Intent,
    LinkUsed,
    Micros,
    NotAssignee,
    TaskClosed,
    TaskNotFound,
    ValidationFailed,
)
from intentd.store import Store, Tx

from .._change import Change
from ..inputs import Answer, Principal
from ..recorder import Recorder
from .answers import answer
from .notices import people

Clock = Callable[[], Micros]
TASK_STATES = ("open", "decided", "timed_out", "canceled")
_SCAN = 1000  # open tasks read to find a person's own: a person's queue, not a report


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task with its intent, as the API shows it."""

    task: HumanTask
    intent: Intent


def may_decide(principal: Principal, task: HumanTask) -> bool:
    """Admins decide anything; a signed link was made for an assignee; an approver decides the tasks
    assigned to them by name or by one of their roles (a task with no assignees: any approver)."""
    if principal.role in ("admin", "link"):
        return True
    if principal.role != "approver":
        return False
    mine = {principal.name, *(f"role:{r}" for r in principal.task_roles)}
    return not task.assignees or bool(mine.intersection(task.assignees))


class HumanTaskService:
    def __init__(self, store: Store, clock: Clock, recorder: Recorder) -> None:
        self._store = store
        self._clock = clock
        self._recorder = recorder

    async def list(
        self,
        principal: Principal,
        *,
        state: str | None = "open",
        mine: bool = False,
        intent_id: str | None = None,
        limit: int = 50,
    ) -> list[TaskView]:
        if state is not None and state not in TASK_STATES:
            raise ValidationFailed(
                f"state must be one of {', '.join(TASK_STATES)}", details={"field": "state"}
            )

        async def read(tx: Tx) -> list[TaskView]:
            scan = _SCAN if mine else limit
            tasks = await tx.list_human_tasks(
                principal.namespace, state=state, intent_id=intent_id, limit=scan
            )
            if mine:
                tasks = [t for t in tasks if may_decide(principal, t)][:limit]
            return [TaskView(t, intent) for t in tasks if (intent := await tx.get_intent(t.intent_id))]

        return await self._store.read(read)

    async def get(self, principal: Principal, task_id: str) -> TaskView:
        async def read(tx: Tx) -> TaskView:
            task = await _task(tx, principal, task_id)
            intent = await tx.get_intent(task.intent_id)
            assert intent is not None
            return TaskView(task, intent)

        return await self._store.read(read)

    async def decide(
        self, principal: Principal, task_id: str, reply: Answer, *, link_nonce: str | None = None
    ) -> TaskView:
        async def unit(tx: Tx) -> TaskView:
            found = await _task(tx, principal, task_id)
            intent = await tx.get_intent(found.intent_id, for_update=True)
            task = await tx.get_human_task(task_id)  # again, under the intent's lock
            assert intent is not None and task is not None
            await self._check(tx, principal, task, link_nonce)
            change = await answer(
                tx, intent, task, reply.outcome, reply.comment, reply.data,
                actor=principal.name, via=reply.via, now=self._clock(),
            )  # fmt: skip
            intent = await self._recorder.record(tx, change)
            decided = await tx.get_human_task(task_id)
            assert decided is not None
            return TaskView(decided, intent)

        return await self._store.write(unit)

    async def _check(self, tx: Tx, principal: Principal, task: HumanTask, link_nonce: str | None) -> None:
        if not task.is_open:
            raise closed(task)
        if not may_decide(principal, task) or not await _link_for_a_decider(tx, principal, task):
            raise not_an_assignee(principal, task)
        if link_nonce is not None and not await tx.use_link(link_nonce, task.task_id, self._clock()):
            raise LinkUsed("this link was used already", details={"task_id": task.task_id})


def closed(task: HumanTask) -> TaskClosed:
    return TaskClosed(
        f"human task {task.task_id} is {task.state.value}: it can no longer be decided",
        details={"task_id": task.task_id, "state": task.state.value, "decision": task.decision},
    )


def not_an_assignee(principal: Principal, task: HumanTask) -> NotAssignee:
    return NotAssignee(
        f"{principal.name} is not an assignee of human task {task.task_id}",
        details={"task_id": task.task_id, "assignees": list(task.assignees)},
    )


async def _link_for_a_decider(tx: Tx, principal: Principal, task: HumanTask) -> bool:
    """A signed link decides for its person only while they are one of the task's people (an
    assignee by name or role, or its ``notify_email``, AXP's magic-link target)."""
    return principal.role != "link" or not task.assignees or principal.name in await people(tx, task)


async def _task(tx: Tx, principal: Principal, task_id: str) -> HumanTask:
    task = await tx.get_human_task(task_id)
    if task is None or task.namespace != principal.namespace:
        raise TaskNotFound(f"human task {task_id} not found", details={"task_id": task_id})
    return task


async def answer_waiting(
    tx: Tx, principal: Principal, intent: Intent, result: JSON, *, actor: str, via: str, now: Micros
) -> Change | None:
    """An AXP answer (a resume's ``task_result``, an approval decision) to ``intent``'s open task:
    the change it makes, or None when the intent has no open task."""
    task = await tx.open_human_task(intent.intent_id)
    if task is None:
        return None
    if not may_decide(principal, task):
        raise not_an_assignee(principal, task)
    outcome = result.get("outcome")
    if not isinstance(outcome, str) or not outcome.strip():
        raise ValidationFailed("task_result.outcome is required", details={"field": "task_result.outcome"})
    comment = result.get("comment")
    given = result.get("data")
    data: JSON = given if isinstance(given, dict) else {}
    extra = {k: v for k, v in result.items() if k not in ("outcome", "comment", "data")}
    try:
        return await answer(
            tx, intent, task, outcome, str(comment) if comment else None, {**extra, **data},
            actor=actor, via=via, now=now,
        )  # fmt: skip
    except ValidationFailed as exc:  # the fields are the task_result's
        field = exc.details.get("field")
        details = {**exc.details, "field": f"task_result.{field}"} if field else exc.details
        raise ValidationFailed(exc.message, details=details) from None


__all__ = ["HumanTaskService", "TaskView", "answer_waiting", "closed", "may_decide", "not_an_assignee"]
