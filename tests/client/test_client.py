"""The SDK against the real ASGI app on both backends, through both clients (``sdk`` runs every test
once with ``AsyncClient`` and once with the generated ``Client``), plus the edges of the world: a
failing network (``httpx.MockTransport``) for the retry rules, and a real ``intentd serve`` for the
sync client's streams over a socket."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from intentd.client import (
    AsyncClient,
    Client,
    ClientTimeout,
    Event,
    IdempotencyConflict,
    Intent,
    IntentNotFound,
    IntentSpec,
    IntentTerminal,
    NotFound,
    StaleLease,
    StalePolicyGeneration,
    Status,
    TransportError,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    WaitTimeout,
)
from intentd.client._base import RetryPolicy
from intentd.client._sse import Decoder, Message
from tests._support.http_api import REVIEWER, WRITER
from tests._support.sdk import (
    INTENT_WIRE,
    Flavour,
    Recorder,
    collect,
    connected,
    each_flavour,
    flaky_server,
    mock_client,
)
from tests._support.servers import API_KEY, AppClient, Server


def seqs(events: list[Event]) -> list[int]:
    return [e.seq for e in events]


# --- intents --------------------------------------------------------------------------------------


async def test_submit_get_list_and_events(sdk: AsyncClient) -> None:
    assert (await sdk.health()).ok is True
    assert "intents.create" in (await sdk.capabilities()).capabilities
    deadline = datetime.now(UTC) + timedelta(hours=1)
    intent = await sdk.submit(
        WRITER,
        "intent.draft.v1",
        {"topic": "leases"},
        reply_to="agent://acme/prod/boss",
        deadline_at=deadline,
        max_delivery_attempts=3,
    )

    assert isinstance(intent, Intent)
    assert (intent.status, intent.to_agent, intent.payload) == (Status.SUBMITTED, WRITER, {"topic": "leases"})
    assert uuid.UUID(intent.correlation_id)  # a fresh one, since none was given
    assert intent.deadline_at is not None
    assert abs((intent.deadline_at - deadline).total_seconds()) < 0.001
    assert (intent.reply_to, intent.max_delivery_attempts) == ("agent://acme/prod/boss", 3)
    assert intent.raw["intent_id"] == intent.intent_id
    assert await sdk.get(intent.intent_id) == intent
    events = await sdk.events(intent.intent_id)
    assert [(e.seq, e.event_type) for e in events] == [(1, "intent.created"), (2, "intent.submitted")]
    assert seqs(await sdk.events(intent.intent_id, since=1)) == [2]


async def test_list_filters_and_iter_intents_follows_cursors(sdk: AsyncClient) -> None:
    ours = [await sdk.submit(WRITER, "intent.draft.v1", correlation_id="batch") for _ in range(5)]
    await sdk.submit(REVIEWER, "intent.draft.v1", correlation_id="batch")
    await sdk.resolve(ours[0].intent_id, "CANCELED", reason="not needed")

    page = await sdk.list(to_agent=WRITER, limit=2)
    assert len(page.intents) == 2 and page.next_cursor is not None
    every = await collect(sdk.iter_intents(to_agent=WRITER, page_size=2))
    assert [i.intent_id for i in every] == [i.intent_id for i in reversed(ours)]  # newest first
    canceled = await sdk.list(status=Status.CANCELED, correlation_id="batch")
    assert [i.intent_id for i in canceled.intents] == [ours[0].intent_id]
    assert canceled.next_cursor is None


async def test_idempotency_key_makes_submit_repeatable(sdk: AsyncClient) -> None:
    first = await sdk.submit(
        WRITER, "intent.draft.v1", {"n": 1}, correlation_id="c", idempotency_key="draft-1"
    )
    again = await sdk.submit(
        WRITER, "intent.draft.v1", {"n": 1}, correlation_id="c", idempotency_key="draft-1"
    )
    assert again.intent_id == first.intent_id
    with pytest.raises(IdempotencyConflict) as caught:
        await sdk.submit(WRITER, "intent.draft.v1", {"n": 2}, correlation_id="c", idempotency_key="draft-1")
    assert (caught.value.code, caught.value.status_code) == ("idempotency_key_reused", 409)


async def test_a_repeated_submit_under_a_key_without_a_correlation_id_returns_the_first(
    sdk: AsyncClient,
) -> None:
    """The default correlation id comes from the key: a fresh one each time would change the body
    and make the repeat a conflict."""
    first = await sdk.submit(WRITER, "intent.draft.v1", {"n": 1}, idempotency_key="draft-2")
    again = await sdk.submit(WRITER, "intent.draft.v1", {"n": 1}, idempotency_key="draft-2")
    assert (again.intent_id, again.correlation_id) == (first.intent_id, first.correlation_id)
    other = await sdk.submit(WRITER, "intent.draft.v1", {"n": 1}, idempotency_key="draft-3")
    unkeyed = [await sdk.submit(WRITER, "intent.draft.v1", {"n": 1}) for _ in range(2)]
    assert len({first.correlation_id, other.correlation_id, *(i.correlation_id for i in unkeyed)}) == 4


async def test_resolve_cancel_resume_controls_and_policy(sdk: AsyncClient) -> None:
    one, two, three = [await sdk.submit(WRITER, "intent.draft.v1") for _ in range(3)]

    done = await sdk.resolve(one.intent_id, Status.COMPLETED, result={"answer": 42})
    assert (done.status, done.result) == (Status.COMPLETED, {"answer": 42})
    canceled = await sdk.cancel(two.intent_id, reason="changed my mind")
    assert (canceled.status, canceled.reason) == (Status.CANCELED, "changed my mind")

    tuned = await sdk.update_controls(three.intent_id, {"timeout_seconds": 60}, expected_policy_generation=0)
    assert (tuned.policy_generation, tuned.controls) == (1, {"timeout_seconds": 60})
    with pytest.raises(StalePolicyGeneration):
        await sdk.update_controls(three.intent_id, {"timeout_seconds": 5}, expected_policy_generation=0)
    granted = await sdk.update_policy(three.intent_id, grants={"delegate:agent://ops": {"allow": ["resume"]}})
    assert granted.policy_generation == 2
    assert granted.raw["workflow_control_policy"]["grants"] == {"delegate:agent://ops": {"allow": ["resume"]}}
    recorded = await sdk.resume(three.intent_id, {"approved": True})  # nothing waits: recorded, still open
    assert (recorded.status, recorded.policy_generation) == (Status.SUBMITTED, 3)
    resumed = await sdk.resume(three.intent_id, {"action": "complete", "approved": True})
    assert (resumed.status, resumed.result) == (Status.COMPLETED, {"approved": True})


# --- delivery -------------------------------------------------------------------------------------


async def test_worker_calls_claim_heartbeat_progress_wait_resume_complete(sdk: AsyncClient) -> None:
    intent = await sdk.submit(WRITER, "intent.draft.v1", correlation_id="chain-1")
    [delivery] = await sdk.claim(WRITER, worker_id="w1", lease_seconds=30)
    assert (delivery.intent.intent_id, delivery.attempt) == (intent.intent_id, 1)

    extended = await sdk.heartbeat(intent.intent_id, delivery.lease_token, lease_seconds=600)
    assert extended.lease_expires_at > delivery.lease_expires_at
    await sdk.progress(intent.intent_id, "drafting", lease_token=delivery.lease_token, usage={"tokens": 10})
    parked = await sdk.wait(intent.intent_id, delivery.lease_token, "human")
    assert (parked.status, parked.waiting_reason) == (Status.WAITING, "WAITING_FOR_HUMAN")
    assert (await sdk.resume(intent.intent_id, {"approved": True})).status is Status.SUBMITTED

    [again] = await sdk.claim(WRITER, worker_id="w2")
    assert again.attempt == 2
    with pytest.raises(StaleLease):  # the first worker's lease is over: it must stop
        await sdk.heartbeat(intent.intent_id, delivery.lease_token)
    review = IntentSpec(REVIEWER, "intent.review.v1", {"draft": "v1"})
    completion = await sdk.complete(intent.intent_id, again.lease_token, {"draft": "v1"}, then=[review])
    assert (completion.intent.status, completion.intent.result) == (Status.COMPLETED, {"draft": "v1"})
    assert completion.intent.usage == {"tokens": 10}
    [child] = completion.then
    assert (child.to_agent, child.parent_intent_id, child.correlation_id) == (
        REVIEWER,
        intent.intent_id,
        "chain-1",
    )  # joins the parent's correlation
    replay = await sdk.complete(intent.intent_id, again.lease_token, {"draft": "v1"}, then=[review])
    assert replay.replayed and [c.intent_id for c in replay.then] == [child.intent_id]
    events = await sdk.events(intent.intent_id)
    assert "intent.progress" in [e.event_type for e in events]


async def test_a_submit_waits_for_its_outcome_in_one_exchange(sdk: AsyncClient) -> None:
    async def work() -> None:
        [delivery] = await sdk.claim(REVIEWER, wait_seconds=10)
        await sdk.complete(delivery.intent.intent_id, delivery.lease_token, {"verdict": "fine"})

    done, _ = await asyncio.gather(sdk.submit(REVIEWER, "intent.review.v1", wait_seconds=10), work())

    assert (done.status, done.result) == (Status.COMPLETED, {"verdict": "fine"})


async def test_release_fail_and_an_empty_claim(sdk: AsyncClient) -> None:
    intent = await sdk.submit(WRITER, "intent.draft.v1")
    [first] = await sdk.claim(WRITER)
    assert (await sdk.release(intent.intent_id, first.lease_token)).status is Status.SUBMITTED
    [second] = await sdk.claim(WRITER)
    retried = await sdk.fail(intent.intent_id, second.lease_token, "flaky", retry=True)
    assert retried.status is Status.SUBMITTED
    [third] = await sdk.claim(WRITER)
    failed = await sdk.fail(intent.intent_id, third.lease_token, {"code": "bad_input"})
    assert (failed.status, failed.error) == (Status.FAILED, {"code": "bad_input"})
    with pytest.raises(IntentTerminal):
        await sdk.complete(intent.intent_id, third.lease_token)
    assert await sdk.claim(WRITER, wait_seconds=0) == []


# --- errors ---------------------------------------------------------------------------------------


async def test_errors_are_the_servers_classes_with_response_context(sdk: AsyncClient) -> None:
    with pytest.raises(IntentNotFound) as caught:
        await sdk.get("no-such-intent")
    err = caught.value
    assert isinstance(err, NotFound)
    assert (err.code, err.status_code) == ("intent_not_found", 404)
    assert err.request_id and len(err.request_id) == 32  # the server's x-request-id
    assert err.trace_id and len(err.trace_id) == 32  # the X-Trace-Id the client sent

    with pytest.raises(ValidationFailed) as invalid:
        await sdk.submit(WRITER, "Not A Type")
    assert (invalid.value.status_code, invalid.value.details["field"]) == (422, "intent_type")

    intent = await sdk.submit(WRITER, "intent.draft.v1")
    await sdk.resolve(intent.intent_id, "COMPLETED", result={})
    with pytest.raises(IntentTerminal) as terminal:
        await sdk.resolve(intent.intent_id, "FAILED", error="late")
    assert (terminal.value.code, terminal.value.status_code) == ("intent_terminal", 409)


@each_flavour
async def test_a_wrong_api_key_is_unauthorized(api: AppClient, flavour: Flavour) -> None:
    async with connected(flavour, api.to_app(), "itd_wrong") as client:
        with pytest.raises(Unauthorized) as caught:
            await client.get("anything")
    assert caught.value.status_code == 401


async def test_url_and_key_come_from_the_environment(api: AppClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTENTD_URL", "http://from-env.test/")
    monkeypatch.setenv("INTENTD_API_KEY", API_KEY)
    async with AsyncClient(transport=api.to_app()) as client:
        assert (client.base_url, client.api_key) == ("http://from-env.test", API_KEY)
        intent = await client.submit(WRITER, "intent.draft.v1")
        assert (await client.get(intent.intent_id)).intent_id == intent.intent_id
    assert Client(api_key="explicit").api_key == "explicit"


def test_without_a_configured_key_the_servers_key_file_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Client().api_key is None
    (tmp_path / ".intentd-key").write_text("itd_from_file\n")  # as `intentd serve` writes it
    assert Client().api_key == "itd_from_file"
    monkeypatch.setenv("INTENTD_API_KEY", "itd_from_env")
    assert Client().api_key == "itd_from_env"


# --- following ------------------------------------------------------------------------------------


def test_sse_blocks_end_at_a_blank_line_and_comments_are_ignored() -> None:
    lines = [
        ": keep-alive",
        "",
        "id: 7",
        "event: intent.progress",
        'data: {"a":',
        "data: 1}",
        "retry: 5",
        "",
        "data: plain",
        "",
        "event: stream.timeout",
        "data:",
        "",
    ]
    decoder = Decoder()
    messages = [m for m in map(decoder.feed, lines) if m is not None]
    assert messages == [
        Message("intent.progress", '{"a":\n1}', "7"),
        Message("message", "plain"),
        Message("stream.timeout", ""),
    ]


async def test_observe_reconnects_across_segments_without_duplicates_or_gaps(
    sdk: AsyncClient, recorder: Recorder
) -> None:
    intent = await sdk.submit(WRITER, "intent.draft.v1")

    async def write_during_later_segments() -> None:
        for segment in (2, 3, 4):  # segment n started: segment n-1 ended with stream.timeout
            await recorder.wait_count("/events/stream", segment)
            await sdk.progress(intent.intent_id, f"step {segment}")
        await recorder.wait_count("/events/stream", 5)
        await sdk.resolve(intent.intent_id, "COMPLETED", result={"ok": True})

    writer = asyncio.create_task(write_during_later_segments())
    seen = await collect(sdk.observe(intent.intent_id, wait_seconds=0.05, timeout=60))
    await writer

    assert seqs(seen) == [1, 2, 3, 4, 5, 6]
    assert [e.event_type for e in seen[2:]] == ["intent.progress"] * 3 + ["intent.completed"]
    assert recorder.count("/events/stream") == 5
    assert seqs(await collect(sdk.observe(intent.intent_id, since=4))) == [5, 6]


async def test_observe_polls_only_when_the_stream_is_unavailable(
    sdk: AsyncClient, recorder: Recorder
) -> None:
    intent = await sdk.submit(WRITER, "intent.draft.v1")
    with pytest.raises(IntentNotFound):  # a missing intent is an error, not a reason to poll
        await collect(sdk.observe("no-such-intent"))
    recorder.refuse_streams = True

    async def finish_while_polling() -> None:
        await recorder.wait_count("/events", 2)
        await sdk.resolve(intent.intent_id, "COMPLETED", result={})

    finisher = asyncio.create_task(finish_while_polling())
    seen = await collect(sdk.observe(intent.intent_id, poll_interval=0.02, timeout=60))
    await finisher

    assert seqs(seen) == [1, 2, 3] and seen[-1].is_terminal
    assert recorder.count("/events/stream") == 2  # one refused try per observe, then polls


async def test_wait_for_returns_the_terminal_intent(sdk: AsyncClient, recorder: Recorder) -> None:
    intent = await sdk.submit(WRITER, "intent.draft.v1")

    async def work() -> None:
        await recorder.wait_count("/events/stream", 1)  # the waiter is waiting
        [delivery] = await sdk.claim(WRITER)
        await sdk.complete(intent.intent_id, delivery.lease_token, {"draft": "done"})

    worker = asyncio.create_task(work())
    final = await sdk.wait_for(intent.intent_id, timeout=60, wait_seconds=30)
    await worker

    assert (final.status, final.result) == (Status.COMPLETED, {"draft": "done"})
    assert await sdk.wait_for(intent.intent_id, timeout=0) == final  # already terminal


async def test_wait_for_and_listen_time_out_cleanly(sdk: AsyncClient) -> None:
    intent = await sdk.submit(WRITER, "intent.draft.v1")
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        await sdk.wait_for(intent.intent_id, timeout=0.3, wait_seconds=30)
    assert isinstance(caught.value, TimeoutError)
    assert time.monotonic() - started < 5
    assert (await sdk.get(intent.intent_id)).status is Status.SUBMITTED
    with pytest.raises(WaitTimeout):
        await collect(sdk.listen("agent://acme/prod/idle", timeout=0.2, wait_seconds=30))


async def test_listen_yields_the_agent_feed_and_reconnects_from_its_cursor(
    sdk: AsyncClient, recorder: Recorder
) -> None:
    first, dropped, third = [await sdk.submit(WRITER, "intent.draft.v1") for _ in range(3)]
    await sdk.submit(REVIEWER, "intent.draft.v1")
    await sdk.cancel(dropped.intent_id)

    async def submit_after_a_reconnect() -> Intent:
        await recorder.wait_count("/intents/stream", 2)
        return await sdk.submit(WRITER, "intent.draft.v1")

    late = asyncio.create_task(submit_after_a_reconnect())
    items = await collect(sdk.listen(WRITER, wait_seconds=0.05), limit=3)
    fourth = await late

    # Non-terminal intents by default, in feed order, each once.
    assert [i.intent_id for i in items] == [first.intent_id, third.intent_id, fourth.intent_id]
    assert items[0].seq < items[1].seq < items[2].seq
    assert items[0].status is Status.SUBMITTED and items[0].to_agent == WRITER
    after_first = await collect(sdk.listen(WRITER, since=items[0].seq, wait_seconds=0.05), limit=1)
    assert [i.intent_id for i in after_first] == [third.intent_id]
    canceled = await collect(sdk.listen(WRITER, status=[Status.CANCELED], wait_seconds=0.05), limit=1)
    assert [i.intent_id for i in canceled] == [dropped.intent_id]


# --- retries (the network is the one thing mocked: MockTransport plays a failing server) ----------


@each_flavour
async def test_a_read_is_retried_on_503_with_one_trace_id(flavour: Flavour) -> None:
    requests, transport = flaky_server([503, 503, 200], {"ok": True, "intent": INTENT_WIRE})
    intent = await mock_client(flavour, transport).get("i-1")
    assert intent.intent_id == "i-1"
    assert len(requests) == 3
    assert len({r.headers["X-Trace-Id"] for r in requests}) == 1


@each_flavour
async def test_a_write_without_idempotency_is_sent_once(flavour: Flavour) -> None:
    requests, transport = flaky_server([503, 200], {"ok": True, "intent": INTENT_WIRE})
    client = mock_client(flavour, transport)
    with pytest.raises(Unavailable) as caught:
        await client.submit(WRITER, "intent.draft.v1")
    assert (caught.value.status_code, caught.value.retry_after) == (503, 0.0)
    with pytest.raises(TransportError):  # a lost answer could mean it was applied: not resent
        await mock_client(flavour, flaky_server([httpx.ReadError("reset")], {})[1]).resolve(
            "i-1", "COMPLETED"
        )
    assert len(requests) == 1


@each_flavour
async def test_submit_with_a_key_and_complete_are_retried(flavour: Flavour) -> None:
    requests, transport = flaky_server([503, 200], {"ok": True, "intent": INTENT_WIRE})
    await mock_client(flavour, transport).submit(WRITER, "intent.draft.v1", idempotency_key="once")
    assert [r.headers["Idempotency-Key"] for r in requests] == ["once", "once"]
    completion = {"ok": True, "intent": INTENT_WIRE, "then": [], "replayed": True}
    requests, transport = flaky_server([httpx.ConnectError("refused"), 200], completion)
    done = await mock_client(flavour, transport).complete("i-1", "token", {})
    assert (done.replayed, len(requests)) == (True, 2)


@each_flavour
async def test_retries_stop_after_max_retries_and_timeouts_are_timeouts(flavour: Flavour) -> None:
    requests, transport = flaky_server([httpx.ConnectError("refused")], {})
    with pytest.raises(TransportError) as caught:
        await mock_client(flavour, transport).get("i-1")
    assert len(requests) == 3 and caught.value.trace_id
    _, transport = flaky_server([httpx.ReadTimeout("slow")], {})
    with pytest.raises(ClientTimeout) as timed_out:
        await mock_client(flavour, transport).health()
    assert isinstance(timed_out.value, TimeoutError)
    requests, transport = flaky_server([404], {})
    with pytest.raises(Unavailable):  # the body's code decides the class, whatever the status
        await mock_client(flavour, transport).get("i-1")
    assert len(requests) == 1  # 4xx is never retried


def test_retry_delay_honours_retry_after_and_backs_off_with_jitter() -> None:
    policy = RetryPolicy(backoff=1.0, max_backoff=10.0)
    assert policy.delay(0, retry_after=2.5) == 2.5
    assert 2.0 <= policy.delay(2) <= 4.0
    assert 5.0 <= policy.delay(10) <= 10.0


# --- a real server, a real socket -----------------------------------------------------------------


class Tap(httpx.BaseTransport):
    """The real network transport, noting request paths so a test can wait for a new segment."""

    def __init__(self) -> None:
        self.network = httpx.HTTPTransport()
        self.paths: list[str] = []
        self._changed = threading.Condition()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._changed:
            self.paths.append(request.url.path)
            self._changed.notify_all()
        return self.network.handle_request(request)

    def close(self) -> None:
        self.network.close()

    def wait_count(self, suffix: str, n: int) -> None:
        with self._changed:
            assert self._changed.wait_for(
                lambda: sum(p.endswith(suffix) for p in self.paths) >= n, timeout=30
            )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir: Path = tmp_path_factory.mktemp("serve")
    running = Server(workdir, f"sqlite:///{workdir / 'intentd.db'}").start()
    yield running
    running.stop()


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(_capture(work)))
    thread.start()
    return thread, outcome


def _capture(work: Callable[[], Any]) -> Any:
    try:
        return work()
    except Exception as exc:
        return exc


@pytest.mark.slow
def test_sync_observe_follows_a_real_stream_across_segments(server: Server) -> None:
    tap = Tap()
    with Client(server.url, API_KEY, transport=tap) as observer, Client(server.url, API_KEY) as writer:
        intent = writer.submit(f"agent://acme/prod/{uuid.uuid4().hex[:8]}", "intent.draft.v1")
        thread, outcome = in_thread(
            lambda: list(observer.observe(intent.intent_id, wait_seconds=0.2, timeout=60))
        )
        for segment in (2, 3):
            tap.wait_count("/events/stream", segment)
            writer.progress(intent.intent_id, f"step {segment}")
        tap.wait_count("/events/stream", 4)
        writer.resolve(intent.intent_id, "COMPLETED", result={"ok": True})
        thread.join(60)

    [seen] = outcome
    assert seqs(seen) == [1, 2, 3, 4, 5], seen
    assert seen[-1].event_type == "intent.completed"


@pytest.mark.slow
def test_sync_wait_for_over_a_real_socket(server: Server) -> None:
    agent = f"agent://acme/prod/{uuid.uuid4().hex[:8]}"
    tap = Tap()
    with Client(server.url, API_KEY, transport=tap) as waiter, Client(server.url, API_KEY) as worker:
        intent = worker.submit(agent, "intent.draft.v1")
        thread, outcome = in_thread(lambda: waiter.wait_for(intent.intent_id, timeout=60, wait_seconds=30))
        tap.wait_count("/events/stream", 1)
        [delivery] = worker.claim(agent, wait_seconds=5)
        worker.complete(intent.intent_id, delivery.lease_token, {"draft": "done"})
        thread.join(60)
        [final] = outcome
        assert isinstance(final, Intent), final
        assert (final.status, final.result) == (Status.COMPLETED, {"draft": "done"})

        pending = worker.submit(agent, "intent.draft.v1")
        started = time.monotonic()
        with pytest.raises(WaitTimeout):
            waiter.wait_for(pending.intent_id, timeout=0.5, wait_seconds=30)
        assert time.monotonic() - started < 5
