"""Named SQL queries kept as SQL (procrastinate's style).

``sql/*.sql`` hold the shared queries as ``-- name: x`` blocks with ``:param`` placeholders, one file per
area of the store (``queries.sql`` for the runtime's core, ``keys.sql`` for API keys, …; a name is
defined once across them); ``sql/<dialect>.sql`` and ``sql/<area>.<dialect>.sql`` override a name where
a dialect must differ. For PostgreSQL the placeholders are rewritten to ``$n`` once at load time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

DIALECTS = ("sqlite", "postgres")
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    text: str
    params: tuple[str, ...]  # positional order, for dialects with $n placeholders

    def args(self, values: dict[str, Any]) -> list[Any]:
        return [values[p] for p in self.params]


def _parse(text: str) -> dict[str, str]:
    blocks: dict[str, str] = {}
    parts = _NAME.split(text)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [ln for ln in body.strip().splitlines() if not ln.lstrip().startswith("--")]
        blocks[name] = "\n".join(lines).strip().rstrip(";")
    return blocks


def _positional(name: str, text: str) -> Query:
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        param = match.group(1)
        if param not in order:
            order.append(param)
        return f"${order.index(param) + 1}"

    return Query(name, _PARAM.sub(number, text), tuple(order))


def load_queries(dialect: str) -> dict[str, Query]:
    """All named queries for ``dialect`` ("sqlite" or "postgres")."""
    folder = resources.files("intentd.store") / "sql"
    files = sorted((entry.name, entry) for entry in folder.iterdir() if entry.name.endswith(".sql"))
    merged: dict[str, str] = {}
    overrides: dict[str, str] = {}
    for filename, entry in files:
        stem = filename.removesuffix(".sql")
        only = stem.rpartition(".")[2] if "." in stem else stem if stem in DIALECTS else None
        if only is None:
            blocks = _parse(entry.read_text())
            twice = blocks.keys() & merged.keys()
            if twice:
                raise RuntimeError(f"{filename} defines queries defined in another file: {sorted(twice)}")
            merged.update(blocks)
        elif only == dialect:
            overrides.update(_parse(entry.read_text()))
    merged.update(overrides)
    if dialect == "postgres":
        return {name: _positional(name, text) for name, text in merged.items()}
    return {name: Query(name, text, ()) for name, text in merged.items()}
