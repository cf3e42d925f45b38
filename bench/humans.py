"""The human workload: how long a person's decision takes to reach the agent it lets through, against how
long a submit takes to reach an agent, measured in the same run on the same server.

- ``submit→held``: a long-poll claim for ``agent://bench/h<slot>`` waits; the driver submits an intent
  to that address; the latency runs from sending the submit to the claim's answer holding that intent.
- ``decision→held``: an intent to the same address was created with a ``human_task`` (a gate: it
  waits ``WAITING_FOR_HUMAN``) and its task read once, before the block and untimed; a claim waits;
  the driver posts the decision ``approved`` (RESUMED → SUBMITTED); the latency runs from sending the
  decision to the claim's answer holding the intent.

Each in-flight slot has its own address, one claim at a time and its own httpx client (two
connections: the claim's and the other requests'). Through the driver's one pool of 104 connections,
claims handed to httpx left up to 3 s later (httpcore's trace hook says when a request is written),
after submits handed to it behind them.

The two kinds run in short blocks that alternate (submit, decision, decision, submit, …; with the
default sizes, 20 units a block one at a time and 100 with 50 in flight, about a second each), so that
the machine's load, which other work on it changes from second to second, hits both alike, while each
block's wall time and CPU are one kind's.

A claim must be waiting before the timed request is sent, and no HTTP call says that one is. So:

- nothing is sent after a claim until the claim's request has left the driver (httpx's trace hook);
- a block's first claims go out, then each slot gets an answer to ``GET /health`` on its other
  connection (which also opens it), then the block waits :data:`SETTLE_SECONDS` before its clock
  starts. Later a slot sends its next claim before completing the lease it holds, so the server has
  answered a request that arrived after the claim, and the timed request leaves at the earliest
  :data:`PARK_SECONDS` after its claim did. None of these waits is timed;
- every unit proves it: the timed request's own answer shows the intent ``DELIVERED``, which only a
  claim waiting in the server when that request committed makes (direct handoff, engine/dispatch.py:
  the submit or decision and the lease commit in one transaction). Had the claim not been waiting, the
  answer would show ``SUBMITTED``, and the unit counts as failed rather than as a slow measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from ._footprint import Meter, Usage
from ._stats import Result, _markdown
from .driver import GIVE_UP_SECONDS, ChainFailed, Driver
from .workflows import INTENT_TYPE

SUBMIT, DECISION = "submit→held", "decision→held"
ORDER = (SUBMIT, DECISION, DECISION, SUBMIT)  # blocks alternate so: each kind goes first about as often
BLOCKS = 10  # each kind's units of a mode in about this many blocks …
BLOCK_UNITS_PER_SLOT = 2  # … of at least this many units per slot
PARK_SECONDS = 0.005  # from sending a claim to sending the timed request, at the earliest (untimed)
SETTLE_SECONDS = 0.2  # after a block's first claims and health checks, before its clock starts
CLAIM_WAIT_SECONDS = 30  # the long poll; it answers the moment its intent is handed to it
console = Console(stderr=True)
JSON = dict[str, Any]


@dataclass(frozen=True)
class Gate:
    """An intent waiting for a person (created with a ``human_task``) and its task."""

    intent_id: str
    task_id: str


class Claim:
    """A long-poll claim in flight: when its request left the driver, and its answer (when it arrived,
    its deliveries). A request handed to httpx leaves when its task next runs; a request sent after
    it from the same coroutine could overtake it on the other connection, hence ``left``."""

    def __init__(self, slot: Slot) -> None:
        self.sent = asyncio.Event()
        self.sent_at = 0.0
        self.answer = asyncio.create_task(slot.claim_request(self))

    async def trace(self, event: str, _info: JSON) -> None:
        """httpx's trace hook: the request's body is written to the socket."""
        if event == "http11.send_request_body.complete":
            self.sent_at = time.perf_counter()
            self.sent.set()

    async def left(self) -> None:
        """Until the request has left the driver (or the claim ended without it)."""
        sent = asyncio.ensure_future(self.sent.wait())
        await asyncio.wait((sent, self.answer), return_when=asyncio.FIRST_COMPLETED)
        sent.cancel()


@dataclass(frozen=True)
class Block:
    """A block of one kind's units: their latencies, its wall time and CPU."""

    latencies: list[float]
    wall: float
    failed: int  # units not measured: failed, or skipped after their slot's failure
    usage: Usage


