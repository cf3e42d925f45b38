"""A benchmark agent process: one agent address, over intentd's HTTP API, bound one of two ways.

- ``--binding claim`` (the long-poll claim path): K concurrent loops each long-poll
  ``POST /v1/agents/{address}/claims`` (it returns the moment work arrives), then complete every
  delivery.
- ``--binding stream`` (the held delivery stream): one ``GET /v1/deliveries/stream?agent=…&worker_id=…
  &max_in_flight=…`` held for the process; the server pushes each intent with its lease as it commits,
  and each is completed with one request. No request per delivery besides the completion.

Either way a delivery is completed with ``{"x": x + 1}``. If the agent has a next step, the completion
carries it in ``then``, so the handoff to the next agent is one request and one commit. The last step
of a chain was created with ``reply_to`` the driver, so its completion lands in the driver's feed.

    python -m bench.agents --url URL --api-key KEY --agent agent://bench/a \
        --next agent://bench/b [--next-reply-to agent://bench/driver] --loops 4 [--max-intents 16] \
        [--binding stream|claim]

Without ``--next`` it only completes: the last step of a chain, or a step of a declared workflow
(whose run moves on by itself when the step's intent completes).

Runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ._sse import sse_events

INTENT_TYPE = "intent.bench.step.v1"
MAX_INTENTS = 16  # per claim, unless --max-intents says otherwise
LEASE_SECONDS = 30
CLAIM_WAIT_SECONDS = 10
ERROR_PAUSE_SECONDS = 0.5


@dataclass(frozen=True)
class Step:
    """What this agent does with a delivery: add one, and hand the result on (or not)."""

    agent: str
    next_agent: str | None
    next_reply_to: str | None

    def completion(self, delivery: dict[str, Any]) -> dict[str, Any]:
        intent = delivery["intent"]
        x = int(intent["payload"]["x"]) + 1
        body: dict[str, Any] = {"lease_token": delivery["lease"]["token"], "result": {"x": x}}
        if self.next_agent:
            follow_up = {
                "intent_type": INTENT_TYPE,
                "to_agent": self.next_agent,
                "correlation_id": intent["correlation_id"],
                "payload": {"x": x},
            }
            if self.next_reply_to:
                follow_up["reply_to"] = self.next_reply_to
            body["then"] = [follow_up]
        return body


async def claim_loop(client: httpx.AsyncClient, step: Step, worker_id: str, max_intents: int) -> None:
    path = f"/v1/agents/{step.agent.removeprefix('agent://')}/claims"
    claim = {
        "worker_id": worker_id,
        "max_intents": max_intents,
        "lease_seconds": LEASE_SECONDS,
        "wait_seconds": CLAIM_WAIT_SECONDS,
    }
    while True:
        try:
            response = await client.post(path, json=claim)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            # Keep serving, as a real worker would; the driver counts the chains that fail.
            print(f"{step.agent}: claim: {exc!r}", file=sys.stderr, flush=True)
            await asyncio.sleep(ERROR_PAUSE_SECONDS)
            continue
        deliveries = response.json()["deliveries"]
        await asyncio.gather(*(complete(client, step, d) for d in deliveries))


async def complete(client: httpx.AsyncClient, step: Step, delivery: dict[str, Any]) -> None:
    intent_id = delivery["intent"]["intent_id"]
    path, body = f"/v1/intents/{intent_id}/complete", step.completion(delivery)
    try:
        response = await client.post(path, json=body)
    except httpx.TransportError as exc:
        # A keep-alive connection the server closed just as we reused it. Completing again with
        # the same lease token is safe: intentd answers a repeated completion as a replay.
        print(f"{step.agent}: complete {intent_id}: {exc!r}; retrying", file=sys.stderr, flush=True)
        response = await client.post(path, json=body)
    if response.status_code != 200:
        # The driver notices the chain never finishing; say why here.
        print(
            f"{step.agent}: complete {intent_id} -> {response.status_code} {response.text}",
            file=sys.stderr,
            flush=True,
        )


async def stream_loop(
    client: httpx.AsyncClient, completers: list[httpx.AsyncClient], step: Step, worker_id: str, places: int
) -> None:
    """Hold the delivery stream and complete each delivery it pushes, opening it again when it ends.

    A stream opened again first resends the leases this worker still holds (``resumed``): those being
    completed now are skipped. Completions go out through ``completers`` in turn, so that no pool
    grows large (see ``run``)."""
    params: dict[str, str | int] = {
        "agent": step.agent,
        "worker_id": worker_id,
        "lease_seconds": LEASE_SECONDS,
        "max_in_flight": places,
    }
    completing: set[str] = set()  # lease tokens
    tasks: set[asyncio.Task[None]] = set()
    turn = itertools.count()
    while True:
        try:
            async with client.stream("GET", "/v1/deliveries/stream", params=params) as response:
                response.raise_for_status()
                async for event, delivery in sse_events(response):
                    token = delivery["lease"]["token"] if event == "delivery" else None
                    if token is None or token in completing:
                        continue
                    completing.add(token)
                    completer = completers[next(turn) % len(completers)]
                    task = asyncio.create_task(complete(completer, step, delivery))
                    tasks.add(task)
                    task.add_done_callback(functools.partial(_completed, tasks, completing, token))
            print(f"{step.agent}: the server ended the delivery stream", file=sys.stderr, flush=True)
        except httpx.HTTPError as exc:
            print(f"{step.agent}: delivery stream: {exc!r}", file=sys.stderr, flush=True)
        await asyncio.sleep(ERROR_PAUSE_SECONDS)


def _completed(
    tasks: set[asyncio.Task[None]], completing: set[str], token: str, task: asyncio.Task[None]
) -> None:
    tasks.discard(task)
    completing.discard(token)  # should its lease be resent, it is completed again (a replay)
    if not task.cancelled() and task.exception() is not None:
        print(f"completion failed: {task.exception()!r}", file=sys.stderr, flush=True)


async def run(
    url: str, api_key: str, step: Step, loops: int, max_intents: int = MAX_INTENTS, binding: str = "claim"
) -> None:
    # One client per claim loop, each with room for its claim and its completions. One shared pool
    # of loops * (max_intents + 1) connections costs far more CPU: httpcore scans (and polls) every
    # pooled connection on each request (encode/httpcore#928, #1035), and at 50 fan-outs in flight
    # that made this agent, not intentd, the bottleneck. On a stream the same clients send the
    # completions in turn, and one more client holds the stream.
    limits = httpx.Limits(max_connections=max_intents + 1, max_keepalive_connections=max_intents + 1)
    timeout = httpx.Timeout(CLAIM_WAIT_SECONDS + 30)  # a stream's keep-alives come every 15 s

    def new_client() -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=url, headers={"x-api-key": api_key}, limits=limits, timeout=timeout)

    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(new_client()) for _ in range(loops)]
        if binding == "stream":
            held = await stack.enter_async_context(new_client())
            worker_id = f"{step.agent}#{os.getpid()}"
            tasks = [asyncio.create_task(stream_loop(held, clients, step, worker_id, loops * max_intents))]
        else:
            tasks = [
                asyncio.create_task(claim_loop(client, step, f"{step.agent}#{i}", max_intents))
                for i, client in enumerate(clients)
            ]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for finished in done - {stopped}:
            finished.result()  # a loop that died of something unexpected: exit non-zero with it


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="a benchmark agent (one address; K claim loops or a delivery stream)"
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--agent", required=True, help="e.g. agent://bench/a")
    parser.add_argument("--next", dest="next_agent", help="the next step's agent, if any")
    parser.add_argument("--next-reply-to", help="reply_to for the next step (the driver)")
    parser.add_argument("--loops", type=int, default=4, help="concurrent claim loops")
    parser.add_argument("--max-intents", type=int, default=MAX_INTENTS, help="intents a claim takes at most")
    parser.add_argument(
        "--binding", choices=("claim", "stream"), default="claim",
        help="long-poll claims, or one held delivery stream (max_in_flight = loops * max intents)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    step = Step(args.agent, args.next_agent, args.next_reply_to)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(run(args.url, args.api_key, step, args.loops, args.max_intents, args.binding))


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it comes with intentd's uvicorn[standard]): the server runs on it,
    and clients spend less time in the loop with it too."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
