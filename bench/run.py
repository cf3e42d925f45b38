"""intentd benchmark, through the real HTTP API, with DBOS Transact measured in the same run.

    .venv/bin/python -m bench.run                       # SQLite and PostgreSQL, with DBOS
    .venv/bin/python -m bench.run --parked 100000       # the full parked-runs measurement
    .venv/bin/python -m bench.run --quick --backends sqlite --skip-dbos   # smoke run, seconds

Per backend: a fresh database, ``intentd serve`` as a subprocess, agent processes
(bench/agents.py on raw HTTP, bench/sdk_agent.py as SDK Workers) and this driver. Workloads (see
bench/README.md):

- roundtrip: the driver creates an intent, claims it and completes it (three HTTP calls).
- roundtrip-sdk: an AsyncClient submits with ``wait_seconds`` to a Worker whose handler answers at
  once: submit → a worker holds it → the completion seen by the submitter, in one exchange.
- chain3: the driver submits step a; agent a completes it handing b on in the same request, b hands
  c on with ``reply_to`` the driver, c completes; the driver sees the completion on its SSE feed.
  A row per binding of the agents: a held delivery stream, long-poll claims (``--bindings``).
- chain3-sdk: the same chain written with the SDK: Worker handlers hand on with ``Result(then=...)``,
  the driver submits with an AsyncClient and follows its feed with ``listen``; a row per binding.
- chain3 declared: the driver applies a ScenarioBundle of three agent steps a → b → c; three agent
  processes complete them; the run's end reaches the driver's feed.
- fanout10 declared: a bundle with one parallel step of ten branches joined with ``policy: all``;
  fan agent processes complete the branches.
- fanout10 code-first: a supervisor (bench/supervisor.py, an intentd Worker) spawns ten children
  with ``ctx.spawn`` and joins them with ``ctx.gather``; the fan agents complete the children.
- parked: N runs waiting on a human step; database bytes per run and the server's idle CPU.
- human: a person's decision on a gated intent until a waiting claim holds it, against a submit until
  a waiting claim holds it, alternating in the same run (bench/humans.py).
- replicas (PostgreSQL): chain3-sdk with 50 in flight on one server, then on ``--replicas`` servers of
  the same database, and their throughput ratio (bench/replicas.py).

Each latency workload runs sequentially (1 in flight) and with 50 in flight; the chains and round trips
also show the server's CPU per handoff. DBOS runs a one-step workflow (against the round trips), chain3,
fanout10 and parked workflows (bench/dbos_peer.py) on a SQLite and a PostgreSQL system database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from ._blocks import Sizes, Unit, meter, run_units
from ._footprint import Usage
from ._procs import (
    REPO,
    AgentPlan,
    Server,
    agent_processes,
    fresh_database,
    intentd_server,
    pg_admin,
    supervisor_process,
)
from ._stats import Parked, Result, machine, markdown_table, parked_markdown, print_parked, print_table
from .agents import event_loop_factory
from .driver import GIVE_UP_SECONDS, Driver
from .humans import bench_humans, print_ratios, ratio_markdown
from .parked import park_intentd
from .replicas import bench_replicas, print_replicas, replica_markdown
from .sdk import bench_sdk
from .workflows import (
    BINDINGS,
    DRIVER,
    FAN,
    WORKFLOW_CHAIN,
    chain_bundle,
    fanout_bundle,
    handoff_chain,
)

WORKLOADS = ("roundtrip", "roundtrip-sdk", "chain3", "chain3-sdk", "chain3-declared", "fanout10-declared",
             "fanout10-code", "parked", "human", "replicas")  # fmt: skip
console = Console(stderr=True)


# -- intentd -------------------------------------------------------------------------------------
def driver_client(url: str, api_key: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    timeout = httpx.Timeout(GIVE_UP_SECONDS + 30)
    return httpx.AsyncClient(base_url=url, headers={"x-api-key": api_key}, limits=limits, timeout=timeout)


async def bench_intentd(
    server: Server, api_key: str, backend: str, sizes: Sizes, wanted: set[str]
) -> list[Result]:
    async with contextlib.AsyncExitStack() as clients:
        # The feed's client, and one small pool per in-flight slot (see Driver): measured, a shared
        # pool of ~100 connections cost the driver more CPU per chain than the pools of two.
        client, *slots = [
            await clients.enter_async_context(driver_client(server.url, api_key, connections))
            for connections in (4, *[2] * sizes.in_flight)
        ]
        driver = Driver(client, slots)
        feed = asyncio.create_task(driver.follow_feed())
        try:
            # Phase 1: raw HTTP agents hand on with `then`. Phase 2: the same through the SDK.
            # Phase 3: the runtime runs the workflows. Phase 4: human tasks.
            results = await bench_handoffs(server, api_key, backend, sizes, wanted, driver)
            results += await bench_sdk(server, api_key, backend, sizes, wanted)
            async with (
                agent_processes([server.url], api_key, workflow_agents(sizes, wanted)) as agents,
                supervised(server.url, api_key, sizes, "fanout10-code" in wanted) as supervisor,
            ):
                cpu = meter([server.pid], agents + supervisor)
                units = []
                if "chain3-declared" in wanted:
                    declared_chain = driver.declared(chain_bundle())
                    units.append(Unit("chain3", "intentd declared", declared_chain, cpu, handoffs=3))
                if "fanout10-declared" in wanted:
                    units.append(Unit("fanout10", "intentd declared", driver.declared(fanout_bundle()), cpu))
                if "fanout10-code" in wanted:
                    units.append(Unit("fanout10", "intentd code-first", driver.supervised, cpu))
                results += await run_units(units, backend, sizes)
            if "human" in wanted:  # the driver is the agent here: no agent processes
                results += await bench_humans(
                    server.url, api_key, backend, meter([server.pid], []), warmup=sizes.warmup,
                    sequential=sizes.chains, concurrent=sizes.concurrent, in_flight=sizes.in_flight,
                )  # fmt: skip
            return results
        finally:
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await feed


async def bench_handoffs(
    server: Server, api_key: str, backend: str, sizes: Sizes, wanted: set[str], driver: Driver
) -> list[Result]:
    """The raw HTTP path: the driver's own round trip, and a chain3 per binding (bench/agents.py
    processes on stream or claim), every binding's agents up at once on their own addresses."""
    units = []
    if "roundtrip" in wanted:
        units.append(Unit("roundtrip", "intentd", driver.roundtrip, meter([server.pid], []), handoffs=1))
    async with contextlib.AsyncExitStack() as stack:
        for binding in sizes.bindings if "chain3" in wanted else ():
            a, b, c = handoff_chain("raw", binding)
            loops = sizes.agent_loops
            plans = [
                AgentPlan(a, b, loops=loops, binding=binding),
                AgentPlan(b, c, DRIVER, loops=loops, binding=binding),
                AgentPlan(c, loops=loops, binding=binding),
            ]
            agents = await stack.enter_async_context(agent_processes([server.url], api_key, plans))
            units.append(
                Unit("chain3", f"intentd {binding}", driver.chain(a), meter([server.pid], agents), 3)
            )
        return await run_units(units, backend, sizes)


