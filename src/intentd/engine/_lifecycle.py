"""The one path by which the engine changes an intent: decide events with :meth:`Change.step` (checked
against the model's transition table, folded with ``evolve``), then :meth:`Lifecycle.persist` them in the
unit's transaction together with everything the new status implies: the agent's feed entry, the
deadline timer, a reply in the ``reply_to`` feed, and the direct handoff to a waiting claim."""

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
from intentd.store import Tx

from .dispatch import Dispatcher

SCHEDULER_KEY = "scheduler"
DEADLINE_TIMER = "deadline"
WAKE_TIMER = "wake"


class Change:
    """Accumulates the events of one state change of one intent."""

    def __init__(self, intent: Intent, *already: Event) -> None:
        self.before = intent
        self.intent = intent
        self.events: list[Event] = list(already)

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


class Lifecycle:
    def __init__(self, dispatcher: Dispatcher | None = None) -> None:
        self.dispatcher = dispatcher or Dispatcher()

    async def persist(self, tx: Tx, change: Change, *, new: bool = False) -> Intent:
        """Write the change: projection + events, and the side rows its new status needs."""
        intent, last = change.intent, change.events[-1]
        if intent.status is Status.SUBMITTED:
            # Queued for delivery (again): the agent's stream gets an entry, the queue an order.
            tx.queue_feed(
                intent.namespace, intent.to_agent, intent.intent_id, EventType.SUBMITTED.value, last.at
            )
            change.intent = replace(intent, queued_at=last.at)
            self._hand_off(tx, change, last.at)
            intent = change.intent
        if intent.is_terminal and intent.reply_to and not change.before.is_terminal:
            tx.queue_feed(intent.namespace, intent.reply_to, intent.intent_id, last.event_type.value, last.at)
        if change.before.status is Status.WAITING and intent.status is not Status.WAITING:
            # A wait's wake-up timer lives exactly as long as that wait.
            await tx.delete_intent_timers(intent.intent_id, WAKE_TIMER)
        if new:
            await tx.insert_intent(intent, change.events)
            if intent.deadline_at is not None:
                await tx.add_timer(intent.intent_id, DEADLINE_TIMER, intent.deadline_at)
                tx.changes.add(SCHEDULER_KEY)
        else:
            await tx.save_intent(intent, change.events)
        return intent

    def _hand_off(self, tx: Tx, change: Change, at: Micros) -> None:
        waiter = self.dispatcher.take(change.intent.namespace, change.intent.to_agent)
        if waiter is None:
            return
        leased = change.lease(waiter.claim.worker, waiter.claim.lease_seconds, at)
        tx.after_commit.append(lambda: waiter.settle(leased))
        tx.after_rollback.append(lambda: waiter.settle(None))


def check_lease(intent: Intent, token: str) -> None:
    """Fencing: only the holder of the intent's current lease may act on a delivery."""
    if intent.is_terminal:
        raise IntentTerminal.of(intent.status.value)
    if intent.lease is None or intent.lease.token != token:
        raise StaleLease(
            "lease token is not the intent's current lease (expired, released or superseded)",
            details={"intent_id": intent.intent_id, "delivery_attempt": intent.delivery_attempt},
        )
