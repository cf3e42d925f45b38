"""The DBOS Transact peer: the same chain of 3 steps (each returns x + 1) as a durable DBOS workflow.

Run as its own process per system database (``python -m bench.dbos_chain --system-db URL``) because
DBOS keeps global state (one instance, a registry of decorated functions) that must not leak from one
backend's run into the next. It prints one JSON line: the latencies (seconds) and wall times of the
sequential and the concurrent runs, which ``bench.run`` turns into table rows.

Steps run in this process, in DBOS's executor threads; each step's output and the workflow's status
are checkpointed in the system database (that is what makes DBOS durable), so a chain is a handful of
commits but no process hop and no HTTP.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from dbos import DBOS, DBOSConfig


@DBOS.step()
def add_one(x: int) -> int:
    return x + 1


@DBOS.workflow()
def chain3(x: int) -> int:
    return add_one(add_one(add_one(x)))


def one_chain(x: int) -> float:
    """Submit a workflow and wait for its result; returns the latency in seconds."""
    started = time.perf_counter()
    result = DBOS.start_workflow(chain3, x).get_result()
    elapsed = time.perf_counter() - started
    if result != x + 3:
        raise RuntimeError(f"chain3({x}) returned {result}")
    return elapsed


def sequential(count: int) -> tuple[list[float], float]:
    started = time.perf_counter()
    latencies = [one_chain(i) for i in range(count)]
    return latencies, time.perf_counter() - started


def concurrent(count: int, in_flight: int) -> tuple[list[float], float]:
    # One thread per chain in flight, each submitting and waiting: the same shape as intentd's
    # driver (a semaphore of `in_flight` submit-and-wait tasks).
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as pool:
        latencies = list(pool.map(one_chain, range(count)))
    return latencies, time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system-db", required=True, help="sqlite:///file or postgresql://…")
    parser.add_argument("--chains", type=int, default=200, help="sequential chains")
    parser.add_argument("--concurrent-chains", type=int, default=500)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=20)
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
    try:
        for i in range(args.warmup):
            one_chain(i)
        seq, seq_wall = sequential(args.chains)
        con, con_wall = concurrent(args.concurrent_chains, args.in_flight)
    finally:
        DBOS.destroy()
    json.dump(
        {
            "sequential": {"latencies": seq, "wall": seq_wall},
            "concurrent": {"latencies": con, "wall": con_wall},
        },
        sys.stdout,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
