"""Lifecycle statuses and the transition table (PROTOCOL.md §1.1-1.3).

The table is data: the engine checks every change against it, the API reports it, the docs print it.
"""

from __future__ import annotations

from enum import StrEnum

from ._errors import IllegalTransition, IntentTerminal


class Status(StrEnum):
    CREATED = "CREATED"
    SUBMITTED = "SUBMITTED"
    DELIVERED = "DELIVERED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING = "WAITING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


class WaitingReason(StrEnum):
    HUMAN = "WAITING_FOR_HUMAN"
    AGENT = "WAITING_FOR_AGENT"
    TOOL = "WAITING_FOR_TOOL"
    TIME = "WAITING_FOR_TIME"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELED, Status.TIMED_OUT})
NON_TERMINAL = frozenset(Status) - TERMINAL

# Progress moves between non-terminal statuses. Back to SUBMITTED means "queued for delivery again"
# (an expired or released lease, or a WAITING intent resumed for its agent).
_PROGRESS: dict[Status, frozenset[Status]] = {
    Status.CREATED: frozenset({Status.SUBMITTED}),
    Status.SUBMITTED: frozenset({Status.DELIVERED, Status.IN_PROGRESS, Status.WAITING}),
    Status.DELIVERED: frozenset({Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WAITING, Status.SUBMITTED}),
    Status.ACKNOWLEDGED: frozenset({Status.IN_PROGRESS, Status.WAITING, Status.SUBMITTED}),
    Status.IN_PROGRESS: frozenset({Status.WAITING, Status.SUBMITTED}),
    Status.WAITING: frozenset({Status.IN_PROGRESS, Status.SUBMITTED}),
}

# Resolve is allowed from every non-terminal status (PROTOCOL.md §9.1: the conformance suite resolves a
# fresh intent straight to COMPLETED), so every non-terminal status may move to every terminal one.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    **{status: targets | TERMINAL for status, targets in _PROGRESS.items()},
    **{status: frozenset() for status in TERMINAL},
}


def check_transition(current: Status, target: Status) -> None:
    """Raise unless ``current -> target`` is in the lifecycle table."""
    if current.is_terminal:
        raise IntentTerminal.of(current.value)
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(
            f"cannot move an intent from {current.value} to {target.value}",
            details={"from": current.value, "to": target.value},
        )
