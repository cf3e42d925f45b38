"""``intentd tasks``: what people are asked (an agent's ``ctx.ask_human``, a workflow's human step, an
intent created with a ``human_task``), listed, shown and decided through the SDK.

``submit`` on a terminal (stdin and stdout both) asks for what the answer still lacks: each field of the
task's ``form_schema`` that ``--data`` did not give, typed by the schema, and a comment when the task
requires one. Anywhere else it sends what it was given, and the server names what is missing."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from intentd.client import HumanTask, IntentdError, TaskAnswerResponse

from ._client import EXIT_REFUSED, connect, refusal
from ._forms import SKIPPED, FormField, ask, form_fields, missing_fields, typed
from ._options import JsonOpt, settings_of
from ._output import console, emit_json, errors, field_rows, status_text, table

app = typer.Typer(
    help="Human tasks: list what you may decide, show one, approve, reject or submit an answer.",
    no_args_is_help=True,
)

TASK_COLUMNS = ["task_id", "state", "type", "title", "assignees", "intent_id", "due_at"]
SHOWN_FIELDS = [
    "task_id",
    "state",
    "intent_id",
    "status",
    "intent_type",
    "from_agent",
    "to_agent",
    "step_key",
    "allowed_outcomes",
    "assignees",
    "escalation_level",
    "reminders_sent",
    "assigned_at",
    "due_at",
    "next_reminder_at",
]
# Outcomes (and their spellings) that say no: the server checks no form or evidence with them
# (engine/humans/outcomes.py), so none is asked for.
SAYS_NO = frozenset({"rejected", "reject", "declined", "decline", "failed", "abort"})
TaskIdArg = Annotated[str, typer.Argument(help="the task's id (intentd tasks list)", show_default=False)]
CommentOpt = Annotated[str | None, typer.Option(help="kept with the answer")]


class StateChoice(StrEnum):
    open = "open"
    decided = "decided"
    timed_out = "timed_out"
    canceled = "canceled"


# --- listing ----------------------------------------------------------------------------------------


@app.command("list")
def tasks_list(
    ctx: typer.Context,
    everyone: Annotated[
        bool, typer.Option("--all", help="every task of the namespace, not only those you may decide")
    ] = False,
    state: Annotated[StateChoice, typer.Option(help="tasks in this state")] = StateChoice.open,
    limit: Annotated[int, typer.Option(help="at most this many")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List the human tasks you may decide (open ones by default)."""
    with connect(settings_of(ctx)) as client:
        tasks = (client.tasks if everyone else client.my_tasks)(state.value, limit=limit)
    if as_json:
        emit_json({"ok": True, "tasks": [task.raw for task in tasks]})
    else:
        table("human tasks", TASK_COLUMNS, [_task_row(task) for task in tasks])


def _task_row(task: HumanTask) -> list[Any]:
    spec = task.human_task
    due = task.due_at.isoformat(timespec="seconds") if task.due_at else None
    return [
        task.task_id,
        _state_text(task.state),
        spec.get("task_type", "approval"),
        escape(str(spec.get("title"))),  # people's text: "[v2]" is not Rich markup
        escape(", ".join(task.assignees)),
        task.intent_id,
        due,
    ]


def _state_text(state: str) -> str:
    style = {"open": "magenta", "decided": "green", "timed_out": "red", "canceled": "yellow"}.get(state)
    return f"[{style}]{state}[/{style}]" if style else state


@app.command("show")
def tasks_show(ctx: typer.Context, task_id: TaskIdArg, as_json: JsonOpt = False) -> None:
    """Show one task: what is asked, of whom, its form and its decision."""
    with connect(settings_of(ctx)) as client:
        task = client.task(task_id)
    if as_json:
        emit_json(task.raw)
        return
    spec = task.human_task
    asked = field_rows(spec, ["title", "description", "task_type", "required_comment", "evidence_required"])
    table(None, ["field", "value"], _listed(asked + field_rows(task.raw, SHOWN_FIELDS)))
    fields = form_fields(spec.get("form_schema"))
    if fields:
        table("form", ["field", "type", "required", "description"], [_escaped(f.row()) for f in fields])
    if task.decision is not None:
        decided = task.raw["decision"]
        table("decision", ["field", "value"], _listed(field_rows(decided, list(decided))))


def _escaped(row: list[Any]) -> list[str]:
    return [escape(str(v)) if v is not None else "" for v in row]


