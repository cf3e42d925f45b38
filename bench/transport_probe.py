"""The client's CPU per hot request, by HTTP transport (issue 16: "a lean agent-side transport").

    .venv/bin/python -m bench.transport_probe                   # 7 rounds, asyncio's default loop
    .venv/bin/python -m bench.transport_probe --loop uvloop     # the loop bench/agents.py runs on
    .venv/bin/python -m bench.transport_probe --profile httpx   # where one variant's time goes

``intentd serve`` runs on a fresh SQLite file in another process; this process is only the client, so
its CPU time (``time.process_time``) is what the client side of each exchange costs: building the
request, the HTTP client, the socket calls, the event loop, parsing the answer. One cycle is the life of
one intent, the requests an agent makes on the hot path: a create (``POST /v1/intents``), a claim of it
(``POST /v1/agents/{addr}/claims``, no wait) and its completion (``POST /v1/intents/{id}/complete``).
Each round runs every variant in turn (so a busy machine slows them alike), first one cycle at a time,
then with ``--tasks`` cycles in flight (each task its own agent, so a claim finds its own intent). The
figures are the median over rounds of CPU per request, and ratios against ``sdk-httpx`` from the same run.

Variants:

- ``sdk-httpx``: intentd's ``AsyncClient`` on httpx's own transport (httpcore), as it was before the
  lean transport, and as a caller who passes ``transport=httpx.AsyncHTTPTransport()`` still has it;
- ``httpx``: a raw ``httpx.AsyncClient`` sending the same requests (no SDK: the HTTP client's own cost);
- ``sdk-lean`` / ``httpx-lean``: the same two over the lean transport (``intentd.client._transport``),
  which is what ``AsyncClient`` uses for an ``http://`` URL unless given a transport.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import pstats
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from intentd.client import AsyncClient
from intentd.client._base import DEFAULT_LIMITS
from intentd.client._transport import LeanTransport

from ._procs import intentd_server
from .agents import event_loop_factory

REQUESTS_PER_CYCLE = 3
Cycle = Callable[[str], Awaitable[None]]


def transport(lean: bool) -> httpx.AsyncBaseTransport:
    """The lean transport or httpx's own, with the SDK's default pool."""
    return LeanTransport(limits=DEFAULT_LIMITS) if lean else httpx.AsyncHTTPTransport(limits=DEFAULT_LIMITS)


@dataclass(frozen=True)
class Variant:
    name: str
    open: Callable[[str, str], contextlib.AbstractAsyncContextManager[Cycle]]


@contextlib.asynccontextmanager
async def sdk_cycles(url: str, api_key: str, *, lean: bool) -> AsyncIterator[Cycle]:
    async with AsyncClient(url, api_key, transport=transport(lean)) as client:

        async def cycle(agent: str) -> None:
            intent = await client.submit(agent, "probe.cycle.v1", {"n": 1})
            [delivery] = await client.claim(agent, wait_seconds=0)
            assert delivery.intent.intent_id == intent.intent_id
            await client.complete(intent.intent_id, delivery.lease_token, {"ok": True})

        yield cycle


@contextlib.asynccontextmanager
async def httpx_cycles(url: str, api_key: str, *, lean: bool) -> AsyncIterator[Cycle]:
    """The same three requests with no SDK: bodies as dicts, answers read as JSON and indexed."""
    headers = {"x-api-key": api_key}
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=15.0, transport=transport(lean)
    ) as http:

        async def cycle(agent: str) -> None:
            create = {"to_agent": agent, "intent_type": "probe.cycle.v1", "payload": {"n": 1},
                      "correlation_id": str(uuid.uuid4())}  # fmt: skip
            created = (await http.post("/v1/intents", json=create)).raise_for_status().json()
            path = agent.removeprefix("agent://")
            claim = {"worker_id": "worker", "max_intents": 1, "lease_seconds": 30.0, "wait_seconds": 0}
            claimed = (await http.post(f"/v1/agents/{path}/claims", json=claim)).raise_for_status().json()
            [delivery] = claimed["deliveries"]
            intent_id = delivery["intent"]["intent_id"]
            assert intent_id == created["intent"]["intent_id"]
            done = {"lease_token": delivery["lease"]["token"], "result": {"ok": True}}
            (await http.post(f"/v1/intents/{intent_id}/complete", json=done)).raise_for_status()

        yield cycle


VARIANTS = {
    "sdk-httpx": Variant("sdk-httpx", lambda url, key: sdk_cycles(url, key, lean=False)),
    "httpx": Variant("httpx", lambda url, key: httpx_cycles(url, key, lean=False)),
    "sdk-lean": Variant("sdk-lean", lambda url, key: sdk_cycles(url, key, lean=True)),
    "httpx-lean": Variant("httpx-lean", lambda url, key: httpx_cycles(url, key, lean=True)),
}


@dataclass(frozen=True)
class Sample:
    sequential: float  # client CPU seconds per request, one cycle at a time
    concurrent: float  # with `tasks` cycles in flight


async def run_cycles(cycle: Cycle, agents: Sequence[str], cycles: int) -> float:
    """Client CPU seconds per request for ``cycles`` cycles on each agent, the agents concurrently."""

    async def one_agent(agent: str) -> None:
        for _ in range(cycles):
            await cycle(agent)

    started = time.process_time()
    await asyncio.gather(*(one_agent(agent) for agent in agents))
    return (time.process_time() - started) / (len(agents) * cycles * REQUESTS_PER_CYCLE)


def fresh_agents(count: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"agent://probe/{run}/a{i}" for i in range(count)]


async def sample(variant: Variant, url: str, api_key: str, args: argparse.Namespace) -> Sample:
    async with variant.open(url, api_key) as cycle:
        await run_cycles(cycle, fresh_agents(args.tasks), 2)  # connections open, code paths warm
        sequential = await run_cycles(cycle, fresh_agents(1), args.cycles)
        concurrent = await run_cycles(cycle, fresh_agents(args.tasks), max(1, args.cycles // args.tasks))
    return Sample(sequential, concurrent)


async def measure(url: str, api_key: str, variants: Sequence[Variant], args: argparse.Namespace) -> None:
    samples: dict[str, list[Sample]] = {variant.name: [] for variant in variants}
    for round_number in range(1, args.rounds + 1):
        for variant in variants:
            samples[variant.name].append(await sample(variant, url, api_key, args))
        print(f"round {round_number}/{args.rounds} done", file=sys.stderr)
    report(samples)


def report(samples: dict[str, list[Sample]]) -> None:
    seq = {name: statistics.median(s.sequential for s in runs) for name, runs in samples.items()}
    conc = {name: statistics.median(s.concurrent for s in runs) for name, runs in samples.items()}
    base = "sdk-httpx" if "sdk-httpx" in samples else next(iter(samples))
    print(f"\nclient CPU per request, median of {len(next(iter(samples.values())))} rounds")
    print(f"| variant | 1 at a time (ms) | vs {base} | concurrent (ms) | vs {base} |")
    print("|---|---|---|---|---|")
    for name in samples:
        print(
            f"| {name} | {seq[name] * 1e3:.3f} | {seq[name] / seq[base]:.2f}x "
            f"| {conc[name] * 1e3:.3f} | {conc[name] / conc[base]:.2f}x |"
        )


async def profile(url: str, api_key: str, variant: Variant, args: argparse.Namespace) -> None:
    """cProfile of one variant's sequential and concurrent cycles: the functions by own time."""
    async with variant.open(url, api_key) as cycle:
        await run_cycles(cycle, fresh_agents(args.tasks), 2)
        profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
        profiler.enable()
        await run_cycles(cycle, fresh_agents(1), args.cycles)
        await run_cycles(cycle, fresh_agents(args.tasks), max(1, args.cycles // args.tasks))
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    print(out.getvalue())


async def main_async(args: argparse.Namespace) -> None:
    variants = [VARIANTS[name] for name in args.variants.split(",")]
    api_key = f"itd_probe_{secrets.token_hex(16)}"
    with tempfile.TemporaryDirectory(prefix="intentd-transport-probe-") as tmp:
        workdir = Path(tmp)
        async with intentd_server(f"sqlite:///{workdir / 'probe.sqlite'}", workdir, api_key) as server:
            if args.profile:
                await profile(server.url, api_key, VARIANTS[args.profile], args)
            else:
                await measure(server.url, api_key, variants, args)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--cycles", type=int, default=160, help="cycles per measurement (3 requests each)")
    parser.add_argument("--tasks", type=int, default=16, help="cycles in flight in the concurrent part")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--profile", choices=sorted(VARIANTS), help="profile this variant instead")
    parser.add_argument("--top", type=int, default=30, help="functions shown by --profile")
    args = parser.parse_args(argv)
    factory: Any = event_loop_factory() if args.loop == "uvloop" else None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main_async(args))


if __name__ == "__main__":
    main()
