"""AXP ScenarioBundles (PROTOCOL.md §4.4): the bundle ``POST /v1/scenarios/validate`` checks, and its
answer. These say what a well-formed bundle is, field by field, with the limits of ``limits.py``; what
the fields mean together (links between steps, who a step is assigned to) is the engine's
(``engine/scenarios.py``), which reports every problem with its path."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from ._model import WireModel
from .humans import HumanTaskSpec
from .limits import (
    INTENT_TYPE_PATTERN,
    NO_NUL,
    TEN_YEARS,
    Comment,
    Id,
    IntentType,
    Name,
    Time,
)
from .responses import Intent

ScenarioId = Annotated[str, StringConstraints(min_length=3, max_length=255, pattern=INTENT_TYPE_PATTERN)]
# An agent's address as a bundle writes it: a short service-account name or ``agent://…``. Only text
# here, so that a malformed one is reported with the bundle's other problems, at its path.
AddressText = Annotated[str, StringConstraints(min_length=1, max_length=383, pattern=NO_NUL)]
# Whom a step or a reminder goes to: a role alias of the bundle or an address (PROTOCOL.md §4.1).
Target = Annotated[str, StringConstraints(min_length=1, max_length=383, pattern=NO_NUL)]
# ``reply_to`` may be symbolic (``initiator_inbox``, which the AXP CLI substitutes).
ReplyTo = Target
CallbackUrl = Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://[^\x00\s]+$")]
Duration = Annotated[int, Strict(), Field(ge=1, le=TEN_YEARS)]
DelaySeconds = Annotated[int, Strict(), Field(ge=0, le=TEN_YEARS)]
Reminders = Annotated[int, Strict(), Field(ge=0, le=1000)]
StrictBool = Annotated[bool, Strict()]

RuntimeType = Literal["human_approval", "timeout", "reminder", "delay", "escalation", "notification"]
DeliveryMode = Literal["stream", "poll", "http", "inbox", "internal"]


class AgentSpec(BaseModel):
    """An agent of the bundle. Extra fields are kept: the AXP example runner reads ``handler`` and
    ``description``."""

    model_config = ConfigDict(extra="allow")

    role: Id
    address: AddressText = Field(examples=["agent://acme/prod/writer", "writer"])
    create_if_missing: StrictBool = False
    display_name: Name | None = None
    delivery_mode: DeliveryMode | None = None
    callback_url: CallbackUrl | None = None


class HumanSpec(BaseModel):
    role: Id
    contact: Id | None = Field(None, description="an email or org member id (AXP examples omit it)")
    display_name: Name | None = None


class RetrySpec(BaseModel):
    """AXP's ``max_retries`` and ``retry_delay_seconds``; intentd adds exponential backoff with jitter
    and which error codes retry (all, unless ``retry_on`` names some)."""

    max_retries: Annotated[int, Strict(), Field(ge=0, le=100)] = 0
    retry_delay_seconds: Annotated[float, Field(ge=0, le=TEN_YEARS, allow_inf_nan=False)] = 30
    backoff_multiplier: Annotated[float, Field(ge=1, le=10, allow_inf_nan=False)] = 2.0
    max_delay_seconds: Annotated[float, Field(ge=0, le=TEN_YEARS, allow_inf_nan=False)] = 3600
    jitter: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = Field(
        0.2, description="each delay is scaled by a random factor in [1 - jitter, 1 + jitter]"
    )
    retry_on: list[Id] | None = Field(
        None, max_length=50, description="error codes that retry (default: all)"
    )


class JoinSpec(BaseModel):
    """How a ``parallel`` step joins its branches (intentd's extension)."""

    policy: Literal["all", "any", "quorum"] = "all"
    quorum: Annotated[int, Strict(), Field(ge=1, le=50)] | None = Field(
        None, description="with policy quorum: how many branches must complete"
    )
    remaining: Literal["cancel", "finish"] = Field(
        "cancel", description="what happens to branches still running once the join is decided"
    )


class CompensateSpec(BaseModel):
    """The intent that undoes a completed step's side effect (intentd's extension)."""

    assigned_to: Target
    intent_type: IntentType | None = None
    input: dict[str, Any] | None = None
    retry: RetrySpec | None = None


StepKind = Literal["agent", "human", "parallel", "delay", "notification", "subflow"]


class WorkflowStepSpec(BaseModel):
    """A step. AXP says what it is with ``tool_id`` (``tool.agent.task.v1``,
    ``tool.approval.human_signoff``) or ``runtime_type``; intentd also takes ``kind``, and adds
    ``parallel`` (``branches`` and ``join``), ``subflow`` (``workflow``), ``delay_seconds``,
    ``compensate`` and input expressions (``${steps.draft.output.text}``, docs/patterns.md)."""

    step_id: Id
    kind: StepKind | None = Field(None, description="default: from tool_id / runtime_type, else agent")
    tool_id: Id | None = Field(None, examples=["tool.agent.task.v1", "tool.approval.human_signoff"])
    runtime_type: RuntimeType | None = None
    runtime_config: dict[str, Any] | None = None
    assigned_to: Target | None = Field(None, description="a role of the bundle or an agent address")
    requires_approval: StrictBool = False
    step_deadline_seconds: Duration | None = None
    retry: RetrySpec | None = None
    human_task: HumanTaskSpec | None = None
    remind_after_seconds: Duration | None = None
    remind_interval_seconds: Duration | None = None
    max_reminders: Reminders | None = None
    escalate_to: Target | None = None
    on_success: Id | None = Field(None, description="the next step; none ends the workflow")
    on_failure: Id | None = Field(None, description="the step on failure; none fails the workflow")
    input: dict[str, Any] | None = None
    intent_type: IntentType | None = Field(None, description="the step intent's type (default: the run's)")
    branches: list[WorkflowStepSpec] | None = Field(None, min_length=1, max_length=50)
    join: JoinSpec | None = None
    delay_seconds: Annotated[float, Field(ge=0, le=TEN_YEARS, allow_inf_nan=False)] | None = None
    compensate: CompensateSpec | None = None
    workflow: WorkflowSpec | None = Field(None, description="a subflow's own steps")


class WorkflowSpec(BaseModel):
    macro_id: Id | None = None
    steps: list[WorkflowStepSpec] = Field(min_length=1, max_length=100)
    parameters: dict[str, Any] | None = None
    entry_step: Id | None = Field(None, description="the first step run (default: the first listed)")


class IntentSpec(BaseModel):
    """The intent that starts the scenario."""

    type: IntentType = Field(examples=["intent.demo.v1"])
    payload: dict[str, Any] = Field(default_factory=dict)
    deadline_at: Time | None = None
    max_delivery_attempts: Annotated[int, Strict(), Field(ge=1, le=100)] | None = None
    human_task: HumanTaskSpec | None = None
    remind_after_seconds: Duration | None = None
    remind_interval_seconds: Duration | None = None
    max_reminders: Reminders | None = None
    escalate_to: Target | None = None
    reply_to: ReplyTo | None = Field(None, examples=["initiator_inbox"])
    to_agent: Target | None = None


class ScenarioBundle(BaseModel):
    """``POST /v1/scenarios/validate``: an AXP ScenarioBundle. Extra fields are accepted: the AXP
    example runner adds ``model``, ``pattern``, ``durability`` and ``_implementation_note``."""

    model_config = ConfigDict(extra="allow")

    scenario_id: ScenarioId = Field(examples=["demo.approval_flow"])
    description: Comment | None = None
    idempotency_key: Id | None = None
    title: Id | None = None
    agents: list[AgentSpec] = Field(default_factory=list, max_length=50)
    humans: list[HumanSpec] = Field(default_factory=list, max_length=20)
    workflow: WorkflowSpec | None = None
    intent: IntentSpec


class AppliedAgent(WireModel):
    role: str
    address: str
    created: bool = False


class ScenarioApplied(WireModel):
    """The answer of ``POST /v1/scenarios/apply`` (PROTOCOL.md §4.4): the run is the intent
    ``intent_id``; follow it with its events, ``/tree`` or ``wait_for_run``."""

    ok: bool = True
    intent_id: str
    run_id: str = Field(description="the same id: the run is that intent")
    scenario_id: str
    status: str
    pending_with: str | None = Field(None, description="who the run waits for first")
    compile_id: str
    workflow_compile_id: str
    idempotent: bool = Field(description="true when an idempotency key replayed an earlier apply")
    agents: list[AppliedAgent]
    deadline_at: datetime | None = None
    created_at: datetime
    intent: Intent


class ScenarioValid(WireModel):
    """The answer of a bundle with no problem (one with problems is a 422 listing them all in
    ``error.details.problems``)."""

    ok: bool = True
    valid: bool = True
    scenario_id: str
    steps: int = Field(description="the number of workflow steps")
    errors: list[str] = Field(default_factory=list, description="always empty here (AXP clients read it)")
    warnings: list[str] = Field(default_factory=list)


WorkflowStepSpec.model_rebuild()
