"""The human inbox (``/ui/humans``): the open tasks this key may see, and one task's page with its
form (``schema_form.py``) and a button per allowed outcome. An approver sees the tasks they may decide
(assigned to them by name or role); admins, submitters and auditors see the namespace's. The form is
offered only to a key that may decide the task, and the engine checks that again when it is posted
(engine/humans/service.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request, Response

from intentd.engine.humans import TaskView, may_decide
from intentd.engine.inputs import Answer
from intentd.model import IntentdError
from intentd.wire.limits import NO_NUL

from ..auth import app_engine
from ._routing import form, page_router, redirect
from .access import DECIDE, MY_TASKS, READ_INTENT, READ_TASKS, Viewer
from .schema_form import data_from, form_of
from .session import ViewerDep, posted
from .templating import render

router = page_router()
TaskId = Annotated[str, Path(min_length=1, max_length=255, pattern=NO_NUL)]
Show = Annotated[str, Query(pattern="^(open|decided|any)$")]
LISTED = 100
VIA = "dashboard"  # how the decision record says it was made


@router.get("/humans")
async def inbox_page(request: Request, viewer: ViewerDep, show: Show = "open") -> Response:
    tasks = await _inbox(request, viewer, show)
    return render(request, viewer, "humans.html", {"tasks": tasks, "show": show, "decides": _decider(viewer)})


@router.get("/humans/rows")
async def inbox_rows(request: Request, viewer: ViewerDep, show: Show = "open") -> Response:
    tasks = await _inbox(request, viewer, show)
    context = {"tasks": tasks, "show": show, "decides": _decider(viewer)}
    return render(request, viewer, "partials/task_rows.html", context)


@router.get("/humans/{task_id}")
async def task_page(request: Request, viewer: ViewerDep, task_id: TaskId) -> Response:
    viewer.require(READ_TASKS)
    view = await app_engine(request).tasks.get(viewer.principal, task_id)
    return _task_page(request, viewer, view)


@router.post("/humans/{task_id}/decision", openapi_extra=form("outcome", "comment", more=True))
async def decide(request: Request, viewer: ViewerDep, task_id: TaskId) -> Response:
    viewer.require(DECIDE)
    engine = app_engine(request)
    view = await engine.tasks.get(viewer.principal, task_id)
    fields = await posted(request)
    try:
        answer = Answer(
            fields.get("outcome", ""),
            fields.get("comment", "").strip() or None,
            data_from(form_of(view.task.spec.get("form_schema")), fields),
            via=VIA,
        )
        decided = await engine.tasks.decide(viewer.principal, task_id, answer)
    except IntentdError as err:
        if err.http_status >= 500:
            raise
        return _task_page(request, viewer, view, error=err, sent=fields, status_code=err.http_status)
    if viewer.may(READ_INTENT):
        return redirect(request, f"/ui/intents/{decided.intent.intent_id}")
    return redirect(request, f"/ui/humans/{task_id}")


async def _inbox(request: Request, viewer: Viewer, show: str) -> list[TaskView]:
    """An approver's own tasks; the namespace's for any other role that may read tasks."""
    state = None if show == "any" else show
    mine = viewer.principal.role == "approver"
    viewer.require(MY_TASKS if mine else READ_TASKS)
    tasks = app_engine(request).tasks
    return await tasks.list(viewer.principal, state=state, mine=mine, limit=LISTED)


def _decider(viewer: Viewer) -> Any:
    """For the templates: whether this key may decide a given task."""
    return lambda view: viewer.may(DECIDE) and view.task.is_open and may_decide(viewer.principal, view.task)


def _task_page(
    request: Request,
    viewer: Viewer,
    view: TaskView,
    *,
    error: IntentdError | None = None,
    sent: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "view": view,
        "form": form_of(view.task.spec.get("form_schema")),
        "decides": _decider(viewer)(view),
        "error": error,
        "sent": sent or {},
        "reads_intent": viewer.may(READ_INTENT),
    }
    return render(request, viewer, "task.html", context, status_code=status_code)
