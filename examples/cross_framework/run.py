"""Four frameworks, one run: a LangGraph researcher hands its notes to a CrewAI writer, a person
approves the draft, an AutoGen reviewer checks it and an OpenAI Agents publisher publishes it. Each
agent runs in its own process; each hands on through an intent that is a child of its own, so the
run is one intent tree with one correlation id, and its events are the audit trail.

    .venvs/frameworks/bin/python -m examples.cross_framework.run            # from the repository root

starts ``intentd serve`` on a SQLite file in a temporary work directory (or uses ``--url`` and
``--api-key``), starts the four agents (the CrewAI writer with ``--crewai-python``: CrewAI needs an
environment of its own), submits the research intent, approves the writer's draft through the API
(``--wait-for-human``: a person does, with ``intentd tasks approve <task id>``), waits for the whole
run, prints the tree and each agent's audit trail, and stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar

import httpx

from intentd.client import Client, HumanTask, Intent, RunTree

from .audit import agent_name, audit_trail, chain, format_trail
from .process import FRAMEWORKS, RESEARCHER, WORKDIR_VARIABLE

ROOT = Path(__file__).resolve().parents[2]  # where ``python -m examples.cross_framework.<agent>`` runs
DEFAULT_CREWAI_PYTHON = ROOT / ".venvs" / "crewai" / "bin" / "python"
AGENT_NAMES = ("researcher", "writer", "reviewer", "publisher")
# Every framework offline and quiet: no telemetry, no tracing, no version check.
QUIET = {
    "LANGSMITH_TRACING": "false",
    "OPENAI_AGENTS_DISABLE_TRACING": "1",
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_DISABLE_VERSION_CHECK": "true",
    "OTEL_SDK_DISABLED": "true",
}
START_TIMEOUT = 30.0
T = TypeVar("T")


# --- processes ------------------------------------------------------------------------------------


class AgentProcesses:
    """The four agent processes, each ``python -m examples.cross_framework.<name>`` against one
    server, logging to ``<workdir>/<name>.log``."""

    def __init__(self, url: str, api_key: str, workdir: Path, crewai_python: str) -> None:
        self.url, self.api_key, self.workdir = url, api_key, workdir
        self.crewai_python = crewai_python
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTD_")}
        home = self.workdir / "home"  # CrewAI writes under ~/.config and ~/.local/share: not yours
        home.mkdir(exist_ok=True)
        env.update(QUIET, INTENTD_URL=self.url, INTENTD_API_KEY=self.api_key, PYTHONUNBUFFERED="1")
        env.update({WORKDIR_VARIABLE: str(self.workdir), "HOME": str(home)})
        return env

    def start(self, name: str) -> subprocess.Popen[bytes]:
        if name not in AGENT_NAMES:
            raise ValueError(f"no agent {name!r} in this example: {', '.join(AGENT_NAMES)}")
        python = self.crewai_python if name == "writer" else sys.executable
        with (self.workdir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [python, "-m", f"examples.cross_framework.{name}"],
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[name] = process
        return process

    def start_all(self) -> None:
        for name in AGENT_NAMES:
            self.start(name)

    def kill(self, name: str) -> None:
        """A crash: SIGKILL, no shutdown code runs."""
        process = self.running[name]
        process.kill()
        process.wait()

    def stop_all(self) -> None:
        for process in self.running.values():
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def local_server(workdir: Path) -> Iterator[tuple[str, str]]:
    """``intentd serve`` on a SQLite file in ``workdir`` and a free port; yields its URL and key."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url, api_key = f"http://127.0.0.1:{port}", f"itd_example_{secrets.token_hex(16)}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTD_")}
    env.update(
        INTENTD_DATABASE_URL=f"sqlite:///{workdir / 'intentd.db'}",
        INTENTD_BOOTSTRAP_API_KEY=api_key,
        INTENTD_HOST="127.0.0.1",
        INTENTD_PORT=str(port),
    )
    with (workdir / "server.log").open("ab") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "intentd", "serve"],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _until(lambda: _healthy(url, server), START_TIMEOUT, "intentd serve to answer /health")
        yield url, api_key
    finally:
        _stop(server)


