"""Percentiles, one result row per (workload, system, backend) with its ratios to DBOS, the parked
runs' footprint, the printed tables and the machine description that goes with them."""

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

from ._footprint import Usage

PEER = "DBOS"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): always a latency that was actually observed."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Result:
    workload: str  # "roundtrip seq", "chain3 x50", "fanout10 seq", …
    system: str  # "intentd" (then handoffs), "intentd declared", "intentd code-first" or "DBOS"
    backend: str  # "sqlite" or "postgres"
    latencies: Sequence[float]  # seconds, one per completed unit of work
    wall: float  # seconds for the whole run, for throughput
    failed: int = 0
    usage: Usage | None = None  # CPU of each part of the system, and the machine's CPU pressure
    handoffs: int = 0  # intents handed to an agent per unit (3 per chain3; 0: not counted)

    def cpu_ms(self, part: str | None = None) -> float:
        """CPU milliseconds per completed unit, of one part or of all of them."""
        if self.usage is None or not self.latencies:
            return 0.0
        used = self.usage.cpu.get(part, 0.0) if part else sum(self.usage.cpu.values())
        return used * 1000 / len(self.latencies)

    def server_ms_per_handoff(self) -> float | None:
        """The server's CPU milliseconds per handoff (every replica's, when there are several)."""
        if not self.handoffs or self.usage is None or "server" not in self.usage.cpu or not self.latencies:
            return None
        return self.cpu_ms("server") / self.handoffs

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
            "cpu_ms_per_unit": {part: self.cpu_ms(part) for part in (self.usage.cpu if self.usage else {})},
            "handoffs_per_unit": self.handoffs,
            "server_cpu_ms_per_handoff": self.server_ms_per_handoff(),
            "cpu_wait": self.usage.cpu_wait if self.usage else None,
        }


def peer_of(ours: Result, results: Sequence[Result]) -> Result | None:
    """DBOS's row for the same workload and backend, measured in the same run."""
    if not ours.system.startswith("intentd") or not ours.latencies:
        return None
    same = (PEER, ours.workload, ours.backend)
    return next((p for p in results if (p.system, p.workload, p.backend) == same and p.latencies), None)


def ratio(ours: Result, results: Sequence[Result]) -> str:
    """intentd vs DBOS on the same workload and backend: median and p99 ratios (below 1: intentd is
    faster) and the throughput ratio (above 1: intentd does more per second)."""
    peer = peer_of(ours, results)
    if peer is None:
        return ""
    return (
        f"p50 {ours.p50_ms / peer.p50_ms:.2f}x, p99 {ours.p99_ms / peer.p99_ms:.2f}x, "
        f"thr {ours.throughput / peer.throughput:.2f}x"
    )


COLUMNS = [
    "workload", "system", "backend", "n", "p50 ms", "p99 ms", "max ms", "per s", "CPU ms/unit",
    "server ms/handoff", "cpu wait", "intentd/DBOS",
]  # fmt: skip
LEFT = ("workload", "system", "backend", "CPU ms/unit", "intentd/DBOS")


def rows(results: Sequence[Result]) -> list[list[str]]:
    return [_row(r, results) for r in results]


def _row(r: Result, results: Sequence[Result]) -> list[str]:
    count = f"{len(r.latencies)}" + (f" ({r.failed} failed)" if r.failed else "")
    if not r.latencies:
        return [r.workload, r.system, r.backend, count, "-", "-", "-", "-", "-", "-", "-", ""]
    cpu = f"{r.cpu_ms():.1f}"
    if r.usage and "server" in r.usage.cpu:
        cpu += f" (server {r.cpu_ms('server'):.1f})"
    wait = f"{100 * r.usage.cpu_wait:.0f} %" if r.usage and r.usage.cpu_wait is not None else "-"
    per_handoff = r.server_ms_per_handoff()
    return [
        r.workload,
        r.system,
        r.backend,
        count,
        f"{r.p50_ms:.1f}",
        f"{r.p99_ms:.1f}",
        f"{r.max_ms:.1f}",
        f"{r.throughput:.0f}",
        cpu,
        "-" if per_handoff is None else f"{per_handoff:.2f}",
        wait,
        ratio(r, results),
    ]


def print_table(results: Sequence[Result], console: Console) -> None:
    table = Table(title="intentd benchmark (latency: submit -> done seen by the driver)")
    for name in COLUMNS:
        table.add_column(name, justify="left" if name in LEFT else "right")
    for row in rows(results):
        table.add_row(*row)
    console.print(table)


def markdown_table(results: Sequence[Result]) -> str:
    return _markdown(COLUMNS, rows(results))


def _markdown(columns: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


# -- parked runs -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Parked:
    """N runs parked (waiting on a person: nothing to do until one answers) and what they cost."""

    system: str
    backend: str
    kind: str  # what they wait in: "human step", "DBOS.recv", "DBOS.sleep"
    runs: int  # parked
    create_seconds: float  # to create them all
    bytes_before: int  # the database's bytes before they were created
    bytes_after: int
    idle_seconds: float  # the length of each idle window
    idle_cpu_empty: float  # CPU seconds over an idle window before they were created
    idle_cpu_parked: float  # … and with them parked
    rss_before: int  # the server's (DBOS: the application's) resident memory
    rss_after: int
    failed: int = 0

    @property
    def bytes_per_run(self) -> float:
        return (self.bytes_after - self.bytes_before) / max(self.runs, 1)

    @property
    def cpu_percent(self) -> float:
        """CPU used with the runs parked, in % of one core."""
        return 100 * self.idle_cpu_parked / self.idle_seconds

    def summary(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "bytes_per_run": self.bytes_per_run,
            "idle_cpu_percent": self.cpu_percent,
            "created_per_second": self.runs / self.create_seconds if self.create_seconds else 0,
        }


PARKED_COLUMNS = [
    "system", "backend", "parked in", "runs", "created/s", "bytes/run", "idle CPU, none parked",
    "idle CPU, parked", "RSS MiB before → after", "bytes/run vs DBOS",
]  # fmt: skip


def parked_rows(parked: Sequence[Parked]) -> list[list[str]]:
    out = []
    for p in parked:
        peer = next((q for q in parked if q.system == PEER and q.backend == p.backend), None)
        versus = ""
        if p.system != PEER and peer is not None and peer.bytes_per_run > 0:
            versus = f"{p.bytes_per_run / peer.bytes_per_run:.2f}x"
        runs = f"{p.runs}" + (f" ({p.failed} failed)" if p.failed else "")
        out.append(
            [
                p.system,
                p.backend,
                p.kind,
                runs,
                f"{p.runs / p.create_seconds:.0f}" if p.create_seconds else "-",
                f"{p.bytes_per_run:.0f}",
                f"{p.idle_cpu_empty:.2f} s / {p.idle_seconds:.0f} s",
                f"{p.idle_cpu_parked:.2f} s / {p.idle_seconds:.0f} s ({p.cpu_percent:.1f} %)",
                f"{p.rss_before / 2**20:.0f} → {p.rss_after / 2**20:.0f}",
                versus,
            ]
        )
    return out


def print_parked(parked: Sequence[Parked], console: Console) -> None:
    table = Table(title="parked runs: database bytes per run, CPU while idle")
    for name in PARKED_COLUMNS:
        table.add_column(name, justify="right" if name in ("runs", "created/s", "bytes/run") else "left")
    for row in parked_rows(parked):
        table.add_row(*row)
    console.print(table)


def parked_markdown(parked: Sequence[Parked]) -> str:
    return _markdown(PARKED_COLUMNS, parked_rows(parked))


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
