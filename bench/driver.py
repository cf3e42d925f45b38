"""The benchmark's driver: it submits work over HTTP the way a user's client does and learns when each
unit ended from one long-lived SSE stream of its own feed (``agent://bench/driver``), which every
chain's last step and every run replies to. ``measure`` runs units one at a time or many in flight."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from rich.console import Console

from intentd.client import IntentdError

from ._sse import sse_events
from .workflows import DRIVER, INTENT_TYPE, SUPERVISOR

TERMINAL = "COMPLETED,FAILED,CANCELED,TIMED_OUT"
GIVE_UP_SECONDS = 60.0  # a unit not done by then counts as failed instead of hanging the run
MAX_FAILURES = 20  # a workload stops early after this many
UNCLAIMED_KEPT = 10_000  # ends seen before their apply answered (see Driver.settle)
console = Console(stderr=True)


class ChainFailed(Exception):
    pass


class Driver:
    """Submits work over HTTP and learns completions from one long-lived SSE stream of the driver's
    feed (it reconnects from the last seq when the server ends the stream).

    A chain or a supervised fan-out is waited for by the ``correlation_id`` the driver gives it; a
    declared run by its intent id, which the apply answers. A run's end may reach the feed before
    that answer reaches the driver, so ends nobody waits for yet are kept (``unclaimed``)."""

    def __init__(self, client: httpx.AsyncClient, slots: list[httpx.AsyncClient] | None = None) -> None:
        # ``client`` holds the feed stream; each in-flight slot sends its requests through a client
        # of its own (``slots``), a pool of two: one shared pool of a hundred connections costs the
        # driver far more CPU per request (httpcore scans every pooled connection on each one).
        self.client = client
        self.slots = slots or []
        self.pending: dict[str, asyncio.Future[None]] = {}
        self.unclaimed: dict[str, dict[str, Any]] = {}
        self.cursor = 0
        self.broken: ChainFailed | None = None

    async def follow_feed(self) -> None:
        try:
            await self._read_feed()
        except Exception as exc:
            # Fail the units waiting now and later at once rather than after GIVE_UP_SECONDS.
            self.broken = ChainFailed(f"the driver's feed stream ended: {exc!r}")
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(self.broken)
            raise

    async def _read_feed(self) -> None:
        path = f"/v1/agents/{DRIVER.removeprefix('agent://')}/intents/stream"
        while True:
            params: dict[str, str | int] = {"status": TERMINAL, "since": self.cursor, "wait_seconds": 60}
            async with self.client.stream("GET", path, params=params) as response:
                response.raise_for_status()
                async for event, data in sse_events(response):
                    if event == "stream.timeout":  # the server ends idle streams: reconnect
                        self.cursor = max(self.cursor, int(data["next_seq"]))
                    else:
                        self.cursor = max(self.cursor, int(data["seq"]))
                        self.settle(data)

    def settle(self, data: dict[str, Any]) -> None:
        future = self.pending.pop(data["correlation_id"], None) or self.pending.pop(data["intent_id"], None)
        if future is None:
            if len(self.unclaimed) >= UNCLAIMED_KEPT:
                self.unclaimed.pop(next(iter(self.unclaimed)))
            self.unclaimed[data["intent_id"]] = data
            return
        if future.done():
            return
        if data["status"] == "COMPLETED":
            future.set_result(None)
        else:
            future.set_exception(ChainFailed(f"{data['intent_id']} ended {data['status']}"))

    async def _until_done(self, key: str, started: float, submit: Awaitable[Any]) -> float:
        """Wait for the end of the unit ``submit`` starts, known by ``key``; the latency from
        ``started``. ``key`` is registered before ``submit`` is sent."""
        if self.broken:
            raise self.broken
        done = asyncio.get_running_loop().create_future()
        self.pending[key] = done
        try:
            await submit
            await asyncio.wait_for(done, GIVE_UP_SECONDS)
        finally:
            self.pending.pop(key, None)
        return time.perf_counter() - started

    # -- units of work -------------------------------------------------------------------------------
    def chain(self, first: str) -> Callable[[int], Awaitable[float]]:
        """A unit that submits step a to ``first`` and waits for step c's completion on the feed
        (agents hand on with ``then``)."""

        async def run(slot: int) -> float:
            correlation_id = uuid.uuid4().hex
            started = time.perf_counter()
            submit = self.create(first, correlation_id, slot=slot)
            return await self._until_done(correlation_id, started, submit)

        return run

    async def supervised(self, slot: int) -> float:
        """The supervisor's intent submitted → its completion on the feed (bench/supervisor.py)."""
        correlation_id = uuid.uuid4().hex
        started = time.perf_counter()
        submit = self.create(SUPERVISOR, correlation_id, reply_to=DRIVER, slot=slot)
        return await self._until_done(correlation_id, started, submit)

    def declared(self, bundle: dict[str, Any]) -> Callable[[int], Awaitable[float]]:
        """A unit that applies ``bundle`` and waits for the run to end (its reply on the feed)."""

        async def run(slot: int) -> float:
            if self.broken:
                raise self.broken
            started = time.perf_counter()
            applied = await self.apply(bundle, slot=slot)
            run_id = applied["intent_id"]
            early = self.unclaimed.pop(run_id, None)
            if early is not None:
                if early["status"] != "COMPLETED":
                    raise ChainFailed(f"run {run_id} ended {early['status']}")
                return time.perf_counter() - started
            return await self._until_done(run_id, started, asyncio.sleep(0))

        return run

    async def roundtrip(self, slot: int) -> float:
        """create -> claim -> complete; each in-flight slot has its own agent, so a claim picks up
        the intent its own slot just created."""
        agent = f"bench/rt{slot}"
        started = time.perf_counter()
        created = await self.create(f"agent://{agent}", uuid.uuid4().hex, slot=slot)
        claimed = await self.post(
            f"/v1/agents/{agent}/claims",
            {"worker_id": "driver", "max_intents": 1, "lease_seconds": 30, "wait_seconds": 1},
            slot=slot,
        )
        deliveries = claimed["deliveries"]
        if [d["intent"]["intent_id"] for d in deliveries] != [created["intent_id"]]:
            raise ChainFailed(
                f"the claim returned {len(deliveries)} deliveries, not the one intent just created"
            )
        delivery = deliveries[0]
        await self.post(
            f"/v1/intents/{created['intent_id']}/complete",
            {"lease_token": delivery["lease"]["token"], "result": {"x": 1}},
            retry_safe=True,
            slot=slot,
        )  # a repeated completion is answered as a replay
        return time.perf_counter() - started

    # -- requests ------------------------------------------------------------------------------------
    async def create(
        self, agent: str, correlation_id: str, reply_to: str | None = None, *, slot: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "intent_type": INTENT_TYPE,
            "to_agent": agent,
            "correlation_id": correlation_id,
            "payload": {"x": 0},
        }
        if reply_to:
            body["reply_to"] = reply_to
        # The Idempotency-Key makes a retried create return the same intent.
        key = {"Idempotency-Key": correlation_id}
        return await self.post("/v1/intents", body, key, retry_safe=True, slot=slot)

    async def apply(self, bundle: dict[str, Any], *, slot: int | None = None) -> dict[str, Any]:
        # As for a create, the Idempotency-Key makes a retried apply return the same run.
        key = {"Idempotency-Key": uuid.uuid4().hex}
        return await self.post("/v1/scenarios/apply", bundle, key, retry_safe=True, slot=slot)

    async def post(
        self,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
        *,
        retry_safe: bool = False,
        slot: int | None = None,
    ) -> dict[str, Any]:
        client = self.slots[slot] if slot is not None and slot < len(self.slots) else self.client
        try:
            response = await client.post(path, json=body, headers=headers)
        except httpx.TransportError as exc:
            if not retry_safe:
                raise
            # A keep-alive connection the server closed just as it was reused; say so and retry.
            console.print(f"POST {path}: {exc!r}; retrying")
            response = await client.post(path, json=body, headers=headers)
        if response.status_code != 200:
            raise ChainFailed(f"POST {path} -> {response.status_code} {response.text}")
        payload: dict[str, Any] = response.json()
        return payload


async def measure(
    work: Callable[[int], Awaitable[float]], count: int, in_flight: int
) -> tuple[list[float], float, int]:
    """Run ``count`` units with ``in_flight`` at a time (worker ``slot`` numbers 0..in_flight-1);
    returns latencies, wall time and the number that failed."""
    numbers = iter(range(count))
    latencies: list[float] = []
    failures: list[BaseException] = []

    async def worker(slot: int) -> None:
        for _ in numbers:
            if len(failures) >= MAX_FAILURES:
                return  # something is broken; do not wait GIVE_UP_SECONDS for every unit left
            try:
                latencies.append(await work(slot))
            except (ChainFailed, TimeoutError, httpx.HTTPError, IntentdError) as exc:
                failures.append(exc)

    started = time.perf_counter()
    await asyncio.gather(*(worker(slot) for slot in range(min(in_flight, count))))
    wall = time.perf_counter() - started
    if failures:
        console.print(f"[red]{len(failures)} failed[/red]; first: {failures[0]!r}")
    return latencies, wall, len(failures)