def workflow_agents(sizes: Sizes, wanted: set[str]) -> list[AgentPlan]:
    plans = []
    if "chain3-declared" in wanted:
        plans += [AgentPlan(agent, loops=sizes.agent_loops) for agent in WORKFLOW_CHAIN]
    if wanted & {"fanout10-declared", "fanout10-code"}:
        fan = AgentPlan(FAN, loops=sizes.agent_loops, max_intents=sizes.fan_max_intents)
        plans += [fan] * sizes.fan_agents
    return plans


@contextlib.asynccontextmanager
async def supervised(url: str, api_key: str, sizes: Sizes, wanted: bool) -> AsyncIterator[list[int]]:
    if not wanted:
        yield []
        return
    async with supervisor_process(url, api_key, concurrency=sizes.worker_concurrency) as pid:
        yield [pid]


# -- DBOS ----------------------------------------------------------------------------------------
async def dbos_peer(system_db: str, *options: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.dbos_peer", "--system-db", system_db, *options,
        cwd=REPO, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"bench.dbos_peer failed ({process.returncode})")
    found: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return found


async def bench_dbos(system_db: str, backend: str, sizes: Sizes, wanted: set[str]) -> list[Result]:
    workloads = []
    if wanted & {"roundtrip", "roundtrip-sdk"}:
        workloads.append("roundtrip")
    if wanted & {"chain3", "chain3-sdk", "chain3-declared", "replicas"}:
        workloads.append("chain3")
    if wanted & {"fanout10-declared", "fanout10-code"}:
        workloads.append("fanout10")
    if not workloads:
        return []
    sized = f"seq ({sizes.chains}), x{sizes.in_flight} ({sizes.concurrent})"
    console.print(f"DBOS {backend}: {', '.join(workloads)}: {sized}")
    runs = await dbos_peer(
        system_db, "--workloads", ",".join(workloads), "--chains", str(sizes.chains),
        "--concurrent-chains", str(sizes.concurrent), "--in-flight", str(sizes.in_flight),
        "--warmup", str(sizes.warmup),
    )  # fmt: skip
    results = []
    for workload in workloads:
        for key, mode in (("sequential", "seq"), ("concurrent", f"x{sizes.in_flight}")):
            block = runs[workload][key]
            usage = Usage({"DBOS": block["cpu"]}, block["cpu_wait"])
            results.append(
                Result(f"{workload} {mode}", "DBOS", backend, block["latencies"], block["wall"], usage=usage)
            )
    return results


