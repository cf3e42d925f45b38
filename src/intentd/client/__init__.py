"""The Python SDK: ``Client`` (sync) and ``AsyncClient`` (async), with the same methods.

    from intentd.client import Client

    with Client() as client:  # INTENTD_URL / INTENTD_API_KEY, or pass them
        intent = client.submit("agent://acme/prod/writer", "intent.draft.v1", {"topic": "x"})
        final = client.wait_for(intent.intent_id, timeout=60)

Errors are the server's own classes (rebuilt from the wire code) plus the client-side ones; the tree
is drawn in ``intentd.model._errors`` and ``intentd.client._errors``.
"""

from intentd.model import (
    BadRequest,
    Conflict,
    Forbidden,
    IdempotencyConflict,
    IllegalTransition,
    IntentdError,
    IntentNotFound,
    IntentTerminal,
    NotAssignee,
    NotFound,
    PayloadTooLarge,
    StaleLease,
    StalePolicyGeneration,
    Status,
    TaskClosed,
    TaskNotFound,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    WaitingReason,
)
from intentd.wire import HumanTask, TaskAnswerResponse, TaskDecision

from ._async import AsyncClient
from ._errors import ClientTimeout, TransportError, UnexpectedResponse, WaitTimeout
from ._sync import Client
from ._types import (
    AgentBinding,
    AgentHealth,
    Approval,
    AwaitAnswer,
    Capabilities,
    ChildSpec,
    Completion,
    Delivery,
    Event,
    FeedItem,
    Health,
    Intent,
    IntentPage,
    IntentSpec,
    JournalEntry,
    MeshAgent,
    RecordAnswer,
    RunTree,
    ScenarioApplied,
    ScenarioValid,
    StreamDelivery,
    Thread,
)

__all__ = [
    "AgentBinding",
    "AgentHealth",
    "Approval",
    "AsyncClient",
    "AwaitAnswer",
    "BadRequest",
    "Capabilities",
    "ChildSpec",
    "Client",
    "ClientTimeout",
    "Completion",
    "Conflict",
    "Delivery",
    "StreamDelivery",
    "Event",
    "FeedItem",
    "Forbidden",
    "Health",
    "HumanTask",
    "IdempotencyConflict",
    "IllegalTransition",
    "Intent",
    "IntentNotFound",
    "IntentPage",
    "IntentSpec",
    "IntentTerminal",
    "IntentdError",
    "JournalEntry",
    "MeshAgent",
    "NotAssignee",
    "NotFound",
    "PayloadTooLarge",
    "RecordAnswer",
    "RunTree",
    "ScenarioApplied",
    "ScenarioValid",
    "StaleLease",
    "StalePolicyGeneration",
    "Status",
    "TaskAnswerResponse",
    "TaskClosed",
    "TaskDecision",
    "TaskNotFound",
    "Thread",
    "TransportError",
    "Unauthorized",
    "Unavailable",
    "UnexpectedResponse",
    "ValidationFailed",
    "WaitTimeout",
    "WaitingReason",
]
