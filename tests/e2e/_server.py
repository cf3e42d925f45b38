"""Real ``intentd serve`` processes for end-to-end tests.

A :class:`Server` runs ``python -m intentd serve`` on a free 127.0.0.1 port with its settings in
``INTENTD_*`` variables, waits for ``/health``, and can be stopped (SIGTERM), killed (SIGKILL) and
started again on the same database and port. Its stdout and stderr go to a log file whose tail is
printed at teardown, so a failing test shows what the server said.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import orjson

TEST_KEY = "itd_e2e_key_for_subprocess_servers_0123456789"
START_TIMEOUT = 30.0  # seconds; two shared cores and a cold import of FastAPI, uvicorn, asyncpg
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_environment(**settings: str | None) -> dict[str, str]:
    """The test process's environment without ``INTENTD_*``, plus the given settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTD_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update({f"INTENTD_{k.upper()}": v for k, v in settings.items() if v is not None})
    return env


def intentd_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "intentd", *args]


class Server:
    """One ``intentd serve`` subprocess. ``database_url=None`` leaves the default (a SQLite file in
    ``cwd``); ``api_key=None`` starts without a bootstrap key."""

    def __init__(
        self, cwd: Path, database_url: str | None, *, api_key: str | None = TEST_KEY, name: str = "server"
    ) -> None:
        self.cwd = cwd
        self.database_url = database_url
        self.api_key = api_key
        self.name = name
        self.port = free_port()
        self.log_path = cwd / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        return child_environment(
            database_url=self.database_url,
            bootstrap_api_key=self.api_key,
            host="127.0.0.1",
            port=str(self.port),
        )

    def start(self) -> Server:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            log.write(f"--- start {datetime.now(UTC).isoformat()}\n".encode())
            self.process = subprocess.Popen(
                intentd_command("serve"),
                cwd=self.cwd,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode} while starting:\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling a starting process, not waiting for a timer
        self.kill()
        raise RuntimeError(f"{self.name} not healthy after {START_TIMEOUT}s:\n{self.log_tail()}")

    def stop(self) -> int:
        """Graceful stop (SIGTERM, as a service manager sends); SIGKILL if it hangs."""
        return self._end(signal.SIGTERM)

    def kill(self) -> int:
        """A crash: no shutdown code runs."""
        return self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> int:
        process = self.process
        if process is None or process.poll() is not None:
            return process.returncode if process else 0
        process.send_signal(sig)
        try:
            return process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError(f"{self.name} ignored {sig.name}:\n{self.log_tail()}") from None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def client(self, *, api_key: str | None = None, timeout: float = 30.0) -> httpx.Client:
        key = api_key or self.api_key or ""
        return httpx.Client(base_url=self.url, headers={"x-api-key": key}, timeout=timeout)


class Servers:
    """Every server a test starts, killed at exit (before a PostgreSQL test database is dropped)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Server] = []

    def start(self, database_url: str | None, **options: Any) -> Server:
        options.setdefault("name", f"server{len(self.started) + 1}")
        server = Server(self.workdir, database_url, **options)
        self.started.append(server)
        return server.start()

    def __enter__(self) -> Servers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for server in self.started:
            try:
                server.kill()
            finally:
                # Shown by pytest only when the test fails.
                print(f"==== {server.name} log ({server.log_path}) ====\n{server.log_tail()}")


def sse_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) from an SSE response, as the AXP SDK parses them."""
    name, data = "", ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif not line and name:
            yield name, orjson.loads(data) if data else {}
            name, data = "", ""


def intent_body(to_agent: str, **extra: Any) -> dict[str, Any]:
    return {
        "intent_type": "intent.e2e.v1",
        "to_agent": to_agent,
        "payload": {},
        "correlation_id": "e2e",
        **extra,
    }


def rfc3339_in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def parse_rfc3339(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def all_intents(client: httpx.Client, **filters: str) -> list[dict[str, Any]]:
    """Every intent matching ``filters``, following the list cursor."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 500, **filters}
    while True:
        page = client.get("/v1/intents", params=params).raise_for_status().json()
        found += page["intents"]
        if not page["has_more"]:
            return found
        params["cursor"] = page["next_cursor"]


def events_of(client: httpx.Client, intent_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/intents/{intent_id}/events", params={"limit": 10000})
    events: list[dict[str, Any]] = response.raise_for_status().json()["events"]
    return events


def wait_terminal(client: httpx.Client, intent_id: str, timeout: float) -> list[dict[str, Any]]:
    """Follow the intent's event stream until a terminal event (the server ends the stream then);
    returns the events seen. Raises if the intent is still open after ``timeout`` seconds."""
    seen: list[dict[str, Any]] = []
    params = {"since": 0, "wait_seconds": timeout}
    with client.stream(
        "GET", f"/v1/intents/{intent_id}/events/stream", params=params, timeout=timeout + 10
    ) as response:
        response.raise_for_status()
        for name, data in sse_events(response):
            if name == "stream.timeout":
                break
            seen.append(data)
    if not seen or seen[-1]["status"] not in ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT"):
        raise AssertionError(f"{intent_id} not terminal after {timeout}s: {seen[-1:]}")
    return seen
