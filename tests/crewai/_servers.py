"""``intentd serve`` subprocesses for the CrewAI tests, and their databases.

CrewAI's environment has intentd's client side only, so the server comes from another environment:
``$INTENTD_TEST_SERVER`` (the ``intentd`` command of one with the server packages; default: the
repository's ``.venv``). This mirrors tests/_support/servers.py and databases.py, which import server
packages and so cannot be used here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from intentd.client import Client
from intentd.worker import Worker

REPO = Path(__file__).resolve().parents[2]
SERVER_COMMAND = os.environ.get("INTENTD_TEST_SERVER") or str(REPO / ".venv" / "bin" / "intentd")
API_KEY = "itd_test_key_for_the_crewai_tests_0123456789"
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", "5432", "postgres"
IN_CI = bool(os.environ.get("CI"))
BACKENDS: list[Any] = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
START_TIMEOUT = 30.0


def crewai_environment(home: str) -> dict[str, str]:
    """What every CrewAI process of these tests runs with: offline, no prompt, its files in ``home``."""
    return {
        "CREWAI_DISABLE_TELEMETRY": "true",
        "OTEL_SDK_DISABLED": "true",
        "CREWAI_TRACING_ENABLED": "false",
        "CREWAI_DISABLE_VERSION_CHECK": "true",
        "HOME": home,
    }


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it gives something true (returned); AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'intentd.db'}"


def _psql(sql: str) -> None:
    subprocess.run(
        [
            "psql",
            "-h",
            PG_HOST,
            "-p",
            PG_PORT,
            "-U",
            PG_USER,
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )


def _unavailable(exc: BaseException) -> NoReturn:
    detail = (
        exc.stderr.decode(errors="replace").strip() if isinstance(exc, subprocess.CalledProcessError) else exc
    )
    message = f"PostgreSQL unreachable at {PG_HOST}:{PG_PORT}: {detail!r}"
    if IN_CI:
        pytest.fail(f"{message} (required under CI)", pytrace=False)
    pytest.skip(f"{message}; PostgreSQL tests skipped outside CI")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (its URL; ``intentd serve`` migrates it), dropped at exit."""
    name = f"intentd_crewai_{uuid.uuid4().hex[:12]}"
    try:
        _psql(f"CREATE DATABASE {name}")
    except (OSError, subprocess.SubprocessError) as exc:
        _unavailable(exc)
    try:
        yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Server:
    """``intentd serve`` on a free 127.0.0.1 port, its output in ``workdir/server.log``."""

    def __init__(self, workdir: Path, database_url: str) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.port = free_port()
        self.log_path = workdir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextmanager
    def running(self) -> Iterator[Server]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTD_")}
        env.update(
            INTENTD_DATABASE_URL=self.database_url,
            INTENTD_BOOTSTRAP_API_KEY=API_KEY,
            INTENTD_HOST="127.0.0.1",
            INTENTD_PORT=str(self.port),
            PYTHONUNBUFFERED="1",
        )
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [SERVER_COMMAND, "serve"],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until(self._healthy, START_TIMEOUT, f"intentd serve ({SERVER_COMMAND}) to answer /health")
            yield self
        finally:
            end(self.process)
            print(f"==== server log ({self.log_path}) ====\n{self.log_tail()}")

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"intentd serve exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def client(self) -> Client:
        return Client(self.url, API_KEY, timeout=30.0)


def end(process: subprocess.Popen[bytes] | None, sig: signal.Signals = signal.SIGTERM) -> None:
    """Stop a process these tests started (SIGKILL if it ignores ``sig`` for 15 s)."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class InProcessWorker(Worker):
    """A worker served in a thread of the test process, stopped and joined by :meth:`close`."""

    _thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        self._thread = super().start()
        return self._thread

    def close(self) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(15)
