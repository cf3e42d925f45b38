"""Versioned routing (ARCHITECTURE.md §13 lesson 11: versioning is routing data, docs/mesh.md): new
work for ``agent://acme/prod/writer`` goes to ``…/writer@v2`` while ``@v1`` finishes what it has.

A route names the versions of a base address and their weights. An intent addressed to the base
address is pinned to one version when it is queued (:class:`RouteToVersion`, the recorder's first
effect: ``intent.rerouted``, in the same transaction), and stays there: work in flight is never moved
by a route change, so a version given weight 0 *drains*. The version is chosen by the correlation id
(a hash, the same on every replica), so every intent of one run lands on the same version. Rollback is
a route change back. Routes are held in memory by each process (:class:`Routes`) like the kill
switches.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from intentd.model import EventType, Micros, Status, ValidationFailed, base_address
from intentd.store import RouteRecord, Store, Tx

from .. import audit
from .._change import Change
from ..inputs import Principal
from .mirror import Mirror

Clock = Callable[[], Micros]
ROUTES_KEY = "mesh:routes"  # published in this process after the routes changed
MAX_VERSIONS = 20
MAX_WEIGHT = 10_000
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")


def pick(weights: dict[str, int], correlation_id: str) -> str | None:
    """The version for ``correlation_id``: its hash's bucket among the versions' weights (in version
    order), so one correlation id always gets the same version while the weights stay the same."""
    total = sum(weights.values())
    if total <= 0:
        return None
    digest = hashlib.sha256(correlation_id.encode("utf-8", "surrogatepass")).digest()
    bucket = int.from_bytes(digest[:8], "big") % total
    for version in sorted(weights):
        bucket -= weights[version]
        if bucket < 0:
            return version
    return None  # unreachable: the buckets cover the total


def versioned(address: str) -> bool:
    return base_address(address) != address


async def _all_routes(tx: Tx) -> list[RouteRecord]:
    return await tx.all_routes()


class Routes(Mirror[RouteRecord]):
    def __init__(self, store: Store) -> None:
        super().__init__(store, _all_routes, lambda r: (r.namespace, r.address), ROUTES_KEY)

    def version_for(self, namespace: str, address: str, correlation_id: str) -> str | None:
        """The versioned address new work for ``address`` goes to, or None (no route, or the
        address names its version)."""
        routes = self.rows(namespace)
        if not routes:  # the usual case, on every handoff
            return None
        route = routes.get(address)
        version = pick(route.weights, correlation_id) if route is not None else None
        return f"{address}@{version}" if version is not None else None


class RouteToVersion:
    """The recorder's first effect: an intent queued for a routed base address is pinned to a version."""

    def __init__(self, routes: Routes) -> None:
        self._routes = routes

    async def apply(self, tx: Tx, change: Change) -> None:
        intent = change.intent
        if intent.status is not Status.SUBMITTED or change.entered is not Status.SUBMITTED:
            return
        target = self._routes.version_for(intent.namespace, intent.to_agent, intent.correlation_id)
        if target is None:
            return
        details = {"to_agent": target, "from_agent": intent.to_agent, "reason": "route"}
        change.step(EventType.REROUTED, Status.SUBMITTED, "intentd", change.events[-1].at, details=details)


@dataclass(frozen=True, slots=True)
class VersionState:
    """One version of a routed address: its weight and the open work pinned to it."""

    version: str
    address: str
    weight: int
    open: int

    @property
    def drained(self) -> bool:
        """It gets no new work and has none left."""
        return self.weight == 0 and self.open == 0


@dataclass(frozen=True, slots=True)
class RouteState:
    address: str
    route: RouteRecord | None
    versions: list[VersionState]


class RouteService:
    def __init__(self, store: Store, clock: Clock, routes: Routes) -> None:
        self._store = store
        self._clock = clock
        self._routes = routes

    async def set(self, principal: Principal, address: str, weights: dict[str, int]) -> RouteState:
        """Route new work for ``address`` (a base address) to its versions by ``weights``."""
        _check(address, weights)
        route = RouteRecord(principal.namespace, address, dict(weights), principal.name, self._clock())

        async def unit(tx: Tx) -> None:
            await tx.upsert_route(route)
            audit.record(
                tx, route.namespace, route.updated_at, "agent.routed", agent=address, details=weights
            )
            tx.after_commit.append(lambda: self._routes.put(route))

        await self._store.write(unit)
        return await self.state(principal, address)

    async def drain(self, principal: Principal, versioned_address: str) -> RouteState:
        """Give one version weight 0: it gets no new work and finishes what it has."""
        if not versioned(versioned_address):
            raise ValidationFailed(
                "drain names a version: agent://org/env/name@v1", details={"field": "address"}
            )
        address = base_address(versioned_address)
        version = versioned_address.rpartition("@")[2]
        route = self._routes.get(principal.namespace, address)
        if route is None or version not in route.weights:
            raise ValidationFailed(
                f"{address} has no route with {version}; route it first (intentd agents route)",
                details={"field": "address"},
            )
        return await self.set(principal, address, {**route.weights, version: 0})

    async def remove(self, principal: Principal, address: str) -> bool:
        """Remove the route: new work for ``address`` stays addressed to it."""
        ns, now = principal.namespace, self._clock()

        async def unit(tx: Tx) -> bool:
            deleted = await tx.delete_route(ns, address)
            if deleted:
                audit.record(tx, ns, now, "agent.route_removed", agent=address)
            tx.after_commit.append(lambda: self._routes.drop(ns, address))
            return deleted

        return await self._store.write(unit)

    def list(self, principal: Principal) -> list[RouteRecord]:
        return self._routes.of(principal.namespace)

    async def state(self, principal: Principal, address: str) -> RouteState:
        """The route of ``address`` with each version's weight and open work (drained or not)."""
        route = self._routes.get(principal.namespace, address)
        summary = await self._store.read(lambda tx: tx.open_work_summary(principal.namespace))
        open_by_version: dict[str, int] = {}
        for work in summary:
            if versioned(work.agent) and base_address(work.agent) == address:
                version = work.agent.rpartition("@")[2]
                open_by_version[version] = open_by_version.get(version, 0) + work.count
        weights = route.weights if route is not None else {}
        versions = sorted(weights.keys() | open_by_version.keys())
        return RouteState(
            address,
            route,
            [
                VersionState(v, f"{address}@{v}", weights.get(v, 0), open_by_version.get(v, 0))
                for v in versions
            ],
        )


def _check(address: str, weights: dict[str, int]) -> None:
    if versioned(address):
        raise ValidationFailed(
            "a route is set on the address without a version (agent://org/env/name)",
            details={"field": "address"},
        )
    if not 1 <= len(weights) <= MAX_VERSIONS:
        raise ValidationFailed(f"a route has 1..{MAX_VERSIONS} versions", details={"field": "weights"})
    for version, weight in weights.items():
        if not _VERSION.fullmatch(version):
            raise ValidationFailed(
                "a version is letters, digits, . _ - (64 at most), without @", details={"field": "weights"}
            )
        if not 0 <= weight <= MAX_WEIGHT:
            raise ValidationFailed(f"weights are 0..{MAX_WEIGHT}", details={"field": f"weights.{version}"})
    if sum(weights.values()) <= 0:
        raise ValidationFailed("some version needs a weight above 0", details={"field": "weights"})
