"""Parked runs on intentd: N declared runs each waiting on a human step (``workflows.parked_bundle``),
created over HTTP, then left alone. What they cost: the database's bytes per run, and the server's
CPU time over an idle window, against the same window before they were created.

A run waiting on a person is an intent row, its events, its journal entry, its plan and its step's
intent (WAITING, no lease, no timer): nothing in the server's memory and nothing to poll. The
target is 100,000 of them costing no CPU while idle (``--parked 100000``).

The measurement runs after the other workloads, on the same server, with every client gone: no
agent processes, no driver stream. The server is first left alone long enough for the agents' last
long-poll claims to end (``settle_seconds``), so that both idle windows see the same quiet server.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from rich.console import Console

from ._footprint import database_bytes, idle_cpu, rss_bytes
from ._procs import Server
from ._stats import Parked
from .driver import ChainFailed, Driver, measure
from .workflows import parked_bundle

PROGRESS_EVERY = 10_000
console = Console(stderr=True)


async def park_intentd(
    server: Server,
    api_key: str,
    database_url: str,
    backend: str,
    *,
    runs: int,
    idle_seconds: float,
    settle_seconds: float,
    in_flight: int,
) -> Parked:
    schema = "public"
    await asyncio.sleep(settle_seconds)
    bytes_before, rss_before = await database_bytes(database_url, schema), rss_bytes(server.pid)
    cpu_empty = await idle_cpu(server.pid, idle_seconds)
    console.print(f"intentd {backend}: parking {runs} runs ({in_flight} applies in flight)")
    created, wall, failed = await _create(server.url, api_key, runs, in_flight)
    await asyncio.sleep(2.0)  # the last commits, then nothing
    cpu_parked = await idle_cpu(server.pid, idle_seconds)
    return Parked(
        system="intentd",
        backend=backend,
        kind="human step",
        runs=created,
        create_seconds=wall,
        bytes_before=bytes_before,
        bytes_after=await database_bytes(database_url, schema),
        idle_seconds=idle_seconds,
        idle_cpu_empty=cpu_empty,
        idle_cpu_parked=cpu_parked,
        rss_before=rss_before,
        rss_after=rss_bytes(server.pid),
        failed=failed,
    )


async def _create(url: str, api_key: str, runs: int, in_flight: int) -> tuple[int, float, int]:
    bundle = parked_bundle()
    limits = httpx.Limits(max_connections=in_flight + 2, max_keepalive_connections=in_flight + 2)
    async with httpx.AsyncClient(
        base_url=url, headers={"x-api-key": api_key}, limits=limits, timeout=httpx.Timeout(60)
    ) as client:
        driver = Driver(client)
        count = 0

        async def park(_slot: int) -> float:
            nonlocal count
            started = time.perf_counter()
            applied = await driver.apply(bundle)
            if applied["status"] != "WAITING":
                raise ChainFailed(f"run {applied['intent_id']} is {applied['status']}, not parked")
            count += 1
            if count % PROGRESS_EVERY == 0:
                console.print(f"  {count} parked")
            return time.perf_counter() - started

        latencies, wall, failed = await measure(park, runs, in_flight)
    return len(latencies), wall, failed
