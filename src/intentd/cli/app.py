"""The ``intentd`` app: one sub-app or command per module of this package."""

from __future__ import annotations

import typer

from . import intents, keys, serve, worker

app = typer.Typer(
    help="intentd: durable intents for multi-agent systems.", no_args_is_help=True, add_completion=False
)
app.command()(serve.serve)
app.add_typer(serve.db_app, name="db")
app.add_typer(keys.app, name="keys")
app.command()(intents.submit)
app.add_typer(intents.app, name="intents")
app.add_typer(worker.app, name="worker")
