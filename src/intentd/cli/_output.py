"""Rendering for the CLI: Rich tables for people, ``--json`` (the API's own JSON) for scripts, and
one line on stderr for errors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NoReturn

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from intentd import logs
from intentd.client import Event, Intent, RunTree
from intentd.settings import Settings

console = Console()
errors = Console(stderr=True)

STATUS_STYLE = {
    "COMPLETED": "green",
    "FAILED": "red",
    "CANCELED": "yellow",
    "TIMED_OUT": "red",
    "WAITING": "magenta",
    "SUBMITTED": "cyan",
    "DELIVERED": "blue",
    "RUNNING": "blue",  # a run's step (its journal entry) while its intent is worked on
    "SKIPPED": "dim",
}
EVENT_COLUMNS = ["seq", "at", "event", "status", "actor", "details"]
INTENT_COLUMNS = ["intent_id", "status", "type", "to_agent", "created_at"]


def fail(line: str, exit_code: int, *, style: str = "red") -> NoReturn:
    """End the command with one line on stderr. Not markup: messages from a server or a socket
    error may contain brackets; soft-wrapped so a narrow terminal does not split the line."""
    errors.print(line, style=style, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(exit_code)


def emit_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def emit_json_line(value: Any) -> None:
    """One compact object per line, flushed at once: a stream a script reads as it comes."""
    sys.stdout.write(orjson.dumps(value).decode() + "\n")
    sys.stdout.flush()


def status_text(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    grid = Table(title=title, header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*("" if v is None else str(v) for v in row))
    console.print(grid)


def intent_rows(intents: Iterable[Intent]) -> list[list[Any]]:
    return [
        [i.intent_id, status_text(i.status), i.intent_type, i.to_agent, _time(i.created_at)] for i in intents
    ]


def run_tree(run: RunTree) -> Tree:
    """The run drawn as a tree: each intent under the one that handed it on (or spawned it: its step
    key first), with its agent, status, delivery attempts, how long it took and what it cost."""

    def label(intent: Intent) -> str:
        step = f"[bold]{intent.step_key}[/bold] " if intent.step_key else ""
        attempts = f", attempt {intent.delivery_attempt}" if intent.delivery_attempt > 1 else ""
        took = (intent.updated_at - intent.created_at).total_seconds() if intent.is_terminal else None
        timing = f", {took:.2f} s" if took is not None else ""
        cost = intent.usage.get("cost_usd")
        spent = f", ${cost:.4f}" if isinstance(cost, int | float) else ""
        what = f"{step}{status_text(intent.status)} {intent.intent_type} → {intent.to_agent}{attempts}"
        return f"{what}{timing}{spent}  [dim]{intent.intent_id}[/dim]"

    def grow(node: Tree, intent: Intent) -> None:
        for child in run.children(intent.intent_id):
            grow(node.add(label(child)), child)

    roots = [i for i in run.intents if i.intent_id == run.root_intent_id] or run.intents[:1]
    tree = Tree(label(roots[0]) if roots else f"run {run.root_intent_id}")
    if roots:
        grow(tree, roots[0])
    if run.truncated:
        tree.add("[yellow]… more intents than shown[/yellow]")
    return tree


def event_row(e: Event) -> list[Any]:
    details = orjson.dumps(e.details).decode() if e.details else ""
    return [e.seq, _time(e.at), e.event_type, status_text(e.status), e.actor, details[:120]]


def field_rows(wire: dict[str, Any], fields: Iterable[str]) -> list[list[Any]]:
    """``field value`` rows of the given fields that are set, objects as compact JSON."""
    return [
        [k, orjson.dumps(wire[k]).decode() if isinstance(wire[k], dict) else wire[k]]
        for k in fields
        if wire.get(k) is not None
    ]


def install_log_handler(settings: Settings) -> None:
    """The library installs no log handlers; the processes the CLI runs (server, worker) do."""
    logs.install(settings.log_level, settings.log_format)


def note(settings: Settings, line: str) -> None:
    """A line for the operator of a server: on the console, or a log line where logs are JSON, so
    that every line the process writes parses."""
    if settings.log_format == "json":
        logging.getLogger("intentd.cli").info(line)
    else:
        console.print(line)


def _time(value: datetime) -> str:
    return value.isoformat(timespec="seconds")
