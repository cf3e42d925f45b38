"""What the client returns: the response models of ``intentd.wire``, the same ones ``/openapi.json``
documents, each frozen and holding the JSON it came from in ``.raw`` (so a field this version does
not know about is still reachable). ``IntentSpec`` is the one shape the client builds itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from intentd.model import JSON
from intentd.wire import (
    AgentBinding,
    AgentHealth,
    Approval,
    AwaitAnswer,
    Capabilities,
    Completion,
    Delivery,
    DryRunAnswer,
    EffectivePolicy,
    Event,
    FeedItem,
    FollowUp,
    Intent,
    IntentPage,
    JournalEntry,
    KillAnswer,
    KillSwitch,
    MeshAgent,
    MeshEvent,
    MeshPolicy,
    MeshPolicyRemoved,
    RecordAnswer,
    ResumeAnswer,
    Route,
    RouteAnswer,
    RouteRemoved,
    RunTree,
    ScenarioApplied,
    ScenarioValid,
    StreamDelivery,
    Thread,
    request_body,
)
from intentd.wire import ChildSpec as WireChildSpec
from intentd.wire import HealthAnswer as Health
from intentd.wire.webhooks import PublishedAnswer as WebhookEventPublished
from intentd.wire.webhooks import ReplayedAnswer as WebhookEventReplayed
from intentd.wire.webhooks import RevokedAnswer as WebhookSubscriptionRevoked
from intentd.wire.webhooks import Subscription as WebhookSubscription
from intentd.wire.webhooks import WebhookDelivery


@dataclass(frozen=True, slots=True)
class AgentSwitch:
    """Sent on a held delivery stream when one of its agents is killed (``killed``: stop its
    handlers now, their leases were revoked) or resumed (docs/mesh.md)."""

    agent: str
    killed: bool
    target: str | None = None  # the kill's target (the agent, its base address, or ``*``)
    reason: str | None = None


OnSwitch = Callable[[AgentSwitch], None]

__all__ = [
    "AgentSwitch",
    "AgentBinding",
    "AgentHealth",
    "Approval",
    "AwaitAnswer",
    "Capabilities",
    "ChildSpec",
    "Completion",
    "Delivery",
    "DryRunAnswer",
    "EffectivePolicy",
    "StreamDelivery",
    "Event",
    "FeedItem",
    "Health",
    "Intent",
    "IntentPage",
    "IntentSpec",
    "JournalEntry",
    "KillAnswer",
    "KillSwitch",
    "MeshAgent",
    "MeshEvent",
    "MeshPolicy",
    "MeshPolicyRemoved",
    "OnSwitch",
    "RecordAnswer",
    "ResumeAnswer",
    "Route",
    "RouteAnswer",
    "RouteRemoved",
    "RunTree",
    "ScenarioApplied",
    "ScenarioValid",
    "Thread",
    "WebhookDelivery",
    "WebhookEventPublished",
    "WebhookEventReplayed",
    "WebhookSubscription",
    "WebhookSubscriptionRevoked",
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


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """A child intent for ``spawn(...)``, journaled on its parent under ``key`` (unique within the
    parent: spawning a key again answers the child it already has). The child comes from the parent's
    agent and joins its run and correlation.

        ChildSpec("draft-1", "agent://acme/prod/writer", "intent.draft.v1", {"topic": "leases"})
    """

    key: str
    to_agent: str
    intent_type: str = "intent.task.v1"
    payload: JSON = field(default_factory=dict)
    deadline_at: datetime | None = None
    max_delivery_attempts: int = 5

    def to_wire(self) -> JSON:
        """The ``children`` entry (``intentd.wire.ChildSpec``) this spec stands for."""
        return request_body(
            WireChildSpec,
            key=self.key,
            to_agent=self.to_agent,
            intent_type=self.intent_type,
            payload=self.payload,
            deadline_at=self.deadline_at,
            max_delivery_attempts=self.max_delivery_attempts,
        )
