"""Human tasks on the wire (PROTOCOL.md §4.1): the ``human_task`` a create, a workflow step or an agent's
``ask_human`` carries, the decision a person sends, and the task as the API shows it. What each outcome
does is the engine's (``engine/humans/outcomes.py``); these say only what a well-formed body is."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, Strict

from ._model import WireModel
from .limits import Assignee, Comment, Description, Outcome, TaskSeconds, Title
from .responses import Intent

# The AXP schema's 14 task types, and ``form`` (README and CLI use it; the schema enum lacks it).
TaskType = Literal[
    "approval",
    "review",
    "clarification",
    "provide_data",
    "attach_file",
    "manual_action",
    "confirmation",
    "validate_real_world",
    "validate_output",
    "assignment",
    "delegation",
    "reroute",
    "override",
    "escalate",
    "form",
]
TASK_TYPES: tuple[str, ...] = get_args(TaskType)
TimeoutFallback = Literal["cancel", "fail", "default_outcome", "escalate"]


class EscalationLevel(BaseModel):
    """One level of an escalation chain: who is added to the deciders, and (optionally) how long
    after the previous level this one starts when nobody has decided."""

    model_config = ConfigDict(extra="forbid")

    assignees: Annotated[list[Assignee], Field(min_length=1, max_length=20)]
    after_seconds: TaskSeconds | None = None


class HumanTaskSpec(BaseModel):
    """``human_task``: what a person is asked, who may answer, and what happens when nobody does.

    Reminders start ``remind_after_seconds`` after the task opens and repeat every
    ``remind_interval_seconds``, ``max_reminders`` times; then (or after a level's ``after_seconds``)
    the task escalates to the next level of ``escalate_to``. ``timeout_seconds`` after it opens,
    ``on_timeout`` decides: cancel or fail the intent, take ``default_outcome``, or escalate."""

    # Lenient like AXP's own programs: the SDK README sends ``notify_email`` and no title.
    model_config = ConfigDict(extra="allow")

    title: Title | None = None
    description: Description | None = None
    task_type: TaskType = "approval"
    allowed_outcomes: Annotated[list[Outcome], Field(min_length=1, max_length=20)] | None = None
    required_comment: Annotated[bool, Strict()] = False
    evidence_required: Annotated[bool, Strict()] = False
    form_schema: dict[str, Any] | None = Field(
        None, description="JSON Schema (2020-12) the answer's data must match"
    )
    assignees: Annotated[list[Assignee], Field(max_length=20)] = Field(default_factory=list)
    remind_after_seconds: TaskSeconds | None = None
    remind_interval_seconds: TaskSeconds | None = None
    max_reminders: Annotated[int, Strict(), Field(ge=0, le=1000)] | None = None
    escalate_to: Annotated[list[EscalationLevel | Assignee], Field(max_length=10)] | Assignee | None = None
    timeout_seconds: TaskSeconds | None = None
    on_timeout: TimeoutFallback = "cancel"
    default_outcome: Outcome | None = None
    notify_email: Assignee | None = None


class TaskAnswer(BaseModel):
    """A person's answer: ``POST /v1/tasks/{task_id}/decision``, and the ``task_result`` of an AXP
    resume. Fields other than these (the AXP CLI sends ``--data`` fields at the top level) join ``data``."""

    model_config = ConfigDict(extra="allow")

    outcome: Outcome
    comment: Comment | None = None
    data: dict[str, Any] | None = None


class TaskDecision(WireModel):
    task_id: str
    outcome: str
    comment: str | None = None
    data: dict[str, Any] | None = None
    decided_by: str
    decided_at: datetime
    via: str = "api"


class HumanTask(WireModel):
    """A human task as ``GET /v1/tasks/{id}`` shows it; AXP's ``/v1/me/tasks`` items are a subset
    (``intent_id, intent_type, status, from_agent, assigned_at, due_at, human_task``)."""

    task_id: str
    intent_id: str
    intent_type: str
    status: str  # the intent's status
    state: Literal["open", "decided", "timed_out", "canceled"]
    from_agent: str
    to_agent: str
    step_key: str | None = None
    human_task: dict[str, Any]
    allowed_outcomes: list[str]
    assignees: list[str]
    escalation_level: int = 0
    reminders_sent: int = 0
    assigned_at: datetime
    due_at: datetime | None = None
    next_reminder_at: datetime | None = None
    decision: TaskDecision | None = None


class TaskList(WireModel):
    ok: bool = True
    tasks: list[HumanTask]


class TaskAnswerResponse(WireModel):
    ok: bool = True
    task: HumanTask
    intent: Intent
