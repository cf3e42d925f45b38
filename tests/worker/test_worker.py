"""The worker runtime against the real app (both backends), through the SDK's AsyncClient."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from intentd.client import AsyncClient, IntentSpec, Status
from intentd.worker import FatalError, Result, RetryableError, RetryPolicy, Worker
from tests.conftest import TEST_KEY

AGENT = "agent://test/local/agent"


@pytest.fixture
async def client(api: httpx.AsyncClient) -> AsyncIterator[AsyncClient]:
    transport = httpx.ASGITransport(app=api.app)  # type: ignore[attr-defined]
    async with AsyncClient("http://intentd.test", TEST_KEY, transport=transport) as sdk:
        yield sdk


def make_worker(client: AsyncClient, **options: object) -> Worker:
    settings: dict[str, object] = {
        "concurrency": 4,
        "claim_wait_seconds": 1.0,
        "retry": RetryPolicy(base_seconds=0.1, max_seconds=0.2),
    }
    settings.update(options)
    return Worker(client, **settings)  # type: ignore[arg-type]


@asynccontextmanager
async def serving(worker: Worker) -> AsyncIterator[None]:
    task = asyncio.create_task(worker.serve())
    await asyncio.sleep(0)
    try:
        yield
    finally:
        worker.stop()
        await asyncio.wait_for(task, 15)


async def event_types(client: AsyncClient, intent_id: str) -> list[str]:
    return [e.event_type for e in await client.events(intent_id)]


async def test_a_sync_handler_completes_its_intent_with_progress_and_usage(client: AsyncClient) -> None:
    worker = make_worker(client)

    @worker.agent(AGENT)
    def echo(ctx, intent):  # type: ignore[no-untyped-def]
        ctx.progress("working")
        ctx.report_usage(tokens=10, cost_usd=0.25)
        ctx.report_usage(tokens=5)
        return {"echo": intent.payload["x"], "attempt": ctx.attempt}

    async with serving(worker):
        submitted = await client.submit(AGENT, "intent.echo.v1", {"x": 7})
        final = await client.wait_for(submitted.intent_id, timeout=10)

    assert final.status is Status.COMPLETED
    assert final.result == {"echo": 7, "attempt": 1}
    assert final.usage == {"tokens": 15, "cost_usd": 0.25}
    assert "intent.progress" in await event_types(client, final.intent_id)


async def test_an_async_handler_can_park_the_intent_and_finish_after_resume(client: AsyncClient) -> None:
    worker = make_worker(client)

    @worker.agent(AGENT)
    async def approve(ctx, intent):  # type: ignore[no-untyped-def]
        if ctx.attempt == 1:
            await ctx.wait("WAITING_FOR_HUMAN", details={"question": "ship it?"})
            return {"ignored": True}
        return {"shipped": True, "attempt": ctx.attempt}

    async with serving(worker):
        submitted = await client.submit(AGENT, "intent.ship.v1", {})
        await _until(client, submitted.intent_id, Status.WAITING)
        await client.resume(submitted.intent_id, {"approved": True})
        final = await client.wait_for(submitted.intent_id, timeout=10)

    assert final.result == {"shipped": True, "attempt": 2}
    types = await event_types(client, final.intent_id)
    assert types.count("intent.completed") == 1
    assert "intent.waiting" in types and "intent.resumed" in types


async def test_a_retryable_error_is_retried_after_a_durable_backoff_with_a_stable_key(
    client: AsyncClient,
) -> None:
    worker = make_worker(client)
    keys: list[str] = []

    @worker.agent(AGENT)
    def flaky(ctx, intent):  # type: ignore[no-untyped-def]
        keys.append(ctx.idempotency_key)
        if ctx.attempt == 1:
            raise RetryableError("upstream busy", retry_after=0.2)
        return {"attempt": ctx.attempt}

    async with serving(worker):
        submitted = await client.submit(AGENT, "intent.flaky.v1", {})
        final = await client.wait_for(submitted.intent_id, timeout=15)

    assert final.result == {"attempt": 2}
    assert len(keys) == 2 and keys[0] == keys[1]
    events = await client.events(final.intent_id)
    backoff = next(e for e in events if e.event_type == "intent.waiting")
    assert backoff.raw["waiting_reason"] == "WAITING_FOR_TIME"
    assert backoff.raw["details"]["error"]["message"] == "upstream busy"


async def test_any_exception_counts_as_retryable_until_attempts_run_out(client: AsyncClient) -> None:
    worker = make_worker(client)
    calls = 0

    @worker.agent(AGENT)
    def broken(ctx, intent):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        raise ValueError("always broken")

    async with serving(worker):
        submitted = await client.submit(AGENT, "intent.broken.v1", {}, max_delivery_attempts=2)
        final = await client.wait_for(submitted.intent_id, timeout=15)

    assert final.status is Status.FAILED
    assert final.error == {"code": "ValueError", "message": "always broken"}
    assert calls == 2


async def test_a_fatal_error_fails_at_once_with_the_error_recorded(client: AsyncClient) -> None:
    worker = make_worker(client)

    @worker.agent(AGENT)
    async def refuse(ctx, intent):  # type: ignore[no-untyped-def]
        raise FatalError("payload is nonsense")

    async with serving(worker):
        submitted = await client.submit(AGENT, "intent.refuse.v1", {})
        final = await client.wait_for(submitted.intent_id, timeout=10)

    assert final.status is Status.FAILED
    assert final.error == {"code": "FatalError", "message": "payload is nonsense"}
    assert final.delivery_attempt == 1


async def test_a_result_with_then_hands_the_work_to_the_next_agent(client: AsyncClient) -> None:
    worker = make_worker(client)

    @worker.agent("agent://test/local/first")
    def first(ctx, intent):  # type: ignore[no-untyped-def]
        return Result(
            {"step": 1}, then=[IntentSpec("agent://test/local/second", "intent.second.v1", {"from": 1})]
        )

    @worker.agent("agent://test/local/second")
    def second(ctx, intent):  # type: ignore[no-untyped-def]
        return {"step": 2, "got": intent.payload["from"], "parent": intent.parent_intent_id}

    async with serving(worker):
        head = await client.submit("agent://test/local/first", "intent.first.v1", {})
        await client.wait_for(head.intent_id, timeout=10)
        page = await client.list(correlation_id=head.correlation_id)
        tail = next(i for i in page.intents if i.intent_id != head.intent_id)
        final = await client.wait_for(tail.intent_id, timeout=10)

    assert final.result == {"step": 2, "got": 1, "parent": head.intent_id}


async def test_cancel_wins_over_a_running_handler(client: AsyncClient) -> None:
    worker = make_worker(client, lease_seconds=0.6)
    started, stopped = asyncio.Event(), asyncio.Event()

    @worker.agent(AGENT)
    async def slow(ctx, intent):  # type: ignore[no-untyped-def]
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()

    async with serving(worker):
        submitted = await client.submit(AGENT, "intent.slow.v1", {})
        await asyncio.wait_for(started.wait(), 10)
        await client.cancel(submitted.intent_id, reason="no longer needed")
        await asyncio.wait_for(stopped.wait(), 5)  # the next heartbeat's 409 stops it

    final = await client.get(submitted.intent_id)
    assert final.status is Status.CANCELED
    assert (await event_types(client, final.intent_id))[-1] == "intent.canceled"


async def test_shutdown_finishes_quick_handlers_and_releases_slow_ones(client: AsyncClient) -> None:
    worker = make_worker(client, shutdown_grace_seconds=0.5)
    release_slow = threading.Event()
    both_started = asyncio.Semaphore(0)

    @worker.agent("agent://test/local/quick")
    async def quick(ctx, intent):  # type: ignore[no-untyped-def]
        both_started.release()
        await asyncio.sleep(0.1)
        return {"done": True}

    @worker.agent("agent://test/local/slow")
    def slow(ctx, intent):  # type: ignore[no-untyped-def]
        asyncio.run_coroutine_threadsafe(_release(both_started), loop)
        release_slow.wait(10)
        return {"too": "late"}

    loop = asyncio.get_running_loop()
    task = asyncio.create_task(worker.serve())
    quick_intent = await client.submit("agent://test/local/quick", "intent.quick.v1", {})
    slow_intent = await client.submit("agent://test/local/slow", "intent.slow.v1", {})
    for _ in range(2):
        await asyncio.wait_for(both_started.acquire(), 10)
    worker.stop()
    await asyncio.wait_for(task, 10)
    release_slow.set()

    assert (await client.get(quick_intent.intent_id)).status is Status.COMPLETED
    released = await client.get(slow_intent.intent_id)
    assert released.status is Status.SUBMITTED  # claimable by another worker right away
    assert (await event_types(client, released.intent_id))[-1] == "intent.released"


async def _release(semaphore: asyncio.Semaphore) -> None:
    semaphore.release()


async def _until(client: AsyncClient, intent_id: str, status: Status) -> None:
    async for event in client.observe(intent_id, timeout=10):
        if event.status is status:
            return
