"""The Mesh (ARCHITECTURE.md §9, docs/mesh.md): the fleet registry and health (``registry``), the kill
switch (``kills``, enforced through the in-memory ``switches`` on every delivery path) and versioned
routing (``routes``)."""

from intentd.store import KillRecord, PolicyRecord, RouteRecord, Usage

from .dryrun import Report, Trial
from .gate import DeliveryGate
from .kills import IN_FLIGHT, NEW_WORK, KillService, Resumed, Swept
from .policies import (
    Explained,
    Policies,
    PolicyAdmission,
    PolicyGate,
    PolicyService,
    ReleaseHeldWork,
    UsageRollup,
    usage_of,
)
from .registry import (
    ERROR_RATE_MIN_FINISHED,
    HEALTH_STATES,
    FleetAgent,
    MeshAgent,
    MeshService,
    UnreachableWorkers,
)
from .routes import ROUTES_KEY, Routes, RouteService, RouteState, RouteToVersion, VersionState, pick
from .sandbox import sandbox_only
from .switches import NAMESPACE, SWITCHES_KEY, KillSwitches, covers

__all__ = [
    "DeliveryGate",
    "Explained",
    "Policies",
    "PolicyAdmission",
    "PolicyGate",
    "PolicyService",
    "ReleaseHeldWork",
    "Usage",
    "UsageRollup",
    "usage_of",
    "ERROR_RATE_MIN_FINISHED",
    "HEALTH_STATES",
    "IN_FLIGHT",
    "NAMESPACE",
    "NEW_WORK",
    "ROUTES_KEY",
    "SWITCHES_KEY",
    "FleetAgent",
    "KillRecord",
    "KillService",
    "KillSwitches",
    "MeshAgent",
    "MeshService",
    "Resumed",
    "PolicyRecord",
    "Report",
    "RouteRecord",
    "RouteService",
    "RouteState",
    "RouteToVersion",
    "Routes",
    "Swept",
    "Trial",
    "UnreachableWorkers",
    "VersionState",
    "covers",
    "pick",
    "sandbox_only",
]