def _listed(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows as text, lists joined, escaped: a title or a comment is people's text, not Rich markup."""
    return [[k, escape(", ".join(map(str, v)) if isinstance(v, list) else str(v))] for k, v in rows]


# --- deciding ---------------------------------------------------------------------------------------


@app.command("approve")
def tasks_approve(
    ctx: typer.Context, task_id: TaskIdArg, comment: CommentOpt = None, as_json: JsonOpt = False
) -> None:
    """Approve a task (outcome approved)."""
    _decide(ctx, task_id, Draft("approved", comment), as_json, form=False)


@app.command("reject")
def tasks_reject(
    ctx: typer.Context, task_id: TaskIdArg, comment: CommentOpt = None, as_json: JsonOpt = False
) -> None:
    """Reject a task (outcome rejected)."""
    _decide(ctx, task_id, Draft("rejected", comment), as_json, form=False)


@app.command("submit")
def tasks_submit(
    ctx: typer.Context,
    task_id: TaskIdArg,
    outcome: Annotated[
        str, typer.Option(help="one of the task's allowed outcomes, e.g. submitted, provided, completed")
    ],
    comment: CommentOpt = None,
    data: Annotated[
        list[str] | None,
        typer.Option("--data", help="a field of the answer, name=value (typed by the task's form); repeat"),
    ] = None,
    data_json: Annotated[
        str | None, typer.Option("--data-json", help="the answer's data as a JSON object (--data wins)")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a task with any outcome and data. On a terminal, asks for the form's fields that --data
    did not give (and a comment when the task requires one)."""
    draft = Draft(outcome, comment, _pairs(data or []), _data_object(data_json))  # checked before sending
    _decide(ctx, task_id, draft, as_json, form=True)


@dataclass(frozen=True)
class Draft:
    """An answer as the command line gives it: ``--data`` pairs are text until the task's form types
    them; ``--data-json`` is typed already."""

    outcome: str
    comment: str | None
    pairs: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)


def _decide(ctx: typer.Context, task_id: str, draft: Draft, as_json: bool, *, form: bool) -> None:
    comment, data = draft.comment, {**draft.data, **draft.pairs}
    with connect(settings_of(ctx)) as client:
        # The task is read when its form types the data, or to ask a person for a required comment.
        if form or (comment is None and interactive()):
            comment, data = _completed(client.task(task_id), draft, form=form)
        with refusal_with_field(as_json):
            done = client.decide_task(task_id, draft.outcome, comment=comment, data=data or None)
    _show_decided(done, as_json)


def _completed(task: HumanTask, draft: Draft, *, form: bool) -> tuple[str | None, dict[str, Any]]:
    """The answer with ``--data`` typed by the task's form, and on a terminal what it still lacks asked
    for: the form's fields and evidence (unless the outcome says no), a required comment. A closed task
    is sent as given: the server says it is closed."""
    spec, comment = task.human_task, draft.comment
    form = form and draft.outcome.strip().lower() not in SAYS_NO
    fields = form_fields(spec.get("form_schema")) if form else []
    data = {**draft.data, **typed(fields, draft.pairs)}
    if task.state != "open" or not interactive():
        return comment, data
    for missing in missing_fields(fields, data):
        value = ask(missing)
        if value is not SKIPPED:
            data[missing.name] = value
    if form and spec.get("evidence_required") and not data.get("evidence"):
        data["evidence"] = ask(FormField("evidence", "string", required=True))
    if spec.get("required_comment") and not comment:
        comment = ask(FormField("comment", "string", required=True))
    return comment, data


def _show_decided(done: TaskAnswerResponse, as_json: bool) -> None:
    if as_json:
        emit_json(done.raw)
        return
    decision = done.task.decision
    outcome = decision.outcome if decision else "?"
    intent = done.intent
    console.print(f"{done.task.task_id} {outcome}: intent {intent.intent_id} {status_text(intent.status)}")


@contextmanager
def refusal_with_field(as_json: bool) -> Iterator[None]:
    """A refused answer ends the command with the server's line and the field it names (``outcome``,
    ``comment``, ``data.<form field>``), then each problem of a form on a line of its own (exit 1).
    Other refusals go on to ``connect``."""
    try:
        yield
    except IntentdError as exc:
        field = exc.details.get("field")
        if field is None:
            raise
        if as_json:
            emit_json({"ok": False, "error": exc.to_wire()})
            raise typer.Exit(EXIT_REFUSED) from None
        line = f"{refusal(exc)} (field {field})"
        errors.print(line, style="red", markup=False, highlight=False, soft_wrap=True)
        for problem in exc.details.get("errors") or []:
            line = f"  {problem.get('field')}: {problem.get('message')}"
            errors.print(line, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_REFUSED) from None


def _data_object(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise typer.BadParameter(f"--data-json is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise typer.BadParameter(f"--data-json must be a JSON object, not {type(value).__name__}")
    return value


def _pairs(items: Iterable[str]) -> dict[str, str]:
    pairs = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise typer.BadParameter(f"--data takes name=value, not {item!r}")
        pairs[name] = value
    return pairs


def interactive() -> bool:
    """A person at a terminal on both ends: prompts would otherwise hang a script or go unseen."""
    return sys.stdin.isatty() and sys.stdout.isatty()
