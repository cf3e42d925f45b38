"""What engine-level tests share: time that moves only when a test says so, the agent they address
and a submittable task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from intentd.engine import SubmitIntent
from intentd.model import now_us

AGENT = "agent://acme/test/worker"
US = 1_000_000  # microseconds per second (the engine's clock unit)


@dataclass
class FakeClock:
    """Time that moves only when a test says so (the engine's clock is injectable)."""

    now: int = field(default_factory=now_us)

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * US)


def task(**overrides: Any) -> SubmitIntent:
    """A submit of a ``demo.task`` to :data:`AGENT`; ``overrides`` replace any field."""
    fields: dict[str, Any] = {
        "intent_type": "demo.task",
        "correlation_id": "corr-1",
        "to_agent": AGENT,
        "payload": {"n": 1},
    }
    return SubmitIntent(**{**fields, **overrides})
