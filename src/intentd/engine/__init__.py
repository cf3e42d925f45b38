"""The runtime: intent service, delivery, scheduler and keys over one :class:`~intentd.store.Store`,
composed by :class:`Engine` (``runtime.py``)."""

from __future__ import annotations

from intentd.store import (  # what the engine's key and feed reads return
    ApiKeyRecord,
    AuditQuery,
    AuditRecord,
    FeedItem,
)

from .delivery import Completion, DeliveryService
from .inbox import InboxService
from .inputs import Claim, Complete, Fail, Kill, OpenStream, Principal, Resolve, SubmitIntent, Wait
from .intents import IntentService
from .keys import KeyService, hash_key
from .mesh import MeshService
from .runs import ApplyScenario, RunService, SpawnChild
from .runtime import Engine
from .scheduler import Scheduler
from .streams import AgentSwitch, Pushed, Sent, StreamService

__all__ = [
    "AuditQuery",
    "AuditRecord",
    "ApiKeyRecord",
    "ApplyScenario",
    "RunService",
    "SpawnChild",
    "Claim",
    "Complete",
    "Completion",
    "DeliveryService",
    "Engine",
    "Fail",
    "FeedItem",
    "InboxService",
    "IntentService",
    "KeyService",
    "MeshService",
    "Kill",
    "OpenStream",
    "Principal",
    "AgentSwitch",
    "Pushed",
    "Sent",
    "Resolve",
    "Scheduler",
    "StreamService",
    "SubmitIntent",
    "Wait",
    "hash_key",
]
