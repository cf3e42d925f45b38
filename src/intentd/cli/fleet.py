"""``intentd agents list|show|top|kill|resume`` and ``intentd mesh events``: the fleet on a running
server, through the SDK (docs/mesh.md). ``list`` and ``top`` draw one table of the fleet: health,
workers, work in flight and queued, what finished in the last day; ``top`` redraws it live."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from intentd.client import KillSwitch, MeshAgent, RouteAnswer

from ._client import connect
from ._options import JsonOpt, settings_of
from ._output import console, emit_json, field_rows, table

mesh_app = typer.Typer(
    help="The mesh's records about agents (kills, resumes, bindings).", no_args_is_help=True
)
TargetArg = Annotated[
    str,
    typer.Argument(
        help="agent://org/env/name (every version), …@v1 (that version) or '*' (the whole namespace)",
        show_default=False,
    ),
]
HEALTH_STYLE = {"healthy": "green", "degraded": "yellow", "unreachable": "red", "killed": "bold red"}
FLEET_COLUMNS = [
    "agent",
    "health",
    "workers",
    "in flight",
    "queued",
    "waiting",
    "24 h",
    "failed",
    "last seen",
]
DETAIL_FIELDS = ["address", "version", "health_status", "last_seen_at", "last_heartbeat_at", "error_rate"]


class NewWork(StrEnum):
    refuse = "refuse"
    hold = "hold"


class InFlight(StrEnum):
    hold = "hold"
    cancel = "cancel"
    reassign = "reassign"


def agents_list(
    ctx: typer.Context,
    health: Annotated[str | None, typer.Option(help="only agents in this health")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The fleet: each agent's health, workers, open work and the last day's intents."""
    with connect(settings_of(ctx)) as client:
        fleet = client.mesh_agents(health=health, limit=1000)
    if as_json:
        emit_json({"ok": True, "agents": [a.raw for a in fleet]})
    else:
        console.print(fleet_table(fleet))


def agents_top(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option(help="seconds between redraws", min=0.2)] = 2.0,
    iterations: Annotated[int, typer.Option(help="stop after this many draws (0: until Ctrl-C)", min=0)] = 0,
) -> None:
    """The fleet table, redrawn live until Ctrl-C."""
    with connect(settings_of(ctx)) as client, Live(console=console, auto_refresh=False) as live:
        drawn = 0
        try:
            while iterations == 0 or drawn < iterations:
                live.update(fleet_table(client.mesh_agents(limit=1000), live=True), refresh=True)
                drawn += 1
                if iterations == 0 or drawn < iterations:
                    time.sleep(interval)
        except KeyboardInterrupt:
            pass


def agents_show(ctx: typer.Context, address: TargetArg, as_json: JsonOpt = False) -> None:
    """One agent: health, kill, workers, open work and its oldest open intents (stuck work)."""
    with connect(settings_of(ctx)) as client:
        agent = client.mesh_agent(address)
    if as_json:
        emit_json({"ok": True, "agent": agent.raw})
        return
    table(None, ["field", "value"], field_rows(agent.raw, DETAIL_FIELDS) + [["open work", _open(agent)]])
    if agent.kill is not None:
        console.print(f"killed: {_kill_line(agent.kill)}", style="red", markup=False)
    if agent.workers:
        rows = [[w.worker_id, w.via, _ago(w.last_seen_at)] for w in agent.workers]
        table("workers", ["worker", "via", "last seen"], rows)
    if agent.oldest_open:
        rows = [
            [i.intent_id, i.status, i.intent_type, f"{i.age_seconds:.0f} s", str(i.delivery_attempt)]
            for i in agent.oldest_open
        ]
        table("oldest open intents", ["intent", "status", "type", "in status for", "attempt"], rows)


