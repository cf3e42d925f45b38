"""A client-only install: ``pip install intentd`` (no extras) is what an agent host needs. Its
requirements name no server package, and an agent process in which the server's packages cannot be
imported at all still submits, claims and completes work against a real server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests._support.servers import API_KEY, Server

SERVER_PACKAGES = {"fastapi", "starlette", "uvicorn", "asyncpg", "typer", "rich", "click"}

AGENT = textwrap.dedent(
    """
    import sys

    BLOCKED = set(sys.argv[1].split(","))

    class NotInstalled:  # a meta path finder: these packages do not exist in this process
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r} (client-only install)")
            return None

    sys.meta_path.insert(0, NotInstalled())

    from intentd.client import Client
    from intentd.worker import Worker

    worker = Worker(concurrency=2)  # finds the server through INTENTD_URL / INTENTD_API_KEY

    @worker.agent("agent://pkg/test/echo")
    def echo(ctx, intent):
        ctx.progress("echoing")
        return {"echo": intent.payload}

    worker.start()
    try:
        with Client() as client:
            submitted = client.submit("agent://pkg/test/echo", "intent.echo.v1", {"x": 1})
            print(client.wait_for(submitted.intent_id, timeout=30).result)
    finally:
        worker.stop()
    print(sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED))
    """
)


def test_the_core_requirements_name_no_server_package() -> None:
    every = [Requirement(r) for r in requires("intentd") or []]
    core = {r.name.lower() for r in every if r.marker is None}  # extras carry an `extra == …` marker
    assert core and not core & SERVER_PACKAGES, core
    extras = {r.name.lower() for r in every if r.marker is not None}
    assert {"fastapi", "uvicorn", "asyncpg", "typer", "rich"} <= extras


@pytest.mark.slow
def test_an_agent_without_the_server_packages_does_its_work(tmp_path: Path) -> None:
    server = Server(tmp_path, None).start()
    try:
        env = {**os.environ, "INTENTD_URL": server.url, "INTENTD_API_KEY": API_KEY}
        done = subprocess.run(
            [sys.executable, "-c", AGENT, ",".join(sorted(SERVER_PACKAGES))],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["{'echo': {'x': 1}}", "[]"]