async def park_dbos(system_db: str, backend: str, sizes: Sizes) -> Parked:
    console.print(f"DBOS {backend}: parking {sizes.dbos_parked} workflows in DBOS.recv")
    found = await dbos_peer(
        system_db, "--parked", str(sizes.dbos_parked), "--idle-seconds", str(sizes.idle_seconds),
        "--in-flight", str(sizes.in_flight),
    )  # fmt: skip
    parked = dict(found["parked"])
    parked["kind"] = f"DBOS.{parked['kind']}"
    return Parked(system="DBOS", backend=backend, **parked)


# -- a backend -----------------------------------------------------------------------------------
async def run_backend(
    backend: str, args: argparse.Namespace, sizes: Sizes, wanted: set[str]
) -> tuple[list[Result], list[Parked]]:
    results: list[Result] = []
    parked: list[Parked] = []
    with tempfile.TemporaryDirectory(prefix="intentd-bench-") as tmp:
        workdir, api_key = Path(tmp), f"itd_bench_{secrets.token_hex(16)}"
        async with (
            fresh_database(backend, args.pg_admin_dsn, workdir, "intentd") as url,
            intentd_server(url, workdir, api_key) as server,
        ):
            results += await bench_intentd(server, api_key, backend, sizes, wanted)
            if "replicas" in wanted and sizes.replicas > 1:
                if backend == "postgres":
                    results += await bench_replicas(server, url, workdir, api_key, backend, sizes)
                else:
                    console.print(f"replicas: {backend} has one server per database; PostgreSQL only")
            if "parked" in wanted:
                parked.append(
                    await park_intentd(
                        server,
                        api_key,
                        url,
                        backend,
                        runs=sizes.parked,
                        idle_seconds=sizes.idle_seconds,
                        settle_seconds=sizes.settle_seconds,
                        in_flight=sizes.in_flight,
                    )  # fmt: skip
                )
        if not args.skip_dbos:
            async with fresh_database(backend, args.pg_admin_dsn, workdir, "dbos_bench", create=False) as url:
                results += await bench_dbos(url, backend, sizes, wanted)
            if "parked" in wanted:
                async with fresh_database(
                    backend, args.pg_admin_dsn, workdir, "dbos_park", create=False
                ) as url:
                    parked.append(await park_dbos(url, backend, sizes))
    return results, parked


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Sizes, set[str]]:
    parser = argparse.ArgumentParser(description="intentd benchmark (with DBOS as the peer)")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated, of {WORKLOADS}")
    parser.add_argument("--chains", type=int, help="sequential runs per workload [200]")
    parser.add_argument("--concurrent", type=int, help="runs with --in-flight at a time [500]")
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--warmup", type=int, help="unmeasured runs first [20]")
    parser.add_argument("--agent-loops", type=int, default=4, help="claim loops per agent")
    parser.add_argument("--fan-agents", type=int, default=2, help="processes serving the fan-out branches")
    parser.add_argument("--fan-max-intents", type=int, default=16, help="intents a fan agent's claim takes")
    parser.add_argument(
        "--parked", type=int, help="intentd runs parked on a human step [10000; full: 100000]"
    )
    parser.add_argument("--dbos-parked", type=int, help="DBOS workflows parked in recv [min(--parked, 5000)]")
    parser.add_argument("--idle-seconds", type=float, help="each idle window of the parked measurement [20]")
    parser.add_argument(
        "--bindings", default=",".join(BINDINGS),
        help="how chain agents take work, a row each: stream (a held delivery stream), claim (long polls)",
    )  # fmt: skip
    parser.add_argument(
        "--replicas", type=int, default=2, help="servers on one PostgreSQL database for the replicas workload"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--skip-dbos", action="store_true")
    parser.add_argument(
        "--pg-admin-dsn",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="where fresh PostgreSQL databases are created",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    wanted = {w.strip() for w in args.workloads.split(",") if w.strip()}
    if wanted - set(WORKLOADS):
        raise SystemExit(f"unknown workload(s) {sorted(wanted - set(WORKLOADS))} (of {', '.join(WORKLOADS)})")
    bindings = tuple(b.strip() for b in args.bindings.split(",") if b.strip())
    if not bindings or set(bindings) - set(BINDINGS):
        raise SystemExit(f"--bindings: some of {', '.join(BINDINGS)}")
    chains, concurrent, warmup, parked, idle = (
        (10, 50, 3, 50, 1.0) if args.quick else (200, 500, 20, 10_000, 20.0)
    )
    parked = args.parked if args.parked is not None else parked
    sizes = Sizes(
        warmup=args.warmup if args.warmup is not None else warmup,
        chains=args.chains or chains,
        concurrent=args.concurrent or concurrent,
        in_flight=args.in_flight,
        agent_loops=args.agent_loops,
        fan_agents=args.fan_agents,
        fan_max_intents=args.fan_max_intents,
        parked=parked,
        dbos_parked=args.dbos_parked if args.dbos_parked is not None else min(parked, 5_000),
        idle_seconds=args.idle_seconds if args.idle_seconds is not None else idle,
        settle_seconds=1.0 if args.quick else 12.0,  # 12 > the agents' claim wait_seconds (10)
        bindings=bindings,
        replicas=args.replicas,
    )
    return args, sizes, wanted


async def amain(
    args: argparse.Namespace, sizes: Sizes, wanted: set[str]
) -> tuple[list[Result], list[Parked]]:
    results: list[Result] = []
    parked: list[Parked] = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend not in ("sqlite", "postgres"):
            raise SystemExit(f"unknown backend {backend!r} (sqlite, postgres)")
        found, footprint = await run_backend(backend, args, sizes, wanted)
        results += found
        parked += footprint
    return results, parked


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: on 2 cores, anything else running shows here."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main(argv: list[str] | None = None) -> None:
    args, sizes, wanted = parse_args(argv)
    info = machine()
    info["sqlite"] = sqlite3.sqlite_version
    if "postgres" in args.backends:
        info["postgresql"] = asyncio.run(pg_admin(args.pg_admin_dsn, "SHOW server_version"))
    info["date"] = time.strftime("%Y-%m-%d %H:%M %Z")
    info["load before"] = load_average()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        results, parked = runner.run(amain(args, sizes, wanted))
    info["load after"] = load_average()
    out = Console(width=None if sys.stdout.isatty() else 200)
    out.print(" | ".join(f"{k}: {v}" for k, v in info.items()))
    out.print(f"sizes: {sizes}")
    print_table(results, out)
    print_ratios(results, out)
    print_replicas(results, out)
    if parked:
        print_parked(parked, out)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": info,
                    "sizes": sizes.__dict__,
                    "results": [r.summary() for r in results],
                    "parked": [p.summary() for p in parked],
                    "markdown": markdown_table(results),
                    "parked_markdown": parked_markdown(parked),
                    "human_markdown": ratio_markdown(results),
                    "replicas_markdown": replica_markdown(results),
                },
                indent=2,
            )
        )
    if any(r.failed for r in results) or any(p.failed for p in parked):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
