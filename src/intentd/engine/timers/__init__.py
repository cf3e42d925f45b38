"""Timer kinds. A timer is a row (intent, kind, due time) that the scheduler fires exactly once; a
timer kind is one class with its ``kind`` name, an ``apply`` effect that arms (and disarms) its timers
as intents change, and ``fire``, the change it makes when one falls due. The composition root hands
the same objects to the recorder (as effects) and to the scheduler (as the table of kinds), so a new
kind (a reminder, an escalation, a step deadline) is one module and one entry there."""

from __future__ import annotations

from typing import Protocol

from intentd.model import Intent, Micros
from intentd.store import Timer, Tx

from .._change import Change
from .deadline import Deadline
from .step import StepTimer
from .wake import WakeUp


class TimerKind(Protocol):
    kind: str

    async def apply(self, tx: Tx, change: Change) -> None:
        """Arm or disarm this kind's timers for ``change`` (an effect, see ``recorder.py``)."""
        ...

    async def fire(self, tx: Tx, intent: Intent, timer: Timer, now: Micros) -> Change | None:
        """The change a due timer makes to its (non-terminal, locked) intent, or None to drop it."""
        ...


__all__ = ["Deadline", "StepTimer", "TimerKind", "WakeUp"]
