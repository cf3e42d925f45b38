"""The Mesh (ARCHITECTURE.md §9, docs/mesh.md): the fleet registry and health (``registry``), the kill
switch (``kills``, enforced through the in-memory ``switches`` on every delivery path) and versioned
routing (``routes``)."""

from intentd.store import KillRecord, RouteRecord

from .kills import IN_FLIGHT, NEW_WORK, KillService, Resumed, Swept
from .registry import ERROR_RATE_MIN_FINISHED, HEALTH_STATES, FleetAgent, MeshAgent, MeshService
from .routes import ROUTES_KEY, Routes, RouteService, RouteState, RouteToVersion, VersionState, pick
from .switches import NAMESPACE, SWITCHES_KEY, KillSwitches, covers

__all__ = [
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
    "RouteRecord",
    "RouteService",
    "RouteState",
    "RouteToVersion",
    "Routes",
    "Swept",
    "VersionState",
    "covers",
    "pick",
]
