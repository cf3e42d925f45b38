"""Rendering for the CLI: Rich tables for people, ``--json`` for scripts."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

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
}


def emit_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


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


def intent_rows(intents: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [i["intent_id"], status_text(i["status"]), i["intent_type"], i["to_agent"], i["created_at"]]
        for i in intents
    ]


def event_row(e: dict[str, Any]) -> list[Any]:
    details = orjson.dumps(e["details"]).decode() if e.get("details") else ""
    return [e["seq"], e["at"], e["event_type"], status_text(e["status"]), e["actor"], details[:120]]


EVENT_COLUMNS = ["seq", "at", "event", "status", "actor", "details"]
INTENT_COLUMNS = ["intent_id", "status", "type", "to_agent", "created_at"]