class Slot:
    """One in-flight slot: its agent address and its own client; the requests of one unit."""

    def __init__(self, number: int, client: httpx.AsyncClient) -> None:
        self.number = number
        self.address = f"agent://bench/h{number}"
        self.client = client
        self.driver = Driver(client)  # for its requests (status checked, retries said); not its feed

    def claim(self) -> Claim:
        return Claim(self)

    async def claim_request(self, claim: Claim) -> tuple[float, list[JSON]]:
        path = f"/v1/agents/{self.address.removeprefix('agent://')}/claims"
        body = {"worker_id": f"bench-h{self.number}", "max_intents": 1, "lease_seconds": 30,
                "wait_seconds": CLAIM_WAIT_SECONDS}  # fmt: skip
        hooks = {"trace": claim.trace}
        try:
            response = await self.client.post(path, json=body, extensions=hooks)
        except httpx.TransportError as exc:
            # A keep-alive connection the server closed as it was reused. Were the server to have
            # taken the claim anyway, it stops waiting with its connection (server/disconnect.py).
            console.print(f"POST {path}: {exc!r}; retrying")
            claim.sent.clear()
            response = await self.client.post(path, json=body, extensions=hooks)
        if response.status_code != 200:
            raise ChainFailed(f"POST {path} -> {response.status_code} {response.text}")
        return time.perf_counter(), list(response.json()["deliveries"])

    async def held(self, claim: Claim, gate: Gate | None) -> tuple[float, JSON]:
        """Wait until the claim's request has been out PARK_SECONDS (untimed), send the submit
        (``gate`` None) or the decision, and time until the claim's answer holds the intent.
        Returns the latency and the delivery."""
        await claim.left()
        await asyncio.sleep(max(0.0, claim.sent_at + PARK_SECONDS - time.perf_counter()))
        if claim.answer.done():
            raise ChainFailed(f"the claim for {self.address} answered before anything was sent to it")
        started = time.perf_counter()
        shown = await (self.decide(gate) if gate else self.submit())
        answered_at, deliveries = await asyncio.wait_for(claim.answer, GIVE_UP_SECONDS)
        problem = self._problem(shown, deliveries)
        if problem:
            for delivery in deliveries:  # a lease left to expire would come back to a later claim
                with contextlib.suppress(ChainFailed, httpx.HTTPError):
                    await self.complete(delivery)
            raise ChainFailed(problem)
        return answered_at - started, deliveries[0]

    def _problem(self, shown: JSON, deliveries: list[JSON]) -> str | None:
        """Why this unit measured something else than a waiting claim getting the intent, if it did."""
        if shown["status"] != "DELIVERED":
            return (
                f"{shown['intent_id']} is {shown['status']} in its answer, not DELIVERED: "
                f"no claim was waiting for {self.address} when it committed"
            )
        held = [d["intent"]["intent_id"] for d in deliveries]
        if held != [shown["intent_id"]]:
            return f"the claim for {self.address} holds {held}, not [{shown['intent_id']}]"
        return None

    async def submit(self) -> JSON:
        created = await self.driver.create(self.address, uuid.uuid4().hex)
        intent: JSON = created["intent"]
        return intent

    async def decide(self, gate: Gate) -> JSON:
        decided = await self.driver.post(f"/v1/tasks/{gate.task_id}/decision", {"outcome": "approved"})
        task, intent = decided["task"], decided["intent"]
        if (task["state"], intent["intent_id"]) != ("decided", gate.intent_id):
            raise ChainFailed(f"task {gate.task_id} is {task['state']} for {intent['intent_id']}")
        return dict(intent)

    async def complete(self, delivery: JSON) -> None:
        await self.driver.post(
            f"/v1/intents/{delivery['intent']['intent_id']}/complete",
            {"lease_token": delivery["lease"]["token"], "result": {"x": 1}},
            retry_safe=True,
        )  # a repeated completion is answered as a replay

    async def plan(self, kind: str, count: int) -> list[Gate | None]:
        """This slot's units: a gate opened now for each decision unit, nothing for a submit."""
        return [await self.gate() if kind == DECISION else None for _ in range(count)]

    async def gate(self) -> Gate:
        """An intent for this slot's agent that waits for a person, and its task (read once)."""
        key = uuid.uuid4().hex
        body = {
            "intent_type": INTENT_TYPE,
            "to_agent": self.address,
            "correlation_id": key,
            "payload": {"x": 0},
            "human_task": {"title": "Let the benchmark's intent through", "task_type": "approval"},
        }
        created = await self.driver.post("/v1/intents", body, {"Idempotency-Key": key}, retry_safe=True)
        intent = created["intent"]
        if (intent["status"], intent["waiting_reason"]) != ("WAITING", "WAITING_FOR_HUMAN"):
            raise ChainFailed(f"{intent['intent_id']} is {intent['status']}, not waiting for a person")
        tasks = (await self.get("/v1/tasks", {"intent_id": intent["intent_id"], "state": "open"}))["tasks"]
        if [t["intent_id"] for t in tasks] != [intent["intent_id"]]:
            raise ChainFailed(f"{intent['intent_id']} has {len(tasks)} open tasks, not one")
        return Gate(intent["intent_id"], tasks[0]["task_id"])

    async def get(self, path: str, params: dict[str, str] | None = None) -> JSON:
        try:
            response = await self.client.get(path, params=params)
        except httpx.TransportError as exc:  # a keep-alive connection the server closed: say, retry
            console.print(f"GET {path}: {exc!r}; retrying")
            response = await self.client.get(path, params=params)
        if response.status_code != 200:
            raise ChainFailed(f"GET {path} -> {response.status_code} {response.text}")
        found: JSON = response.json()
        return found


