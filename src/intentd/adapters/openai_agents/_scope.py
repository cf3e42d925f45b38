"""What a served run tells the intent tools inside it (a context variable, as the SDK passes a tool
nothing of ours): which calls of theirs the handler has already delegated, each to its child's key.

``serve_agent``'s handler sets it around each ``Runner.run``; an intent tool reads it to choose
between pausing the run (a call not delegated yet) and reading its child's result (one that was).
"""

from __future__ import annotations

import contextvars
import hashlib
from dataclasses import dataclass, field

KEY_PREFIX = "openai-agents."
_MAX_CALL_ID = 120  # journal keys are at most 240 characters; model call ids are far shorter


@dataclass
class ServedRun:
    """The delegated calls of the pause the handler is resuming from: call id -> child key."""

    delegated: dict[str, str] = field(default_factory=dict)


served_run: contextvars.ContextVar[ServedRun | None] = contextvars.ContextVar(
    "intentd_openai_agents_run", default=None
)


def journal_key(kind: str, pause: int, call_id: str) -> str:
    """A journal key per pause and tool call: stable, as both come from the journaled run state."""
    if len(call_id) > _MAX_CALL_ID:
        call_id = hashlib.sha256(call_id.encode()).hexdigest()[:40]
    return f"{KEY_PREFIX}{kind}/{pause}/{call_id}"
