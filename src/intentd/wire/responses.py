"""Response bodies of the HTTP API. The server renders its answers without validating them (a pass per
response would cost more than the route) and names these models on its routes, so ``/openapi.json``
documents the real bodies; the SDK parses every answer into them, so what it returns is exactly what
is documented. A test renders each answer the server gives and checks it against these models, so the
two cannot drift apart.

The domain objects render themselves (``model.Intent.to_wire``, ``model.Event.to_wire``): a field added
to the wire is a line there and a field here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from intentd.model import TERMINAL, Status

from ._model import JSON, WireModel


class WorkflowControlPolicy(WireModel):
    controls: JSON = Field(default_factory=dict)
    grants: JSON = Field(default_factory=dict)
    envelope: JSON = Field(default_factory=dict)
    policy_generation: int = 0


class TraceContext(WireModel):
    """The W3C Trace Context (https://www.w3.org/TR/trace-context/) an intent was submitted in: the
    ``traceparent`` and ``tracestate`` headers of the request that created it (or of the handler that
    spawned or handed it on). The worker starts its handler's span from it."""

    traceparent: str
    tracestate: str | None = None


class Intent(WireModel):
    """An intent as the server reports it (PROTOCOL.md §1.6; ``status`` and ``lifecycle_status`` carry
    the same value)."""

    intent_id: str
    intent_type: str
    correlation_id: str
    from_agent: str
    to_agent: str
    reply_to: str | None = None
    parent_intent_id: str | None = None
    root_intent_id: str | None = None
    payload: JSON = Field(default_factory=dict)
    status: Status
    lifecycle_status: Status | None = None
    waiting_reason: str | None = None
    result: JSON | None = None
    error: Any = None
    reason: str | None = None
    created_at: datetime
    updated_at: datetime
    deadline_at: datetime | None = None
    max_delivery_attempts: int = 5
    delivery_attempt: int = 0
    lease_expires_at: datetime | None = None
    policy_generation: int = 0
    workflow_control_policy: WorkflowControlPolicy = Field(default_factory=WorkflowControlPolicy)
    usage: JSON = Field(default_factory=dict)
    idempotency_key: str | None = None
    step_key: str | None = Field(None, description="the key of this step in its parent's journal")
    synthetic: bool = Field(False, description="test traffic of a sandbox namespace, its whole run")
    trace_context: TraceContext | None = Field(
        None, description="the W3C trace context it was submitted in; null when none was sent"
    )
    last_seq: int = 0

    @model_validator(mode="before")
    @classmethod
    def _updated_at_defaults_to_created_at(cls, data: Any) -> Any:
        # An intent that never changed may be sent without it (AXP makes only created_at required).
        if isinstance(data, dict) and data.get("updated_at") is None and "created_at" in data:
            return {**data, "updated_at": data["created_at"]}
        return data

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def controls(self) -> JSON:
        return self.workflow_control_policy.controls


class Event(WireModel):
    """One entry of an intent's event log (PROTOCOL.md §1.5); ``seq`` counts from 1 without gaps."""

    intent_id: str
    seq: int
    event_type: str
    status: Status
    at: datetime
    actor: str | None = None
    handler: str | None = None
    waiting_reason: str | None = None
    pending_with: str | None = None
    details: JSON = Field(default_factory=dict)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class Lease(WireModel):
    token: str
    expires_at: datetime
    delivery_attempt: int


class Delivery(WireModel):
    """A leased intent: present ``lease_token`` to heartbeat, complete, fail, release or wait."""

    intent: Intent
    lease: Lease

    @property
    def lease_token(self) -> str:
        return self.lease.token

    @property
    def lease_expires_at(self) -> datetime:
        return self.lease.expires_at

    @property
    def attempt(self) -> int:
        return self.lease.delivery_attempt


class StreamDelivery(Delivery):
    """A delivery pushed on a held stream (``GET /v1/deliveries/stream``); ``resumed``: a lease the
    worker already held, sent again when its stream was opened again."""

    resumed: bool = False


class LeaseAnswer(Delivery):
    """The answer to a lease heartbeat: the intent with its extended lease."""

    ok: bool = True


class FeedItem(WireModel):
    """An entry of an agent's feed (``listen``, the ``data`` of the agent stream): an intent submitted
    to the agent, or a terminal reply to its ``reply_to`` address. ``seq`` is the per-agent cursor,
    not the intent's event seq."""

    intent_id: str
    seq: int
    event_type: str
    status: Status
    at: datetime
    intent_type: str | None = None
    correlation_id: str | None = None
    to_agent: str | None = None
    # Once terminal, the outcome: a reply's result (or error, or reason) with no second request.
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    reason: str | None = None
    # On the stream of an agent registered with the ``stream`` binding, its delivery (status
    # DELIVERED): the lease to heartbeat (and to fence ``resume`` with); ``resumed``: a lease taken
    # before, its entry read again.
    lease_token: str | None = None
    lease_expires_at: datetime | None = None
    delivery_attempt: int | None = None
    resumed: bool = False


class StreamTimeout(WireModel):
    """The ``data`` of ``event: stream.timeout``, the last frame of an idle stream."""

    ok: bool = True
    next_seq: int


# --- answers of the intent family ----------------------------------------------------------------


class IntentAnswer(WireModel):
    ok: bool = True
    intent: Intent


class CreateAnswer(WireModel):
    ok: bool = True
    intent_id: str
    status: Status
    created_at: datetime
    idempotent_replay: bool = Field(description="true when an Idempotency-Key replayed an earlier create")
    intent: Intent
    ignored_fields: list[str] | None = Field(None, description="unknown fields that were sent and ignored")


class IntentPage(WireModel):
    """One page of the intent list; pass ``next_cursor`` back for the next (None on the last page)."""

    ok: bool = True
    intents: list[Intent]
    next_cursor: str | None = None
    has_more: bool = False


class RunTree(WireModel):
    """A run: the intent that began it and every intent handed on from there, in creation order;
    each names its ``parent_intent_id``. ``truncated`` when the run has more than the answer holds."""

    ok: bool = True
    root_intent_id: str
    intents: list[Intent]
    truncated: bool = False

    def children(self, intent_id: str) -> list[Intent]:
        """The intents handed on from ``intent_id``."""
        return [i for i in self.intents if i.parent_intent_id == intent_id]

    @property
    def finished(self) -> bool:
        """Every intent of the run is terminal (and all of them are here)."""
        return not self.truncated and all(i.is_terminal for i in self.intents)

    @property
    def leaves(self) -> list[Intent]:
        """The intents that handed nothing on: where the run ended, with its final results."""
        parents = {i.parent_intent_id for i in self.intents}
        return [i for i in self.intents if i.intent_id not in parents]


class EventList(WireModel):
    ok: bool = True
    events: list[Event]


class CompletionDelivery(WireModel):
    """Whether the outcome reached the intent's ``reply_to``. ``delivered`` is true once the resolve
    has committed: the entry in that address's agent feed and the change of its inbox thread are
    written in the resolve's own transaction. Without a ``reply_to``, ``delivered`` is false and
    ``reason`` says so."""

    delivered: bool
    reply_to: str | None = None
    thread_id: str | None = None
    event_type: str | None = None
    delivered_at: datetime | None = None
    reason: str | None = None


class ResolveAnswer(WireModel):
    ok: bool = True
    intent: Intent
    event: Event
    completion_delivery: CompletionDelivery | None = None


class AppliedAnswer(WireModel):
    """The answer of resume, controls and policy."""

    ok: bool = True
    applied: bool = True
    policy_generation: int
    intent: Intent


# --- delivery ------------------------------------------------------------------------------------


class ClaimAnswer(WireModel):
    ok: bool = True
    deliveries: list[Delivery]


class Completion(WireModel):
    """The completed intent, the follow-ups submitted in the same transaction, and whether this answer
    replays an earlier completion with the same lease token (a retried request)."""

    ok: bool = True
    intent: Intent
    then: list[Intent] = Field(default_factory=list)
    replayed: bool = False


# --- approvals (inbox threads: wire/inbox.py) ----------------------------------------------------


class ApprovalRecord(WireModel):
    approval_id: str
    decision: Literal["approve", "reject"]
    comment: str | None = None
    decided_at: datetime
    decided_by: str
    intent_id: str | None = None


class Approval(WireModel):
    """A recorded approval decision. When ``approval_id`` named a WAITING intent, ``intent`` is that
    intent after the decision moved it (SUBMITTED on approve, FAILED on reject); ``replayed`` means
    the same decision had already been recorded and nothing changed now."""

    ok: bool = True
    approval: ApprovalRecord
    replayed: bool = False
    intent: Intent | None = None

    @property
    def approval_id(self) -> str:
        return self.approval.approval_id

    @property
    def decision(self) -> str:
        return self.approval.decision

    @property
    def comment(self) -> str | None:
        return self.approval.comment

    @property
    def decided_by(self) -> str:
        return self.approval.decided_by

    @property
    def decided_at(self) -> datetime:
        return self.approval.decided_at

    @property
    def intent_id(self) -> str | None:
        return self.approval.intent_id


# --- meta and errors -----------------------------------------------------------------------------


class HealthAnswer(WireModel):
    ok: bool
    service: str | None = None
    version: str | None = None
    database: str | None = None


class Capabilities(WireModel):
    ok: bool = True
    capabilities: list[str]
    supported_intent_types: list[str] = Field(default_factory=list)


class ErrorBody(WireModel):
    code: str = Field(description="stable, machine-readable: the class in the error tree")
    message: str
    details: JSON = Field(default_factory=dict, description="for a 422, `field` names the field")
    retryable: bool


class ErrorAnswer(WireModel):
    """Every error, whatever the status (PROTOCOL.md §8); ``detail`` repeats the message."""

    ok: Literal[False] = False
    error: ErrorBody
    detail: str
