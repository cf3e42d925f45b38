"""Durable delegation from a handler (``ctx.spawn``, ``ctx.gather``, ``ctx.step``) end to end: workers
in this process, a real ``intentd serve`` over HTTP, on both backends (one server per backend for the
module; each test uses agents of its own). The parent waits without a lease while its children run
and runs again from the top when they are done; the journal and the run tree show that no child was
created twice and no journaled step ran twice."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from intentd.client import AsyncClient, Intent, JournalEntry, Status
from intentd.worker import ChildFailed, FatalError, RetryPolicy, Worker
from tests._support import databases
from tests._support.servers import API_KEY, Server, module_server

pytestmark = pytest.mark.slow
TOPICS = ["leases", "journals", "sagas", "trees"]


@pytest.fixture(scope="module", params=databases.BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir: Path = tmp_path_factory.mktemp("delegation")
    with module_server(request, workdir) as server:
        yield server


@pytest.fixture
async def client(live: Server) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live.url, API_KEY) as sdk:
        yield sdk


@dataclass(frozen=True)
class Agents:
    """Addresses of this test's own (the server is shared by the module's tests)."""

    editor: str
    writer: str
    reviewer: str
    idle: str  # served by nobody: its intents stay open until the test acts


@pytest.fixture
def agents() -> Agents:
    env = f"t{uuid.uuid4().hex[:10]}"
    return Agents(*(f"agent://deleg/{env}/{name}" for name in ("editor", "writer", "reviewer", "idle")))


def make_worker(client: AsyncClient, **options: Any) -> Worker:
    settings: dict[str, Any] = {
        "concurrency": 8,
        "claim_wait_seconds": 1.0,
        "retry": RetryPolicy(base_seconds=0.05, max_seconds=0.1),
    }
    return Worker(client, **{**settings, **options})


@asynccontextmanager
async def serving(worker: Worker) -> AsyncIterator[None]:
    task = asyncio.create_task(worker.serve())
    await asyncio.sleep(0)
    try:
        yield
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    """Poll the server until ``check`` holds (its state lives in another process)."""
    try:
        async with asyncio.timeout(timeout):
            while not await check():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


async def waiting_for_agents(client: AsyncClient, intent_id: str) -> Intent:
    async def parked() -> bool:
        return (await client.get(intent_id)).status is Status.WAITING

    await until(parked, f"{intent_id} to wait for its children")
    return await client.get(intent_id)


def keyed(entries: list[JournalEntry]) -> dict[str, JournalEntry]:
    return {entry.key: entry for entry in entries}


async def children_by_key(client: AsyncClient, parent_id: str) -> dict[str | None, list[Intent]]:
    found: dict[str | None, list[Intent]] = {}
    for child in (await client.tree(parent_id)).children(parent_id):
        found.setdefault(child.step_key, []).append(child)
    return found


# --- fan-out --------------------------------------------------------------------------------------


async def test_an_async_fan_out_gathers_in_order_and_creates_each_child_once(
    client: AsyncClient, agents: Agents
) -> None:
    worker = make_worker(client)
    runs: list[int] = []
    stamps: list[str] = []
    gate = asyncio.Event()  # the writers finish once the test has seen the parent wait

    async def stamp() -> str:
        stamps.append(uuid.uuid4().hex)
        return stamps[-1]

    @worker.agent(agents.editor)
    async def edit(ctx, intent):  # type: ignore[no-untyped-def]
        runs.append(ctx.attempt)
        started = await ctx.step("started", stamp)
        drafts = await ctx.gather(
            *(
                ctx.spawn(agents.writer, {"topic": t}, key=f"draft-{t}", intent_type="intent.draft.v1")
                for t in intent.payload["topics"]
            )
        )
        reviews = await ctx.gather(
            *(ctx.spawn(agents.reviewer, d, key=f"review-{d['topic']}") for d in drafts)
        )
        return {"started": started, "drafts": drafts, "reviews": reviews}

    @worker.agent(agents.writer)
    async def write(ctx, intent):  # type: ignore[no-untyped-def]
        topic = intent.payload["topic"]
        await gate.wait()
        await asyncio.sleep(0.02 * (len(TOPICS) - TOPICS.index(topic)))  # the last topic ends first
        return {"topic": topic, "draft": topic.upper()}

    @worker.agent(agents.reviewer)
    def review(ctx, intent):  # type: ignore[no-untyped-def]
        return {"topic": intent.payload["topic"], "score": len(intent.payload["draft"])}

    async with serving(worker):
        parent = await client.submit(
            agents.editor, "intent.edit.v1", {"topics": TOPICS}, max_delivery_attempts=20
        )
        waiting = await waiting_for_agents(client, parent.intent_id)
        gate.set()
        final = await client.wait_for(parent.intent_id, timeout=60)

    assert (waiting.waiting_reason, waiting.lease_expires_at) == ("WAITING_FOR_AGENT", None)
    assert final.status is Status.COMPLETED, final.error
    assert final.result == {
        "started": stamps[0],
        "drafts": [{"topic": t, "draft": t.upper()} for t in TOPICS],
        "reviews": [{"topic": t, "score": len(t)} for t in TOPICS],
    }
    assert len(runs) >= 2 and len(stamps) == 1  # ran again from the top; the step ran once
    keys = [f"draft-{t}" for t in TOPICS] + [f"review-{t}" for t in TOPICS]
    journal = await client.journal(parent.intent_id)
    assert [e.key for e in journal] == ["started", *keys]
    assert [(e.kind, e.status) for e in journal] == [("value", "COMPLETED")] + [("child", "COMPLETED")] * 8
    children = await children_by_key(client, parent.intent_id)
    assert sorted(children, key=str) == sorted(keys) and all(len(c) == 1 for c in children.values())
    assert {c[0].intent_id for c in children.values()} == {e.child_intent_id for e in journal[1:]}
    draft = children["draft-leases"][0]
    assert (draft.from_agent, draft.intent_type, draft.payload) == (
        agents.editor,
        "intent.draft.v1",
        {"topic": "leases"},
    )
    assert draft.correlation_id == parent.correlation_id and draft.status is Status.COMPLETED


async def test_a_sync_handler_delegates_with_blocking_calls(client: AsyncClient, agents: Agents) -> None:
    worker = make_worker(client)
    runs: list[int] = []
    outlines: list[int] = []
    gate = threading.Event()  # the writers finish once the test has seen the parent wait

    def outline(topics: list[str]) -> list[str]:
        outlines.append(1)
        return sorted(topics)

    @worker.agent(agents.editor)
    def edit(ctx, intent):  # type: ignore[no-untyped-def]
        runs.append(ctx.attempt)
        topics = ctx.step("outline", lambda: outline(intent.payload["topics"]))
        drafts = ctx.gather(*(ctx.spawn(agents.writer, {"topic": t}, key=f"draft-{t}") for t in topics))
        summary = ctx.spawn(agents.reviewer, {"drafts": drafts}, key="summary").result()
        return {"drafts": drafts, "summary": summary}

    @worker.agent(agents.writer)
    def write(ctx, intent):  # type: ignore[no-untyped-def]
        gate.wait(30)
        return {"draft": intent.payload["topic"].title()}

    @worker.agent(agents.reviewer)
    async def summarize(ctx, intent):  # type: ignore[no-untyped-def]
        return {"words": [d["draft"] for d in intent.payload["drafts"]]}

    async with serving(worker):
        parent = await client.submit(
            agents.editor, "intent.edit.v1", {"topics": TOPICS}, max_delivery_attempts=20
        )
        waiting = await waiting_for_agents(client, parent.intent_id)
        gate.set()
        final = await client.wait_for(parent.intent_id, timeout=60)

    assert (waiting.waiting_reason, waiting.lease_expires_at) == ("WAITING_FOR_AGENT", None)
    assert final.status is Status.COMPLETED, final.error
    ordered = sorted(TOPICS)
    assert final.result == {
        "drafts": [{"draft": t.title()} for t in ordered],
        "summary": {"words": [t.title() for t in ordered]},
    }
    assert len(runs) >= 2 and outlines == [1]  # parked at least once, the step ran once
    keys = ["outline", *(f"draft-{t}" for t in ordered), "summary"]
    assert [e.key for e in await client.journal(parent.intent_id)] == keys
    children = await children_by_key(client, parent.intent_id)
    assert sorted(children, key=str) == sorted(keys[1:]) and all(len(c) == 1 for c in children.values())


# --- children that fail ---------------------------------------------------------------------------


async def test_a_failed_or_canceled_child_is_a_child_failed_and_the_parent_waits_without_a_lease(
    client: AsyncClient, agents: Agents
) -> None:
    worker = make_worker(client)

    @worker.agent(agents.editor)
    async def edit(ctx, intent):  # type: ignore[no-untyped-def]
        children = [ctx.spawn(agents.writer, {"topic": t}, key=t) for t in ("good", "bad")]
        children.append(ctx.spawn(agents.idle, key="idle"))
        outcomes = await ctx.gather(*children, return_exceptions=True)
        if intent.payload["strict"]:
            await ctx.gather(*children)  # raises the first failure, in order
        return {
            "outcomes": [
                {"key": o.key, "status": o.status, "code": o.error.get("code")}
                if isinstance(o, ChildFailed)
                else o
                for o in outcomes
            ]
        }

    @worker.agent(agents.writer)
    def write(ctx, intent):  # type: ignore[no-untyped-def]
        if intent.payload["topic"] == "bad":
            raise FatalError("no ink")
        return {"draft": "fine"}

    async with serving(worker):
        lenient = await client.submit(agents.editor, "intent.edit.v1", {"strict": False})
        strict = await client.submit(agents.editor, "intent.edit.v1", {"strict": True})
        for parent in (lenient, strict):
            waiting = await waiting_for_agents(client, parent.intent_id)
            assert (waiting.waiting_reason, waiting.lease_expires_at) == ("WAITING_FOR_AGENT", None)

            async def written(parent_id: str = parent.intent_id) -> bool:
                entries = keyed(await client.journal(parent_id))
                return entries["good"].finished and entries["bad"].finished

            await until(written, "the writers to end")
            entries = keyed(await client.journal(parent.intent_id))
            assert [entries[k].status for k in ("good", "bad", "idle")] == ["COMPLETED", "FAILED", "RUNNING"]
            assert (await client.get(parent.intent_id)).status is Status.WAITING  # the idle child holds it
            await client.cancel(str(entries["idle"].child_intent_id), reason="not needed")
        finals = [await client.wait_for(p.intent_id, timeout=60) for p in (lenient, strict)]

    assert finals[0].status is Status.COMPLETED, finals[0].error
    assert finals[0].result == {
        "outcomes": [
            {"draft": "fine"},
            {"key": "bad", "status": "FAILED", "code": "FatalError"},
            {"key": "idle", "status": "CANCELED", "code": "canceled"},
        ]
    }
    assert finals[1].status is Status.FAILED
    assert (finals[1].error["code"], finals[1].error["details"]["key"]) == ("ChildFailed", "bad")
    assert finals[1].error["details"]["error"]["message"] == "no ink"
    assert finals[1].error["message"] == "child 'bad' ended FAILED: no ink"


# --- compensation ---------------------------------------------------------------------------------


async def test_a_final_failure_compensates_each_step_once_last_first(
    client: AsyncClient, agents: Agents
) -> None:
    worker = make_worker(client)
    runs: list[int] = []
    done: list[str] = []
    undone: list[tuple[str, Any]] = []

    async def charge() -> dict[str, int]:
        done.append("charge")
        return {"cents": 500}

    async def refund(charged: dict[str, int]) -> str:
        undone.append(("charge", charged))
        return "refunded"

    @worker.agent(agents.editor)
    async def publish(ctx, intent):  # type: ignore[no-untyped-def]
        runs.append(ctx.attempt)
        await ctx.step(
            "book", lambda: done.append("book") or "slot-7", compensate=lambda r: undone.append(("book", r))
        )
        await ctx.step("charge", charge, compensate=refund)
        await ctx.spawn(agents.writer, key="draft")  # parks once: the second run replays the steps
        raise FatalError("printer on fire")

    @worker.agent(agents.writer)
    def write(ctx, intent):  # type: ignore[no-untyped-def]
        return {"draft": "ok"}

    async with serving(worker):
        parent = await client.submit(agents.editor, "intent.publish.v1", {}, max_delivery_attempts=20)
        final = await client.wait_for(parent.intent_id, timeout=60)

    assert final.status is Status.FAILED
    assert final.error == {
        "code": "FatalError",
        "message": "printer on fire",
        "details": {"compensated": ["charge", "book"]},
    }
    assert len(runs) == 2 and done == ["book", "charge"]
    assert undone == [("charge", {"cents": 500}), ("book", "slot-7")]
    entries = keyed(await client.journal(parent.intent_id))
    assert list(entries) == ["book", "charge", "draft", "$failed", "compensate:charge", "compensate:book"]
    assert entries["$failed"].result == {"code": "FatalError", "message": "printer on fire"}
    assert entries["compensate:charge"].result == "refunded"


async def test_retries_do_not_compensate_the_last_attempt_does_and_a_failing_compensation_is_reported(
    client: AsyncClient, agents: Agents
) -> None:
    worker = make_worker(client)
    runs: list[int] = []
    done: list[str] = []
    undone: list[str] = []

    def cannot_undo(result: Any) -> None:
        undone.append("notify")
        raise RuntimeError("a sent mail stays sent")

    @worker.agent(agents.editor)
    def flaky(ctx, intent):  # type: ignore[no-untyped-def]
        runs.append(ctx.attempt)
        ctx.step("reserve", lambda: done.append("reserve"), compensate=lambda r: undone.append("reserve"))
        ctx.step("notify", lambda: done.append("notify"), compensate=cannot_undo)
        ctx.step("archive", lambda: done.append("archive"), compensate=lambda r: undone.append("archive"))
        raise ValueError("still broken")

    async with serving(worker):
        parent = await client.submit(agents.editor, "intent.flaky.v1", {}, max_delivery_attempts=3)
        final = await client.wait_for(parent.intent_id, timeout=60)

    assert final.status is Status.FAILED
    assert final.error == {
        "code": "ValueError",
        "message": "still broken",
        "details": {"compensated": ["archive", "reserve"], "compensation_failed": ["notify"]},
    }
    assert runs == [1, 2, 3] and done == ["reserve", "notify", "archive"]
    assert undone == ["archive", "notify", "reserve"]  # only after the last attempt, each once
    keys = [e.key for e in await client.journal(parent.intent_id)]
    assert keys == ["reserve", "notify", "archive", "$failed", "compensate:archive", "compensate:reserve"]


@pytest.mark.parametrize("second_run", ["reaches_a_new_step", "returns"])
async def test_a_failure_interrupted_while_compensating_is_finished_by_the_next_delivery(
    client: AsyncClient, agents: Agents, second_run: str
) -> None:
    runs: list[int] = []
    undone: list[str] = []
    undoing_a = asyncio.Event()
    new_steps: list[str] = []

    async def undo_a(result: str) -> str:
        undoing_a.set()
        if len(runs) == 1:
            await asyncio.Event().wait()  # the worker stops meanwhile: the delivery ends here
        undone.append("a")
        return "undid a"

    async def publish(ctx, intent):  # type: ignore[no-untyped-def]
        runs.append(ctx.attempt)
        await ctx.step("a", lambda: "A", compensate=undo_a)
        await ctx.step("b", lambda: "B", compensate=lambda r: undone.append("b"))
        if ctx.attempt == 1:
            raise FatalError("boom")
        if second_run == "reaches_a_new_step":
            await ctx.step("c", lambda: new_steps.append("c"))  # raises the journaled failure instead
        return {"looks": "fine"}  # still the failure: it was journaled

    # A short lease: the intent the stopping worker releases can be handed to that worker's own
    # abandoned long poll (the server has not noticed it went), and waits for that lease to expire.
    first = make_worker(client, shutdown_grace_seconds=0.1, lease_seconds=1.0)
    first.agent(agents.editor)(publish)
    async with serving(first):
        parent = await client.submit(agents.editor, "intent.publish.v1", {}, max_delivery_attempts=20)
        await asyncio.wait_for(undoing_a.wait(), 30)
    interrupted = keyed(await client.journal(parent.intent_id))  # released by the stopping worker
    second = make_worker(client)
    second.agent(agents.editor)(publish)
    async with serving(second):
        final = await client.wait_for(parent.intent_id, timeout=60)

    assert list(interrupted) == ["a", "b", "$failed", "compensate:b"]
    assert len(runs) == 2 and runs[0] == 1 and undone == ["b", "a"] and new_steps == []
    assert final.status is Status.FAILED
    assert final.error == {"code": "FatalError", "message": "boom", "details": {"compensated": ["b", "a"]}}
    assert [e.key for e in await client.journal(parent.intent_id)] == [*interrupted, "compensate:a"]


class DropsJournaling(httpx.AsyncHTTPTransport):
    """The server unreachable, for every retry of one journal write (a restart at that moment)."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key, self.dropped = key, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if (
            request.url.path.endswith("/journal")
            and f'"{self.key}"'.encode() in request.content
            and self.dropped < 3
        ):
            self.dropped += 1
            raise httpx.ConnectError("All connection attempts failed", request=request)
        return await super().handle_async_request(request)


