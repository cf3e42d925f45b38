"""``intentd serve`` and ``intentd db``: the CLI as the server's composition root. The server
(FastAPI, uvicorn) is imported only inside ``serve``, so other commands never load it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from intentd.engine import Engine
from intentd.settings import DEFAULT_PORT, Settings
from intentd.store import migrate_url, open_store

from ._options import DatabaseOpt, settings_from
from ._output import console, errors

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def serve(
    host: Annotated[str | None, typer.Option(help="[env INTENTD_HOST; default 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help=f"[env INTENTD_PORT; default {DEFAULT_PORT}]")] = None,
    database: DatabaseOpt = None,
) -> None:
    """Run the server: HTTP API, scheduler and delivery (migrations are applied on start)."""
    from intentd.server import run_server

    settings = settings_from(host=host, port=port, database_url=database)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        asyncio.run(_first_key(settings))
    except RuntimeError as exc:  # e.g. another server holds this SQLite file
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(
        f"intentd on http://{settings.host}:{settings.port} (database {_redact(settings.database_url)})"
    )
    run_server(settings)


async def _first_key(settings: Settings) -> None:
    """A fresh database gets an admin key so the server is usable at once; it is written to the
    key file (mode 0600), where the CLI finds it."""
    # exclusive: refuse here, in one line, if another server already holds a SQLite file
    store = await open_store(settings.database_url, exclusive=True)
    try:
        engine = Engine(store)
        # The app's start-up creates the bootstrap key; a database with one needs no admin key.
        if settings.bootstrap_api_key or await engine.keys.list():
            return
        _, secret = await engine.keys.create("admin")
        path = Path(settings.key_file)
        path.write_text(secret + "\n")
        path.chmod(0o600)
        console.print(f"created an admin API key (saved to {path}): [bold]{secret}[/bold]")
    finally:
        await store.close()


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{rest.split('@', 1)[1]}"
    return url


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOpt = None) -> None:
    """Apply pending schema migrations."""
    settings = settings_from(database_url=database)
    applied = asyncio.run(migrate_url(settings.database_url))
    console.print(f"applied migrations {applied}" if applied else "schema is up to date")
