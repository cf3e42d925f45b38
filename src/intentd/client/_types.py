"""What the client returns: the response models of ``intentd.wire``, the same ones ``/openapi.json``
documents, each frozen and holding the JSON it came from in ``.raw`` (so a field this version does
not know about is still reachable). ``IntentSpec`` is the one shape the client builds itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from intentd.model import JSON
from intentd.wire import (
    AgentHealth,
    Approval,
    Capabilities,
    Completion,
    Delivery,
    Event,
    FeedItem,
    FollowUp,
    Intent,
    IntentPage,
    MeshAgent,
    RunTree,
    Thread,
    request_body,
)
from intentd.wire import HealthAnswer as Health

__all__ = [
    "AgentHealth",
    "Approval",
    "Capabilities",
    "Completion",
    "Delivery",
    "Event",
    "FeedItem",
    "Health",
    "Intent",
    "IntentPage",
    "IntentSpec",
    "MeshAgent",
    "RunTree",
    "Thread",
]


@dataclass(frozen=True, slots=True)
class IntentSpec:
    """A follow-up intent for ``complete(..., then=[...])``. Without ``correlation_id`` it joins its
    parent's correlation (the server fills it in), which is what a chain of agents wants."""

    to_agent: str
    intent_type: str
    payload: JSON = field(default_factory=dict)
    correlation_id: str | None = None
    reply_to: str | None = None
    deadline_at: datetime | None = None
    max_delivery_attempts: int | None = None

    def to_wire(self) -> JSON:
        """The ``then`` entry (``intentd.wire.FollowUp``) this spec stands for."""
        return request_body(
            FollowUp,
            to_agent=self.to_agent,
            intent_type=self.intent_type,
            payload=self.payload,
            correlation_id=self.correlation_id,
            reply_to=self.reply_to,
            deadline_at=self.deadline_at,
            max_delivery_attempts=self.max_delivery_attempts,
        )
