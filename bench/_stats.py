"""Percentiles, one result row per (workload, system, backend), the printed table and the machine
description that goes with it."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

CHAIN_WORKLOADS = ("chain3 seq", "chain3 x50")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): always a latency that was actually observed."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Result:
    workload: str  # "roundtrip seq", "chain3 x50", …
    system: str  # "intentd" or "DBOS"
    backend: str  # "sqlite" or "postgres"
    latencies: Sequence[float]  # seconds, one per completed unit of work
    wall: float  # seconds for the whole run, for throughput
    failed: int = 0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 99) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.latencies) * 1000

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall

    def summary(self) -> dict[str, Any]:
        if not self.latencies:
            return {
                "workload": self.workload,
                "system": self.system,
                "backend": self.backend,
                "n": 0,
                "failed": self.failed,
            }
        return {
            "workload": self.workload,
            "system": self.system,
            "backend": self.backend,
            "n": len(self.latencies),
            "failed": self.failed,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "per_second": self.throughput,
        }


def ratio(ours: Result, results: Sequence[Result]) -> str:
    """intentd vs DBOS on the same chain workload and backend: throughput ratio (>1: intentd does
    more per second) and median ratio (<1: intentd is faster)."""
    if ours.system != "intentd" or ours.workload not in CHAIN_WORKLOADS:
        return ""
    for peer in results:
        if (peer.system, peer.workload, peer.backend) == (
            "DBOS",
            ours.workload,
            ours.backend,
        ) and peer.latencies:
            return f"thr {ours.throughput / peer.throughput:.2f}x, p50 {ours.p50_ms / peer.p50_ms:.2f}x"
    return ""


COLUMNS = ["workload", "system", "backend", "n", "p50 ms", "p99 ms", "max ms", "per s", "intentd/DBOS"]


def rows(results: Sequence[Result]) -> list[list[str]]:
    return [_row(r, results) for r in results]


def _row(r: Result, results: Sequence[Result]) -> list[str]:
    count = f"{len(r.latencies)}" + (f" ({r.failed} failed)" if r.failed else "")
    if not r.latencies:
        return [r.workload, r.system, r.backend, count, "-", "-", "-", "-", ""]
    return [
        r.workload,
        r.system,
        r.backend,
        count,
        f"{r.p50_ms:.1f}",
        f"{r.p99_ms:.1f}",
        f"{r.max_ms:.1f}",
        f"{r.throughput:.0f}",
        ratio(r, results),
    ]


def print_table(results: Sequence[Result], console: Console) -> None:
    table = Table(title="intentd benchmark (latency: submit -> done seen by the driver)")
    for name in COLUMNS:
        table.add_column(
            name, justify="left" if name in ("workload", "system", "backend", "intentd/DBOS") else "right"
        )
    for row in rows(results):
        table.add_row(*row)
    console.print(table)


def markdown_table(results: Sequence[Result]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results)]
    return "\n".join(lines)


def machine() -> dict[str, str]:
    """What docs/benchmarks.md records next to the numbers."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    versions = ", ".join(
        f"{name} {_version(name)}"
        for name in ("intentd", "dbos", "uvicorn", "httpx", "asyncpg", "SQLAlchemy")
    )
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "os": platform.platform(),
        "versions": versions,
    }


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "-"