class HumanBench:
    """Runs blocks of ``submit→held`` and ``decision→held`` units, each slot with its own client."""

    def __init__(self, url: str, api_key: str) -> None:
        self.url = url
        self.api_key = api_key
        self.slots: list[Slot] = []
        self._clients = contextlib.AsyncExitStack()

    async def slot(self, number: int) -> Slot:
        while len(self.slots) <= number:
            client = httpx.AsyncClient(
                base_url=self.url,
                headers={"x-api-key": self.api_key},
                limits=httpx.Limits(max_connections=2, max_keepalive_connections=2),
                timeout=httpx.Timeout(CLAIM_WAIT_SECONDS + 30),
            )
            self.slots.append(Slot(len(self.slots), await self._clients.enter_async_context(client)))
        return self.slots[number]

    async def close(self) -> None:
        await self._clients.aclose()

    async def block(self, kind: str, count: int, in_flight: int, cpu: Meter) -> Block:
        """``count`` units of ``kind``, ``in_flight`` at a time: slot s runs units s, s + in_flight,
        … The gates of a decision block are created before its clock starts, as are its first
        claims."""
        slots = [await self.slot(n) for n in range(min(in_flight, count))]
        plans = [len(range(slot.number, count, in_flight)) for slot in slots]
        work = await asyncio.gather(*(slot.plan(kind, n) for slot, n in zip(slots, plans, strict=True)))
        claims = [slot.claim() for slot in slots]
        await asyncio.gather(*(claim.left() for claim in claims))
        await asyncio.gather(*(slot.get("/health") for slot in slots))  # the other connection, open
        await asyncio.sleep(SETTLE_SECONDS)  # the first claims, sent together, park: not timed
        latencies: list[float] = []
        failures: list[BaseException] = []
        before = cpu.sample()
        started = time.perf_counter()
        runs = zip(slots, work, claims, strict=True)
        await asyncio.gather(*(_run(slot, jobs, claim, latencies, failures) for slot, jobs, claim in runs))
        wall = time.perf_counter() - started
        usage = cpu.since(before)
        if failures:
            console.print(f"[red]{kind}: {len(failures)} slot(s) failed[/red]; first: {failures[0]!r}")
        return Block(latencies, wall, count - len(latencies), usage)


async def _run(
    slot: Slot, gates: list[Gate | None], first: Claim, latencies: list[float], failures: list[BaseException]
) -> None:
    """One slot's units, one claim at a time. After a failure the slot stops: its claim may still
    wait or hold other work, and the next unit must not be measured against it."""
    claim: Claim | None = first
    try:
        for k, gate in enumerate(gates):
            assert claim is not None  # sent before this unit
            latency, delivery = await slot.held(claim, gate)
            latencies.append(latency)
            # The next claim parks while this lease is completed (the completion is not timed);
            # the completion leaves after the claim, so its answer finds the claim taken in.
            claim = slot.claim() if k + 1 < len(gates) else None
            if claim is not None:
                await claim.left()
            await slot.complete(delivery)
    except (ChainFailed, TimeoutError, httpx.HTTPError, KeyError) as exc:
        failures.append(exc)
        if claim is not None:
            claim.answer.cancel()  # the server stops a long poll whose client went away
            with contextlib.suppress(BaseException):
                await claim.answer


