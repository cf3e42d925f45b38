"""The runnable examples in examples/, run as users run them: a script against a live server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.servers import Servers, child_environment

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, url: str, key: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_environment(url=url, api_key=key),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def server_env(database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A live server's URL and API key, as a user exports them for a script."""
    with Servers(tmp_path) as servers:
        server = servers.start(database_url)
        assert server.api_key is not None
        yield server.url, server.api_key


def test_quickstart(server_env: tuple[str, str]) -> None:
    out = run_example("quickstart.py", *server_env)
    assert out.strip() == "COMPLETED {'greeting': 'Hello, Ada!'}"


def test_three_agent_chain(server_env: tuple[str, str]) -> None:
    out = run_example("chain.py", *server_env, "graphs")
    assert "'approved': True" in out and "GRAPHS: FINDING 3" in out


def test_the_same_handoff_driven_by_the_official_axme_sdk(server_env: tuple[str, str]) -> None:
    out = run_example("axme_handoff.py", *server_env)
    assert out.strip() == (
        "{'approved': True, 'final': 'DURABLE AGENTS: FINDING 1 DURABLE AGENTS: FINDING 2'}"
    )
