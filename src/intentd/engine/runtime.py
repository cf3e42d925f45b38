"""The composition root of the runtime: :class:`Engine` builds, once per ``serve`` process, the services
over one store and the one :class:`~intentd.engine.recorder.Recorder` they all write through, with
its effects in their declared order. Services take their collaborators as arguments and build none
themselves, so no service can end up with a recorder (or a dispatcher) of its own."""

from __future__ import annotations

from collections.abc import Callable

from intentd.model import Micros, now_us
from intentd.store import Store

from .audit import AuditService, AuditTrail
from .bindings import BindingService
from .delivery import DeliveryService
from .dispatch import Dispatcher
from .effects import (
    CancelChildren,
    DirectHandoff,
    FreeStreamPlace,
    JoinParent,
    QueueForDelivery,
    ReplyToSender,
)
from .effects.inbox import InboxThreadChanges
from .humans import HumanTasks, HumanTaskService
from .humans.notices import Announcer
from .inbox import InboxService
from .intents import IntentService
from .keys import CACHE_SECONDS, KeyService
from .mesh import (
    DeliveryGate,
    KillService,
    KillSwitches,
    MeshService,
    Policies,
    PolicyAdmission,
    PolicyGate,
    PolicyService,
    ReleaseHeldWork,
    Routes,
    RouteService,
    RouteToVersion,
    UnreachableWorkers,
    UsageRollup,
)
from .metrics import Metrics, ObserveLifecycle, ObserveTaskClosings
from .namespaces import NamespaceService
from .notify import Notifier, NotifyConfig
from .recorder import Recorder
from .runs import RunService
from .scheduler import Scheduler
from .search import IntentSearch
from .sessions import SessionService
from .streams import HeldStreams, StreamService
from .timers import Deadline, StepTimer, WakeUp
from .webhooks import (
    PublishLifecycle,
    PushChannel,
    PushToCallback,
    SubscriptionChannel,
    Targets,
    WebhookConfig,
    WebhookService,
)
from .workflows import HumanAnswers, Plans


class Engine:
    """Everything one ``serve`` process runs, over one store. ``clock`` is injectable for tests."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], Micros] = now_us,
        notify: NotifyConfig | None = None,
        key_cache_seconds: float = CACHE_SECONDS,
        webhooks: WebhookConfig | None = None,
    ) -> None:
        self.store = store
        # Human tasks' notifications: queued in the transaction of each task change, sent after
        # commit by the sender that `serve` starts next to the scheduler (no channels by default).
        self.notifier = Notifier(store, clock, notify)
        # One per process: it knows the claims waiting in this process (the direct handoff).
        self.dispatcher = Dispatcher()
        held_streams = HeldStreams()  # the delivery streams held in this process
        # The kill switches, in memory: every delivery path checks them before it leases (mesh/).
        self.switches = KillSwitches(store)
        self.route_table = Routes(store)  # versioned routing, in memory too
        self.policy_table = Policies(store)  # Mesh policies, in memory too
        # Asked by every delivery path before it leases: a kill, a policy's limit.
        gate = DeliveryGate(self.switches, PolicyGate(self.policy_table))
        plans = Plans()  # declared runs' plans, read once per process
        # /metrics (engine/metrics): a registry of this engine's own; the effect and the human tasks'
        # hook below report to it after each commit.
        self.metrics = Metrics(store, clock)
        self.human_tasks = HumanTasks(ObserveTaskClosings(Announcer(self.notifier), self.metrics.observed))
        timer_kinds = (Deadline(), WakeUp(), StepTimer(plans), self.human_tasks)
        webhooks = webhooks or WebhookConfig()
        targets = Targets(webhooks.targets_ttl_seconds)  # http-bound agents, subscriptions (cached)
        # The order matters: an intent is queued before it can be handed off, and a handoff may
        # add events that the effects after it see. A run that ends stops its subtree before its
        # own parent moves on.
        self.recorder = Recorder(
            [
                RouteToVersion(self.route_table),  # first: the version an intent is queued for is its agent
                PolicyAdmission(self.policy_table),  # before queueing: it may refuse or park the intent
                QueueForDelivery(),
                DirectHandoff(self.dispatcher, gate),
                PushToCallback(targets),  # after the handoff: an intent a claim took is not pushed
                ReplyToSender(),
                InboxThreadChanges(),  # after the handoff: it may add the change's last event
                CancelChildren(),
                JoinParent(plans),
                *timer_kinds,
                FreeStreamPlace(held_streams),  # it sees how the change left the lease
                ReleaseHeldWork(self.policy_table, self.dispatcher),  # so does it
                UsageRollup(),  # it sees every event the others added, with the usage they report
                PublishLifecycle(targets),  # it sees every event the others added
                ObserveLifecycle(self.metrics.observed),  # after every effect that refuses or adds events
                AuditTrail(),  # last: it records every event the effects before it added
            ]
        )
        answers = HumanAnswers(plans)
        self.kills = KillService(store, clock, self.recorder, self.switches)
        self.routes = RouteService(store, clock, self.route_table)
        self.policies = PolicyService(store, clock, self.policy_table)
        self.mesh = MeshService(store, clock, self.switches, self.metrics.observed.used)  # a beat's cost
        self.intents = IntentService(store, clock, self.recorder, answers, self.kills)
        self.delivery = DeliveryService(store, clock, self.recorder, self.dispatcher, gate, self.mesh)
        # Webhook subscriptions and http push, sent by the notifier's sender (engine/webhooks).
        self.webhooks = WebhookService(store, clock, webhooks, targets)
        self.notifier.register(PushChannel(store, clock, self.recorder, webhooks, gate))
        self.notifier.register(SubscriptionChannel(store, clock, webhooks))
        self.bindings = BindingService(store, clock, self.recorder, self.webhooks)  # AXP delivery bindings
        self.streams = StreamService(
            store, clock, self.recorder, self.dispatcher, held_streams, gate, self.mesh
        )
        self.scheduler = Scheduler(
            store, clock, self.recorder, timer_kinds, self.kills, UnreachableWorkers(self.recorder)
        )
        self.metrics.follow(self.scheduler)  # its lag
        self.namespaces = NamespaceService(store, clock)  # the tenants and their sandbox flag
        self.keys = KeyService(store, clock, key_cache_seconds)
        self.sessions = SessionService(store, clock, self.keys)  # the dashboard's sign-ins (/ui)
        self.search = IntentSearch(store)  # the dashboard's intents list
        self.audit = AuditService(store, clock)
        self.inbox = InboxService(store, clock, self.recorder, answers)
        self.runs = RunService(store, clock, self.recorder)
        self.tasks = HumanTaskService(store, clock, self.recorder)

    async def start(self, *, scheduler: bool = True) -> None:
        """Start what runs beside the requests: the kill switches' follower and, unless told not to,
        the scheduler and the notifier's sender."""
        await self.switches.start()
        await self.route_table.start()
        await self.policy_table.start()
        if scheduler:
            self.scheduler.start()
            self.notifier.start()

    async def stop(self) -> None:
        await self.notifier.stop()
        await self.scheduler.stop()
        await self.kills.stop()
        await self.route_table.stop()
        await self.policy_table.stop()
        await self.switches.stop()

    @property
    def database(self) -> str:
        """``sqlite`` or ``postgres``."""
        return self.store.dialect
