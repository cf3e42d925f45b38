"""Request bodies of the HTTP API: the server validates each request with these (a 422 names the field),
the SDK builds its bodies with them, and ``/openapi.json`` publishes them. Semantics (addresses,
transitions, leases) are the engine's; these say only what a well-formed body is."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from .humans import EscalationLevel, HumanTaskSpec
from .limits import (
    Actor,
    Address,
    Assignee,
    Comment,
    CorrelationId,
    Count,
    FollowUpCorrelationId,
    Generation,
    Id,
    IntentType,
    Message,
    Name,
    Reason,
    Seconds,
    TaskSeconds,
    Time,
)

# Fields of a create that AXP programs send for human tasks (the last four also exist inside it).
AXP_EXTRAS = ("human_task", "remind_after_seconds", "remind_interval_seconds", "max_reminders", "escalate_to")

Usage = dict[str, Count] | None


class CreateIntent(BaseModel):
    """``POST /v1/intents``. Unknown fields are accepted (official examples send extras such as
    ``delivery_mode``) and reported back as ``ignored_fields`` so a typo does not pass silently."""

    model_config = ConfigDict(extra="allow")

    intent_type: IntentType = Field(examples=["intent.demo.v1", "process_task"])
    correlation_id: CorrelationId
    to_agent: Address = Field(examples=["agent://acme/prod/writer"])
    payload: dict[str, Any]
    from_agent: Address | None = Field(None, description="deprecated in AXP: the caller's key decides")
    reply_to: Address | None = None
    deadline_at: Time | None = Field(None, description="RFC 3339 with a time zone; TIMED_OUT after it")
    max_delivery_attempts: Annotated[int, Strict(), Field(ge=1, le=100)] = 5
    parent_intent_id: Id | None = None
    synthetic: Annotated[bool, Strict()] = Field(
        False, description="test traffic (a sandbox namespace only): left out of usage and fleet figures"
    )
    # A person is asked before the agent acts (or, to a ``human://`` address, the person is the
    # agent): docs/humans.md. The four fields after it are AXP's top-level spellings of its fields.
    human_task: HumanTaskSpec | None = None
    remind_after_seconds: TaskSeconds | None = None
    remind_interval_seconds: TaskSeconds | None = None
    max_reminders: Annotated[int, Strict(), Field(ge=0, le=1000)] | None = None
    escalate_to: Annotated[list[EscalationLevel | Assignee], Field(max_length=10)] | Assignee | None = None

    def task_spec(self) -> HumanTaskSpec | None:
        """``human_task`` with AXP's top-level reminder and escalation fields folded in (a field
        inside ``human_task`` wins)."""
        extras = {name: value for name in AXP_EXTRAS[1:] if (value := getattr(self, name)) is not None}
        if self.human_task is None:
            return None
        given = self.human_task.model_fields_set
        return self.human_task.model_copy(update={k: v for k, v in extras.items() if k not in given})

    def ignored_fields(self) -> list[str]:
        return sorted(self.model_extra or {})


class ResolveBody(BaseModel):
    status: Literal["COMPLETED", "FAILED", "CANCELED"]
    result: dict[str, Any] | None = None
    error: dict[str, Any] | Comment | None = None
    reason: Reason | None = None
    actor: Actor | None = None
    expected_policy_generation: Generation | None = None


class CancelBody(BaseModel):
    reason: Reason | None = None
    actor: Actor | None = None


class ResumeBody(BaseModel):
    """``POST /v1/intents/{id}/resume`` (AXP): a free-form body; these keys steer the call, every
    other key is the input (or the result) it carries."""

    model_config = ConfigDict(extra="allow")

    action: Literal["complete", "fail", "resume"] | None = None
    actor: Actor | None = None
    expected_policy_generation: Generation | None = None
    owner_agent: Address | None = None
    lease_token: Id | None = None


class ControlsBody(BaseModel):
    controls_patch: dict[str, Any]
    expected_policy_generation: Generation | None = None
    actor: Actor | None = None
    reason: Reason | None = None


class PolicyBody(BaseModel):
    """At least one of the two patches (the schema says so with ``anyOf``)."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["grants_patch"]}, {"required": ["envelope_patch"]}]}
    )

    grants_patch: dict[str, Any] = None  # type: ignore[assignment]  # absent, never null
    envelope_patch: dict[str, Any] = None  # type: ignore[assignment]
    expected_policy_generation: Generation | None = None
    actor: Actor | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _a_patch(self) -> PolicyBody:
        if self.grants_patch is None and self.envelope_patch is None:
            raise ValueError("send grants_patch and/or envelope_patch")
        return self


class ClaimBody(BaseModel):
    worker_id: Name = "worker"
    max_intents: Annotated[int, Strict(), Field(ge=1, le=100)] = 1
    lease_seconds: Annotated[Seconds, Field(gt=0, le=3600)] = 30.0
    wait_seconds: Annotated[Seconds, Field(le=60)] = 0.0


class LeaseBody(BaseModel):
    lease_token: Id


class HeartbeatBody(LeaseBody):
    lease_seconds: Annotated[Seconds, Field(gt=0, le=3600)] = 30.0


class FollowUp(CreateIntent):
    """A ``then`` entry of a completion; without ``correlation_id`` it joins its parent's."""

    correlation_id: FollowUpCorrelationId = ""


class CompleteBody(LeaseBody):
    result: dict[str, Any] | None = None
    then: list[FollowUp] = Field(
        default_factory=list, max_length=100, description="follow-up intents, submitted atomically"
    )
    usage: Usage = None


class FailBody(LeaseBody):
    error: dict[str, Any] | Comment
    retry: Annotated[bool, Strict()] = False
    retry_after_seconds: Annotated[Seconds, Field(le=7 * 24 * 3600)] = Field(
        0.0, description="with retry: wait this long before redelivery"
    )
    usage: Usage = None


class WaitBody(LeaseBody):
    """Park a claimed intent. With ``human_task`` (reason WAITING_FOR_HUMAN) a person is asked: the
    answer is journaled under ``key`` and the intent comes back to its agent (``ctx.ask_human``)."""

    reason: Literal["WAITING_FOR_HUMAN", "WAITING_FOR_AGENT", "WAITING_FOR_TOOL", "WAITING_FOR_TIME"]
    wake_at: Time | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    human_task: HumanTaskSpec | None = None
    key: Id | None = None


class ProgressBody(BaseModel):
    lease_token: Id | None = None
    message: Message | None = None
    usage: Usage = None
    tool: Id | None = Field(None, description="a tool the agent calls: checked against its policy's tools")


class DecisionBody(BaseModel):
    # The AXP docs' own example sends "approved" (PROTOCOL.md §9.13).
    decision: Literal["approve", "approved", "reject", "rejected"]
    comment: Comment | None = None
    # The AXP docs' example sends ``reason`` (PROTOCOL.md §9.13): taken as the comment.
    reason: Comment | None = None


def request_body(model: type[BaseModel], /, **fields: Any) -> dict[str, Any]:
    """The JSON body of a request to a route that takes ``model``, as the SDK sends it: the fields
    given, without the None ones, times in RFC 3339. A name the model does not have is a TypeError, so
    the SDK cannot drift from the server's schema by a renamed field. (Validation is the server's: a
    pass here would cost on every request and answer differently from it.)"""
    unknown = [name for name in fields if name not in model.model_fields]
    if unknown:
        raise TypeError(f"{model.__name__} has no field {unknown[0]!r}")
    return {name: _to_json(value) for name, value in fields.items() if value is not None}


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value
