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

from intentd.client import KillSwitch, MeshAgent

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
