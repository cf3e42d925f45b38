"""The fleet (``/ui/fleet``): every agent of the namespace with its health, version, workers, work in
flight, throughput and errors over the last day, and its spend today against the caps that apply;
with an admin's key, kill, resume, drain and route, each after a confirmation (``hx-confirm``). The
table refreshes every 2 seconds, so an action's effect, and the work stopping or coming back, shows
without a reload. The actions call the engine's Mesh services as the API's routes do
(server/routes/mesh.py): the kill switch, the versioned routes."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response

from intentd.engine import Engine, Kill, Principal
from intentd.engine.mesh import IN_FLIGHT, NEW_WORK, FleetAgent
from intentd.model import ValidationFailed, normalize_address

from ..auth import app_engine
from ._routing import form, is_htmx, page_router, redirect
from .access import DRAIN, KILL, READ_FLEET, READ_POLICY, RESUME, ROUTE, Viewer
from .session import ViewerDep, posted
from .templating import render

router = page_router()
DAY_CAPS = ("max_cost_per_day_usd", "namespace:max_cost_per_day_usd")  # an agent's and its namespace's


@dataclass(frozen=True, slots=True)
class Cap:
    scope: str  # the address or * (the namespace) whose spend it counts
    limit: float
    used: float


@dataclass(frozen=True, slots=True)
class FleetRow:
    agent: FleetAgent
    caps: list[Cap]

    @property
    def finished(self) -> int:
        return sum(self.agent.finished_day.values())

    @property
    def versioned(self) -> bool:
        return self.agent.version is not None


@router.get("/fleet")
async def fleet_page(request: Request, viewer: ViewerDep) -> Response:
    rows = await _fleet(app_engine(request), viewer)
    return render(request, viewer, "fleet.html", _context(viewer, rows))


@router.get("/fleet/rows")
async def fleet_rows(request: Request, viewer: ViewerDep) -> Response:
    rows = await _fleet(app_engine(request), viewer)
    return render(request, viewer, "partials/fleet_rows.html", _context(viewer, rows))


@router.post(
    "/fleet/kill",
    openapi_extra=form("address", "reassign_to", "reason", new_work=NEW_WORK, in_flight=IN_FLIGHT),
)
async def kill(request: Request, viewer: ViewerDep) -> Response:
    viewer.require(KILL)
    fields = await posted(request)
    address = _address(fields.get("address", ""))
    reassign_to = fields.get("reassign_to", "").strip()
    req = Kill(
        address,
        fields.get("new_work") or "refuse",
        fields.get("in_flight") or "hold",
        normalize_address(reassign_to, "reassign_to") if reassign_to else None,
        fields.get("reason", "").strip() or "killed from the dashboard",
    )
    _, swept = await app_engine(request).kills.kill(viewer.principal, req)
    moved = f"{swept.held} held, {swept.canceled} canceled, {swept.reassigned} reassigned"
    return await _acted(request, viewer, f"Killed {address}: {moved}.")


@router.post("/fleet/resume", openapi_extra=form("address"))
async def resume(request: Request, viewer: ViewerDep) -> Response:
    viewer.require(RESUME)
    address = _address((await posted(request)).get("address", ""))
    resumed = await app_engine(request).kills.resume(viewer.principal, address)
    if resumed.still_killed_by is not None:
        notice = f"{address} is still killed by the kill of {resumed.still_killed_by.target}."
    else:
        notice = f"Resumed {address}." if resumed.was_killed else f"{address} was not killed."
    return await _acted(request, viewer, notice)


@router.post("/fleet/drain", openapi_extra=form("address"))
async def drain(request: Request, viewer: ViewerDep) -> Response:
    viewer.require(DRAIN)
    address = _address((await posted(request)).get("address", ""))
    await app_engine(request).routes.drain(viewer.principal, address)
    return await _acted(request, viewer, f"Drained {address}: it gets no new work and finishes what it has.")


@router.post("/fleet/route", openapi_extra=form("address", "weights"))
async def route(request: Request, viewer: ViewerDep) -> Response:
    viewer.require(ROUTE)
    fields = await posted(request)
    address = _address(fields.get("address", ""))
    weights = _weights(fields.get("weights", ""))
    await app_engine(request).routes.set(viewer.principal, address, weights)
    shares = ", ".join(f"{v} {w}" for v, w in weights.items())
    return await _acted(request, viewer, f"Routed {address}: {shares}.")


async def _acted(request: Request, viewer: Viewer, notice: str) -> Response:
    """htmx: the table as it is now, with the notice in the flash area; a plain form: the page."""
    if not is_htmx(request):
        return redirect(request, "/ui/fleet")
    rows = await _fleet(app_engine(request), viewer)
    return render(request, viewer, "partials/fleet_rows.html", {**_context(viewer, rows), "notice": notice})


async def _fleet(engine: Engine, viewer: Viewer) -> list[FleetRow]:
    viewer.require(READ_FLEET)
    fleet = await engine.mesh.fleet(viewer.principal)
    caps = viewer.may(READ_POLICY)
    return [FleetRow(a, await _caps(engine, viewer.principal, a) if caps else []) for a in fleet]


async def _caps(engine: Engine, principal: Principal, agent: FleetAgent) -> list[Cap]:
    """The spend-per-day caps that apply to the agent, with what their scope spent today."""
    address = agent.agent.address
    effective = engine.policy_table.effective(principal.namespace, address)
    if effective is None or not any(key in effective.rules for key in DAY_CAPS):
        return []  # no cap: no read
    explained = await engine.policies.explain(principal, address)
    rules = explained.effective.rules
    return [
        Cap(rules[key].scope, float(rules[key].value), explained.used.get(key, 0.0))
        for key in DAY_CAPS
        if key in rules
    ]


def _context(viewer: Viewer, rows: list[FleetRow]) -> dict[str, object]:
    acts = {"kill": viewer.may(KILL), "resume": viewer.may(RESUME), "drain": viewer.may(DRAIN)}
    return {"rows": rows, "acts": acts, "routes": viewer.may(ROUTE)}


def _address(value: str) -> str:
    return normalize_address(value.strip(), "address")


def _weights(text: str) -> dict[str, int]:
    """``v1=90, v2=10`` as the route's weights."""
    weights: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        version, _, weight = part.partition("=")
        if not version.strip() or not weight.strip().isdigit():
            raise ValidationFailed(
                "weights are written version=weight, comma separated: v1=90, v2=10",
                details={"field": "weights"},
            )
        weights[version.strip()] = int(weight)
    if not weights:
        raise ValidationFailed("name at least one version and its weight", details={"field": "weights"})
    return weights
