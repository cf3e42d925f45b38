"""What the engine tests share: the agent they address and a submittable task."""

from __future__ import annotations

from typing import Any

from intentd.engine import SubmitIntent

AGENT = "agent://acme/test/worker"
US = 1_000_000  # microseconds per second (the engine's clock unit)


def task(**overrides: Any) -> SubmitIntent:
    fields: dict[str, Any] = {
        "intent_type": "demo.task",
        "correlation_id": "corr-1",
        "to_agent": AGENT,
        "payload": {"n": 1},
    }
    return SubmitIntent(**{**fields, **overrides})
