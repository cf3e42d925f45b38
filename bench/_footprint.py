"""What work costs besides wall time: the bytes a database holds (SQLite pages in use, PostgreSQL
relations with their indexes and TOAST), a process's CPU time and memory (/proc), CPU per unit of
work for a group of processes, and how contended the machine's CPUs were meanwhile (PSI)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

SQLITE_PREFIX = "sqlite:///"


async def database_bytes(url: str, schema: str) -> int:
    """Bytes the database at ``url`` holds: for SQLite the pages in use (what the file holds after a
    checkpoint, the WAL's committed pages included, free pages not); for PostgreSQL
    ``pg_total_relation_size`` of every table of ``schema`` (heap, indexes, TOAST)."""
    if url.startswith(SQLITE_PREFIX):
        return await asyncio.to_thread(_sqlite_bytes, Path(url.removeprefix(SQLITE_PREFIX)))
    conn = await asyncpg.connect(url, timeout=10)
    try:
        size = await conn.fetchval(
            """SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'm')""",
            schema,
        )
        return int(size)
    finally:
        await conn.close()


def _sqlite_bytes(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        (free,) = conn.execute("PRAGMA freelist_count").fetchone()
        return int(page_size) * (int(pages) - int(free))
    finally:
        conn.close()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process ``pid`` has used (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def idle_cpu(pid: int, seconds: float) -> float:
    """CPU seconds ``pid`` uses while this process sleeps ``seconds`` (sends it nothing)."""
    before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return cpu_seconds(pid) - before


# -- CPU per unit of work, and how contended the machine was ---------------------------------------
def cpu_wait_micros() -> int | None:
    """Microseconds in which some runnable task waited for a CPU, machine-wide (Linux PSI,
    ``/proc/pressure/cpu``); None where the kernel does not say."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return int(line.rsplit("total=", 1)[1])


@dataclass(frozen=True)
class Usage:
    """CPU seconds each part of a system used over a measured block, and the share of that block's
    wall time in which some task on the machine waited for a CPU (0: nothing competed)."""

    cpu: dict[str, float]
    cpu_wait: float | None


class Meter:
    """Samples the CPU counters of named groups of processes (``{"server": [pid], …}``) and the
    machine's CPU pressure around a block of work."""

    def __init__(self, parts: dict[str, list[int]]) -> None:
        self.parts = parts

    def sample(self) -> tuple[dict[str, float], int | None, float]:
        cpu = {name: sum(_cpu_or_zero(pid) for pid in pids) for name, pids in self.parts.items()}
        return cpu, cpu_wait_micros(), time.perf_counter()

    def since(self, before: tuple[dict[str, float], int | None, float]) -> Usage:
        cpu0, wait0, t0 = before
        cpu1, wait1, t1 = self.sample()
        wait = None if wait0 is None or wait1 is None else (wait1 - wait0) / 1e6 / max(t1 - t0, 1e-9)
        return Usage({name: cpu1[name] - cpu0[name] for name in cpu1}, wait)


def _cpu_or_zero(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except (OSError, IndexError, ValueError):
        return 0.0  # a process that is gone counts no more
