"""Measured blocks: the sizes of a run, a unit of work with the processes it costs, and ``run_units``,
which warms every unit up and then measures each one at a time and with ``in_flight`` at a time."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from rich.console import Console

from ._footprint import Meter
from ._stats import Result
from .driver import measure

console = Console(stderr=True)
Work = Callable[[int], Awaitable[float]]


@dataclass(frozen=True)
class Sizes:
    warmup: int
    chains: int  # sequential runs
    concurrent: int  # runs with `in_flight` at a time
    in_flight: int
    agent_loops: int  # concurrent claim loops per agent process
    fan_agents: int  # processes serving the fan-out's branches
    fan_max_intents: int  # intents one claim of a fan agent takes at most
    parked: int  # intentd runs parked on a human step
    dbos_parked: int  # DBOS workflows parked in recv
    idle_seconds: float  # each idle window of the parked measurement
    settle_seconds: float  # quiet time before the first idle window (the agents' long polls end)
    bindings: tuple[str, ...] = ("stream", "claim")  # the handoff chains' rows, one per binding
    replicas: int = 2  # intentd serve processes on one PostgreSQL database (the replicas workload)

    @property
    def worker_concurrency(self) -> int:
        """Handlers a Worker runs at once: every unit in flight, with room to spare."""
        return self.in_flight + 14


@dataclass(frozen=True)
class Unit:
    workload: str  # "chain3", "fanout10", …: the row's name, and DBOS's workload to compare with
    system: str  # "intentd stream", "intentd SDK claim", …
    work: Work
    meter: Meter  # the processes whose CPU the unit costs
    handoffs: int = 0  # intents an agent is handed per unit (3 per chain3), for server CPU per handoff


def meter(servers: Sequence[int], agents: Sequence[int]) -> Meter:
    """CPU per unit: the server(s), the agent processes (and supervisor), and this driver."""
    return Meter({"server": list(servers), "agents": list(agents), "driver": [os.getpid()]})


async def run_units(
    units: Sequence[Unit], backend: str, sizes: Sizes, *, concurrent_only: bool = False
) -> list[Result]:
    """Warm-up runs of every unit first (they also wait for the agents to start), then each unit
    one at a time (unless ``concurrent_only``) and with ``in_flight`` at a time."""
    for unit in units:
        _, _, failed = await measure(unit.work, sizes.warmup, 1)
        if failed:  # not counted, but said: a unit lost while the agents start is worth knowing
            console.print(f"[yellow]{unit.system} {backend}: {unit.workload}: {failed} warm-up(s) failed")
    results = []
    for unit in units:
        for in_flight in (sizes.in_flight,) if concurrent_only else (1, sizes.in_flight):
            count = sizes.chains if in_flight == 1 else sizes.concurrent
            label = f"{unit.workload} seq" if in_flight == 1 else f"{unit.workload} x{in_flight}"
            before = unit.meter.sample()
            latencies, wall, failed = await measure(unit.work, count, in_flight)
            usage = unit.meter.since(before)
            console.print(f"{unit.system} {backend}: {label}: {count} in {wall:.1f} s")
            results.append(Result(label, unit.system, backend, latencies, wall, failed, usage, unit.handoffs))
    return results
