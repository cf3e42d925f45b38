"""A client-only install: ``pip install intentd`` (no extras) is what an agent host needs. Its
requirements name no server package, and an agent process in which the server's packages cannot be
imported at all still submits, claims and completes work against a real server."""

from __future__ import annotations

from importlib.metadata import requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests._support.servers import Server
from tests._support.without import run_without

SERVER_PACKAGES = {"fastapi", "starlette", "uvicorn", "asyncpg", "typer", "rich", "click"}

AGENT = """
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
        done = run_without(SERVER_PACKAGES, AGENT, url=server.url, cwd=tmp_path)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["{'echo': {'x': 1}}", "[]"]
