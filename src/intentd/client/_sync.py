# GENERATED from _async.py by scripts/gen_sync.py. Do not edit: edit _async.py and rerun.
# ruff: noqa: UP028  (`for x in y: yield x` mirrors `async for`, which has no `yield from`)
"""``Client``: the send loop over ``httpx.Client``; requests come from ``_calls.py``, parsing
and errors from ``_base.py``. ``_sync.py`` is generated from ``_async.py`` by ``scripts/gen_sync.py``: edit
``_async.py``, then run the script.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import closing
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from intentd.model import JSON, Status, WaitingReason
from intentd.wire import HumanTask, TaskAnswerResponse

from . import _calls
from ._base import (
    BaseClient,
    Call,
    StreamUnavailable,
    http_client,
    is_event_stream,
    new_trace_id,
)
from ._errors import TransportError, transport_error
from ._sse import (
    SEGMENT_END,
    Deadline,
    Decoder,
    FeedFollow,
    Follow,
    IntentFollow,
    LineSplitter,
    Message,
    S,
    delivery_stream,
    stream_delivery,
)
from ._types import (
    AgentBinding,
    AgentHealth,
    AgentSwitch,
    Approval,
    AwaitAnswer,
    Capabilities,
    ChildSpec,
    Completion,
    Delivery,
    DryRunAnswer,
    EffectivePolicy,
    Event,
    FeedItem,
    Health,
    Intent,
    IntentPage,
    IntentSpec,
    JournalEntry,
    KillAnswer,
    KillSwitch,
    MeshAgent,
    MeshEvent,
    MeshPolicy,
    MeshPolicyRemoved,
    OnSwitch,
    RecordAnswer,
    ResumeAnswer,
    Route,
    RouteAnswer,
    RouteRemoved,
    RunTree,
    ScenarioApplied,
    ScenarioValid,
    StreamDelivery,
    Thread,
    WebhookDelivery,
    WebhookEventPublished,
    WebhookEventReplayed,
    WebhookSubscription,
    WebhookSubscriptionRevoked,
)

T = TypeVar("T")


class Client(BaseClient):
    """intentd's HTTP API. Use it as a context manager, or call ``close()`` when done::

        with Client("http://127.0.0.1:8321", api_key="itd_...") as client:
            intent = client.submit("agent://acme/prod/writer", "intent.draft.v1", {"n": 1})
            final = client.wait_for(intent.intent_id, timeout=60)

    ``base_url`` and ``api_key`` default to ``INTENTD_URL`` and ``INTENTD_API_KEY``. Reads, submits
    with an ``idempotency_key``, lease and mesh heartbeats, completions, approval decisions and the
    journal's keyed writes (spawn, record_step, await_entries) are retried on connection errors, 429
    and 5xx (``max_retries`` times, exponential backoff with jitter, ``Retry-After`` honoured); other
    writes are sent once. ``transport`` replaces the
    network, e.g. ``httpx.ASGITransport(app)`` to talk to an app in the same process.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 15.0,
        max_retries: int = 2,
        backoff: float = 0.2,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        limits: httpx.Limits | None = None,
    ) -> None:
        super().__init__(
            base_url, api_key, timeout=timeout, max_retries=max_retries, backoff=backoff, headers=headers
        )
        self.transport = transport  # as given; None means the SDK's network transport (see _base.py)
        # The connection pool (httpx's defaults: 100 connections, 20 kept alive), the lean transport's
        # or httpx's. httpcore scans every pooled connection on each request, so there a pool far larger
        # than the calls in flight costs client CPU on every call: size it to your concurrency (docs/sdk.md).
        self._http = http_client(httpx.Client, self.base_url, transport, timeout=timeout, limits=limits)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- sending --------------------------------------------------------------------------------

    def _send(self, call: Call[T]) -> T:
        trace_id = new_trace_id()
        attempt = 0
        while True:
            outcome = self._attempt(call, trace_id)
            delay = self._retry_delay(call, attempt, outcome)
            if delay is None:
                if isinstance(outcome, TransportError):
                    raise outcome
                return self._parse(call, outcome, trace_id)
            attempt += 1
            time.sleep(delay)

    def _attempt(self, call: Call[Any], trace_id: str) -> httpx.Response | TransportError:
        try:
            return self._http.request(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                headers=self._headers(call, trace_id),
                timeout=self._timeout(call),
            )
        except httpx.TransportError as exc:
            return transport_error(exc, trace_id)

    def _messages(self, call: Call[None]) -> Generator[Message, None]:
        """The SSE messages of one stream segment, up to and including ``stream.timeout``."""
        trace_id = new_trace_id()
        try:
            with self._http.stream(
                call.method,
                call.path,
                params=call.params,
                headers=self._headers(call, trace_id),
                timeout=self._timeout(call),
            ) as response:
                if response.status_code >= 400 or not is_event_stream(response):
                    response.read()
                    raise self._stream_refusal(response, trace_id)
                decoder, splitter = Decoder(), LineSplitter()
                for chunk in response.iter_bytes():
                    for line in splitter.feed(chunk):
                        message = decoder.feed(line)
                        if message is not None:
                            yield message
                            if message.event == SEGMENT_END:
                                return
        except httpx.TransportError as exc:
            raise transport_error(exc, trace_id) from exc

    def _segment(self, follow: Follow[S]) -> Iterator[S]:
        """The new items of one segment of a followed stream; then waits as long as ``follow``
        says before the next segment (a backoff after a dropped connection)."""
        try:
            with closing(self._messages(follow.begin_segment())) as messages:
                for message in messages:
                    item = follow.accept(message)
                    if item is not None:
                        yield item
            delay = follow.end_segment()
        except TransportError as exc:
            delay = follow.failed(exc)
        if delay:
            time.sleep(delay)

    def _poll(self, follow: IntentFollow, interval: float) -> Iterator[Event]:
        follow.deadline.check(follow.what)
        fresh = [event for event in self._send(follow.poll_call()) if follow.take(event)]
        for event in fresh:
            yield event
        if not fresh:
            time.sleep(follow.deadline.remaining(interval))

    # --- intents --------------------------------------------------------------------------------

    def health(self) -> Health:
        return self._send(_calls.health())

    def capabilities(self) -> Capabilities:
        return self._send(_calls.capabilities())

    def submit(
        self,
        to_agent: str,
        intent_type: str,
        payload: JSON | None = None,
        *,
        correlation_id: str | None = None,
        idempotency_key: str | None = None,
        reply_to: str | None = None,
        deadline_at: datetime | None = None,
        max_delivery_attempts: int | None = None,
        parent_intent_id: str | None = None,
        wait_seconds: float | None = None,
    ) -> Intent:
        """Submit an intent. ``correlation_id`` defaults to a fresh UUID (under an ``idempotency_key``,
        one derived from it); with an ``idempotency_key`` a repeated submit returns the first intent
        (and is retried safely).
        With ``wait_seconds`` the server answers once the intent is terminal (or when the wait, capped
        by the server, is over): a submit and its outcome in one exchange.

            intent = client.submit("agent://acme/prod/writer", "intent.draft.v1",
                                         {"topic": "leases"}, idempotency_key="draft-42")
            done = client.submit(GREETER, "intent.greet.v1", {"name": "Ada"}, wait_seconds=30)
        """
        return self._send(
            _calls.submit_intent(
                to_agent,
                intent_type,
                payload or {},
                correlation_id=correlation_id,
                idempotency_key=idempotency_key,
                reply_to=reply_to,
                deadline_at=deadline_at,
                max_delivery_attempts=max_delivery_attempts,
                parent_intent_id=parent_intent_id,
                wait_seconds=wait_seconds,
            )
        )

    def get(self, intent_id: str) -> Intent:
        return self._send(_calls.get_intent(intent_id))

    def tree(self, intent_id: str, *, limit: int = 1000) -> RunTree:
        """The whole run ``intent_id`` belongs to: the intent that began it and every intent handed on
        from there, in creation order (``RunTree.children(id)`` walks it)."""
        return self._send(_calls.get_tree(intent_id, limit))

    def iter_intents(
        self,
        *,
        status: Status | str | None = None,
        to_agent: str | None = None,
        correlation_id: str | None = None,
        page_size: int = 100,
    ) -> Iterator[Intent]:
        """Every matching intent, newest first, following ``next_cursor`` page by page."""
        cursor: str | None = None
        while True:
            page = self.list(
                status=status,
                to_agent=to_agent,
                correlation_id=correlation_id,
                limit=page_size,
                cursor=cursor,
            )
            for intent in page.intents:
                yield intent
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def events(self, intent_id: str, since: int = 0, limit: int = 1000) -> list[Event]:
        """The intent's events with ``seq > since``, in order."""
        return self._send(_calls.list_events(intent_id, since, limit))

    def resolve(
        self,
        intent_id: str,
        status: Status | str,
        *,
        result: JSON | None = None,
        error: Any = None,
        reason: str | None = None,
        actor: str | None = None,
        expected_policy_generation: int | None = None,
    ) -> Intent:
        """Move the intent to COMPLETED, FAILED or CANCELED (409 ``IntentTerminal`` if it is
        already terminal)."""
        return self._send(
            _calls.resolve_intent(
                intent_id,
                status,
                result=result,
                error=error,
                reason=reason,
                actor=actor,
                expected_policy_generation=expected_policy_generation,
            )
        )

    def cancel(self, intent_id: str, *, reason: str | None = None, actor: str | None = None) -> Intent:
        return self._send(_calls.cancel_intent(intent_id, reason=reason, actor=actor))

    def resume(self, intent_id: str, body: JSON | None = None) -> Intent:
        """AXP resume: a WAITING intent goes back to its agent with ``body`` as input;
        ``{"action": "complete"|"fail", ...}`` resolves it (see the API docs)."""
        return self._send(_calls.resume_intent(intent_id, body))

    def update_controls(
        self,
        intent_id: str,
        patch: JSON,
        *,
        expected_policy_generation: int | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> Intent:
        """Merge-patch the intent's controls; with ``expected_policy_generation`` the write is a
        compare-and-set (409 ``StalePolicyGeneration`` when another writer came first)."""
        return self._send(
            _calls.update_controls(
                intent_id,
                patch,
                expected_policy_generation=expected_policy_generation,
                actor=actor,
                reason=reason,
            )
        )

    def update_policy(
        self,
        intent_id: str,
        *,
        grants: JSON | None = None,
        envelope: JSON | None = None,
        expected_policy_generation: int | None = None,
        actor: str | None = None,
        reason: str | None = None,
    ) -> Intent:
        return self._send(
            _calls.update_policy(
                intent_id,
                grants=grants,
                envelope=envelope,
                expected_policy_generation=expected_policy_generation,
                actor=actor,
                reason=reason,
            )
        )

    # --- delivery (workers) ---------------------------------------------------------------------

    def claim(
        self,
        agent: str,
        *,
        worker_id: str = "worker",
        max_intents: int = 1,
        lease_seconds: float = 30.0,
        wait_seconds: float = 0.0,
    ) -> list[Delivery]:
        """Lease up to ``max_intents`` intents sent to ``agent``, waiting up to ``wait_seconds``
        for one to arrive. Each delivery's ``lease_token`` must accompany what follows."""
        return self._send(
            _calls.claim(
                agent,
                worker_id=worker_id,
                max_intents=max_intents,
                lease_seconds=lease_seconds,
                wait_seconds=wait_seconds,
            )
        )

    def deliveries(
        self,
        agents: Sequence[str],
        *,
        worker_id: str,
        lease_seconds: float = 30.0,
        max_in_flight: int = 8,
        on_switch: OnSwitch | None = None,
    ) -> Iterator[StreamDelivery]:
        """Hold one delivery stream for ``agents``: each intent as it is leased to ``worker_id``,
        never more than ``max_in_flight`` open leases at once (a place frees when a lease ends),
        until the server ends the stream. Open it again to go on: the leases ``worker_id`` still
        holds come first, marked ``resumed``. An older server answers ``NotFound``: claim instead.
        ``on_switch`` is called when one of the agents is killed (stop its handlers: their leases
        were revoked) or resumed (docs/mesh.md)."""
        call = delivery_stream(
            agents, worker_id=worker_id, lease_seconds=lease_seconds, max_in_flight=max_in_flight
        )
        with closing(self._messages(call)) as messages:
            for message in messages:
                sent = stream_delivery(message)
                if isinstance(sent, AgentSwitch):
                    if on_switch is not None:
                        on_switch(sent)
                elif sent is not None:
                    yield sent

    def bind(
        self,
        address: str,
        *,
        delivery_mode: str = "stream",
        lease_seconds: float = 30.0,
        callback_url: str | None = None,
        secret: str | None = None,
    ) -> AgentBinding:
        """Register the agent's AXP delivery binding. With ``stream`` its agent stream (``listen``,
        the official SDK's too) leases each intent it sends, which then comes DELIVERED with
        ``lease_token`` and ``delivery_attempt`` (heartbeat to keep it longer than
        ``lease_seconds``); with ``poll`` the stream is a feed again. Streams already open apply it
        from the next page of the feed they read. With ``http`` each intent queued for the agent is
        POSTed, signed, to ``callback_url``, and a 2xx leases it for ``lease_seconds``; the POSTs are
        signed with ``secret`` (16 to 128 characters) or, without one, a generated secret that only
        this answer carries (``binding.secret``): keep it, it is never shown again.

            client.bind("agent://acme/prod/writer", delivery_mode="stream", lease_seconds=60)
            hook = "https://agents.example.com/writer"
            bound = client.bind("agent://acme/prod/writer", delivery_mode="http", callback_url=hook)
            save(bound.secret)  # to check the signatures: intentd.webhooks.verify
        """
        return self._send(
            _calls.bind_agent(
                address,
                delivery_mode=delivery_mode,
                lease_seconds=lease_seconds,
                callback_url=callback_url,
                secret=secret,
            )
        )

    def binding(self, address: str) -> AgentBinding:
        """The agent's delivery binding (``delivery_mode`` None: it never registered one)."""
        return self._send(_calls.get_binding(address))

    def heartbeat(self, intent_id: str, lease_token: str, *, lease_seconds: float = 30.0) -> Delivery:
        """Extend the lease; ``StaleLease`` (409) means another worker owns the intent now."""
        return self._send(_calls.heartbeat(intent_id, lease_token, lease_seconds))

    def complete(
        self,
        intent_id: str,
        lease_token: str,
        result: JSON | None = None,
        *,
        then: Sequence[IntentSpec | JSON] = (),
        usage: Mapping[str, float] | None = None,
    ) -> Completion:
        """Complete a leased intent and submit its follow-ups (``then``) in the same commit."""
        return self._send(_calls.complete(intent_id, lease_token, result, then=then, usage=usage))

    def fail(
        self,
        intent_id: str,
        lease_token: str,
        error: str | JSON,
        *,
        retry: bool = False,
        retry_after_seconds: float = 0.0,
        usage: Mapping[str, float] | None = None,
    ) -> Intent:
        """Fail a leased intent; ``retry=True`` queues it again while delivery attempts remain,
        after ``retry_after_seconds`` (a durable WAITING_FOR_TIME wait) if given."""
        return self._send(
            _calls.fail(
                intent_id,
                lease_token,
                error,
                retry=retry,
                retry_after_seconds=retry_after_seconds,
                usage=usage,
            )
        )

    def release(self, intent_id: str, lease_token: str) -> Intent:
        """Give the intent back for immediate redelivery (e.g. on shutdown)."""
        return self._send(_calls.release(intent_id, lease_token))

    def wait(
        self,
        intent_id: str,
        lease_token: str,
        reason: WaitingReason | str = WaitingReason.HUMAN,
        *,
        wake_at: datetime | None = None,
        details: JSON | None = None,
    ) -> Intent:
        """Park the intent in WAITING (the lease ends); ``wake_at`` queues it again then."""
        return self._send(_calls.wait(intent_id, lease_token, reason, wake_at=wake_at, details=details))

    def ask_human(self, intent_id: str, lease_token: str, key: str, human_task: Mapping[str, Any]) -> Intent:
        """Park a leased intent on a person's answer (WAITING_FOR_HUMAN; the lease ends). The answer
        is journaled under ``key`` (``{outcome, comment, data, decided_by, decided_at}``) and the
        intent comes back to its agent; the worker's ``ctx.ask_human`` is built on this.

            client.ask_human(intent_id, token, "sign-off",
                                   {"title": "Ship release 4.2?", "assignees": ["role:release"]})
        """
        return self._send(_calls.ask_human(intent_id, lease_token, key, human_task))

    def progress(
        self,
        intent_id: str,
        message: str | None = None,
        *,
        lease_token: str | None = None,
        usage: Mapping[str, float] | None = None,
        tool: str | None = None,
    ) -> Intent:
        """Record progress (and usage, and a ``tool`` call) as an ``intent.progress`` event. A tool
        the agent's Mesh policy does not allow is refused: ``Forbidden`` (``policy_denied``)."""
        return self._send(
            _calls.progress(intent_id, message, lease_token=lease_token, usage=usage, tool=tool)
        )

    # --- a run's journal (durable delegation) --------------------------------------------------

    def validate_scenario(self, bundle: Mapping[str, Any]) -> ScenarioValid:
        """Check an AXP ScenarioBundle without running it; a bundle with problems raises
        ``ValidationFailed`` whose ``details["problems"]`` lists each (``path``, ``code``, ``message``)."""
        return self._send(_calls.validate_scenario(bundle))

    def apply_scenario(
        self, bundle: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> ScenarioApplied:
        """Start a run of an AXP ScenarioBundle (a dict, as JSON or YAML has it). The run is the intent
        ``intent_id``: follow it with ``wait_for``, ``tree`` or ``journal``."""
        return self._send(_calls.apply_scenario(bundle, idempotency_key))

    def journal(self, intent_id: str) -> list[JournalEntry]:
        """The journal of a parent intent: one entry per key it spawned a child or journaled a value
        under, in creation order. The worker's ``ctx.spawn`` / ``ctx.gather`` / ``ctx.step`` use it;
        this is the same view, for tools and tests.

            for entry in client.journal(parent_id):
                print(entry.key, entry.kind, entry.status, entry.child_intent_id)
        """
        return self._send(_calls.get_journal(intent_id))

    def spawn(
        self, intent_id: str, lease_token: str, children: Sequence[ChildSpec | JSON]
    ) -> list[JournalEntry]:
        """Spawn children of a leased intent, in one transaction; one entry per child, in order. A
        key already journaled answers its existing entry and creates nothing, so a handler that runs
        again spawns no child twice (and the call is retried safely).

            [entry] = client.spawn(parent_id, token, [ChildSpec("draft-1", WRITER)])
        """
        return self._send(_calls.spawn_children(intent_id, lease_token, children))

    def record_step(self, intent_id: str, lease_token: str, key: str, result: Any) -> RecordAnswer:
        """Journal ``result`` (JSON) under ``key`` on a leased intent. The first write of a key wins:
        a later one answers ``recorded=False`` with the earlier entry (and is retried safely)."""
        return self._send(_calls.record_step(intent_id, lease_token, key, result))

    def await_entries(self, intent_id: str, lease_token: str, keys: Sequence[str]) -> AwaitAnswer:
        """Wait for the journal entries ``keys`` without holding the lease. When they have all
        finished the answer has ``parked=False``, their entries, and the lease is still held.
        Otherwise the intent is parked (WAITING_FOR_AGENT, the lease ends; ``parked=True``): report
        nothing more, it is queued again once every entry has finished."""
        return self._send(_calls.await_entries(intent_id, lease_token, keys))

    # --- human tasks ---------------------------------------------------------------------------

    def my_tasks(self, state: str | None = "open", limit: int = 50) -> list[HumanTask]:
        """The human tasks this key may decide (its person's, by name or ``role:``; every task for an
        admin key), oldest first; ``state`` is ``open``, ``decided``, ``timed_out`` or ``canceled``
        (None: the server's default, open).

            for task in client.my_tasks():
                print(task.task_id, task.human_task.get("title"), task.allowed_outcomes)
        """
        return self._send(_calls.list_my_tasks(state=state, limit=limit))

    def tasks(
        self, state: str | None = None, intent_id: str | None = None, limit: int = 50
    ) -> list[HumanTask]:
        """The human tasks of the key's namespace, whoever may decide them, oldest first: those in
        ``state`` (None: the server's default, open; ``"any"``: every state), of one intent if
        ``intent_id`` is given."""
        return self._send(_calls.list_tasks(state=state, intent_id=intent_id, limit=limit))

    def task(self, task_id: str) -> HumanTask:
        """One human task: what was asked (``human_task``), of whom, and its ``decision`` once there
        is one; ``TaskNotFound`` if there is none with this id."""
        return self._send(_calls.get_task(task_id))

    def decide_task(
        self,
        task_id: str,
        outcome: str,
        *,
        comment: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> TaskAnswerResponse:
        """Answer an open human task: ``outcome`` is one of the task's ``allowed_outcomes``
        (``approve``/``reject`` stand for approved/rejected), ``data`` matches its ``form_schema``.
        The answer moves the intent on (``response.intent``). Refusals: ``ValidationFailed`` with
        ``details["field"]`` (``outcome``, ``comment``, ``data.evidence``, ``data.<form field>``),
        ``NotAssignee`` (403), ``TaskClosed`` (409: decided, timed out or canceled; ``details["state"]``)
        and ``TaskNotFound``.

        Retried on connection errors, 429 and 5xx: a task is decided once, so a repeat whose first
        answer was lost is ``TaskClosed`` and changes nothing; read ``task(task_id).decision`` then.

            done = client.decide_task(task.task_id, "approved", comment="numbers check out")
            done.task.decision.decided_by, done.intent["status"]
        """
        return self._send(_calls.decide_task(task_id, outcome, comment=comment, data=data))

    # --- inbox, approvals, mesh ----------------------------------------------------------------

    def inbox(
        self, owner_agent: str | None = None, status: str | None = None, *, limit: int = 50
    ) -> list[Thread]:
        """Completion threads of intents sent with a ``reply_to``, most recently updated first:
        those owned by ``owner_agent`` (the ``reply_to`` address), or every owner's in the key's
        namespace when None. ``status`` is ``pending``, ``active`` or ``done``.

            for thread in client.inbox("agent://acme/prod/boss", status="done"):
                print(thread.thread_id, thread.intent_status, thread.messages[-1]["content"])
        """
        return self._send(_calls.list_inbox(owner_agent=owner_agent, status=status, limit=limit))

    def inbox_thread(self, thread_id: str, owner_agent: str | None = None) -> Thread:
        """One thread with its timeline; a thread of another owner is ``NotFound``
        (``thread_not_found``), as is an intent sent without ``reply_to``."""
        return self._send(_calls.get_inbox_thread(thread_id, owner_agent=owner_agent))

    def decide_approval(self, approval_id: str, decision: str, comment: str | None = None) -> Approval:
        """Decide ``approve`` or ``reject``. When ``approval_id`` is the id of a WAITING intent
        the decision moves it: approve hands it back to its agent (SUBMITTED, the decision as its
        input), reject fails it. Each id is decided once: a different second decision is
        ``Conflict`` (409 ``approval_decided``); an intent that is not WAITING is 409
        ``intent_not_waiting``.

        Retried on connection errors, 429 and 5xx: the server answers the same decision and
        comment again with the recorded one (``replayed=True``), so a retry cannot decide twice.

            approval = client.decide_approval(intent.intent_id, "approve", "ship it")
        """
        return self._send(_calls.decide_approval(approval_id, decision, comment))

    def mesh_heartbeat(
        self,
        metrics: Mapping[str, Any] | None = None,
        owner_agent: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> AgentHealth:
        """Tell the mesh this agent is alive, with optional ``metrics`` and ``metadata`` (what it
        says about itself: framework, model, host). The beat is recorded for ``owner_agent``, or for
        ``agent://<key name>`` when None; ``health`` is ``killed`` while it is killed. (Not
        ``heartbeat``, which extends a lease.) Retried: a repeated beat only moves "last seen" again."""
        return self._send(_calls.mesh_heartbeat(metrics, owner_agent=owner_agent, metadata=metadata))

    def mesh_agents(self, health: str | None = None, limit: int = 100) -> list[MeshAgent]:
        """The fleet: each agent with its health (``healthy``, ``degraded``, ``unreachable``,
        ``killed``, or ``unknown`` before any sign of life), workers, open work and error rate;
        ``health`` keeps only those in that state (docs/mesh.md)."""
        return self._send(_calls.list_mesh_agents(health=health, limit=limit))

    def mesh_agent(self, address: str) -> MeshAgent:
        """One agent by address (``agent://acme/prod/writer`` or ``acme/prod/writer``), with its
        oldest open intents (``oldest_open``: where its work is stuck); ``NotFound``
        (``agent_not_found``) if the mesh has never seen it."""
        return self._send(_calls.get_mesh_agent(address))

    def kill_agent(
        self,
        address: str,
        *,
        new_work: str = "refuse",
        in_flight: str = "hold",
        reassign_to: str | None = None,
        reason: str | None = None,
    ) -> KillAnswer:
        """Kill an agent (``agent://acme/prod/writer``: every version of it; ``…@v1``: that version),
        or with ``"*"`` every agent of the namespace, until :meth:`resume_agent`. ``new_work``:
        ``refuse`` (submits answer 403 ``agent_killed``) or ``hold`` (accepted, delivered after
        resume). ``in_flight``, its queued and leased work: ``hold`` (leases revoked; it waits for
        resume), ``cancel``, or ``reassign`` to ``reassign_to``. Its workers' held streams are told
        at once and the Worker stops those handlers. Admin keys only. Retried: killing again with
        the same choices changes nothing.

            client.kill_agent("agent://acme/prod/writer@v1", in_flight="reassign",
                              reassign_to="agent://acme/prod/writer@v2", reason="bad prompt")
        """
        call = _calls.kill(
            address, new_work=new_work, in_flight=in_flight, reassign_to=reassign_to, reason=reason
        )
        return self._send(call)

    def resume_agent(self, address: str) -> ResumeAnswer:
        """Lift the kill of exactly ``address`` (``"*"``: the namespace-wide kill); ``status`` is
        still ``killed`` when a wider kill stops it (``killed_by``). Idempotent, retried."""
        return self._send(_calls.resume(address))

    def set_route(self, address: str, weights: Mapping[str, int]) -> RouteAnswer:
        """Route new work for ``address`` (without a version) to its versions by weight, e.g.
        ``{"v1": 90, "v2": 10}`` for a canary; each run keeps one version (chosen by correlation id)
        and work in flight stays where it is. Rollback is another route. Admin keys only.

            client.set_route("agent://acme/prod/writer", {"v1": 0, "v2": 100})  # v1 drains
        """
        return self._send(_calls.set_route(address, weights))

    def route(self, address: str) -> RouteAnswer:
        """The route of ``address`` and each version's weight and open work (``drained``: weight 0
        and nothing open)."""
        return self._send(_calls.get_route(address))

    def routes(self) -> list[Route]:
        """The routes of the key's namespace."""
        return self._send(_calls.list_routes())

    def remove_route(self, address: str) -> RouteRemoved:
        """Remove the route: new work for ``address`` stays addressed to it."""
        return self._send(_calls.remove_route(address))

    def drain(self, address: str) -> RouteAnswer:
        """Give one version (``agent://acme/prod/writer@v1``) weight 0 in its route: no new work, it
        finishes what it has; :meth:`route` says when it has drained."""
        return self._send(_calls.drain(address))

    def set_policy(
        self, scope: str, policy: Mapping[str, Any], *, expected_generation: int | None = None
    ) -> MeshPolicy:
        """Set the Mesh policy of ``scope`` (``"*"``: the namespace; or an address, with ``@version``
        for one version), replacing the one there (docs/mesh.md, "Policies"). ``policy`` takes
        ``max_cost_per_day_usd``, ``max_cost_per_tree_usd``, ``max_intents_per_hour``,
        ``max_concurrency``, ``receive``/``send``/``tools`` (``{"allow": [...], "deny": [...]}``
        patterns) and ``on_breach`` (``block`` or ``pause``). With ``expected_generation`` (0: none
        yet) only if it is still that generation: ``Conflict`` (``stale_mesh_policy``) otherwise.
        Admin keys only.

            client.set_policy("agent://acme/prod/writer", {"max_cost_per_day_usd": 20})
        """
        return self._send(_calls.set_policy(scope, policy, expected_generation))

    def policies(self) -> list[MeshPolicy]:
        """The Mesh policies of the key's namespace."""
        return self._send(_calls.list_policies())

    def remove_policy(self, scope: str) -> MeshPolicyRemoved:
        return self._send(_calls.remove_policy(scope))

    def agent_policy(self, address: str) -> EffectivePolicy:
        """The policy that applies to an agent: each rule, the policy it comes from, and what its
        limit's scope has used (this UTC day's spend, this hour's intents, open leases)."""
        return self._send(_calls.agent_policy(address))

    def dry_run(
        self,
        scope: str,
        policy: Mapping[str, Any],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        intents: Sequence[Mapping[str, Any]] | None = None,
    ) -> DryRunAnswer:
        """What ``policy``, set on ``scope``, would have done to the intents created between
        ``since`` and ``until`` (default: the last 24 hours), or to ``intents`` (synthetic:
        ``to_agent``, ``intent_type``, and optionally ``from_agent``, ``at``, ``cost_usd``, ``tree``):
        how many it would have allowed, denied, blocked or paused and what it would have saved.
        Enforces nothing."""
        return self._send(_calls.dry_run(scope, policy, since=since, until=until, intents=intents))

    def kill_switches(self) -> list[KillSwitch]:
        """The kill switches in force in the key's namespace."""
        return self._send(_calls.list_kills())

    def mesh_events(self, event_type: str | None = None, limit: int = 50) -> list[MeshEvent]:
        """Records about the namespace's agents, newest first: ``agent.killed``, ``agent.resumed``,
        ``agent.binding_registered`` (``event_type`` keeps one kind)."""
        return self._send(_calls.mesh_events(event_type=event_type, limit=limit))

    # --- webhooks and HTTP push (docs/webhooks.md) ------------------------------------------------

    def webhook_deliveries(self, status: str = "dead", limit: int = 100) -> list[WebhookDelivery]:
        """The POSTs of the key's namespace in ``status``, oldest first: ``dead`` (the default: the
        dead letters, which ran out of attempts), ``pending`` or ``sent``. Each is an intent pushed to
        an ``http``-bound agent (``kind="http"``, ``subject`` the intent's id) or an event sent to a
        subscription (``kind="subscription"``, ``subject`` the event's id).

            for dead in client.webhook_deliveries():
                print(dead.delivery_id, dead.kind, dead.recipient, dead.attempts, dead.last_error)
        """
        return self._send(_calls.list_webhook_deliveries(status=status, limit=limit))

    def replay_delivery(self, delivery_id: str) -> WebhookDelivery:
        """Send a dead letter again, from its first attempt; the answer is the delivery, ``pending``
        again. ``Conflict`` (409) when it is not dead, or when its pushed intent has ended;
        ``NotFound`` (``delivery_not_found``) when the namespace has none with this id.

            [dead] = client.webhook_deliveries()
            again = client.replay_delivery(dead.delivery_id)  # again.status == "pending"
        """
        return self._send(_calls.replay_delivery(delivery_id))

    def subscribe_webhook(
        self,
        callback_url: str,
        event_types: Sequence[str],
        *,
        secret: str | None = None,
        description: str | None = None,
        active: bool = True,
        owner_agent: str | None = None,
    ) -> WebhookSubscription:
        """Subscribe ``callback_url`` to events of ``event_types`` (``intent.*`` takes every lifecycle
        event), or change the subscription the owner (``owner_agent``, default the key's name) has for
        that URL. Without ``secret`` a new subscription gets a generated one, in this answer only
        (``subscription.secret``); later answers show ``secret_hint``. Retried only with a ``secret``.

            hook = "https://hooks.example.com/intentd"
            sub = client.subscribe_webhook(hook, ["intent.completed", "intent.failed"])
            save(sub.secret)  # to check the signatures: intentd.webhooks.verify
        """
        return self._send(
            _calls.subscribe_webhook(
                callback_url,
                event_types,
                secret=secret,
                description=description,
                active=active,
                owner_agent=owner_agent,
            )
        )

    def webhook_subscriptions(
        self, include_inactive: bool = False, *, owner_agent: str | None = None
    ) -> list[WebhookSubscription]:
        """The subscriptions of ``owner_agent``, or of every owner in the key's namespace when None;
        with ``include_inactive`` the inactive and revoked ones too. Secrets are never shown here.

            for sub in client.webhook_subscriptions():
                print(sub.subscription_id, sub.callback_url, sub.event_types)
        """
        return self._send(
            _calls.list_webhook_subscriptions(include_inactive=include_inactive, owner_agent=owner_agent)
        )

    def revoke_webhook_subscription(
        self, subscription_id: str, *, owner_agent: str | None = None
    ) -> WebhookSubscriptionRevoked:
        """Revoke a subscription: kept (listed with ``include_inactive``), sent nothing more, its
        queued deliveries dropped. Revoking again answers the first ``revoked_at``; ``NotFound``
        (``subscription_not_found``) when the namespace (or ``owner_agent``, if given) has none with
        this id.

            revoked = client.revoke_webhook_subscription(sub.subscription_id)
        """
        return self._send(_calls.revoke_webhook_subscription(subscription_id, owner_agent=owner_agent))

    def publish_webhook_event(
        self, event_type: str, source: str, payload: JSON | None = None, *, owner_agent: str | None = None
    ) -> WebhookEventPublished:
        """Publish an event to the active subscriptions of its owner (``owner_agent``, default the
        key's name) that take ``event_type``; the answer has its ``event_id`` and AXP's delivery
        counters (``queued_deliveries`` …). Sent once: a repeat would be another event.

            event = client.publish_webhook_event("invoice.paid", "billing", {"amount": 3})
        """
        return self._send(
            _calls.publish_webhook_event(event_type, source, payload or {}, owner_agent=owner_agent)
        )

    def replay_webhook_event(self, event_id: str, *, owner_agent: str | None = None) -> WebhookEventReplayed:
        """Queue a published (or lifecycle) event again to every active subscription that takes it
        now, under the same ``event_id`` (receivers that saw it can drop the copy); the answer has
        its counters. ``NotFound`` (``webhook_event_not_found``) for an unknown id. Sent once.

            replayed = client.replay_webhook_event(event.event_id)
        """
        return self._send(_calls.replay_webhook_event(event_id, owner_agent=owner_agent))

    # --- following ------------------------------------------------------------------------------

    def observe(
        self,
        intent_id: str,
        *,
        since: int = 0,
        timeout: float | None = None,
        wait_seconds: float = 15.0,
        poll_interval: float = 1.0,
    ) -> Iterator[Event]:
        """The intent's events after ``since``, as they happen, until a terminal one. Reconnects
        from the last seq seen (no duplicate, no gap); polls ``/events`` only when the server
        cannot stream. Raises ``WaitTimeout`` after ``timeout`` seconds.

            for event in client.observe(intent.intent_id):
                print(event.seq, event.event_type)
        """
        follow = IntentFollow(intent_id, since, timeout, wait_seconds, self.retry)
        while not follow.finished:
            if not follow.streaming:
                for event in self._poll(follow, poll_interval):
                    yield event
                continue
            try:
                for event in self._segment(follow):
                    yield event
            except StreamUnavailable:
                follow.streaming = False

    def wait_for(
        self,
        intent_id: str,
        *,
        timeout: float | None = None,
        wait_seconds: float = 15.0,
        poll_interval: float = 1.0,
    ) -> Intent:
        """The intent once it is terminal (``WaitTimeout`` if that takes over ``timeout``)."""
        intent = self.get(intent_id)
        if intent.is_terminal:
            return intent
        for _ in self.observe(
            intent_id,
            since=intent.last_seq,
            timeout=timeout,
            wait_seconds=wait_seconds,
            poll_interval=poll_interval,
        ):
            pass
        return self.get(intent_id)

    def wait_for_run(self, intent_id: str, *, timeout: float | None = None) -> RunTree:
        """The run ``intent_id`` belongs to, once it has finished: every intent in it terminal (a
        handoff is made only when an intent completes, so nothing can join a finished run). Its
        ``leaves`` hold the final results. Waits on one open intent's stream at a time, no polling;
        ``WaitTimeout`` after ``timeout`` seconds."""
        deadline = Deadline.after(timeout)
        while True:
            run = self.tree(intent_id)
            open_intent = next((i for i in run.intents if not i.is_terminal), None)
            if open_intent is None:
                return run
            deadline.check(f"run of {intent_id}")
            remaining = None if timeout is None else deadline.remaining(timeout)
            self.wait_for(open_intent.intent_id, timeout=remaining)

    def listen(
        self,
        address: str,
        *,
        since: int = 0,
        status: Sequence[Status | str] | None = None,
        timeout: float | None = None,
        wait_seconds: float = 15.0,
    ) -> Iterator[FeedItem]:
        """The agent's feed after ``since`` (its per-agent cursor), forever or until ``timeout``
        (``WaitTimeout``): intents submitted to it (by default the non-terminal ones) and terminal
        replies to its ``reply_to`` address. Reconnects from the last seq seen. For an agent
        registered with the ``stream`` binding (``bind``) each intent comes leased to the listener:
        status DELIVERED, with ``lease_token`` and ``delivery_attempt``."""
        follow = FeedFollow(address, since, status, timeout, wait_seconds, self.retry)
        while True:
            try:
                for item in self._segment(follow):
                    yield item
            except StreamUnavailable as exc:
                raise exc.error from None

    # Last: inside the class body the name ``list`` means this method from here on.
    def list(
        self,
        *,
        status: Status | str | None = None,
        to_agent: str | None = None,
        correlation_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> IntentPage:
        """One page of intents, newest first; pass ``page.next_cursor`` for the next one."""
        return self._send(
            _calls.list_intents(
                status=status, to_agent=to_agent, correlation_id=correlation_id, limit=limit, cursor=cursor
            )
        )
