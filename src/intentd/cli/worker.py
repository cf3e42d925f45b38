"""``intentd worker``: run agent workers as a service."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from ._options import settings_from

app = typer.Typer(help="Run agent workers.", no_args_is_help=True)


@app.command("run")
def worker_run(
    target: Annotated[str, typer.Argument(help="module:attribute of a Worker, e.g. agents:worker")],
) -> None:
    """Run a worker until SIGTERM/SIGINT (graceful: running handlers finish or are released)."""
    import importlib
    import sys

    from intentd.worker import Worker

    module_name, _, attribute = target.partition(":")
    sys.path.insert(0, os.getcwd())
    worker = getattr(importlib.import_module(module_name), attribute or "worker", None)
    if not isinstance(worker, Worker):
        raise typer.BadParameter(f"{target} is not an intentd.worker.Worker")
    logging.basicConfig(
        level=settings_from().log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    worker.run()