def agents_kill(
    ctx: typer.Context,
    address: TargetArg,
    new_work: Annotated[
        NewWork,
        typer.Option(help="refuse: new intents to it answer 403; hold: accepted, delivered after resume"),
    ] = NewWork.refuse,
    in_flight: Annotated[
        InFlight,
        typer.Option(help="its queued and leased work: hold until resume, cancel, or reassign (--to)"),
    ] = InFlight.hold,
    to: Annotated[
        str | None, typer.Option("--to", help="with --in-flight reassign: where its work goes")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="why (kept in the audit trail)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Kill an agent, one version of it, or '*' (the namespace): it gets no new work, its workers
    stop its handlers at once, its work is held, canceled or reassigned. Undo with resume."""
    with connect(settings_of(ctx)) as client:
        killed = client.kill_agent(
            address, new_work=new_work.value, in_flight=in_flight.value, reassign_to=to, reason=reason
        )
    if as_json:
        emit_json(killed.raw)
        return
    swept = killed.swept
    console.print(f"killed {_kill_line(killed.kill)}", style="red", markup=False)
    console.print(
        f"its work: {swept.held} held, {swept.canceled} canceled, {swept.reassigned} reassigned", markup=False
    )


def agents_resume(ctx: typer.Context, address: TargetArg, as_json: JsonOpt = False) -> None:
    """Lift the kill of exactly this target ('*': the namespace-wide kill); held work flows again."""
    with connect(settings_of(ctx)) as client:
        resumed = client.resume_agent(address)
    if as_json:
        emit_json(resumed.raw)
    elif resumed.killed_by is not None:
        console.print(
            f"{address}: {'resumed' if resumed.was_killed else 'was not killed'}, but still killed by "
            f"{_kill_line(resumed.killed_by)}",
            style="yellow",
            markup=False,
        )
    else:
        console.print(f"{address}: {'resumed' if resumed.was_killed else 'was not killed'}", markup=False)


def agents_route(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="the address without a version", show_default=False)],
    weights: Annotated[
        list[str] | None, typer.Argument(help="version=weight ..., e.g. v1=90 v2=10; none: show the route")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="remove the route")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Route new work for an address to its versions by weight (each run keeps one version), show
    the route and how much work each version still has, or remove it. Rollback is another route."""
    with connect(settings_of(ctx)) as client:
        if remove:
            removed = client.remove_route(address)
            if as_json:
                emit_json(removed.raw)
            else:
                console.print(
                    f"{address}: {'route removed' if removed.removed else 'had no route'}", markup=False
                )
            return
        state = client.set_route(address, _weights(weights)) if weights else client.route(address)
    _show_route(state, as_json)


def agents_drain(
    ctx: typer.Context,
    address: Annotated[
        str, typer.Argument(help="one version, e.g. agent://acme/prod/writer@v1", show_default=False)
    ],
    wait: Annotated[
        float, typer.Option(help="seconds to wait for it to finish its open work (0: don't)", min=0)
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Give one version no new work (weight 0 in its route); with --wait, wait until it has drained."""
    with connect(settings_of(ctx)) as client:
        state = client.drain(address)
        version = address.rpartition("@")[2]
        deadline = time.monotonic() + wait
        while not _drained(state, version) and time.monotonic() < deadline:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            state = client.route(state.address)
    _show_route(state, as_json)
    if wait and not _drained(state, version):
        raise typer.Exit(1)


@mesh_app.command("events")
def mesh_events(
    ctx: typer.Context,
    event_type: Annotated[str | None, typer.Option("--type", help="one kind, e.g. agent.killed")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Records about the namespace's agents, newest first (from the audit trail)."""
    with connect(settings_of(ctx)) as client:
        events = client.mesh_events(event_type=event_type, limit=limit)
    if as_json:
        emit_json({"ok": True, "events": [e.raw for e in events]})
        return
    rows = [
        [e.event_id, _ago(e.created_at), e.event_type, e.address or "*", e.actor_id, _brief(e.details)]
        for e in events
    ]
    table(None, ["id", "when", "event", "agent", "by", "details"], rows)


def fleet_table(fleet: list[MeshAgent], *, live: bool = False) -> Table:
    title = f"fleet at {datetime.now(UTC):%H:%M:%S} UTC (Ctrl-C to stop)" if live else None
    grid = Table(title=title, header_style="bold")
    for column in FLEET_COLUMNS:
        grid.add_column(column, overflow="fold", no_wrap=column == "agent")
    for a in fleet:
        open_work = a.open_work
        grid.add_row(
            a.address_id,
            _health(a.health_status),
            str(len(a.workers)),
            str(a.in_flight),
            str(open_work.get("SUBMITTED", 0)),
            str(open_work.get("WAITING", 0)),
            str(a.intents_period),
            str(a.failed_period),
            f"${a.cost_period:.2f}",
            _ago(a.last_seen_at),
        )
    return grid


def _health(health: str) -> str:
    style = HEALTH_STYLE.get(health)
    return f"[{style}]{health}[/{style}]" if style else health


def _kill_line(kill: KillSwitch) -> str:
    line = f"{kill.target} (new work: {kill.new_work}, in flight: {kill.in_flight}"
    if kill.reassign_to:
        line += f" → {kill.reassign_to}"
    return line + (f"; {kill.reason})" if kill.reason else ")")


def _open(agent: MeshAgent) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(agent.open_work.items())) or "none"


def _ago(at: datetime | None) -> str:
    if at is None:
        return "never"
    seconds = max(0.0, (datetime.now(UTC) - at).total_seconds())
    return f"{seconds:.0f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def _brief(details: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in details.items() if v is not None)[:120]


def _weights(pairs: list[str]) -> dict[str, int]:
    weights = {}
    for pair in pairs:
        version, _, weight = pair.partition("=")
        if not weight.strip().isdigit():
            raise typer.BadParameter(f"{pair!r} is not version=weight (e.g. v2=10)")
        weights[version.strip()] = int(weight)
    return weights


def _drained(state: RouteAnswer, version: str) -> bool:
    return any(v.version == version and v.drained for v in state.versions)


def _show_route(state: RouteAnswer, as_json: bool) -> None:
    if as_json:
        emit_json(state.raw)
        return
    if state.route is None:
        console.print(f"{state.address}: no route (new work stays addressed as sent)", markup=False)
    rows = [
        [v.address, str(v.weight), f"{v.share:.0%}", str(v.open), "drained" if v.drained else ""]
        for v in state.versions
    ]
    if rows:
        table(state.address, ["version", "weight", "new work", "open", ""], rows)
