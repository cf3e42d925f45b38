"""The kill switch's reach (docs/mesh.md): the time from the kill call to the moment each of 20 worker
processes has stopped the handler it was running, on SQLite, on PostgreSQL, and on PostgreSQL with the
workers spread over two server replicas (the kill sent to one; the other learns it by NOTIFY).

    .venv/bin/python -m bench.kill                        # both backends, 10 rounds each
    .venv/bin/python -m bench.kill --backends sqlite --rounds 3

Each round: 20 handlers are running (one per worker, each on its held delivery stream), the driver
notes the time and sends ``POST /v1/mesh/agents/…/kill`` (in-flight work held), each worker writes the
wall-clock time its handler was cancelled, then the driver resumes the agent and the held intents are
delivered again, which starts the next round. Reported per setup: the first round's last worker (the
first kill a server and its workers see runs cold code), then over the other rounds the median of
every worker's stop time after the kill, the median of the last worker's, and the worst. The target
is the last worker under 100 ms. No peer has a kill switch to run beside it, so these are absolute
times.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from ._procs import REPO, fresh_database, intentd_server

AGENT = "agent://bench/kill/busy"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
console = Console()


async def wait_for(marks: Path, what: str, count: int, timeout: float = 60.0) -> list[float]:
    """The times of the first ``count`` ``what`` lines, once there are that many."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = marks.read_text().splitlines() if marks.exists() else []
        times = [float(line.split()[2]) for line in lines if line.startswith(what + " ")]
        if len(times) >= count:
            return times[:count]
        await asyncio.sleep(0.01)
    raise TimeoutError(f"{count} '{what}' marks did not come within {timeout} s")


@contextlib.asynccontextmanager
async def workers(urls: list[str], api_key: str, marks: Path, count: int) -> AsyncIterator[None]:
    processes = []
    try:
        with (marks.parent / "workers.log").open("ab") as log:
            for i in range(count):
                argv = ["-m", "bench.kill_worker", "--url", urls[i % len(urls)], "--api-key", api_key]
                processes.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        *argv,
                        "--agent",
                        AGENT,
                        "--marks",
                        str(marks),
                        cwd=REPO,
                        stdout=log,
                        stderr=log,
                    )
                )
        yield
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()


async def measure(urls: list[str], api_key: str, workdir: Path, count: int, rounds: int) -> list[list[float]]:
    """Per round, each worker's stop time after the kill call, in ms."""
    marks = workdir / "marks"
    marks.unlink(missing_ok=True)
    kill_path = f"/v1/mesh/agents/{AGENT.removeprefix('agent://')}"
    async with (
        workers(urls, api_key, marks, count),
        httpx.AsyncClient(base_url=urls[0], headers={"x-api-key": api_key}, timeout=30) as http,
    ):
        for _ in range(count):
            body = {"intent_type": "bench.kill.v1", "correlation_id": "k", "to_agent": AGENT, "payload": {}}
            (await http.post("/v1/intents", json=body)).raise_for_status()
        per_round = []
        for n in range(1, rounds + 1):
            await wait_for(marks, "start", count * n)
            await asyncio.sleep(0.2)  # every stream idle again
            sent = time.time()
            (await http.post(f"{kill_path}/kill", json={"in_flight": "hold"})).raise_for_status()
            stops = (await wait_for(marks, "stop", count * n))[count * (n - 1) :]
            per_round.append([(stop - sent) * 1000 for stop in stops])
            (await http.post(f"{kill_path}/resume")).raise_for_status()
        return per_round


def row(setup: str, per_round: list[list[float]]) -> list[str]:
    """The first round apart (the server's and workers' first kill: cold code paths), then the rest."""
    warm = per_round[1:] or per_round
    every = [ms for stops in warm for ms in stops]
    last = [max(stops) for stops in warm]
    return [
        setup,
        str(len(warm)),
        f"{max(per_round[0]):.1f}",
        f"{statistics.median(every):.1f}",
        f"{statistics.median(last):.1f}",
        f"{max(last):.1f}",
    ]


async def run(args: argparse.Namespace) -> list[list[str]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="intentd-kill-") as tmp:
        workdir = Path(tmp)
        for backend in args.backends:
            replica_counts = [1, 2] if backend == "postgres" else [1]
            for replicas in replica_counts:
                api_key = f"itd_bench_{secrets.token_hex(16)}"
                async with (
                    fresh_database(backend, args.pg_admin_dsn, workdir, f"kill{replicas}") as url,
                    contextlib.AsyncExitStack() as servers,
                ):
                    started = [
                        await servers.enter_async_context(intentd_server(url, workdir, api_key, f"kill-{i}"))
                        for i in range(replicas)
                    ]
                    per_round = await measure(
                        [s.url for s in started], api_key, workdir, args.workers, args.rounds
                    )
                setup = f"{backend}, {args.workers} workers" + (
                    f", {replicas} replicas" if replicas > 1 else ""
                )
                rows.append(row(setup, per_round))
                console.print(rows[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pg-admin-dsn", default=PG_ADMIN_DSN)
    args = parser.parse_args()
    rows = asyncio.run(run(args))
    table = Table(title="kill call → handlers stopped (ms)")
    columns = ["setup", "rounds", "first kill (last worker)", "p50 (every worker)", "p50 (last worker)"]
    for column in [*columns, "max (last worker)"]:
        table.add_column(column)
    for r in rows:
        table.add_row(*r)
    console.print(table)


if __name__ == "__main__":
    main()
