"""Versioned migrations: one numbered history, ``NNNN_name.sql``, with ``NNNN_name.<dialect>.sql`` only
where a dialect must differ. Applied versions are recorded in ``schema_migrations``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_FILE = re.compile(r"^(\d{4})_(\w+?)(?:\.(sqlite|postgres))?\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations_for(dialect: str) -> list[Migration]:
    """Every migration in order, with the dialect's override where one exists."""
    folder = resources.files("intentd.store") / "migrations"
    chosen: dict[int, tuple[bool, Migration]] = {}
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if not match:
            continue
        version, name, only = int(match.group(1)), match.group(2), match.group(3)
        if only not in (None, dialect):
            continue
        specific = only is not None
        if version in chosen and chosen[version][0] and not specific:
            continue
        chosen[version] = (specific, Migration(version, name, entry.read_text()))
    ordered = [chosen[v][1] for v in sorted(chosen)]
    for expected, migration in enumerate(ordered, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migration history has a gap before version {migration.version}")
    return ordered


CREATE_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  BIGINT NOT NULL
)"""
