"""Request bodies of the HTTP API: the server validates each request with these (a 422 names the field),
the SDK builds its bodies with them, and ``/openapi.json`` publishes them. Semantics (addresses,
transitions, leases) are the engine's; these say only what a well-formed body is."""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# PROTOCOL.md §2.2: dotted lower-case segments ending in a version, e.g. intent.demo.v1
INTENT_TYPE = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+\.v[0-9]+$")


# Fields of a create that AXP programs send for human tasks; intentd keeps them in the intent's controls.
AXP_EXTRAS = ("human_task", "remind_after_seconds", "remind_interval_seconds", "max_reminders", "escalate_to")


class CreateIntent(BaseModel):
    """``POST /v1/intents``. Unknown fields are accepted (official examples send extras such as
    ``delivery_mode``) and reported back as ``ignored_fields`` so a typo does not pass silently."""

    model_config = ConfigDict(extra="allow")

    intent_type: str = Field(min_length=3, max_length=255, examples=["intent.demo.v1"])
    correlation_id: str = Field(min_length=1, max_length=128)
    to_agent: str = Field(min_length=1, max_length=383, examples=["agent://acme/prod/writer"])
    payload: dict[str, Any]
    from_agent: str | None = Field(None, description="deprecated in AXP: the caller's key decides")
    reply_to: str | None = Field(None, max_length=383)
    deadline_at: datetime | None = Field(None, description="RFC 3339; TIMED_OUT after it")
    max_delivery_attempts: int = Field(5, ge=1, le=100)
    parent_intent_id: str | None = None
    # Accepted for AXP compatibility; stored in controls until human tasks land.
    human_task: dict[str, Any] | None = None
    remind_after_seconds: int | None = Field(None, ge=1)
    remind_interval_seconds: int | None = Field(None, ge=1)
    max_reminders: int | None = Field(None, ge=0)
    escalate_to: str | None = None

    @field_validator("intent_type")
    @classmethod
    def _intent_type(cls, value: str) -> str:
        if not INTENT_TYPE.match(value):
            raise ValueError("must be dotted lower-case segments ending in a version, e.g. intent.demo.v1")
        return value

    @field_validator("deadline_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a time zone, e.g. 2026-01-01T12:00:00Z")
        return value

    def axp_extras(self) -> dict[str, Any]:
        """The AXP human-task fields that were sent (kept in the intent's controls for now)."""
        return {name: value for name in AXP_EXTRAS if (value := getattr(self, name)) is not None}

    def ignored_fields(self) -> list[str]:
        return sorted(self.model_extra or {})


class ResolveBody(BaseModel):
    status: Literal["COMPLETED", "FAILED", "CANCELED"]
    result: dict[str, Any] | None = None
    error: Any = None
    reason: str | None = Field(None, max_length=2000)
    actor: str | None = Field(None, max_length=383)
    expected_policy_generation: int | None = Field(None, ge=0)


class CancelBody(BaseModel):
    reason: str | None = Field(None, max_length=2000)
    actor: str | None = Field(None, max_length=383)


class ControlsBody(BaseModel):
    controls_patch: dict[str, Any]
    expected_policy_generation: int | None = Field(None, ge=0)
    actor: str | None = None
    reason: str | None = None


class PolicyBody(BaseModel):
    grants_patch: dict[str, Any] | None = None
    envelope_patch: dict[str, Any] | None = None
    expected_policy_generation: int | None = Field(None, ge=0)
    actor: str | None = None
    reason: str | None = None


class ClaimBody(BaseModel):
    worker_id: str = Field("worker", min_length=1, max_length=200)
    max_intents: int = Field(1, ge=1, le=100)
    lease_seconds: float = Field(30.0, gt=0, le=3600)
    wait_seconds: float = Field(0.0, ge=0, le=60)


class LeaseBody(BaseModel):
    lease_token: str = Field(min_length=1)


class HeartbeatBody(LeaseBody):
    lease_seconds: float = Field(30.0, gt=0, le=3600)


class FollowUp(CreateIntent):
    """A ``then`` entry of a completion; without ``correlation_id`` it joins its parent's."""

    correlation_id: str = Field("", max_length=128)


class CompleteBody(LeaseBody):
    result: dict[str, Any] | None = None
    then: list[FollowUp] = Field(
        default_factory=list, max_length=100, description="follow-up intents, submitted atomically"
    )
    usage: dict[str, float] | None = None


class FailBody(LeaseBody):
    error: dict[str, Any] | str
    retry: bool = False
    retry_after_seconds: float = Field(
        0.0, ge=0, le=7 * 24 * 3600, description="with retry: wait this long before redelivery"
    )
    usage: dict[str, float] | None = None


class WaitBody(LeaseBody):
    reason: str = Field(examples=["WAITING_FOR_HUMAN"])
    wake_at: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ProgressBody(BaseModel):
    lease_token: str | None = None
    message: str | None = Field(None, max_length=4000)
    usage: dict[str, float] | None = None


class DecisionBody(BaseModel):
    decision: str = Field(min_length=1, max_length=32, examples=["approve", "reject"])
    comment: str | None = Field(None, max_length=5000)
    # The AXP docs' example sends ``reason`` (PROTOCOL.md §9.13): taken as the comment.
    reason: str | None = Field(None, max_length=5000)


class MeshHeartbeatBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # AXP agents may send more; only metrics is kept

    metrics: dict[str, Any] | None = None


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
