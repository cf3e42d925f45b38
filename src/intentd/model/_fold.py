"""The projection fold. The ``intents`` row is a projection of ``intent_events``: :func:`evolve` folds
one event into it, the engine computes every new row with it, and a test rebuilds each row from its
events.

Every event moves ``status``, ``waiting_reason``, ``updated_at`` and ``last_seq``, ends a lease when it
leaves delivery, and adds any ``usage`` it reports. What else an event type changes is one entry of
:data:`FOLDS`; an event type without an entry changes nothing else (``intent.progress``, and every
move that is only a status). ``intent.created`` carries the whole submitted spec.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from ._intent import JSON, Event, EventType, Intent, Lease
from ._status import TERMINAL, Status

Fold = Callable[[Intent, JSON], dict[str, Any]]


def _delivered(_: Intent, d: JSON) -> dict[str, Any]:
    lease = Lease(d["lease_token"], d["worker"], d["lease_expires_at"], d["delivery_attempt"])
    return {"delivery_attempt": d["delivery_attempt"], "lease": lease}


def _completed(_: Intent, d: JSON) -> dict[str, Any]:
    return {"result": d.get("result")}


def _errored(_: Intent, d: JSON) -> dict[str, Any]:
    return {"error": d.get("error")}


def _canceled(_: Intent, d: JSON) -> dict[str, Any]:
    return {"reason": d.get("reason")}


def _controls_updated(intent: Intent, d: JSON) -> dict[str, Any]:
    return {
        "controls": merge_patch(intent.controls, d["controls_patch"]),
        "policy_generation": d["policy_generation"],
    }


def _policy_updated(intent: Intent, d: JSON) -> dict[str, Any]:
    return {
        "policy": merge_patch(intent.policy, d["policy_patch"]),
        "policy_generation": d["policy_generation"],
    }


def _resumed(_: Intent, d: JSON) -> dict[str, Any]:
    # A run woken because the children it awaited have finished made progress: it gets its whole
    # budget of delivery attempts again (a supervisor parks once per gather).
    changes: dict[str, Any] = {"delivery_attempt": 0} if d.get("restart_attempts") else {}
    if "policy_generation" in d:  # an AXP resume of an intent that is not waiting moves the generation
        changes["policy_generation"] = d["policy_generation"]
    return changes


def _rerouted(_: Intent, d: JSON) -> dict[str, Any]:
    return {"to_agent": d["to_agent"]}


FOLDS: dict[EventType, Fold] = {
    EventType.REROUTED: _rerouted,
    EventType.RESUMED: _resumed,
    EventType.DELIVERED: _delivered,
    EventType.COMPLETED: _completed,
    EventType.FAILED: _errored,
    EventType.DELIVERY_FAILED: _errored,
    EventType.TIMED_OUT: _errored,
    EventType.CANCELED: _canceled,
    EventType.CONTROLS_UPDATED: _controls_updated,
    EventType.POLICY_UPDATED: _policy_updated,
}

# Only a DELIVERED intent holds a lease. Any way back to the queue ends it too (expiry, release, retry,
# and a resume of a delivered intent), or the old lease would later expire on a queued intent and count
# as a failed delivery.
_ENDS_LEASE = frozenset({Status.SUBMITTED, Status.WAITING}) | TERMINAL


def evolve(intent: Intent | None, event: Event) -> Intent:
    """Fold one event into the projection."""
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
    if event.status in _ENDS_LEASE:
        changes["lease"] = None
    fold = FOLDS.get(event.event_type)
    if fold is not None:
        changes.update(fold(intent, d))
    if "usage" in d:
        changes["usage"] = _add_usage(intent.usage, d["usage"])
    return replace(intent, **changes)


# The fields ``intent.created`` may set: everything of the intent but what the event itself decides.
# A new submitted field is a field of Intent (and of the engine's SubmitIntent): nothing to add here.
_SPEC_FIELDS = frozenset(f.name for f in fields(Intent)) - {
    "intent_id",
    "status",
    "created_at",
    "updated_at",
    "last_seq",
    "request_hash",
    "queued_at",
}


def _from_created(event: Event) -> Intent:
    spec = {k: v for k, v in event.details.items() if k in _SPEC_FIELDS and v is not None}
    return Intent(
        intent_id=event.intent_id,
        status=Status.CREATED,
        created_at=event.at,
        updated_at=event.at,
        last_seq=event.seq,
        **spec,
    )


def _add_usage(total: JSON, delta: JSON) -> JSON:
    summed = dict(total)
    for key, value in delta.items():
        if _is_number(value):
            prior = summed.get(key)
            # A prior that is no number (a null stored before the API refused non-finite figures)
            # counts as 0, so one bad report cannot break every later one.
            summed[key] = (prior if _is_number(prior) else 0) + value
    return summed


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


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
