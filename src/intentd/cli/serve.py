"""``intentd serve`` and ``intentd db``: the CLI as the server's composition root. The server
(FastAPI, uvicorn) is imported only inside ``serve``, so other commands never load it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from intentd.engine import Engine
from intentd.settings import Settings
from intentd.store import migrate_url, open_store

from ._options import env_help, settings_of
from ._output import console, fail, install_log_handler, note

if TYPE_CHECKING:
    from fastapi import FastAPI

db_app = typer.Typer(help="Database schema (the database of --database).", no_args_is_help=True)


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help=env_help("host", "listen address"))] = None,
    port: Annotated[int | None, typer.Option(help=env_help("port", "listen port"))] = None,
) -> None:
    """Run the server on --database: HTTP API, scheduler and delivery (migrates on start), and the
    MCP server at /mcp."""
    from intentd.server import run_server
    from intentd.server.app import notify_config

    settings = settings_of(ctx, host=host, port=port)
    install_log_handler(settings)
    try:
        notify_config(settings)  # a notification URL that cannot work stops here, in one line
    except ValueError as exc:
        fail(f"notifications: {exc}", 2)
    try:
        asyncio.run(_first_key(settings))
    except RuntimeError as exc:  # e.g. another server holds this SQLite file
        fail(str(exc), 1)
    note(
        settings,
        f"intentd on http://{settings.host}:{settings.port} (database {_redact(settings.database_url)})",
    )
    run_server(settings, compose_app(settings))


def compose_app(settings: Settings) -> FastAPI:
    """What ``intentd serve`` serves: the API, with the MCP server at /mcp acting as each request's
    key (bridges/mcp; the server package itself knows no bridge)."""
    from intentd.bridges.mcp import mount_mcp
    from intentd.server import create_app

    app = create_app(settings)
    mount_mcp(app)
    return app


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
        # Where, never the key itself: a server's output ends up in logs (docs/security.md).
        note(settings, f"created an admin API key; it is in {path} (readable by this user only)")
    finally:
        await store.close()


def _redact(url: str) -> str:
    """The URL without its password, for the start-up line."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{rest.split('@', 1)[1]}"
    return url


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply pending schema migrations."""
    applied = asyncio.run(migrate_url(settings_of(ctx).database_url))
    console.print(f"applied migrations {applied}" if applied else "schema is up to date")
