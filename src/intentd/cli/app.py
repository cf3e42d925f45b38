"""The ``intentd`` app: the options every command shares, taken once before the command name
(``intentd --url … intents list``), and one sub-app or command per module of this package."""

from __future__ import annotations

import typer

from . import (
    a2a,
    agents,
    audit,
    fleet,
    intents,
    keys,
    mcp,
    namespaces,
    policy,
    scenarios,
    serve,
    tasks,
    webhooks,
    worker,
)
from ._options import ApiKeyOpt, DatabaseOpt, GlobalOptions, LogFormatOpt, UrlOpt

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.callback()
def configure(
    ctx: typer.Context,
    url: UrlOpt = None,
    api_key: ApiKeyOpt = None,
    database: DatabaseOpt = None,
    log_format: LogFormatOpt = None,
) -> None:
    """intentd: durable intents for multi-agent systems.

    Server commands use --url and --api-key; serve, db and keys use --database; serve and worker
    run log as --log-format says.
    """
    # Click hands ctx.obj down to every command; _options.settings_of() finds it there.
    ctx.obj = GlobalOptions(url=url, api_key=api_key, database_url=database, log_format=log_format)


app.command()(serve.serve)
app.add_typer(serve.db_app, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(namespaces.app, name="namespaces")
app.command()(intents.submit)
app.add_typer(intents.app, name="intents")
app.add_typer(worker.app, name="worker")
app.add_typer(scenarios.app, name="scenarios")
app.add_typer(tasks.app, name="tasks")
app.add_typer(agents.app, name="agents")
app.add_typer(fleet.mesh_app, name="mesh")
app.add_typer(policy.app, name="policy")
app.add_typer(audit.app, name="audit")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(a2a.app, name="a2a")
app.command()(mcp.mcp)
