"""A Worker's CPU per handoff on a held delivery stream (issue 16: "the hot path", the agent's side).

    .venv/bin/python -m bench.worker_probe                          # 7 rounds of 300 handoffs
    .venv/bin/python -m bench.worker_probe --baseline-src OTHER/src # this code against another's
    .venv/bin/python -m bench.worker_probe --profile out.prof       # cProfile of the Worker

``intentd serve`` runs on a fresh SQLite file. Each Worker is a process of its own (``--serve-agent``,
on uvloop as the bench's agents are) with one handler that hands its intent on to itself,
``Result({"x": x + 1}, then=[IntentSpec(itself, ...)])``, until ``x`` reaches ``--handoffs``: a chain of
handoffs like the bench's chain3-sdk, each one a delivery pushed on the Worker's stream, the handler's
task and one completion carrying the next step. The last step replies to this process, which follows
its feed (``listen``) and starts the next chain. The Worker's CPU (``/proc``, all its threads) over a
chain, divided by its handoffs, is what the agent's side of one handoff costs; wall time per handoff is
shown too, but on a busy machine it moves with everything else.

With ``--baseline-src`` a second Worker runs the intentd package found in that directory (a checkout of
another commit), and the rounds alternate between the two, so load from elsewhere hits both alike; the
report gives the ratio current/baseline of each round and their median.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ._footprint import cpu_seconds
from ._procs import intentd_server, stop
from .agents import event_loop_factory

INTENT_TYPE = "probe.handoff.v1"
TERMINAL = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


# --- the Worker's process --------------------------------------------------------------------------


async def serve_agent(args: argparse.Namespace) -> None:
    from intentd.client import AsyncClient, IntentSpec  # the package this process was given
    from intentd.worker import AsyncContext, Result, Worker

    limits = httpx.Limits(
        max_connections=args.concurrency + 2, max_keepalive_connections=args.concurrency + 2
    )
    async with AsyncClient(args.url, args.api_key, timeout=60.0, limits=limits) as client:
        worker = Worker(client, concurrency=args.concurrency, delivery="stream")

        @worker.agent(args.agent)
        async def hop(ctx: AsyncContext, intent: Any) -> Any:
            x, last = int(intent.payload["x"]) + 1, int(intent.payload["last"])
            if x >= last:
                return {"x": x}
            reply_to = args.reply_to if x + 1 >= last else None
            return Result(
                {"x": x},
                then=[IntentSpec(args.agent, INTENT_TYPE, {"x": x, "last": last}, reply_to=reply_to)],
            )

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop)
        await worker.serve()


def run_agent(args: argparse.Namespace) -> None:
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    if profiler is not None:
        profiler.enable()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve_agent(args))
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)


# --- the probe ---------------------------------------------------------------------------------------


@dataclass
class Agent:
    name: str
    address: str
    pid: int


@contextlib.asynccontextmanager
async def agent_process(
    name: str, url: str, api_key: str, address: str, reply_to: str, src: str | None, profile: str | None
) -> AsyncIterator[Agent]:
    env = dict(os.environ)
    if src is not None:  # that checkout's intentd first on the path
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "bench.worker_probe", "--serve-agent", "--url", url, "--api-key", api_key,
            "--agent", address, "--reply-to", reply_to]  # fmt: skip
    if profile:
        argv += ["--profile", profile]
    process = await asyncio.create_subprocess_exec(*argv, env=env)
    try:
        yield Agent(name, address, process.pid)
    finally:
        await stop(process, grace_seconds=10)


class Chains:
    """Submits chains and learns their ends from the feed of ``address`` (their last step's reply_to)."""

    def __init__(self, client: Any, address: str) -> None:
        self.client = client
        self.address = address
        self.pending: dict[str, asyncio.Future[Any]] = {}

    async def follow(self) -> None:
        async for item in self.client.listen(self.address, status=TERMINAL):
            future = self.pending.pop(item.correlation_id or "", None)
            if future is not None and not future.done():
                future.set_result(item)

    async def run(self, agent: str, handoffs: int) -> None:
        correlation_id = uuid.uuid4().hex
        done = asyncio.get_running_loop().create_future()
        self.pending[correlation_id] = done
        await self.client.submit(
            agent, INTENT_TYPE, {"x": 0, "last": handoffs}, correlation_id=correlation_id
        )
        end = await asyncio.wait_for(done, 120)
        if end.status != "COMPLETED" or end.result != {"x": handoffs}:
            raise RuntimeError(f"the chain ended {end.status} with {end.result}")


async def measure(chains: Chains, agent: Agent, handoffs: int) -> tuple[float, float]:
    """CPU and wall seconds per handoff of ``agent``'s Worker over one chain."""
    cpu, wall = cpu_seconds(agent.pid), time.perf_counter()
    await chains.run(agent.address, handoffs)
    await asyncio.sleep(0.05)  # the last completion's answer
    return (cpu_seconds(agent.pid) - cpu) / handoffs, (time.perf_counter() - wall - 0.05) / handoffs


async def main_async(args: argparse.Namespace) -> None:
    from intentd.client import AsyncClient

    api_key = f"itd_probe_{secrets.token_hex(16)}"
    run = uuid.uuid4().hex[:8]
    driver = f"agent://probe/{run}/driver"
    with tempfile.TemporaryDirectory(prefix="intentd-worker-probe-") as tmp:
        workdir = Path(tmp)
        database = f"sqlite:///{workdir / 'probe.sqlite'}"
        async with (
            intentd_server(database, workdir, api_key) as server,
            AsyncClient(server.url, api_key, timeout=150.0) as client,
        ):
            chains = Chains(client, driver)
            follower = asyncio.create_task(chains.follow())
            sources = {"current": None} | ({"baseline": args.baseline_src} if args.baseline_src else {})
            try:
                await probe(args, server.url, api_key, driver, run, chains, sources)
            finally:
                follower.cancel()


async def probe(
    args: argparse.Namespace,
    url: str,
    api_key: str,
    driver: str,
    run: str,
    chains: Chains,
    sources: dict[str, Any],
) -> None:
    agents: list[Agent] = []
    async with contextlib.AsyncExitStack() as stack:
        for name, src in sources.items():
            address = f"agent://probe/{run}/{name}"
            agents.append(await stack.enter_async_context(
                agent_process(name, url, api_key, address, driver, src, args.profile if src is None else None)
            ))  # fmt: skip
        await asyncio.sleep(1.0)  # the Workers' streams open
        for agent in agents:
            await chains.run(agent.address, 30)  # warm
        samples: dict[str, list[tuple[float, float]]] = {agent.name: [] for agent in agents}
        for round_number in range(args.rounds):
            order = agents if round_number % 2 == 0 else agents[::-1]
            for agent in order:
                samples[agent.name].append(await measure(chains, agent, args.handoffs))
            print(f"round {round_number + 1}/{args.rounds}", file=sys.stderr)
    report(samples)
    if args.profile:
        print(f"cProfile of the Worker written to {args.profile}", file=sys.stderr)


def report(samples: dict[str, list[tuple[float, float]]]) -> None:
    print(f"\nWorker per handoff, median of {len(samples['current'])} rounds")
    print("| worker | CPU ms | wall ms |")
    print("|---|---|---|")
    for name, runs in samples.items():
        cpu = statistics.median(c for c, _ in runs) * 1e3
        wall = statistics.median(w for _, w in runs) * 1e3
        print(f"| {name} | {cpu:.3f} | {wall:.3f} |")
    if "baseline" in samples:
        pairs = list(zip(samples["current"], samples["baseline"], strict=True))
        cpu_ratios = sorted(c / b for (c, _), (b, _) in pairs)
        wall_ratios = sorted(c / b for (_, c), (_, b) in pairs)
        print(f"current/baseline CPU: median {statistics.median(cpu_ratios):.3f}, rounds "
              + " ".join(f"{r:.2f}" for r in cpu_ratios))  # fmt: skip
        print(f"current/baseline wall: median {statistics.median(wall_ratios):.3f}, rounds "
              + " ".join(f"{r:.2f}" for r in wall_ratios))  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--handoffs", type=int, default=300, help="handoffs per chain (one chain a round)")
    parser.add_argument("--baseline-src", help="a directory holding another intentd package to compare")
    parser.add_argument("--profile", help="write the Workers' cProfile (CPU time) to this file")
    parser.add_argument("--serve-agent", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--api-key", help=argparse.SUPPRESS)
    parser.add_argument("--agent", help=argparse.SUPPRESS)
    parser.add_argument("--reply-to", help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_agent:
        run_agent(args)
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
