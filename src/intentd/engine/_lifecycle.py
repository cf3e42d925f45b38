"""The one path by which the engine changes an intent: decide events with :func:`step` (checked against
the model's transition table, folded with ``evolve``), then :func:`persist` them in the unit's
transaction together with everything the new status implies (agent feed, timers)."""

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
)
from intentd.store import Tx


class Change:
    """Accumulates the events of one state change of one intent."""

    def __init__(self, intent: Intent, *already: Event) -> None:
        self.before = intent
        self.intent = intent
        self.events: list[Event] = list(already)

    def step(self, event_type: EventType, status: Status, actor: str, at: Micros, *,
             waiting_reason: WaitingReason | None = None, details: JSON | None = None) -> Intent:
        current = self.intent
        if status is current.status:  # an event that records something without moving status
            if current.is_terminal:
                raise IntentTerminal(
                    f"intent is {current.status.value} (terminal) and can no longer change",
                    details={"status": current.status.value})
            waiting_reason = waiting_reason or current.waiting_reason
        else:
            check_transition(current.status, status)
        event = Event(current.intent_id, current.last_seq + 1, event_type, status, at, actor,
                      waiting_reason, details or {})
        self.intent = evolve(current, event)
        self.events.append(event)
        return self.intent


async def persist(tx: Tx, change: Change, *, new: bool = False) -> Intent:
    """Write the change: projection + events, and the side rows its new status needs."""
    intent = change.intent
    last = change.events[-1]
    if intent.status is Status.SUBMITTED and any(e.status is Status.SUBMITTED for e in change.events):
        # Queued for delivery (again): the agent's stream gets an entry, the claim queue an order.
        seq = await tx.append_feed(intent.namespace, intent.to_agent, intent.intent_id,
                                   EventType.SUBMITTED.value, last.at)
        intent = replace(intent, agent_seq=seq)
    if intent.is_terminal and intent.reply_to and not change.before.is_terminal:
        await tx.append_feed(intent.namespace, intent.reply_to, intent.intent_id,
                             last.event_type.value, last.at)
    if new:
        await tx.insert_intent(intent, change.events)
        if intent.deadline_at is not None:
            await tx.add_timer(intent.intent_id, "deadline", intent.deadline_at)
            tx.changes.add(SCHEDULER_KEY)
    else:
        await tx.save_intent(intent, change.events)
    change.intent = intent
    return intent


SCHEDULER_KEY = "scheduler"


def check_lease(intent: Intent, token: str) -> None:
    """Fencing: only the holder of the intent's current lease may act on a delivery."""
    if intent.is_terminal:
        raise IntentTerminal(
            f"intent is {intent.status.value} (terminal) and can no longer change",
            details={"status": intent.status.value})
    if intent.lease is None or intent.lease.token != token:
        raise StaleLease(
            "lease token is not the intent's current lease (expired, released or superseded)",
            details={"intent_id": intent.intent_id, "delivery_attempt": intent.delivery_attempt})