async def test_a_compensation_that_could_not_be_journaled_is_finished_by_the_next_delivery(
    live: Server, client: AsyncClient, agents: Agents
) -> None:
    undone: list[str] = []
    transport = DropsJournaling("compensate:charge")
    async with AsyncClient(live.url, API_KEY, transport=transport) as flaky:
        worker = make_worker(flaky)

        @worker.agent(agents.editor)
        async def saga(ctx: Any, intent: Intent) -> None:
            await ctx.step("reserve", lambda: "reserved", compensate=lambda _: undone.append("reserve"))
            await ctx.step("charge", lambda: "charged", compensate=lambda _: undone.append("charge"))
            raise FatalError("declined")

        async with serving(worker):
            order = await client.submit(agents.editor, "intent.order.v1", {})
            done = await client.wait_for(order.intent_id, timeout=30)

    assert transport.dropped == 3
    assert done.status is Status.FAILED
    assert done.error["details"]["compensated"] == ["charge", "reserve"]
    assert "compensation_failed" not in done.error["details"]
    assert undone == ["charge", "charge", "reserve"]  # ran again: not journaled is not undone
    keys = [e.key for e in await client.journal(order.intent_id)]
    assert keys == ["reserve", "charge", "$failed", "compensate:charge", "compensate:reserve"]
