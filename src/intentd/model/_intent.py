"""The intent projection and its events.

The ``intents`` row is a projection of ``intent_events``: :func:`evolve` folds one event into the
projection, the engine uses it to compute every new row, and a test rebuilds each row from its events.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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
            "last_seq": self.last_seq,
        }


def merge_patch(base: JSON, patch: JSON) -> JSON:
    """RFC 7386 JSON merge patch: ``null`` deletes a key, objects merge recursively."""
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict):
            # A non-object target counts as {} (RFC 7386 §2), so nested nulls still delete.
            target = merged.get(key)
            merged[key] = merge_patch(target if isinstance(target, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def evolve(intent: Intent | None, event: Event) -> Intent:
    """Fold one event into the projection. ``intent.created`` carries the whole submitted spec."""
    if event.event_type is EventType.CREATED:
        return _from_created(event)
    if intent is None:
        raise ValueError(f"{event.event_type.value} before intent.created")
    d = event.details
    changes: dict[str, Any] = {
        "status": event.status,
        "waiting_reason": event.waiting_reason,
        "updated_at": event.at,
        "last_seq": event.seq,
    }
    kind = event.event_type
    if kind is EventType.DELIVERED:
        changes["delivery_attempt"] = d["delivery_attempt"]
        changes["lease"] = Lease(d["lease_token"], d["worker"], d["lease_expires_at"], d["delivery_attempt"])
    elif event.status in (Status.SUBMITTED, Status.WAITING) or event.status in TERMINAL:
        # Only a DELIVERED intent holds a lease. Any way back to the queue ends it too (expiry,
        # release, retry, and a resume of a delivered intent), or the old lease would later expire
        # on a queued intent and count as a failed delivery.
        changes["lease"] = None
    if kind is EventType.COMPLETED:
        changes["result"] = d.get("result")
    elif kind in (EventType.FAILED, EventType.DELIVERY_FAILED, EventType.TIMED_OUT):
        changes["error"] = d.get("error")
    elif kind is EventType.CANCELED:
        changes["reason"] = d.get("reason")
    elif kind is EventType.CONTROLS_UPDATED:
        changes["controls"] = merge_patch(intent.controls, d["controls_patch"])
        changes["policy_generation"] = d["policy_generation"]
    elif kind is EventType.POLICY_UPDATED:
        changes["policy"] = merge_patch(intent.policy, d["policy_patch"])
        changes["policy_generation"] = d["policy_generation"]
    if "usage" in d:
        changes["usage"] = _add_usage(intent.usage, d["usage"])
    return replace(intent, **changes)


def _add_usage(total: JSON, delta: JSON) -> JSON:
    summed = dict(total)
    for key, value in delta.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            summed[key] = summed.get(key, 0) + value
    return summed


def _from_created(event: Event) -> Intent:
    spec = event.details
    return Intent(
        intent_id=event.intent_id,
        namespace=spec["namespace"],
        intent_type=spec["intent_type"],
        correlation_id=spec["correlation_id"],
        from_agent=spec["from_agent"],
        to_agent=spec["to_agent"],
        payload=spec["payload"],
        status=Status.CREATED,
        created_at=event.at,
        updated_at=event.at,
        last_seq=event.seq,
        reply_to=spec.get("reply_to"),
        parent_intent_id=spec.get("parent_intent_id"),
        root_intent_id=spec.get("root_intent_id"),
        deadline_at=spec.get("deadline_at"),
        max_delivery_attempts=spec["max_delivery_attempts"],
        controls=spec.get("controls", {}),
        policy=spec.get("policy", {}),
        idempotency_key=spec.get("idempotency_key"),
    )


def rebuild(events: list[Event]) -> Intent:
    """The projection that a sequence of events (seq 1..n) describes."""
    intent: Intent | None = None
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            raise ValueError(f"event seq gap: expected {expected_seq}, got {event.seq}")
        intent = evolve(intent, event)
    if intent is None:
        raise ValueError("no events")
    return intent
