"""The worker runtime against the real app (both backends), through the SDK's AsyncClient: over real
HTTP, where the worker holds a delivery stream, and in-process (httpx's ASGITransport), where it
claims."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from intentd.client import AsyncClient, Client, IntentSpec, Status
from intentd.worker import FatalError, Result, RetryableError, RetryPolicy, Worker
from tests._support.servers import AppClient, listening
from tests.conftest import TEST_KEY

AGENT = "agent://test/local/agent"


@pytest.fixture(params=["stream", "claim"])
async def client(api: AppClient, request: pytest.FixtureRequest) -> AsyncIterator[AsyncClient]:
    if request.param == "claim":
        async with AsyncClient("http://intentd.test", TEST_KEY, transport=api.to_app()) as sdk:
            yield sdk
        return
    async with listening(api.app) as url, AsyncClient(url, TEST_KEY) as sdk:
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


async def test_heartbeats_keep_the_lease_of_a_handler_running_several_lease_lengths(
    client: AsyncClient,
) -> None:
    worker = make_worker(client, lease_seconds=0.6)

    @worker.agent(AGENT)
    async def slow(ctx, intent):  # type: ignore[no-untyped-def]
        await asyncio.sleep(2.0)  # beats every 0.2 s; without them the lease lapses at 0.6 s
        return {"attempt": ctx.attempt}

    async with serving(worker):
        submitted = await client.submit(AGENT, "intent.slow.v1", {})
        final = await client.wait_for(submitted.intent_id, timeout=15)

    assert final.status is Status.COMPLETED and final.result == {"attempt": 1}
    assert "intent.lease_expired" not in await event_types(client, final.intent_id)


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


# --- slots shared fairly between agents ------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [2, 8])
async def test_an_idle_agent_does_not_starve_the_others(client: AsyncClient, concurrency: int) -> None:
    # The first agent's claim loop starts first and finds no work; the last one must still claim
    # promptly, also with fewer slots than agents (they take turns, one short long poll each).
    worker = make_worker(client, concurrency=concurrency)
    agents = [f"agent://test/local/agent-{n}" for n in range(3)]
    for address in agents:
        worker.agent(address)(_done)

    async with serving(worker):
        submitted = await client.submit(agents[-1], "intent.last.v1", {})
        final = await client.wait_for(submitted.intent_id, timeout=5)

    assert final.status is Status.COMPLETED


async def test_claims_never_take_more_slots_than_the_concurrency(api: httpx.AsyncClient) -> None:
    concurrency = 3
    recorder = LeaseRecorder(httpx.ASGITransport(app=api.app), concurrency)  # type: ignore[attr-defined]
    async with AsyncClient("http://intentd.test", TEST_KEY, transport=recorder) as client:
        worker = make_worker(client, concurrency=concurrency)
        running, peak, full = 0, 0, asyncio.Event()

        async def hold_until_full(ctx, intent):  # type: ignore[no-untyped-def]
            # The first handlers wait until every slot is busy, so claims compete for the last ones.
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            if running >= concurrency:
                full.set()
            await full.wait()
            running -= 1

        agents = ["agent://test/local/left", "agent://test/local/right"]
        for address in agents:
            worker.agent(address)(hold_until_full)
        async with serving(worker):
            submitted = [await client.submit(agents[n % 2], "intent.work.v1", {}) for n in range(8)]
            finals = [await client.wait_for(i.intent_id, timeout=10) for i in submitted]

    assert all(final.status is Status.COMPLETED for final in finals)
    assert peak == concurrency
    assert recorder.claims > 0 and recorder.overbooked == []


class LeaseRecorder(httpx.AsyncBaseTransport):
    """Checks at every claim request that the intents leased to the worker plus the slots of its
    claims in flight fit in ``concurrency``. A lease ends when the worker's report is answered,
    before the worker frees the slot, so this count never exceeds the slots the worker holds."""

    def __init__(self, inner: httpx.AsyncBaseTransport, concurrency: int) -> None:
        self.inner, self.concurrency = inner, concurrency
        self.leased: set[str] = set()
        self.requested = 0  # max_intents of the claims in flight
        self.claims = 0
        self.overbooked: list[tuple[int, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not path.endswith("/claims"):
            response = await self.inner.handle_async_request(request)
            if path.rsplit("/", 1)[-1] in {"complete", "fail", "release", "wait"}:
                self.leased.discard(path.split("/")[3])
            return response
        wanted = int(json.loads(await request.aread())["max_intents"])
        self.claims += 1
        self.requested += wanted
        if len(self.leased) + self.requested > self.concurrency:
            self.overbooked.append((len(self.leased), self.requested))
        try:
            response = await self.inner.handle_async_request(request)
            body = json.loads(await response.aread())
        finally:
            self.requested -= wanted
        self.leased.update(d["intent"]["intent_id"] for d in body.get("deliveries") or [])
        return response


# --- a sync Client's configuration carries over -----------------------------------------------------


async def test_a_sync_client_keeps_its_headers_retries_timeout_and_transport(api: httpx.AsyncClient) -> None:
    app = httpx.ASGITransport(app=api.app)  # type: ignore[attr-defined]
    bridge = SyncBridge(app, asyncio.get_running_loop(), failing_completes=4)
    sync = Client(
        "http://intentd.test",
        TEST_KEY,
        headers={"X-Team": "writers"},
        max_retries=4,  # the default (2) would give up before the fifth attempt succeeds
        backoff=0.01,
        timeout=7.0,
        transport=bridge,
    )
    worker = Worker(sync, concurrency=2, claim_wait_seconds=1.0)
    worker.agent(AGENT)(_done)

    async with AsyncClient("http://intentd.test", TEST_KEY, transport=app) as client, serving(worker):
        submitted = await client.submit(AGENT, "intent.echo.v1", {})
        final = await client.wait_for(submitted.intent_id, timeout=10)

    assert final.status is Status.COMPLETED
    assert bridge.count("/complete") == 5
    assert {r.headers.get("X-Team") for r in bridge.requests} == {"writers"}
    assert {r.headers.get("x-api-key") for r in bridge.requests} == {TEST_KEY}
    complete = next(r for r in bridge.requests if r.url.path.endswith("/complete"))
    assert complete.extensions["timeout"]["connect"] == 7.0
    assert not bridge.closed  # the transport is the given client's, still usable
    assert (await asyncio.to_thread(sync.get, final.intent_id)).status is Status.COMPLETED
    await asyncio.to_thread(bridge.wait_idle)  # before the app and its loop go away
    sync.close()


class SyncBridge(httpx.BaseTransport):
    """A sync Client's transport to the in-process app (each request runs on the test's loop, where
    the app lives). It notes every request and answers the first ``failing_completes`` completions
    with a 503, which the client retries."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, loop: asyncio.AbstractEventLoop, failing_completes: int
    ) -> None:
        self.inner, self.loop = inner, loop
        self.failing_completes = failing_completes
        self.requests: list[httpx.Request] = []
        self.closed = False
        self.in_flight = 0
        self._changed = threading.Condition()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._changed:
            self.requests.append(request)
            self.in_flight += 1
        try:
            return self._answer(request)
        finally:
            with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/complete") and self.failing_completes > 0:
            self.failing_completes -= 1
            return httpx.Response(503, json={"ok": False, "error": {"code": "unavailable"}})
        body = request.read()

        async def send() -> httpx.Response:
            response = await self.inner.handle_async_request(
                httpx.Request(request.method, request.url, headers=request.headers, content=body)
            )
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return asyncio.run_coroutine_threadsafe(send(), self.loop).result(timeout=30)

    def count(self, suffix: str) -> int:
        return sum(r.url.path.endswith(suffix) for r in self.requests)

    def wait_idle(self) -> None:
        """Until no request is in flight (a long poll cut short at shutdown runs on in its thread)."""
        with self._changed:
            assert self._changed.wait_for(lambda: self.in_flight == 0, timeout=10)

    def close(self) -> None:
        self.closed = True


def _done(ctx, intent):  # type: ignore[no-untyped-def]
    return {"done": True}
