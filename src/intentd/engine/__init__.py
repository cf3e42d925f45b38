"""The runtime: intent service, delivery, scheduler and keys over one :class:`~intentd.store.Store`."""

from __future__ import annotations

from collections.abc import Callable

from intentd.model import Micros, now_us
from intentd.store import Store

from ._lifecycle import Lifecycle
from .delivery import Completion, DeliveryService
from .inbox import InboxService
from .inputs import Claim, Complete, Fail, Principal, Resolve, SubmitIntent, Wait
from .intents import IntentService
from .keys import KeyService, hash_key
from .mesh import MeshService
from .scheduler import Scheduler

__all__ = [
    "Claim",
    "Complete",
    "Completion",
    "DeliveryService",
    "Engine",
    "Fail",
    "InboxService",
    "IntentService",
    "KeyService",
    "MeshService",
    "Principal",
    "Resolve",
    "Scheduler",
    "SubmitIntent",
    "Wait",
    "hash_key",
]


class Engine:
    """Everything one ``serve`` process runs, over one store. ``clock`` is injectable for tests."""

    def __init__(self, store: Store, clock: Callable[[], Micros] = now_us) -> None:
        self.store = store
        lifecycle = Lifecycle()  # one per process: its dispatcher knows this process's waiters
        self.dispatcher = lifecycle.dispatcher
        self.intents = IntentService(store, clock, lifecycle)
        self.delivery = DeliveryService(store, clock, lifecycle)
        self.scheduler = Scheduler(store, clock, lifecycle)
        self.keys = KeyService(store, clock)
        self.inbox = InboxService(store, clock, lifecycle)
        self.mesh = MeshService(store, clock)
