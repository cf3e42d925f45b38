"""Fixtures of the CrewAI adapter's tests, which run in CrewAI's own environment (intentd's client
side only): real ``intentd serve`` subprocesses from ``$INTENTD_TEST_SERVER`` on SQLite and on a fresh
PostgreSQL database, a worker against them, and CrewAI kept offline and out of the real home.

Run: ``INTENTD_TEST_SERVER=<repo>/.venv/bin/intentd .venvs/crewai/bin/pytest tests/crewai
--confcutdir=tests/crewai`` (tests/conftest.py needs the server packages: it is not loaded here).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from intentd.client import Client

from ._servers import BACKENDS, InProcessWorker, Server, crewai_environment, postgres_database, sqlite_url

# Before CrewAI is imported anywhere in this process: no telemetry, no trace prompt, no writes to
# the real home (CrewAI writes under ~/.config and ~/.local/share).
_HOME = tempfile.mkdtemp(prefix="intentd-crewai-home-")
os.environ.update(crewai_environment(_HOME))


def pytest_configure(config: pytest.Config) -> None:
    # CrewAI's own warnings, narrowly: whatever else warns is still an error.
    for ignored in (
        "ignore::DeprecationWarning:crewai.*",
        "ignore::DeprecationWarning:chromadb.*",
        "ignore::DeprecationWarning:opentelemetry.*",
        "ignore::PendingDeprecationWarning:crewai.*",
        "ignore:.*is deprecated.*:DeprecationWarning:pydantic.*",
        # crewai.rag's module __setattr__ refuses the import system's attribute for a submodule
        "ignore:Cannot set an attribute on 'crewai\\.:ImportWarning",
    ):
        config.addinivalue_line("filterwarnings", ignored)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One live ``intentd serve`` per backend for the session; tests keep apart by agent address."""
    workdir = tmp_path_factory.mktemp(f"server-{request.param}")
    if request.param == "postgres":
        with postgres_database() as url, Server(workdir, url).running() as running:
            yield running
    else:
        with Server(workdir, sqlite_url(workdir)).running() as running:
            yield running


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    with server.client() as client:
        yield client


@pytest.fixture
def worker(server: Server) -> Iterator[InProcessWorker]:
    """A worker in this process; register agents on it, then ``worker.start()`` (stopped after)."""
    worker = InProcessWorker(server.client(), concurrency=4, lease_seconds=30, shutdown_grace_seconds=5)
    yield worker
    worker.close()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
