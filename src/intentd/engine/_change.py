"""A change of one intent: the events it adds, decided against the model's transition table and folded
with ``evolve`` as they are added. The :class:`~intentd.engine.recorder.Recorder` then writes it, with
its effects, in the unit's transaction."""

from __future__ import annotations

from dataclasses import replace

from intentd.model import (
    JSON,
    Event,
    EventType,
    Intent,
    IntentTerminal,
    Micros,
    StaleLease,
    Status,
    WaitingReason,
    check_transition,
    evolve,
    new_id,
)

from .inputs import SubmitIntent


class Change:
    """Accumulates the events of one state change of one intent."""

    def __init__(self, intent: Intent, *already: Event) -> None:
        self.before = intent
        self.intent = intent
        self.events: list[Event] = list(already)
        # Changes of other intents that this one causes (a run moving on when its child ends, the
        # children of a canceled run): recorded after it, in this order, in the same transaction.
        self.follow_ups: list[Change] = []

    @property
    def is_new(self) -> bool:
        """The change creates the intent (it starts with ``intent.created``)."""
        return bool(self.events) and self.events[0].event_type is EventType.CREATED

    @property
    def entered(self) -> Status | None:
        """The status this change moved the intent into, or None if it stayed where it was."""
        return self.intent.status if self.intent.status is not self.before.status else None

    def last(self, event_type: EventType) -> Event | None:
        """The last event of ``event_type`` this change added."""
        return next((e for e in reversed(self.events) if e.event_type is event_type), None)

    def step(
        self,
        event_type: EventType,
        status: Status,
        actor: str,
        at: Micros,
        *,
        waiting_reason: WaitingReason | None = None,
        details: JSON | None = None,
    ) -> Intent:
        current = self.intent
        if status is current.status:  # an event that records something without moving status
            if current.is_terminal:
                raise IntentTerminal.of(current.status.value)
            waiting_reason = waiting_reason or current.waiting_reason
        else:
            check_transition(current.status, status)
        event = Event(
            current.intent_id,
            current.last_seq + 1,
            event_type,
            status,
            at,
            actor,
            waiting_reason,
            details or {},
        )
        self.intent = evolve(current, event)
        self.events.append(event)
        return self.intent

    def lease(self, worker: str, lease_seconds: float, at: Micros) -> Intent:
        """Deliver to ``worker`` under a fresh lease (``intent.delivered``)."""
        return self.step(
            EventType.DELIVERED,
            Status.DELIVERED,
            worker,
            at,
            details={
                "delivery_attempt": self.intent.delivery_attempt + 1,
                "lease_token": new_id(),
                "lease_expires_at": at + int(lease_seconds * 1_000_000),
                "worker": worker,
            },
        )


def check_lease(intent: Intent, token: str) -> None:
    """Fencing: only the holder of the intent's current lease may act on a delivery."""
    if intent.is_terminal:
        raise IntentTerminal.of(intent.status.value)
    if intent.lease is None or intent.lease.token != token:
        raise StaleLease(
            "lease token is not the intent's current lease (expired, released or superseded)",
            details={"intent_id": intent.intent_id, "delivery_attempt": intent.delivery_attempt},
        )


def new_intent(
    namespace: str,
    spec: SubmitIntent,
    now: Micros,
    *,
    actor: str,
    root_intent_id: str | None = None,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
) -> Change:
    """The change that creates an intent: ``intent.created`` then ``intent.submitted`` (not recorded
    yet: a caller may add events, e.g. park a workflow run before anything can deliver it)."""
    intent_id = new_id()
    created = Event(
        intent_id,
        1,
        EventType.CREATED,
        Status.CREATED,
        now,
        actor,
        details={
            **spec.fields(),
            "namespace": namespace,
            "from_agent": actor,
            "root_intent_id": root_intent_id or spec.parent_intent_id or intent_id,
            "idempotency_key": idempotency_key,
        },
    )
    change = Change(replace(evolve(None, created), request_hash=fingerprint), created)
    change.step(EventType.SUBMITTED, Status.SUBMITTED, actor, now)
    return change
