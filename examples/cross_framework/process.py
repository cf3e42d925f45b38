"""What the four agent processes of the example share: the agents' addresses, the work directory, a
note of each stage that ran, and a worker that serves until SIGTERM.

Only the standard library and intentd's client side: the CrewAI agent imports this too, from an
environment of its own (CrewAI's pins conflict with the other frameworks').
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path

from intentd.client import Client
from intentd.worker import Context, Worker, current_context

RESEARCHER = "agent://demo/cross/researcher"  # LangGraph
WRITER = "agent://demo/cross/writer"  # CrewAI
REVIEWER = "agent://demo/cross/reviewer"  # AutoGen
PUBLISHER = "agent://demo/cross/publisher"  # OpenAI Agents
AGENTS = {RESEARCHER: "researcher", WRITER: "writer", REVIEWER: "reviewer", PUBLISHER: "publisher"}
FRAMEWORKS = {
    "researcher": "LangGraph",
    "writer": "CrewAI",
    "reviewer": "AutoGen",
    "publisher": "OpenAI Agents",
}

WORKDIR_VARIABLE = "CROSS_FRAMEWORK_WORKDIR"
RUNS_FILE = "runs.log"


def workdir() -> Path:
    """Where the agents keep their files (checkpoints, what they published, ``runs.log``)."""
    path = Path(os.environ.get(WORKDIR_VARIABLE, "cross-framework-work"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def note_run(stage: str) -> None:
    """Append ``<stage> <pid>`` to ``runs.log``: which stage ran, in which process. The example
    shows with it that nothing that ran before a crash or a pause runs again."""
    with (workdir() / RUNS_FILE).open("a") as file:
        file.write(f"{stage} {os.getpid()}\n")


def progress(message: str) -> None:
    """Say on the intent being handled what this stage did (an ``intent.progress`` event: the audit
    trail shows it). The framework calls the stage, not intentd: the handler's context is found
    through :func:`~intentd.worker.current_context`. For the sync handlers of this example."""
    ctx = current_context()
    if isinstance(ctx, Context):
        ctx.progress(message)


def stages_run(directory: Path) -> list[str]:
    """The stages ``runs.log`` in ``directory`` lists, in the order they ran."""
    path = directory / RUNS_FILE
    return [line.split()[0] for line in path.read_text().splitlines()] if path.exists() else []


def serve(name: str, register: Callable[[Worker], object]) -> None:
    """Run a worker for one agent until SIGTERM (or Ctrl-C), against ``INTENTD_URL`` with
    ``INTENTD_API_KEY``. Its id names the agent and the process, so the audit trail shows which
    process took each delivery."""
    logging.basicConfig(
        level=logging.WARNING, format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("intentd").setLevel(logging.INFO)
    worker = Worker(Client(), concurrency=4, worker_id=f"{name}@{socket.gethostname()}/{os.getpid()}")
    register(worker)
    worker.run()
