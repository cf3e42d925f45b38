"""A benchmark agent written the way the SDK guide says: an ``intentd.worker.Worker`` with one handler.

The handler adds one to ``x``; where the agent hands on, it returns ``Result({"x": x}, then=[IntentSpec
(next agent, ...)])``, so the completion submits the next step in the same request and commit (the
last step's spec carries ``reply_to`` the driver). Without ``--next`` it returns ``{"x": x}``: the end
of a chain, or the round trip's agent answering at once.

    python -m bench.sdk_agent --url URL --api-key KEY --agent agent://bench/sdk-stream/a \\
        --next agent://bench/sdk-stream/b [--next-reply-to agent://bench/sdk-driver] \\
        [--concurrency 64] [--delivery stream|claim|auto]

``--delivery`` is the Worker's own switch: one held delivery stream for the process (``stream``; what
``auto``, the default, picks over the network), or long-poll claims (``claim``). Runs until
SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any, Literal

import httpx

from intentd.client import AsyncClient, IntentSpec
from intentd.worker import AsyncContext, Result, Worker

from .agents import event_loop_factory
from .workflows import INTENT_TYPE

Delivery = Literal["auto", "stream", "claim"]


def make_worker(
    client: AsyncClient,
    agent: str,
    next_agent: str | None,
    reply_to: str | None,
    *,
    concurrency: int,
    delivery: Delivery,
) -> Worker:
    worker = Worker(client, concurrency=concurrency, delivery=delivery, claim_wait_seconds=10.0)

    @worker.agent(agent)
    async def add_one(ctx: AsyncContext, intent: Any) -> Result | dict[str, Any]:
        x = int(intent.payload["x"]) + 1
        if next_agent is None:
            return {"x": x}
        return Result({"x": x}, then=[IntentSpec(next_agent, INTENT_TYPE, {"x": x}, reply_to=reply_to)])

    return worker


async def serve(args: argparse.Namespace) -> None:
    # The pool sized to the handlers that may report at once, and the stream (docs/sdk.md).
    room = args.concurrency + 2
    limits = httpx.Limits(max_connections=room, max_keepalive_connections=room)
    async with AsyncClient(args.url, args.api_key, timeout=60.0, limits=limits) as client:
        worker = make_worker(
            client, args.agent, args.next_agent, args.next_reply_to,
            concurrency=args.concurrency, delivery=args.delivery,
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.stop)
        await worker.serve()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a benchmark agent as an intentd Worker (one handler)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--agent", required=True, help="e.g. agent://bench/sdk-stream/a")
    parser.add_argument("--next", dest="next_agent", help="the next step's agent, if any")
    parser.add_argument("--next-reply-to", help="reply_to for the next step (the driver)")
    parser.add_argument("--concurrency", type=int, default=64, help="handlers running at once")
    parser.add_argument("--delivery", choices=("auto", "stream", "claim"), default="auto")
    args = parser.parse_args(argv)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve(args))


if __name__ == "__main__":
    main()
