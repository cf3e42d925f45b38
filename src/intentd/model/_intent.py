"""The intent projection and its events. How each event changes the projection is in ``_fold.py``."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ._status import TERMINAL, Status, WaitingReason
from ._time import Micros, to_rfc3339

JSON = dict[str, Any]


class EventType(StrEnum):
    CREATED = "intent.created"
    SUBMITTED = "intent.submitted"
    DELIVERED = "intent.delivered"
    ACKNOWLEDGED = "intent.acknowledged"
    IN_PROGRESS = "intent.in_progress"
    WAITING = "intent.waiting"
    PROGRESS = "intent.progress"
    LEASE_EXPIRED = "intent.lease_expired"
    RELEASED = "intent.released"
    RESUMED = "intent.resumed"
    CONTROLS_UPDATED = "intent.controls_updated"
    POLICY_UPDATED = "intent.policy_updated"
    COMPLETED = "intent.completed"
    FAILED = "intent.failed"
    CANCELED = "intent.canceled"
    TIMED_OUT = "intent.timed_out"
    DELIVERY_FAILED = "intent.delivery_failed"
    # Handed to another agent (a kill that reassigns its work to another version): queued for it.
    REROUTED = "intent.rerouted"
    # A run's steps, recorded on the run (the parent intent); the status does not move with them.
    STEP_STARTED = "intent.step_started"
    STEP_COMPLETED = "intent.step_completed"
    STEP_FAILED = "intent.step_failed"
    STEP_RETRYING = "intent.step_retrying"
    STEP_ESCALATED = "intent.step_escalated"
    STEP_SKIPPED = "intent.step_skipped"
    STEP_COMPENSATING = "intent.step_compensating"
    STEP_COMPENSATED = "intent.step_compensated"
    # A person's part (PROTOCOL.md §1.4): asked (or re-assigned), reminded, escalated. The answer is
    # in the details of the event that moves the intent on.
    HUMAN_TASK_ASSIGNED = "intent.human_task_assigned"
    REMINDER = "intent.reminder"
    ESCALATED = "intent.escalated"


TERMINAL_EVENT: dict[Status, EventType] = {
    Status.COMPLETED: EventType.COMPLETED,
    Status.FAILED: EventType.FAILED,
    Status.CANCELED: EventType.CANCELED,
    Status.TIMED_OUT: EventType.TIMED_OUT,
}


@dataclass(frozen=True, slots=True)
class Event:
    intent_id: str
    seq: int
    event_type: EventType
    status: Status
    at: Micros
    actor: str
    waiting_reason: WaitingReason | None = None
    details: JSON = field(default_factory=dict)

    def to_wire(self) -> JSON:
        """PROTOCOL.md §1.5: the superset event shape used by list, SSE and resolve."""
        return {
            "intent_id": self.intent_id,
            "seq": self.seq,
            "event_type": self.event_type.value,
            "status": self.status.value,
            "at": to_rfc3339(self.at),
            "actor": self.actor,
            "handler": None,
            "waiting_reason": self.waiting_reason.value if self.waiting_reason else None,
            "pending_with": None,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class Lease:
    token: str
    owner: str
    expires_at: Micros
    attempt: int

    def to_wire(self) -> JSON:
        """What a claim and a heartbeat answer about the lease (the owner stays on the server)."""
        return {
            "token": self.token,
            "expires_at": to_rfc3339(self.expires_at),
            "delivery_attempt": self.attempt,
        }


@dataclass(frozen=True, slots=True)
class Intent:
    intent_id: str
    namespace: str
    intent_type: str
    correlation_id: str
    from_agent: str
    to_agent: str
    payload: JSON
    status: Status
    created_at: Micros
    updated_at: Micros
    last_seq: int
    reply_to: str | None = None
    parent_intent_id: str | None = None
    root_intent_id: str | None = None
    deadline_at: Micros | None = None
    max_delivery_attempts: int = 5
    delivery_attempt: int = 0
    waiting_reason: WaitingReason | None = None
    result: JSON | None = None
    error: JSON | None = None
    reason: str | None = None
    lease: Lease | None = None
    policy_generation: int = 0
    controls: JSON = field(default_factory=dict)
    policy: JSON = field(default_factory=dict)
    usage: JSON = field(default_factory=dict)
    idempotency_key: str | None = None
    # The key under which its parent's journal holds it (a workflow step, a spawned child).
    step_key: str | None = None
    # Test traffic of a sandbox namespace (docs/mesh.md): its whole run is, and no rollup counts it.
    synthetic: bool = False
    # The W3C trace context it was submitted in (``traceparent``, ``tracestate``): its handler's span
    # continues that trace (docs/operations.md, "Traces"). None when the submitter traced nothing.
    trace_context: JSON | None = None
    # Operational columns, not part of the lifecycle projection (see docs/design.md):
    request_hash: str | None = None
    queued_at: Micros | None = None  # when it last entered its agent's queue (claim order)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def to_wire(self) -> JSON:
        """PROTOCOL.md §1.6 (``status`` and ``lifecycle_status`` carry the same value)."""
        return {
            "intent_id": self.intent_id,
            "intent_type": self.intent_type,
            "correlation_id": self.correlation_id,
            "from_agent": self.from_agent,
            "to_agent": self.to_agent,
            "reply_to": self.reply_to,
            "parent_intent_id": self.parent_intent_id,
            "root_intent_id": self.root_intent_id,
            "payload": self.payload,
            "status": self.status.value,
            "lifecycle_status": self.status.value,
            "waiting_reason": self.waiting_reason.value if self.waiting_reason else None,
            "result": self.result,
            "error": self.error,
            "reason": self.reason,
            "created_at": to_rfc3339(self.created_at),
            "updated_at": to_rfc3339(self.updated_at),
            "deadline_at": to_rfc3339(self.deadline_at),
            "max_delivery_attempts": self.max_delivery_attempts,
            "delivery_attempt": self.delivery_attempt,
            "lease_expires_at": to_rfc3339(self.lease.expires_at) if self.lease else None,
            "policy_generation": self.policy_generation,
            "workflow_control_policy": {
                "controls": self.controls,
                "grants": self.policy.get("grants", {}),
                "envelope": self.policy.get("envelope", {}),
                "policy_generation": self.policy_generation,
            },
            "usage": self.usage,
            "idempotency_key": self.idempotency_key,
            "step_key": self.step_key,
            "synthetic": self.synthetic,
            "trace_context": self.trace_context,
            "last_seq": self.last_seq,
        }
