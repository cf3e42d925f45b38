"""The DBOS Transact peer: the benchmark's workloads as durable DBOS workflows.

- ``roundtrip``: a workflow calling one step that returns ``x + 1`` (submit → the step ran → the
  result seen by the submitter: intentd's SDK round trip).
- ``chain3``: a workflow calling three steps in turn, each returning ``x + 1``.
- ``fanout10``: an async workflow starting ten async steps at once (``asyncio.gather``) and joining
  all of them; each returns ``x + 1``, the workflow their sum. This is DBOS's fastest fan-out: steps
  in the workflow's own event loop, each checkpointed (child workflows cost more).
- ``--parked N``: N async workflows parked in ``DBOS.recv_async`` (a message nobody sends: the
  analogue of a run waiting on a person) or, with ``--park sleep``, in a day-long ``DBOS.sleep_async``;
  it reports the system database's bytes before and after and this process's CPU time over an idle
  window with nothing parked and with the N parked.

Run as its own process per system database (``python -m bench.dbos_peer --system-db URL``) because
DBOS keeps global state (one instance, a registry of decorated functions) that must not leak from one
backend's run into the next. It prints one JSON line, which ``bench.run`` turns into table rows.

Steps run in this process (chains in DBOS's executor threads, fan-outs in the event loop); each
step's output and the workflow's status are checkpointed in the system database (that is what makes
DBOS durable), so a workflow is a handful of commits but no process hop and no HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dbos import DBOS, DBOSConfig

from ._footprint import Meter, database_bytes, idle_cpu, rss_bytes

FANOUT = 10
PARK_SECONDS = 86_400.0
SETTLE_SECONDS = 3.0  # after the last start, for every workflow to reach its recv or sleep


@DBOS.step()
def add_one(x: int) -> int:
    return x + 1


@DBOS.workflow()
def roundtrip(x: int) -> int:
    return add_one(x)


@DBOS.workflow()
def chain3(x: int) -> int:
    return add_one(add_one(add_one(x)))


STEPS = {"roundtrip": (roundtrip, 1), "chain3": (chain3, 3)}  # sync workflows, and the steps they add


@DBOS.step()
async def add_one_async(x: int) -> int:
    return x + 1


@DBOS.workflow()
async def fanout10(x: int) -> int:
    results = await asyncio.gather(*(add_one_async(x) for _ in range(FANOUT)))
    return sum(results)


@DBOS.workflow()
async def parked_in_recv(x: int) -> int:
    await DBOS.recv_async("never-sent", timeout_seconds=PARK_SECONDS)
    return x


@DBOS.workflow()
async def parked_in_sleep(x: int) -> int:
    await DBOS.sleep_async(PARK_SECONDS)
    return x


# -- roundtrip, chain3: threads, as a sync DBOS application does -----------------------------------
def one_run(workload: str, x: int) -> float:
    """Submit a workflow and wait for its result; returns the latency in seconds."""
    workflow, steps = STEPS[workload]
    started = time.perf_counter()
    result = DBOS.start_workflow(workflow, x).get_result()
    elapsed = time.perf_counter() - started
    if result != x + steps:
        raise RuntimeError(f"{workload}({x}) returned {result}")
    return elapsed


def chains(args: argparse.Namespace, workload: str) -> dict[str, Any]:
    run = functools.partial(one_run, workload)
    for i in range(args.warmup):
        run(i)
    meter = Meter({"DBOS": [os.getpid()]})
    before = meter.sample()
    seq = [run(i) for i in range(args.chains)]
    sequential = block(seq, meter, before)
    # One thread per chain in flight, each submitting and waiting: the same shape as intentd's
    # driver (``in_flight`` submit-and-wait tasks).
    before = meter.sample()
    with ThreadPoolExecutor(max_workers=args.in_flight) as pool:
        con = list(pool.map(run, range(args.concurrent_chains)))
    return {"sequential": sequential, "concurrent": block(con, meter, before)}


def block(
    latencies: list[float], meter: Meter, before: tuple[dict[str, float], int | None, float]
) -> dict[str, Any]:
    """A measured block: its latencies, wall time, this process's CPU seconds and the CPU pressure."""
    usage = meter.since(before)
    return {
        "latencies": latencies,
        "wall": time.perf_counter() - before[2],
        "cpu": usage.cpu["DBOS"],
        "cpu_wait": usage.cpu_wait,
    }


