"""``intentd worker``: run agent workers as a service."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from ._options import settings_of
from ._output import install_log_handler

app = typer.Typer(help="Run agent workers.", no_args_is_help=True)


@app.command("run")
def worker_run(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="module:attribute of a Worker, e.g. agents:worker")],
) -> None:
    """Run a worker until SIGTERM/SIGINT (graceful: running handlers finish or are released).

    The Worker finds its server as it was built to (its arguments, else INTENTD_URL and
    INTENTD_API_KEY); the global --url and --api-key do not reach it.
    """
    from intentd.worker import Worker

    module_name, _, attribute = target.partition(":")
    sys.path.insert(0, str(Path.cwd()))  # as `python -m` would: the module is the user's own
    worker = getattr(importlib.import_module(module_name), attribute or "worker", None)
    if not isinstance(worker, Worker):
        raise typer.BadParameter(f"{target} is not an intentd.worker.Worker")
    install_log_handler(settings_of(ctx))
    worker.run()
