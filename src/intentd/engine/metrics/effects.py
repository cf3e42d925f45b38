"""How the runtime reports to the metrics: a lifecycle effect that reads each change as the recorder
writes it, and a hook around human tasks' announcements that sees each task close. Both only append
an observation to ``tx.after_commit``, so a change rolled back is not counted, and both run inside
the change's transaction on the hot path: no I/O, no lock, one small allocation per observation, and
a change with nothing to observe (most of them) costs a few attribute checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from intentd.model import JSON, TERMINAL, Event, EventType, HumanTask, Intent, Micros, TaskState
from intentd.store import Tx

from .._change import Change
from ..humans.outcomes import DEFAULT_OUTCOMES
from .observed import Observed
from .series import OTHER

# (tx, what happened, the task as it is now, its intent, details): engine/humans/lifecycle.py's hook.
Announce = Callable[[Tx, str, HumanTask, Intent, JSON], Awaitable[None]]
_US = 1_000_000
# Tuples and ``is``, not sets and dicts: an enum member's hash is a Python call, on every change.
_TERMINAL = tuple(TERMINAL)
_DELIVERED, _REQUEUED, _OUT_OF_ATTEMPTS = (
    EventType.DELIVERED,
    EventType.LEASE_EXPIRED,
    EventType.DELIVERY_FAILED,
)
# A task declares its own outcomes; as a label, only the ones intentd knows keep their name.
_KNOWN_OUTCOMES = frozenset(o for outcomes in DEFAULT_OUTCOMES.values() for o in outcomes)
_CLOSED = frozenset({TaskState.DECIDED.value, TaskState.TIMED_OUT.value, TaskState.CANCELED.value})


class ObserveLifecycle:
    """The recorder's effect that observes handoffs, redeliveries, lease expiries, reported usage and
    the end of every intent. Test traffic (``synthetic``) is left out, as from every fleet figure."""

    def __init__(self, observed: Observed) -> None:
        self._observed = observed

    async def apply(self, tx: Tx, change: Change) -> None:
        intent = change.intent
        if intent.synthetic:
            return
        for event in change.events:
            kind = event.event_type
            if kind is _DELIVERED:
                self._delivered(tx, intent, event)
            elif kind is _REQUEUED or kind is _OUT_OF_ATTEMPTS:
                outcome = "requeued" if kind is _REQUEUED else "failed"
                expired = partial(self._observed.lease_expired, intent.namespace, intent.to_agent, outcome)
                tx.after_commit.append(expired)
            usage = event.details.get("usage")
            if usage:
                tx.after_commit.append(partial(self._observed.used, intent.namespace, intent.to_agent, usage))
        status = intent.status
        if status is not change.before.status and status in _TERMINAL:  # it has just ended
            seconds = _seconds(change.events[-1].at - intent.created_at)
            ended = partial(
                self._observed.ended, intent.namespace, intent.to_agent, intent.status.value, seconds
            )
            tx.after_commit.append(ended)

    def _delivered(self, tx: Tx, intent: Intent, event: Event) -> None:
        if event.details["delivery_attempt"] > 1:
            tx.after_commit.append(partial(self._observed.redelivered, intent.namespace, intent.to_agent))
            return
        queued = intent.queued_at or intent.created_at
        seconds = _seconds(event.at - queued)
        tx.after_commit.append(partial(self._observed.handed_off, intent.namespace, intent.to_agent, seconds))


class ObserveTaskClosings:
    """The human tasks' announcement hook (``engine/humans/lifecycle.py``), wrapped: a task that
    closes (decided, timed out, canceled) is observed with how long it waited, then announced."""

    def __init__(self, announce: Announce, observed: Observed) -> None:
        self._announce = announce
        self._observed = observed

    async def __call__(self, tx: Tx, kind: str, task: HumanTask, intent: Intent, details: JSON) -> None:
        if kind in _CLOSED and not intent.synthetic:
            outcome = _outcome(task) if kind == TaskState.DECIDED.value else kind
            seconds = _seconds(task.updated_at - task.created_at)
            closed = partial(
                self._observed.task_closed, task.namespace, str(task.spec["task_type"]), outcome, seconds
            )
            tx.after_commit.append(closed)
        await self._announce(tx, kind, task, intent, details)


def _outcome(task: HumanTask) -> str:
    outcome = (task.decision or {}).get("outcome")
    return outcome if outcome in _KNOWN_OUTCOMES else OTHER


def _seconds(micros: Micros) -> float:
    return max(micros, 0) / _US