# -- fanout10: the event loop, as an async DBOS application does --------------------------------
async def one_fanout(x: int) -> float:
    started = time.perf_counter()
    handle = await DBOS.start_workflow_async(fanout10, x)
    result = await handle.get_result()
    elapsed = time.perf_counter() - started
    if result != FANOUT * (x + 1):
        raise RuntimeError(f"fanout10({x}) returned {result}")
    return elapsed


async def in_flight(
    work: Callable[[int], Awaitable[float]], count: int, width: int
) -> tuple[list[float], float]:
    numbers = iter(range(count))
    latencies: list[float] = []

    async def slot() -> None:
        for i in numbers:
            latencies.append(await work(i))

    started = time.perf_counter()
    await asyncio.gather(*(slot() for _ in range(min(width, count))))
    return latencies, time.perf_counter() - started


async def fanouts(args: argparse.Namespace) -> dict[str, Any]:
    for i in range(args.warmup):
        await one_fanout(i)
    meter = Meter({"DBOS": [os.getpid()]})
    before = meter.sample()
    seq, _ = await in_flight(one_fanout, args.chains, 1)
    sequential = block(seq, meter, before)
    before = meter.sample()
    con, _ = await in_flight(one_fanout, args.concurrent_chains, args.in_flight)
    return {"sequential": sequential, "concurrent": block(con, meter, before)}


# -- parked workflows ------------------------------------------------------------------------------
async def parked(args: argparse.Namespace) -> None:
    workflow = parked_in_recv if args.park == "recv" else parked_in_sleep
    pid, schema = os.getpid(), "dbos"
    await asyncio.sleep(SETTLE_SECONDS)
    bytes_before, rss_before = await database_bytes(args.system_db, schema), rss_bytes(pid)
    cpu_empty = await idle_cpu(pid, args.idle_seconds)

    async def start(i: int) -> float:
        started = time.perf_counter()
        await DBOS.start_workflow_async(workflow, i)
        return time.perf_counter() - started

    _, create_wall = await in_flight(start, args.parked, args.in_flight)
    await asyncio.sleep(SETTLE_SECONDS)
    cpu_parked = await idle_cpu(pid, args.idle_seconds)
    found = {
        "runs": args.parked,
        "kind": args.park,
        "create_seconds": create_wall,
        "bytes_before": bytes_before,
        "bytes_after": await database_bytes(args.system_db, schema),
        "idle_seconds": args.idle_seconds,
        "idle_cpu_empty": cpu_empty,
        "idle_cpu_parked": cpu_parked,
        "rss_before": rss_before,
        "rss_after": rss_bytes(pid),
    }
    # Leave from here: asyncio.run would cancel the N parked workflows one by one, each with a
    # warning, and DBOS's shutdown waits for its threads. The database is dropped after.
    emit({"parked": found})
    os._exit(0)


def emit(out: dict[str, Any]) -> None:
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system-db", required=True, help="sqlite:///file or postgresql://…")
    parser.add_argument("--workloads", default="roundtrip,chain3,fanout10", help="comma-separated")
    parser.add_argument("--chains", type=int, default=200, help="sequential runs per workload")
    parser.add_argument("--concurrent-chains", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--parked", type=int, default=0, help="park this many workflows instead")
    parser.add_argument("--park", choices=("recv", "sleep"), default="recv")
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args(argv)

    logging.getLogger("dbos").setLevel(logging.WARNING)
    config: DBOSConfig = {
        "name": "intentd-bench",
        "system_database_url": args.system_db,
        "log_level": "WARNING",
        # enough executor threads that 50 submitted workflows all run at once
        "max_executor_threads": max(64, args.in_flight * 2),
    }
    DBOS(config=config)
    DBOS.launch()
    if args.parked:
        asyncio.run(parked(args))  # prints and exits
    out: dict[str, Any] = {}
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for workload in STEPS:
        if workload in workloads:
            out[workload] = chains(args, workload)
    if "fanout10" in workloads:
        out["fanout10"] = asyncio.run(fanouts(args))
    DBOS.destroy()
    emit(out)


if __name__ == "__main__":
    main()
