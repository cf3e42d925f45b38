"""Options shared by commands, and the one Settings object they build (flags over ``INTENTD_*``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from intentd.settings import DEFAULT_DATABASE_URL, Settings

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database", help=f"database URL [env INTENTD_DATABASE_URL; default {DEFAULT_DATABASE_URL}]"
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]


def settings_from(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
