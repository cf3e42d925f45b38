"""The code-first fan-out's supervisor: an ``intentd.worker.Worker`` process whose handler spawns
``FANOUT`` children for the fan agents and joins them with ``ctx.gather``.

    python -m bench.supervisor --url URL --api-key KEY [--concurrency 64]

The first delivery journals and spawns the children (one request) and parks the intent without a
lease; the fan agents complete the children; the last completion queues the parent again and the
handler runs from the top, finds every child's result in the journal and returns their sum, which
completes the intent (its ``reply_to``, the driver, sees it). Runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from intentd.client import AsyncClient
from intentd.worker import AsyncContext, Worker

from .agents import event_loop_factory
from .workflows import FAN, FANOUT, INTENT_TYPE, SUPERVISOR


def make_worker(client: AsyncClient, concurrency: int) -> Worker:
    worker = Worker(client, concurrency=concurrency, claim_wait_seconds=10.0)

    @worker.agent(SUPERVISOR)
    async def fan_out(ctx: AsyncContext, intent: Any) -> dict[str, Any]:
        x = int(intent.payload["x"])
        children = (ctx.spawn(FAN, {"x": x}, key=f"b{i}", intent_type=INTENT_TYPE) for i in range(FANOUT))
        results = await ctx.gather(*children)
        return {"x": sum(int(r["x"]) for r in results)}

    return worker


async def serve(url: str, api_key: str, concurrency: int) -> None:
    async with AsyncClient(url, api_key, timeout=60.0) as client:
        worker = make_worker(client, concurrency)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop)
        await worker.serve()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="the code-first fan-out's supervisor (an intentd Worker)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--concurrency", type=int, default=64, help="handlers running at once")
    args = parser.parse_args(argv)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve(args.url, args.api_key, args.concurrency))


if __name__ == "__main__":
    main()
