"""Replicas: does a second ``intentd serve`` on the same PostgreSQL database add throughput?

The SDK chain of three (bench/sdk.py: Worker processes, an AsyncClient driver) with ``in_flight`` at
a time, first against the benchmark's server alone, then with ``sizes.replicas`` servers on its
database: agent process i and driver slot j talk to replica ``i mod n`` and ``j mod n``, the driver's
feed is followed on the first. Work submitted on one replica reaches an agent held by another through
PostgreSQL's NOTIFY. Each count of replicas has its own addresses, so nothing of one block is left
in the next one's feeds. One row per count (server CPU is every replica's), and their ratio.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ._blocks import Sizes, Unit, meter, run_units
from ._procs import Server, agent_processes, intentd_server
from ._stats import Result, _markdown
from .sdk import sdk_chain, sdk_driver
from .workflows import handoff_chain

REPLICATED = re.compile(r"(.+), (\d+) replicas?")  # a row's system: "intentd SDK stream, 2 replicas"


def system_name(binding: str, replicas: int) -> str:
    return f"intentd SDK {binding}, {replicas} replica" + ("s" if replicas > 1 else "")


async def bench_replicas(
    first: Server, database_url: str, workdir: Path, api_key: str, backend: str, sizes: Sizes
) -> list[Result]:
    """chain3 x``in_flight`` on one replica, then on ``sizes.replicas`` (the Worker's first binding)."""
    binding = sizes.bindings[0]
    results: list[Result] = []
    async with contextlib.AsyncExitStack() as started:
        servers = [first]
        for count in (1, sizes.replicas):
            while len(servers) < count:
                name = f"intentd-replica-{len(servers) + 1}"
                servers.append(
                    await started.enter_async_context(intentd_server(database_url, workdir, api_key, name))
                )
            urls = [server.url for server in servers]
            reply_to = f"agent://bench/replicas{count}-driver"
            plans = sdk_chain(handoff_chain(f"replicas{count}", binding), binding, sizes, reply_to)
            async with (
                sdk_driver(urls, api_key, sizes.in_flight, reply_to) as driver,
                agent_processes(urls, api_key, plans) as agents,
            ):
                cpu = meter([server.pid for server in servers], agents)
                unit = Unit(
                    "chain3", system_name(binding, count), driver.chain(plans[0].agent), cpu, handoffs=3
                )
                results += await run_units([unit], backend, sizes, concurrent_only=True)
    return results


def replica_rows(results: Sequence[Result]) -> list[list[str]]:
    """Per backend and system: one replica's row against the most replicas' (throughput, p50, p99,
    server CPU per handoff) and the throughput ratio."""
    counted: dict[tuple[str, str, str], dict[int, Result]] = {}
    for r in results:
        named = REPLICATED.fullmatch(r.system)
        if named and r.latencies:
            counted.setdefault((r.backend, r.workload, named[1]), {})[int(named[2])] = r
    rows = []
    for (backend, workload, system), by_count in counted.items():
        most = max(by_count)
        if 1 not in by_count or most == 1:
            continue
        one, many = by_count[1], by_count[most]
        handoff = [r.server_ms_per_handoff() or 0.0 for r in (one, many)]
        rows.append(
            [
                backend, workload, system, str(most),
                f"{one.throughput:.0f} → {many.throughput:.0f}",
                f"{one.p50_ms:.0f} → {many.p50_ms:.0f}",
                f"{one.p99_ms:.0f} → {many.p99_ms:.0f}",
                f"{handoff[0]:.2f} → {handoff[1]:.2f}",
                f"{many.throughput / one.throughput:.2f}x",
            ]
        )  # fmt: skip
    return rows


COLUMNS = [
    "backend", "workload", "system", "replicas", "per s (1 → n)", "p50 ms", "p99 ms", "server ms/handoff",
    "throughput n/1",
]  # fmt: skip


def print_replicas(results: Sequence[Result], out: Console) -> None:
    rows = replica_rows(results)
    if not rows:
        return
    table = Table(title="replicas on one PostgreSQL database: n replicas against one, same run")
    for name in COLUMNS:
        table.add_column(name)
    for row in rows:
        table.add_row(*row)
    out.print(table)


def replica_markdown(results: Sequence[Result]) -> str:
    rows = replica_rows(results)
    return _markdown(COLUMNS, rows) if rows else ""
