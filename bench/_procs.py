"""The processes and databases a benchmark run sets up and tears down: a fresh database, ``intentd
serve`` on a free port (or several, replicas of one PostgreSQL database), agent processes (bench/agents.py
on raw HTTP, bench/sdk_agent.py as SDK Workers) and the supervisor (bench/supervisor.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from rich.console import Console

REPO = Path(__file__).resolve().parents[1]
console = Console(stderr=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def stop(process: asyncio.subprocess.Process, grace_seconds: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``grace_seconds``; returns whether it stopped by itself."""
    if process.returncode is not None:
        return True
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), grace_seconds)
        return True
    except TimeoutError:
        process.kill()
        await process.wait()
        return False


@dataclass(frozen=True)
class Server:
    """A running ``intentd serve``: where it answers, and its process id (for its CPU counters)."""

    url: str
    pid: int


@contextlib.asynccontextmanager
async def intentd_server(
    database_url: str, workdir: Path, api_key: str, name: str = "intentd"
) -> AsyncIterator[Server]:
    """``intentd serve`` on a free port of 127.0.0.1; yields it once /health answers.
    Its log goes to ``workdir/<name>.log`` and is shown if it holds an error (replicas of one
    PostgreSQL database each have their own ``name``)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTENTD_")}
    env.update(
        INTENTD_BOOTSTRAP_API_KEY=api_key,
        INTENTD_LOG_LEVEL="warning",
        INTENTD_KEY_FILE=str(workdir / f"{name}-key"),
    )
    log_path = workdir / f"{name}.log"
    executable = Path(sys.executable).with_name("intentd")  # the venv's console script
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            str(executable),
            "--database",
            database_url,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            env=env,
            stdout=log,
            stderr=log,
            cwd=workdir,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url, process, log_path)
        yield Server(url, process.pid)
    finally:
        # A claim long-poll whose client is gone still holds uvicorn's graceful shutdown until its
        # wait_seconds pass; the run is over and the data durable, so do not wait for that.
        if not await stop(process, grace_seconds=3):
            console.print(f"{name} was still running 3 s after SIGTERM (pending long-poll claims); killed it")
        log_text = log_path.read_text(errors="replace")
        if "Traceback" in log_text or "ERROR" in log_text:
            console.print(f"[yellow]{name} logged errors:[/yellow]\n{log_text[-4000:]}")


async def wait_healthy(url: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        while time.monotonic() < deadline and process.returncode is None:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/health")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"intentd did not become healthy; log:\n{log_path.read_text()[-3000:]}")


@dataclass(frozen=True)
class AgentPlan:
    """One bench/agents.py process (raw HTTP): its address, the next step it hands on to (``then``)
    and that step's ``reply_to``, its claim loops, how many intents a claim takes at most, and how it
    is bound: long-poll claims or one held delivery stream (``loops * max_intents`` in flight)."""

    agent: str
    next_agent: str | None = None
    reply_to: str | None = None
    loops: int = 4
    max_intents: int = 16
    binding: str = "claim"

    def argv(self) -> list[str]:
        argv = ["-m", "bench.agents", "--agent", self.agent, "--binding", self.binding]
        argv += ["--loops", str(self.loops), "--max-intents", str(self.max_intents)]
        argv += ["--next", self.next_agent] if self.next_agent else []
        return argv + (["--next-reply-to", self.reply_to] if self.reply_to else [])


@dataclass(frozen=True)
class WorkerPlan:
    """One bench/sdk_agent.py process: an intentd ``Worker`` with one handler for ``agent``, handing on
    to ``next_agent`` (with ``reply_to``) by returning ``Result(then=...)``; ``delivery`` is the
    Worker's switch (``stream``, ``claim`` or ``auto``)."""

    agent: str
    next_agent: str | None = None
    reply_to: str | None = None
    concurrency: int = 64
    delivery: str = "auto"

    def argv(self) -> list[str]:
        argv = ["-m", "bench.sdk_agent", "--agent", self.agent, "--delivery", self.delivery]
        argv += ["--concurrency", str(self.concurrency)]
        argv += ["--next", self.next_agent] if self.next_agent else []
        return argv + (["--next-reply-to", self.reply_to] if self.reply_to else [])


@contextlib.asynccontextmanager
async def agent_processes(
    urls: Sequence[str], api_key: str, plans: Sequence[AgentPlan | WorkerPlan]
) -> AsyncIterator[list[int]]:
    """One process per plan, stopped on exit; yields their process ids. Plan i talks to
    ``urls[i % len(urls)]`` (the replicas, when there are several)."""
    processes = []
    try:
        for i, plan in enumerate(plans):
            where = ["--url", urls[i % len(urls)], "--api-key", api_key]
            processes.append(
                await asyncio.create_subprocess_exec(sys.executable, *plan.argv(), *where, cwd=REPO)
            )
        yield [process.pid for process in processes]
    finally:
        for process in processes:
            await stop(process)


@contextlib.asynccontextmanager
async def supervisor_process(url: str, api_key: str, concurrency: int) -> AsyncIterator[int]:
    """The code-first fan-out's supervisor (bench/supervisor.py), stopped on exit; yields its pid."""
    argv = ["-m", "bench.supervisor", "--url", url, "--api-key", api_key, "--concurrency", str(concurrency)]
    process = await asyncio.create_subprocess_exec(sys.executable, *argv, cwd=REPO)
    try:
        yield process.pid
    finally:
        await stop(process)


@contextlib.asynccontextmanager
async def fresh_database(
    backend: str, admin_dsn: str, workdir: Path, prefix: str, *, create: bool = True
) -> AsyncIterator[str]:
    """A SQLite file in ``workdir``, or a PostgreSQL database made for the run and dropped after
    (``create=False`` only reserves the name, for DBOS, which creates its system database)."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / (prefix + '.sqlite')}"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if create:
        await pg_admin(admin_dsn, f"CREATE DATABASE {name}")
    try:
        yield f"{admin_dsn.rpartition('/')[0]}/{name}"
    finally:
        await pg_admin(admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def pg_admin(admin_dsn: str, sql: str) -> str:
    """Run one statement on the admin database (``SHOW …`` returns its value)."""
    conn = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        return str(await conn.fetchval(sql) if sql.startswith("SHOW") else await conn.execute(sql))
    finally:
        await conn.close()
