"""The worker: takes intents for its agents, runs their handlers, and reports the outcome.

    worker = Worker(client, concurrency=8)

    @worker.agent("agent://acme/prod/writer")
    def write(ctx, intent):
        ctx.progress("drafting")
        return {"draft": "..."}           # completes the intent

    worker.run()                           # until SIGTERM / SIGINT

The worker holds one delivery stream for all its agents: the server pushes each intent with its lease
the moment it is submitted (``GET /v1/deliveries/stream``), never more than ``concurrency`` at once. It
opens the stream again when it ends (leases it still holds come first and are not run twice), and
against a server without streams it long-polls claims per agent instead (``delivery="claim"`` asks for
that; the default ``"auto"`` claims too where the client's transport cannot hold a stream).

While a handler runs, a heartbeat extends its lease; if the server answers that the intent is no longer
ours (canceled, or the lease was lost), the handler is told (``ctx.cancelled``; an async handler is
cancelled) and its result is dropped. On shutdown the worker stops taking work, lets running handlers finish
within the grace period and releases the rest, so another worker takes them at once.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import random
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from intentd import logs
from intentd.client import (
    AgentSwitch,
    AsyncClient,
    Client,
    Delivery,
    Intent,
    IntentdError,
    IntentSpec,
    NotFound,
)
from intentd.model import JSON, normalize_address

from ._client import async_twin
from ._context import AsyncContext, Context, _ContextState, _current
from ._errors import FatalError, RetryableError, error_object
from ._slots import Slots
from ._tracing import handled, mark_failed

log = logging.getLogger("intentd.worker")
Handler = Callable[..., Any]
_MAX_BATCH = 16
_MAX_BACKOFF = 5.0  # seconds at most between attempts to open the delivery stream again
_HELD_A_WHILE = 1.0  # seconds: a stream the server ended after this long is opened again at once


@dataclass(frozen=True)
class Result:
    """A handler's richer answer: the result plus follow-up intents submitted with the completion
    (one round trip hands the work to the next agent)."""

    value: JSON = field(default_factory=dict)
    then: Sequence[IntentSpec | JSON] = ()


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between attempts: ``base * 2**(attempt-1)``, capped, with ±20 % jitter. An intent's
    ``envelope.retry_backoff_seconds`` / ``max_retry_count`` (its policy) take precedence."""

    base_seconds: float = 1.0
    max_seconds: float = 60.0

    def delay(self, intent: Intent, attempt: int) -> float:
        given = _envelope(intent).get("retry_backoff_seconds")
        if isinstance(given, int | float):
            return float(given)
        delay: float = min(self.max_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return delay * random.uniform(0.8, 1.2)

    @staticmethod
    def attempts(intent: Intent) -> int:
        limit = intent.max_delivery_attempts
        retries = _envelope(intent).get("max_retry_count")
        return min(limit, retries + 1) if isinstance(retries, int) else limit


def _envelope(intent: Intent) -> JSON:
    policy = intent.raw.get("workflow_control_policy") or {}
    envelope = policy.get("envelope") or {}
    return envelope if isinstance(envelope, dict) else {}


class Worker:
    """Serves the agents registered with :meth:`agent`.

    ``concurrency`` bounds the handlers running at once, across all agents: on the delivery stream
    it is the stream's ``max_in_flight``; with claims the agents share it so that none waits for
    another (each can always poll with at least one slot; with fewer slots than agents, they take
    turns, one long poll of ``claim_wait_seconds`` each). ``delivery``: ``"auto"`` (a held stream
    where the transport can hold one, else claims), ``"stream"`` or ``"claim"``. A sync :class:`Client`
    is used through an AsyncClient configured the same way: headers, API key, timeout, retry policy
    and transport (a plain ``httpx.HTTPTransport``, which httpx builds when given none, is replaced
    by its async twin; for a network transport configured by hand, pass an AsyncClient).
    """

    def __init__(
        self,
        client: AsyncClient | Client | None = None,
        *,
        concurrency: int = 8,
        worker_id: str | None = None,
        lease_seconds: float = 30.0,
        claim_wait_seconds: float = 10.0,
        shutdown_grace_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
        delivery: Literal["auto", "stream", "claim"] = "auto",
    ) -> None:
        if delivery not in ("auto", "stream", "claim"):
            raise ValueError("delivery is 'auto', 'stream' or 'claim'")
        self._client_config = client
        self.delivery = delivery
        self.concurrency = concurrency
        self.worker_id = worker_id or f"{socket.gethostname()}/{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds
        self.claim_wait_seconds = claim_wait_seconds
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.retry = retry or RetryPolicy()
        self._handlers: dict[str, Handler] = {}
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def agent(self, address: str) -> Callable[[Handler], Handler]:
        """Register ``handler(ctx, intent)`` for intents sent to ``address``."""

        def register(handler: Handler) -> Handler:
            self._handlers[normalize_address(address, "address")] = handler
            return handler

        return register

    @property
    def addresses(self) -> list[str]:
        """The addresses registered with :meth:`agent`."""
        return list(self._handlers)

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT, then shut down gracefully."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.stop)
            await self.serve()

        asyncio.run(main())

    def start(self) -> threading.Thread:
        """Serve in a background thread (scripts, notebooks, tests); :meth:`stop` ends it."""
        started = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopping = asyncio.Event()
            started.set()
            await self.serve()

        thread = threading.Thread(target=asyncio.run, args=(main(),), name="intentd-worker", daemon=True)
        thread.start()
        started.wait(10)
        return thread

    def stop(self) -> None:
        """Stop claiming; running handlers get the grace period, then their intents are released.
        Safe to call from any thread or a signal handler."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    async def serve(self) -> None:
        if not self._handlers:
            raise RuntimeError("no agents registered: decorate a handler with @worker.agent(...)")
        self._loop = asyncio.get_running_loop()
        self._stopping = self._stopping or asyncio.Event()
        client = self._async_client()
        run = _Run(self, client)
        stream = self.delivery == "stream" or (self.delivery == "auto" and _streams_through(client))
        taking = run.stream_loop() if stream else run.claim_loops()
        taker = asyncio.create_task(taking, name="intentd-deliveries")
        try:
            await self._stopping.wait()
        finally:
            taker.cancel()
            await asyncio.gather(taker, return_exceptions=True)
            await run.drain(self.shutdown_grace_seconds)
            if not isinstance(self._client_config, AsyncClient):
                await client.aclose()
            self._stopping, self._loop = None, None  # a later serve() starts afresh

    def _async_client(self) -> AsyncClient:
        given = self._client_config
        if isinstance(given, AsyncClient):
            return given
        if isinstance(given, Client):
            # Threads for a borrowed sync transport: a long poll per agent, and per slot a
            # heartbeat, a call from the handler and the report.
            return async_twin(given, threads=len(self._handlers) + 3 * self.concurrency)
        return AsyncClient()


class _Run:
    """One serve() call: its slots, its running handlers."""

    def __init__(self, worker: Worker, client: AsyncClient) -> None:
        self.worker = worker
        self.client = client
        self.slots = Slots(worker.concurrency, worker._handlers)
        self.running: dict[asyncio.Task[None], Delivery] = {}
        self.tokens: set[str] = set()  # the leases of the running handlers
        # lease token -> (context, the handler's work): what a kill stops (docs/mesh.md)
        self.working: dict[str, tuple[_ContextState, asyncio.Future[Any]]] = {}

    async def stream_loop(self) -> None:
        """Hold the delivery stream, opening it again when it ends; claims against an older server."""
        failures = 0
        while True:
            opened = time.monotonic()
            try:
                async for delivery in self.client.deliveries(
                    list(self.worker._handlers),
                    worker_id=self.worker.worker_id,
                    lease_seconds=self.worker.lease_seconds,
                    max_in_flight=self.worker.concurrency,
                    on_switch=self._switched,
                ):
                    failures = 0
                    self._start(delivery)
                # The server ended it (held its longest, a restart): open it again, at once if it
                # was held a while, else after a pause, so a server that ends streams at once is not
                # asked again in a tight loop.
                failures = 0
                if time.monotonic() - opened >= _HELD_A_WHILE:
                    continue
            except NotFound:
                log.info("the server has no delivery streams; claiming instead")
                await self.claim_loops()
                return
            except IntentdError as exc:
                log.warning("delivery stream failed: %s; opening it again", exc)
            except Exception:  # a bug must not end the deliveries silently until shutdown
                log.exception("delivery stream failed unexpectedly; opening it again")
            failures += 1
            await asyncio.sleep(min(_MAX_BACKOFF, 0.1 * 2 ** min(failures, 10)) * random.uniform(0.5, 1.0))

    def _switched(self, switch: AgentSwitch) -> None:
        """One of our agents was killed: its leases were revoked, so its handlers stop now (an async
        handler is cancelled, a sync one sees ``ctx.cancelled``) and report nothing."""
        if not switch.killed:
            log.info("agent %s was resumed", switch.agent)
            return
        stopping = [
            (state, work)
            for state, work in self.working.values()
            if state.delivery.intent.to_agent == switch.agent
        ]
        log.warning(
            "agent %s was killed (%s); stopping its %d running handler(s)",
            switch.agent,
            switch.reason or "no reason given",
            len(stopping),
        )
        for state, work in stopping:
            state.lost.set()
            work.cancel()

    def _start(self, delivery: Delivery) -> None:
        if delivery.lease_token in self.tokens:
            return  # a lease sent again on a new stream, and its handler is running already
        handler = self.worker._handlers.get(delivery.intent.to_agent)
        if handler is None:  # not ours (the server sends only what was asked for)
            log.warning("delivery for %s, which this worker does not serve", delivery.intent.to_agent)
            return
        task = asyncio.create_task(handled(self.handle(handler, delivery), delivery))
        self.running[task] = delivery
        self.tokens.add(delivery.lease_token)
        task.add_done_callback(self._handled)

    def _handled(self, task: asyncio.Task[None]) -> None:
        delivery = self.running.pop(task, None)
        if delivery is not None:
            self.tokens.discard(delivery.lease_token)

    async def claim_loops(self) -> None:
        loops = [self.claim_loop(address, handler) for address, handler in self.worker._handlers.items()]
        await asyncio.gather(*loops)

    async def claim_loop(self, address: str, handler: Handler) -> None:
        want = 1
        while True:
            reserved = await self.slots.reserve(address, want)
            try:
                deliveries = await self._claim(address, reserved)
            except BaseException:
                self.slots.release(address, reserved)
                raise
            # Hand back the slots the claim did not fill at once, so other agents' loops can use
            # them. An idle agent then polls with one slot; a busy one asks for twice what it got.
            self.slots.release(address, reserved - len(deliveries))
            want = max(1, min(_MAX_BATCH, 2 * len(deliveries)))
            for delivery in deliveries:
                task = asyncio.create_task(handled(self.handle(handler, delivery), delivery))
                self.running[task] = delivery
                task.add_done_callback(functools.partial(self._finished, address))

    async def _claim(self, address: str, count: int) -> list[Delivery]:
        try:
            return await self.client.claim(
                address,
                worker_id=self.worker.worker_id,
                max_intents=count,
                lease_seconds=self.worker.lease_seconds,
                wait_seconds=self.worker.claim_wait_seconds,
            )
        except IntentdError as exc:
            log.warning("claim for %s failed: %s; retrying", address, exc)
        except Exception:  # a bug must not end this agent's claims silently until shutdown
            log.exception("claim for %s failed unexpectedly; retrying", address)
        await asyncio.sleep(1.0)  # a pause before the next claim, holding the reservation
        return []

    def _finished(self, address: str, task: asyncio.Task[None]) -> None:
        self.running.pop(task, None)
        self.slots.release(address, 1)

    async def handle(self, handler: Handler, delivery: Delivery) -> None:
        # This task's own context (each delivery is handled in a task of its own): what the handler
        # and the worker log about it, in the handler's thread too, names the intent (intentd/logs.py).
        i = delivery.intent
        logs.begin(logs.LogContext(intent_id=i.intent_id, correlation_id=i.correlation_id, agent=i.to_agent))
        state = _ContextState(self.client, delivery)
        work = asyncio.ensure_future(self._call(handler, state))
        beat = _Heartbeat(self, state, work)
        self.working[delivery.lease_token] = (state, work)
        try:
            outcome = await asyncio.shield(work)
        except asyncio.CancelledError:
            if state.lost.is_set():
                return  # canceled on the server, or its agent killed: nothing to report
            work.cancel()
            raise
        except BaseException as exc:  # noqa: BLE001 - the handler's failure is the intent's
            outcome = exc
        finally:
            beat.stop()
            self.working.pop(delivery.lease_token, None)
        if state.lost.is_set() or state.parked:
            return
        if isinstance(outcome, _Unfinished):
            await self._give_back(state.delivery)
            return
        await self._report(state, outcome)

    async def _call(self, handler: Handler, state: _ContextState) -> Any:
        """The handler's outcome; a failure for good first compensates the steps that asked to be
        (while the heartbeat still holds the lease)."""
        try:
            return state.journal.returned(await self._invoke(handler, state))
        except Exception as exc:
            failure = state.journal.failure(exc)
            if _retryable(state.delivery, failure):
                raise
            try:
                final = await state.journal.compensate(failure)
            except IntentdError as unjournaled:
                raise _Unfinished from unjournaled
            if final is exc:
                raise
            raise final from exc

    async def _invoke(self, handler: Handler, state: _ContextState) -> Any:
        intent = state.delivery.intent
        if inspect.iscoroutinefunction(handler):
            actx = AsyncContext(state)
            _current.set(actx)  # this task's own copy of the variable: no reset needed
            return await handler(actx, intent)
        ctx = Context(state, asyncio.get_running_loop())
        _current.set(ctx)  # to_thread copies the task's variables into the handler's thread
        return await asyncio.to_thread(handler, ctx, intent)

    async def _report(self, state: _ContextState, outcome: Any) -> None:
        d = state.delivery
        intent_id, token = d.intent.intent_id, d.lease_token
        usage = state.usage or None
        try:
            if isinstance(outcome, BaseException):
                await self._report_failure(state, outcome)
            elif isinstance(outcome, Result):
                await self.client.complete(intent_id, token, outcome.value, then=outcome.then, usage=usage)
            else:
                await self.client.complete(intent_id, token, _as_result(outcome), usage=usage)
        except IntentdError as exc:
            # Fenced out (another attempt owns the intent) or it was canceled: drop our answer.
            log.warning("could not report the outcome of %s: %s", intent_id, exc)

    async def _report_failure(self, state: _ContextState, exc: BaseException) -> None:
        d = state.delivery
        error = error_object(exc)
        retryable = _retryable(d, exc)
        mark_failed(str(error.get("code") or type(exc).__name__), exc)  # its span, when traced
        delay = 0.0
        if retryable:
            given = exc.retry_after if isinstance(exc, RetryableError) else None
            delay = given if given is not None else self.worker.retry.delay(d.intent, d.attempt)
        log.info(
            "handler for %s raised %s (attempt %d, retry=%s)",
            d.intent.intent_id,
            error["code"],
            d.attempt,
            retryable,
        )
        await self.client.fail(
            d.intent.intent_id,
            d.lease_token,
            error,
            retry=retryable,
            retry_after_seconds=delay,
            usage=state.usage or None,
        )

    async def _give_back(self, delivery: Delivery) -> None:
        """Release the intent at once (its lease would lapse otherwise: the same, later)."""
        try:
            await self.client.release(delivery.intent.intent_id, delivery.lease_token)
        except IntentdError as exc:
            log.warning("could not give %s back (%s): its lease will lapse", delivery.intent.intent_id, exc)

    async def drain(self, grace: float) -> None:
        """Let running handlers finish within ``grace`` seconds; release what is still running."""
        if self.running:
            await asyncio.wait(list(self.running), timeout=grace)
        for task, delivery in list(self.running.items()):
            task.cancel()
            try:
                await self.client.release(delivery.intent.intent_id, delivery.lease_token)
            except IntentdError as exc:
                log.warning("could not release %s: %s", delivery.intent.intent_id, exc)
        if self.running:
            await asyncio.gather(*self.running, return_exceptions=True)


class _Heartbeat:
    """Extends the lease of a running handler every third of its length, and stops the handler when
    the server says the intent is no longer ours. Between beats it is a timer on the loop, not a
    task: most handlers finish long before the first beat is due, and a task per delivery (started,
    then cancelled) cost each of them two more turns of the loop."""

    def __init__(self, run: _Run, state: _ContextState, work: asyncio.Future[Any]) -> None:
        self._run, self._state, self._work = run, state, work
        self._interval = run.worker.lease_seconds / 3
        self._request: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            self._interval, self._due
        )

    def stop(self) -> None:
        """The handler is done: no more beats, and one being sent is abandoned."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._request is not None:
            self._request.cancel()

    def _due(self) -> None:
        self._timer = None
        self._request = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        d, seconds = self._state.delivery, self._run.worker.lease_seconds
        try:
            await self._run.client.heartbeat(d.intent.intent_id, d.lease_token, lease_seconds=seconds)
        except IntentdError as exc:
            if exc.http_status == 409:  # canceled, or the lease is no longer ours
                log.info(
                    "intent %s is no longer ours (%s); stopping its handler", d.intent.intent_id, exc.code
                )
                self._state.lost.set()
                self._work.cancel()
                return
            log.warning("heartbeat for %s failed: %s", d.intent.intent_id, exc)
        self._request = None
        self._timer = asyncio.get_running_loop().call_later(self._interval, self._due)


def _streams_through(client: AsyncClient) -> bool:
    """Whether the client's transport hands over a response as it arrives. httpx's network transport
    does; its ASGITransport (an app in the same process, in tests) and a borrowed sync transport
    read the whole body first, which a held stream never ends: the worker claims through those."""
    transport = client.transport
    return transport is None or isinstance(transport, httpx.AsyncHTTPTransport)


def _retryable(delivery: Delivery, exc: BaseException) -> bool:
    return not isinstance(exc, FatalError) and delivery.attempt < RetryPolicy.attempts(delivery.intent)


class _Unfinished(Exception):
    """A compensation ran but could not be journaled (the server unreachable): the intent is given
    back, so that the next delivery (which finds ``$failed``) finishes compensating and reports the
    failure; a release needs no attempt left, where failing now would leave the rest undone."""


def _as_result(value: Any) -> JSON:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    return {"value": value}


__all__ = ["FatalError", "Handler", "Result", "RetryPolicy", "RetryableError", "Worker"]