def _healthy(url: str, server: subprocess.Popen[bytes]) -> bool:
    if server.poll() is not None:
        raise RuntimeError(f"intentd serve exited with {server.returncode} (see server.log)")
    try:
        return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


# --- the run --------------------------------------------------------------------------------------


def submit_research(client: Client, topic: str) -> Intent:
    """The root of the run: research ``topic`` (each call a new run; pass an ``idempotency_key``
    to make a retried submit the same one)."""
    return client.submit(RESEARCHER, "intent.research.v1", {"topic": topic})


def open_approval(client: Client, root_id: str, timeout: float = 60.0) -> HumanTask:
    """The run's open human task (the writer's approval), once there is one."""

    def found() -> HumanTask | None:
        ids = {i.intent_id for i in client.tree(root_id).intents}
        return next((t for t in client.tasks(state="open") if t.intent_id in ids), None)

    return _until(found, timeout, "the writer's approval task")


def _until(check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {timeout:.0f}s")
        time.sleep(0.2)
    return value


def print_tree(run: RunTree) -> None:
    print(f"run {run.root_intent_id}, correlation id {chain(run)[0].correlation_id}")
    for depth, intent in enumerate(chain(run)):
        name = agent_name(intent.to_agent)
        print(f"{'  ' * depth}└─ {name} ({FRAMEWORKS.get(name, '?')}) {intent.intent_id} {intent.status}")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--url", help="a running intentd server (default: start one on a temporary SQLite file)")
    add("--api-key", default=os.environ.get("INTENTD_API_KEY"), help="its API key (default: INTENTD_API_KEY)")
    add("--topic", default="durable agents")
    add("--workdir", type=Path, help="where the agents keep their files (default: a temporary one)")
    add("--crewai-python", default=str(DEFAULT_CREWAI_PYTHON), help="a Python with intentd[crewai] installed")
    add("--wait-for-human", action="store_true", help="wait for a person to approve the draft")
    add("--timeout", type=float, default=120.0, help="seconds the run may take after the approval")
    args = parser.parse_args(argv)
    if not Path(args.crewai_python).exists():
        parser.error(f"--crewai-python: no {args.crewai_python} (make .venvs/crewai/bin/.installed makes it)")
    if args.url and not args.api_key:
        parser.error("--url needs --api-key (or INTENTD_API_KEY)")
    return args


def approve(client: Client, task: HumanTask, *, person_key: str | None) -> None:
    """Show the writer's question, and answer it through the API, or wait for a person (with
    ``person_key``, the key they approve with) to answer it."""
    print(f"\nhuman task {task.task_id}: {task.human_task.get('title')}")
    print(f"{task.human_task.get('description')}\n")
    if person_key is not None:
        print("waiting for a person to run:")
        print(f"  INTENTD_URL={client.base_url} INTENTD_API_KEY={person_key} \\")
        print(f"  intentd tasks approve {task.task_id}")
        return
    client.decide_task(task.task_id, "approved", comment="Good to go.")
    print("approved through the API")


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    with ExitStack() as stack:
        workdir = args.workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="cross-framework-"))
        )
        workdir.mkdir(parents=True, exist_ok=True)
        url, api_key = (args.url, args.api_key) if args.url else stack.enter_context(local_server(workdir))
        agents = AgentProcesses(url, api_key, workdir, args.crewai_python)
        stack.callback(agents.stop_all)
        agents.start_all()
        client = stack.enter_context(Client(url, api_key))
        root = submit_research(client, args.topic)
        print(f"submitted {root.intent_id} to the researcher (the agents log in {workdir})")
        person_key = (api_key if not args.url else "<an editor's key>") if args.wait_for_human else None
        approve(client, open_approval(client, root.intent_id), person_key=person_key)
        run = client.wait_for_run(root.intent_id, timeout=None if args.wait_for_human else args.timeout)
        print()
        print_tree(run)
        print("\naudit trail:")
        print(format_trail(audit_trail(client, run)))
        return 0 if all(i.status == "COMPLETED" for i in run.intents) else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the agents on the way out
    sys.exit(main())