# -- the workload --------------------------------------------------------------------------------
async def bench_humans(
    url: str,
    api_key: str,
    backend: str,
    cpu: Meter,
    *,
    warmup: int,
    sequential: int,
    concurrent: int,
    in_flight: int,
) -> list[Result]:
    """``submit→held`` and ``decision→held`` in short blocks that alternate, one at a time and
    ``in_flight`` at a time: one result row per kind and mode."""
    results = []
    bench = HumanBench(url, api_key)
    try:
        for kind, count in schedule(warmup, warmup):
            await bench.block(kind, count, 1, cpu)
        for flight, count in ((1, sequential), (in_flight, concurrent)):
            mode = "seq" if flight == 1 else f"x{flight}"
            blocks: dict[str, list[Block]] = {SUBMIT: [], DECISION: []}
            for kind, size in schedule(count, max(BLOCK_UNITS_PER_SLOT * flight, count // BLOCKS)):
                blocks[kind].append(await bench.block(kind, size, flight, cpu))
            for kind in (SUBMIT, DECISION):
                result = joined(f"{kind} {mode}", backend, blocks[kind])
                console.print(f"intentd {backend}: {result.workload}: {count} in {result.wall:.1f} s")
                results.append(result)
    finally:
        await bench.close()
    return results


def schedule(count: int, size: int) -> list[tuple[str, int]]:
    """Each kind's ``count`` units in blocks of ``size`` (the last smaller), the kinds alternating
    submit, decision, decision, submit, … so that each goes first about as often."""
    sizes = [min(size, count - start) for start in range(0, count, size)]
    return [(kind, n) for j, n in enumerate(sizes) for kind in (ORDER[:2] if j % 2 == 0 else ORDER[2:])]


def joined(workload: str, backend: str, blocks: Sequence[Block]) -> Result:
    """One result row from a kind's blocks: their latencies, their summed wall time and CPU."""
    wall = sum(b.wall for b in blocks)
    parts = {part for b in blocks for part in b.usage.cpu}
    cpu = {part: sum(b.usage.cpu.get(part, 0.0) for b in blocks) for part in parts}
    waits = [(b.usage.cpu_wait, b.wall) for b in blocks]
    wait = None
    if all(share is not None for share, _ in waits):
        wait = sum((share or 0.0) * seconds for share, seconds in waits) / max(wall, 1e-9)
    latencies = [x for b in blocks for x in b.latencies]
    failed = sum(b.failed for b in blocks)
    return Result(workload, "intentd", backend, latencies, wall, failed, Usage(cpu, wait))


# -- the ratio table -----------------------------------------------------------------------------
RATIO_COLUMNS = ["backend", "mode", "submit→held p50 / p99 ms, per s", "decision→held p50 / p99 ms, per s",
                 "decision/submit"]  # fmt: skip


def ratio_rows(results: Sequence[Result]) -> list[list[str]]:
    """Per backend and mode: both kinds, and decision against submit (p50 and p99 ratios: above 1, a
    decision takes longer to reach the agent; throughput ratio: below 1, fewer decisions a second)."""
    found = {(r.backend, r.workload): r for r in results if r.system == "intentd" and r.latencies}
    out = []
    for (backend, workload), submit in found.items():
        mode = workload.removeprefix(SUBMIT).strip()
        decision = found.get((backend, f"{DECISION} {mode}"))
        if not workload.startswith(SUBMIT) or decision is None:
            continue
        versus = (
            f"p50 {decision.p50_ms / submit.p50_ms:.2f}x, p99 {decision.p99_ms / submit.p99_ms:.2f}x, "
            f"thr {decision.throughput / submit.throughput:.2f}x"
        )
        out.append([backend, mode, _cell(submit), _cell(decision), versus])
    return out


def _cell(r: Result) -> str:
    return f"{r.p50_ms:.1f} / {r.p99_ms:.1f}, {r.throughput:.0f}"


def print_ratios(results: Sequence[Result], out: Console) -> None:
    rows = ratio_rows(results)
    if not rows:
        return
    table = Table(title="human tasks: decision → held against submit → held (same run)")
    for name in RATIO_COLUMNS:
        table.add_column(name, justify="left" if name in ("backend", "mode", "decision/submit") else "right")
    for row in rows:
        table.add_row(*row)
    out.print(table)


def ratio_markdown(results: Sequence[Result]) -> str:
    rows = ratio_rows(results)
    return _markdown(RATIO_COLUMNS, rows) if rows else ""
