"""The idiomatic path: what a user of the Python SDK writes to drive intentd.

The driver is one ``intentd.client.AsyncClient`` (per replica), its pool sized to the units in flight as
docs/sdk.md advises. Its agents are ``intentd.worker.Worker`` processes (bench/sdk_agent.py).

- ``chain``: ``await client.submit(a, ..., correlation_id=c, idempotency_key=c)``; the Workers hand on
  with ``Result(then=[IntentSpec(...)])``, c's spec with ``reply_to`` the driver's address, so the
  chain's end lands in the driver's feed, which one ``client.listen(SDK_DRIVER, status=[terminal])``
  follows for every unit (a terminal entry carries the outcome: no second request).
- ``roundtrip``: ``await client.submit(agent, ..., wait_seconds=...)``: the submit and its outcome in
  one exchange; the Worker's handler answers at once.

``bench_sdk`` measures both per binding of the Worker (``stream``, ``claim``), every binding's Workers
up at once on their own addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import httpx

from intentd.client import AsyncClient, FeedItem

from ._blocks import Sizes, Unit, meter, run_units
from ._procs import Server, WorkerPlan, agent_processes
from ._stats import Result
from .driver import GIVE_UP_SECONDS, ChainFailed
from .workflows import INTENT_TYPE, SDK_DRIVER, handoff_chain, roundtrip_agent

TERMINAL = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")


def sdk_chain(
    chain: tuple[str, str, str], binding: str, sizes: Sizes, reply_to: str = SDK_DRIVER
) -> list[WorkerPlan]:
    """The Worker processes of a chain a → b → c: a hands on to b, b to c with ``reply_to``."""
    a, b, c = chain
    room = sizes.worker_concurrency
    return [
        WorkerPlan(a, b, concurrency=room, delivery=binding),
        WorkerPlan(b, c, reply_to, concurrency=room, delivery=binding),
        WorkerPlan(c, concurrency=room, delivery=binding),
    ]


class SdkDriver:
    """Submits through ``clients`` (slot j through ``clients[j % len(clients)]``: the replicas, when
    there are several) and learns the chains' ends from one ``listen`` to ``address`` (the chains'
    ``reply_to``) on the first client."""

    def __init__(self, clients: Sequence[AsyncClient], address: str = SDK_DRIVER) -> None:
        self.clients = list(clients)
        self.address = address
        self.pending: dict[str, asyncio.Future[FeedItem]] = {}
        self.broken: ChainFailed | None = None

    async def follow_replies(self) -> None:
        try:
            async for item in self.clients[0].listen(self.address, status=TERMINAL):
                future = self.pending.pop(item.correlation_id or "", None)
                if future is not None and not future.done():
                    future.set_result(item)
        except Exception as exc:
            # Fail the units waiting now and later at once rather than after GIVE_UP_SECONDS.
            self.broken = ChainFailed(f"the SDK driver's listen ended: {exc!r}")
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(self.broken)
            raise

    def chain(self, first: str) -> Callable[[int], Awaitable[float]]:
        """A unit: submit step a to ``first``, wait for c's completion in the driver's feed."""

        async def run(slot: int) -> float:
            if self.broken:
                raise self.broken
            client = self.clients[slot % len(self.clients)]
            correlation_id = uuid.uuid4().hex
            done: asyncio.Future[FeedItem] = asyncio.get_running_loop().create_future()
            self.pending[correlation_id] = done  # before the submit: the end may come first
            started = time.perf_counter()
            try:
                await client.submit(
                    first,
                    INTENT_TYPE,
                    {"x": 0},
                    correlation_id=correlation_id,
                    idempotency_key=correlation_id,
                )
                end = await asyncio.wait_for(done, GIVE_UP_SECONDS)
            finally:
                self.pending.pop(correlation_id, None)
            elapsed = time.perf_counter() - started
            if end.status != "COMPLETED" or end.result != {"x": 3}:
                raise ChainFailed(f"chain {correlation_id} ended {end.status} with {end.result}")
            return elapsed

        return run

    def roundtrip(self, agent: str) -> Callable[[int], Awaitable[float]]:
        """A unit: one submit that waits for the outcome; the agent's Worker answers at once."""

        async def run(slot: int) -> float:
            client = self.clients[slot % len(self.clients)]
            key = uuid.uuid4().hex
            started = time.perf_counter()
            done = await client.submit(
                agent, INTENT_TYPE, {"x": 0}, idempotency_key=key, wait_seconds=GIVE_UP_SECONDS
            )
            elapsed = time.perf_counter() - started
            if done.status != "COMPLETED" or done.result != {"x": 1}:
                raise ChainFailed(f"round trip {done.intent_id} answered {done.status} with {done.result}")
            return elapsed

        return run


@contextlib.asynccontextmanager
async def sdk_driver(
    urls: Sequence[str], api_key: str, in_flight: int, address: str = SDK_DRIVER
) -> AsyncIterator[SdkDriver]:
    """An SdkDriver with one AsyncClient per URL, its pool sized to its share of the units in flight
    and the feed; ``listen`` runs while the context is open."""
    async with contextlib.AsyncExitStack() as stack:
        room = -(-in_flight // len(urls)) + 1
        limits = httpx.Limits(max_connections=room, max_keepalive_connections=room)
        clients = [
            await stack.enter_async_context(
                AsyncClient(url, api_key, timeout=GIVE_UP_SECONDS + 30, limits=limits)
            )
            for url in urls
        ]
        driver = SdkDriver(clients, address)
        replies = asyncio.create_task(driver.follow_replies())
        try:
            yield driver
        finally:
            replies.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await replies


async def bench_sdk(
    server: Server, api_key: str, backend: str, sizes: Sizes, wanted: set[str]
) -> list[Result]:
    """The idiomatic path: an AsyncClient drives Worker processes (bench/sdk_agent.py),
    per binding of the Worker: the chain of three, and the round trip submit → held → seen."""
    if not wanted & {"chain3-sdk", "roundtrip-sdk"}:
        return []
    async with contextlib.AsyncExitStack() as stack:
        driver = await stack.enter_async_context(sdk_driver([server.url], api_key, sizes.in_flight))
        units = []
        for binding in sizes.bindings:
            system = f"intentd SDK {binding}"
            if "chain3-sdk" in wanted:
                plans = sdk_chain(handoff_chain("sdk", binding), binding, sizes)
                agents = await stack.enter_async_context(agent_processes([server.url], api_key, plans))
                chain = driver.chain(plans[0].agent)
                units.append(Unit("chain3", system, chain, meter([server.pid], agents), handoffs=3))
            if "roundtrip-sdk" in wanted:
                agent = roundtrip_agent(binding)
                plan = WorkerPlan(agent, concurrency=sizes.worker_concurrency, delivery=binding)
                agents = await stack.enter_async_context(agent_processes([server.url], api_key, [plan]))
                roundtrip = driver.roundtrip(agent)
                units.append(Unit("roundtrip", system, roundtrip, meter([server.pid], agents), handoffs=1))
        return await run_units(units, backend, sizes)
