"""Human tasks (docs/humans.md): what waits for a person, and their decision. ``/v1/me/tasks`` is
AXP's list of the caller's own tasks (its items are a subset of the task shown here)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query

from intentd.engine.humans import TaskView
from intentd.engine.humans.schedule import Due, next_due
from intentd.engine.humans.spec import as_asked
from intentd.engine.inputs import Answer
from intentd.model import JSON, to_rfc3339
from intentd.wire import TaskAnswer, TaskAnswerResponse, TaskList
from intentd.wire.limits import NO_NUL

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ._params import v1_router

router = v1_router("/v1", "tasks")
TaskId = Annotated[str, Path(min_length=1, max_length=255, pattern=NO_NUL, description="a human task's id")]
State = Annotated[
    Literal["open", "decided", "timed_out", "canceled", "any"], Query(description="open by default; any: all")
]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.get("/me/tasks", summary="Human tasks the caller may decide", response_model=TaskList)
async def my_tasks(
    caller: Caller, engine: EngineDep, state: State = "open", limit: Limit = 50
) -> FastJSONResponse:
    views = await engine.tasks.list(caller, state=_state(state), mine=True, limit=limit)
    return answer({"ok": True, "tasks": [task_wire(v) for v in views]})


@router.get("/tasks", summary="Human tasks of the namespace, oldest first", response_model=TaskList)
async def list_tasks(
    caller: Caller,
    engine: EngineDep,
    state: State = "open",
    intent_id: Annotated[str | None, Query(min_length=1, max_length=255, pattern=NO_NUL)] = None,
    limit: Limit = 50,
) -> FastJSONResponse:
    views = await engine.tasks.list(caller, state=_state(state), intent_id=intent_id, limit=limit)
    return answer({"ok": True, "tasks": [task_wire(v) for v in views]})


@router.get("/tasks/{task_id}", summary="One human task", response_model=TaskAnswerResponse)
async def get_task(task_id: TaskId, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    view = await engine.tasks.get(caller, task_id)
    return answer({"ok": True, "task": task_wire(view), "intent": view.intent.to_wire()})


@router.post(
    "/tasks/{task_id}/decision",
    summary="Decide a human task (an assignee, their escalation targets or an admin)",
    response_model=TaskAnswerResponse,
)
async def decide_task(
    task_id: TaskId, body: TaskAnswer, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    data = {**(body.model_extra or {}), **(body.data or {})}  # the AXP CLI sends --data at the top level
    view = await engine.tasks.decide(caller, task_id, Answer(body.outcome, body.comment, data))
    return answer({"ok": True, "task": task_wire(view), "intent": view.intent.to_wire()})


def _state(state: str) -> str | None:
    return None if state == "any" else state


def task_wire(view: TaskView) -> JSON:
    """A task as :class:`intentd.wire.HumanTask` says."""
    task, intent = view.task, view.intent
    due = next_due(task) if task.is_open else None
    timeout = task.spec.get("timeout_seconds")
    decision = task.decision
    return {
        "task_id": task.task_id,
        "intent_id": task.intent_id,
        "intent_type": intent.intent_type,
        "status": intent.status.value,
        "state": task.state.value,
        "from_agent": intent.from_agent,
        "to_agent": intent.to_agent,
        "step_key": intent.step_key,
        "human_task": as_asked(task.spec),
        "allowed_outcomes": task.spec["allowed_outcomes"],
        "assignees": list(task.assignees),
        "escalation_level": task.level,
        "reminders_sent": task.reminders_sent,
        "assigned_at": to_rfc3339(task.created_at),
        "due_at": to_rfc3339(task.created_at + int(timeout * 1_000_000)) if timeout else None,
        "next_reminder_at": to_rfc3339(due[0]) if due and due[1] is Due.REMIND else None,
        "decision": {**decision, "decided_at": to_rfc3339(decision["decided_at"])} if decision else None,
    }
