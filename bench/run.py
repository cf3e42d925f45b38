"""intentd benchmark, through the real HTTP API, with DBOS Transact measured in the same run.

    .venv/bin/python -m bench.run                       # full run: SQLite and PostgreSQL, with DBOS
    .venv/bin/python -m bench.run --quick --backends sqlite --skip-dbos   # smoke run, seconds

Per backend: a fresh database, ``intentd serve`` as a subprocess, three agent processes
(bench/agents.py) and this driver. Workloads (see bench/README.md):

- roundtrip: the driver creates an intent, claims it and completes it (three HTTP calls).
- chain3: the driver submits step a; agent a completes it handing b on in the same request, b hands
  c on with ``reply_to`` the driver, c completes; the driver sees the completion on its SSE feed.

Each runs sequentially (1 in flight) and with 50 in flight. DBOS runs the same chain of 3 steps
(bench/dbos_chain.py) against a SQLite and a PostgreSQL system database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import secrets
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from ._procs import REPO, agent_processes, fresh_database, intentd_server, pg_admin
from ._stats import Result, machine, markdown_table, print_table
from .agents import event_loop_factory

INTENT_TYPE = "intent.bench.step.v1"
DRIVER = "agent://bench/driver"
CHAIN = ("agent://bench/a", "agent://bench/b", "agent://bench/c")
# (agent, next step's agent, next step's reply_to): a hands on to b, b to c with reply_to the
# driver, c finishes the chain.
CHAIN_PLANS = [(CHAIN[0], CHAIN[1], None), (CHAIN[1], CHAIN[2], DRIVER), (CHAIN[2], None, None)]
TERMINAL = "COMPLETED,FAILED,CANCELED,TIMED_OUT"
GIVE_UP_SECONDS = 60.0  # a chain not done by then counts as failed instead of hanging the run
MAX_FAILURES = 20  # a workload stops early after this many
console = Console(stderr=True)


@dataclass(frozen=True)
class Sizes:
    warmup: int
    chains: int  # sequential runs
    concurrent: int  # runs with `in_flight` at a time
    in_flight: int
    agent_loops: int  # concurrent claim loops per agent process


class ChainFailed(Exception):
    pass


# -- the driver ----------------------------------------------------------------------------------


class Driver:
    """Submits work over HTTP and learns chain completions from one long-lived SSE stream of the
    driver's feed (it reconnects from the last seq when the server ends the stream)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.pending: dict[str, asyncio.Future[None]] = {}
        self.cursor = 0
        self.broken: ChainFailed | None = None

    async def follow_feed(self) -> None:
        try:
            await self._read_feed()
        except Exception as exc:
            # Fail the chains waiting now and later at once rather than after GIVE_UP_SECONDS.
            self.broken = ChainFailed(f"the driver's feed stream ended: {exc!r}")
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(self.broken)
            raise

    async def _read_feed(self) -> None:
        path = f"/v1/agents/{DRIVER.removeprefix('agent://')}/intents/stream"
        while True:
            params = {"status": TERMINAL, "since": self.cursor, "wait_seconds": 60}
            async with self.client.stream("GET", path, params=params) as response:
                response.raise_for_status()
                async for event, data in sse_events(response):
                    if event == "stream.timeout":  # the server ends idle streams: reconnect
                        self.cursor = max(self.cursor, int(data["next_seq"]))
                    else:
                        self.cursor = max(self.cursor, int(data["seq"]))
                        self.settle(data)

    def settle(self, data: dict[str, Any]) -> None:
        future = self.pending.pop(data["correlation_id"], None)
        if future is None or future.done():
            return
        if data["status"] == "COMPLETED":
            future.set_result(None)
        else:
            future.set_exception(ChainFailed(f"{data['intent_id']} ended {data['status']}"))

    async def chain(self, _slot: int) -> float:
        if self.broken:
            raise self.broken
        correlation_id = uuid.uuid4().hex
        done = asyncio.get_running_loop().create_future()
        self.pending[correlation_id] = done
        started = time.perf_counter()
        await self.create(CHAIN[0], correlation_id)
        try:
            await asyncio.wait_for(done, GIVE_UP_SECONDS)
        finally:
            self.pending.pop(correlation_id, None)
        return time.perf_counter() - started

    async def roundtrip(self, slot: int) -> float:
        """create -> claim -> complete; each in-flight slot has its own agent, so a claim picks up
        the intent its own slot just created."""
        agent = f"bench/rt{slot}"
        started = time.perf_counter()
        created = await self.create(f"agent://{agent}", uuid.uuid4().hex)
        claimed = await self.post(
            f"/v1/agents/{agent}/claims",
            {"worker_id": "driver", "max_intents": 1, "lease_seconds": 30, "wait_seconds": 1},
        )
        deliveries = claimed["deliveries"]
        if [d["intent"]["intent_id"] for d in deliveries] != [created["intent_id"]]:
            raise ChainFailed(
                f"the claim returned {len(deliveries)} deliveries, not the one intent just created"
            )
        delivery = deliveries[0]
        await self.post(
            f"/v1/intents/{created['intent_id']}/complete",
            {"lease_token": delivery["lease"]["token"], "result": {"x": 1}},
            retry_safe=True,
        )  # a repeated completion is answered as a replay
        return time.perf_counter() - started

    async def create(self, agent: str, correlation_id: str) -> dict[str, Any]:
        body = {
            "intent_type": INTENT_TYPE,
            "to_agent": agent,
            "correlation_id": correlation_id,
            "payload": {"x": 0},
        }
        # The Idempotency-Key makes a retried create return the same intent.
        return await self.post("/v1/intents", body, {"Idempotency-Key": correlation_id}, retry_safe=True)

    async def post(
        self,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
        *,
        retry_safe: bool = False,
    ) -> dict[str, Any]:
        try:
            response = await self.client.post(path, json=body, headers=headers)
        except httpx.TransportError as exc:
            if not retry_safe:
                raise
            # A keep-alive connection the server closed just as it was reused; say so and retry.
            console.print(f"POST {path}: {exc!r}; retrying")
            response = await self.client.post(path, json=body, headers=headers)
        if response.status_code != 200:
            raise ChainFailed(f"POST {path} -> {response.status_code} {response.text}")
        payload: dict[str, Any] = response.json()
        return payload


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) per SSE frame; comments (keep-alives) are skipped."""
    event, data = "message", ""
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield event, json.loads(data)
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()


async def measure(
    work: Callable[[int], Awaitable[float]], count: int, in_flight: int
) -> tuple[list[float], float, int]:
    """Run ``count`` units with ``in_flight`` at a time (worker ``slot`` numbers 0..in_flight-1);
    returns latencies, wall time and the number that failed."""
    numbers = iter(range(count))
    latencies: list[float] = []
    failures: list[BaseException] = []

    async def worker(slot: int) -> None:
        for _ in numbers:
            if len(failures) >= MAX_FAILURES:
                return  # something is broken; do not wait GIVE_UP_SECONDS for every unit left
            try:
                latencies.append(await work(slot))
            except (ChainFailed, TimeoutError, httpx.HTTPError) as exc:
                failures.append(exc)

    started = time.perf_counter()
    await asyncio.gather(*(worker(slot) for slot in range(min(in_flight, count))))
    wall = time.perf_counter() - started
    if failures:
        console.print(f"[red]{len(failures)} failed[/red]; first: {failures[0]!r}")
    return latencies, wall, len(failures)


async def bench_intentd(url: str, api_key: str, backend: str, sizes: Sizes) -> list[Result]:
    connections = sizes.in_flight * 2 + 4
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with (
        httpx.AsyncClient(
            base_url=url,
            headers={"x-api-key": api_key},
            limits=limits,
            timeout=httpx.Timeout(GIVE_UP_SECONDS + 30),
        ) as client,
        agent_processes(url, api_key, sizes.agent_loops, CHAIN_PLANS),
    ):
        driver = Driver(client)
        feed = asyncio.create_task(driver.follow_feed())
        try:
            await measure(driver.roundtrip, sizes.warmup, 1)
            await measure(driver.chain, sizes.warmup, 1)  # also waits for the agents to start
            plan = [("roundtrip", driver.roundtrip), ("chain3", driver.chain)]
            results = []
            for (name, work), in_flight in itertools.product(plan, (1, sizes.in_flight)):
                count = sizes.chains if in_flight == 1 else sizes.concurrent
                label = f"{name} seq" if in_flight == 1 else f"{name} x{in_flight}"
                latencies, wall, failed = await measure(work, count, in_flight)
                console.print(f"intentd {backend}: {label}: {count} in {wall:.1f} s")
                results.append(Result(label, "intentd", backend, latencies, wall, failed))
            return results
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await feed


async def bench_dbos(system_db: str, backend: str, sizes: Sizes) -> list[Result]:
    console.print(f"DBOS {backend}: chain3 seq ({sizes.chains}), x{sizes.in_flight} ({sizes.concurrent})")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.dbos_chain",
        "--system-db",
        system_db,
        "--chains",
        str(sizes.chains),
        "--concurrent-chains",
        str(sizes.concurrent),
        "--in-flight",
        str(sizes.in_flight),
        "--warmup",
        str(sizes.warmup),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"bench.dbos_chain failed ({process.returncode})")
    runs = json.loads(out.decode().strip().splitlines()[-1])
    return [
        Result(f"chain3 {mode}", "DBOS", backend, runs[key]["latencies"], runs[key]["wall"])
        for key, mode in (("sequential", "seq"), ("concurrent", f"x{sizes.in_flight}"))
    ]


async def run_backend(backend: str, args: argparse.Namespace, sizes: Sizes) -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="intentd-bench-") as tmp:
        workdir, api_key = Path(tmp), f"itd_bench_{secrets.token_hex(16)}"
        async with (
            fresh_database(backend, args.pg_admin_dsn, workdir, "intentd") as url,
            intentd_server(url, workdir, api_key) as base_url,
        ):
            results += await bench_intentd(base_url, api_key, backend, sizes)
        if not args.skip_dbos:
            async with fresh_database(backend, args.pg_admin_dsn, workdir, "dbos_bench", create=False) as url:
                results += await bench_dbos(url, backend, sizes)
    return results


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Sizes]:
    parser = argparse.ArgumentParser(description="intentd benchmark (with DBOS as the peer)")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated")
    parser.add_argument("--chains", type=int, help="sequential runs per workload [200]")
    parser.add_argument("--concurrent", type=int, help="runs with --in-flight at a time [500]")
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--warmup", type=int, help="unmeasured runs first [20]")
    parser.add_argument("--agent-loops", type=int, default=4, help="claim loops per agent")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--skip-dbos", action="store_true")
    parser.add_argument(
        "--pg-admin-dsn",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="where fresh PostgreSQL databases are created",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    chains, concurrent, warmup = (10, 50, 3) if args.quick else (200, 500, 20)
    sizes = Sizes(
        warmup=args.warmup if args.warmup is not None else warmup,
        chains=args.chains or chains,
        concurrent=args.concurrent or concurrent,
        in_flight=args.in_flight,
        agent_loops=args.agent_loops,
    )
    return args, sizes


async def amain(args: argparse.Namespace, sizes: Sizes) -> list[Result]:
    results: list[Result] = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend not in ("sqlite", "postgres"):
            raise SystemExit(f"unknown backend {backend!r} (sqlite, postgres)")
        results += await run_backend(backend, args, sizes)
    return results


def main(argv: list[str] | None = None) -> None:
    args, sizes = parse_args(argv)
    info = machine()
    info["sqlite"] = sqlite3.sqlite_version
    if "postgres" in args.backends:
        info["postgresql"] = asyncio.run(pg_admin(args.pg_admin_dsn, "SHOW server_version"))
    info["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        results = runner.run(amain(args, sizes))
    out = Console(width=None if sys.stdout.isatty() else 160)
    out.print(" | ".join(f"{k}: {v}" for k, v in info.items()))
    out.print(f"sizes: {sizes}")
    print_table(results, out)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "sizes": sizes.__dict__,
                    "results": [r.summary() for r in results],
                    "markdown": markdown_table(results),
                },
                indent=2,
            )
        )
    if any(r.failed for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
