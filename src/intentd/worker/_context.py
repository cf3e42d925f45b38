"""What a handler receives besides the intent: the delivery's facts and a few actions on it.

Sync handlers run in a thread and get :class:`Context`, whose actions block; async handlers get
:class:`AsyncContext`, whose actions are awaited. Both share :class:`_ContextState`. Durable delegation
(``spawn``, ``gather``, ``step``) and asking a person (``ask_human``) are the journal's
(``_journal.py``); the contexts only call it.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import inspect
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar, cast

from intentd.client import AsyncClient, ChildSpec, Delivery, Intent, WaitingReason
from intentd.model import JSON, policy
from intentd.wire import HumanTaskSpec, request_body

from ._journal import Child, HumanAnswer, Journal, check_key

# What ask_human gives: an awaitable answer in an async handler, the answer in a sync one.
Asked = TypeVar("Asked")


@dataclass
class _ContextState:
    client: AsyncClient
    delivery: Delivery
    usage: dict[str, float] = field(default_factory=dict)
    # Set when the server says the intent is no longer ours (canceled, or the lease was lost).
    lost: threading.Event = field(default_factory=threading.Event)
    journal: Journal = field(init=False)
    tools: policy.Patterns | None = None  # the agent's tools rule, read once per delivery

    def __post_init__(self) -> None:
        # The journal holds nothing of this state (a bound method would make a cycle, left to the
        # garbage collector once per delivery), so the state is freed as soon as its handler ends.
        self.journal = Journal(self.client, self.delivery, lose=self.lost.set, usage=self.usage)

    @property
    def parked(self) -> bool:
        """The intent waits without a lease (on children, a person, or ``ctx.wait``): the handler's
        outcome is not reported."""
        return self.journal.parked

    @parked.setter
    def parked(self, value: bool) -> None:
        self.journal.parked = value


class _ContextBase(Generic[Asked]):
    _awaitable_children = False

    def __init__(self, state: _ContextState) -> None:
        self._state = state

    @property
    def intent(self) -> Intent:
        return self._state.delivery.intent

    @property
    def attempt(self) -> int:
        """1 on the first delivery, 2 on the first redelivery, …"""
        return self._state.delivery.attempt

    @property
    def idempotency_key(self) -> str:
        """Stable across every redelivery of this intent: key side effects with it."""
        return self.idempotency_key_for("")

    def idempotency_key_for(self, name: str) -> str:
        """A stable key per named side effect, for handlers that make several."""
        digest = hashlib.sha256(f"{self.intent.intent_id}/{name}".encode()).hexdigest()
        return f"intentd-{digest[:40]}"

    @property
    def cancelled(self) -> bool:
        """True once the intent was canceled or its lease lost: stop, the result will be refused."""
        return self._state.lost.is_set()

    def report_usage(self, **amounts: float) -> None:
        """Add usage (e.g. ``tokens=812, cost_usd=0.004``); it is stored on the intent."""
        for name, amount in amounts.items():
            self._state.usage[name] = self._state.usage.get(name, 0) + amount

    async def _allowed_tool(self, tool: str) -> bool:
        state = self._state
        if state.tools is None:
            effective = await state.client.agent_policy(self.intent.to_agent)
            rule = next((r.value for r in effective.rules if r.rule == "tools"), None) or {}
            state.tools = policy.Patterns(tuple(rule.get("allow", ())), tuple(rule.get("deny", ())))
        return state.tools.permits(tool) is None

    def _tool_call(self, tool: str) -> Awaitable[Intent]:
        d = self._state.delivery
        return self._state.client.progress(d.intent.intent_id, lease_token=d.lease_token, tool=tool)

    def spawn(
        self,
        to_agent: str,
        payload: JSON | None = None,
        *,
        key: str,
        intent_type: str = "intent.task.v1",
        deadline_at: datetime | None = None,
        max_delivery_attempts: int = 5,
    ) -> Child:
        """A child intent for ``to_agent``, journaled on this intent under ``key`` (stable across
        runs of the handler, unique per intent). Nothing is sent yet: await the child (async), call
        ``child.result()`` (sync), or pass several to :meth:`gather`, which spawns each key once, ever.
        The child comes from this intent's agent and joins its run and correlation."""
        spec = ChildSpec(key, to_agent, intent_type, dict(payload or {}), deadline_at, max_delivery_attempts)
        self._state.journal.claim_child(spec)
        return Child(spec, self._one, awaitable=self._awaitable_children)

    def _one(self, child: Child) -> Any:
        raise NotImplementedError

    def ask_human(
        self,
        key: str,
        *,
        title: str,
        task_type: str = "approval",
        description: str | None = None,
        allowed_outcomes: Sequence[str] | None = None,
        assignees: Sequence[str] = (),
        form_schema: Mapping[str, Any] | None = None,
        required_comment: bool = False,
        evidence_required: bool = False,
        remind_after_seconds: int | None = None,
        remind_interval_seconds: int | None = None,
        max_reminders: int | None = None,
        escalate_to: str | Sequence[str | Mapping[str, Any]] | None = None,
        timeout_seconds: int | None = None,
        on_timeout: str = "cancel",
        default_outcome: str | None = None,
    ) -> Asked:
        """Ask a person; returns their :class:`~intentd.worker.HumanAnswer` (awaited in an async
        handler). The first time, the intent is parked on a human task (WAITING_FOR_HUMAN, so no
        worker holds its lease while the person thinks) and the handler stops here. The answer is
        journaled under ``key`` and the intent comes back: the handler runs again from the top, on
        any worker, and this call returns the answer. So code before the question runs again; work
        with side effects goes in ``ctx.step``, which runs once, ever::

            quote = await ctx.step("quote", lambda: price(intent.payload))
            answer = await ctx.ask_human(
                "discount", title=f"Sell at {quote['total']}?", assignees=["role:sales"]
            )
            if not answer.approved:
                raise FatalError(f"{answer.decided_by} said {answer.outcome}: {answer.comment}")

        ``key`` is a journal key (unique per intent, stable across runs): a key is answered once,
        so asking again (after ``changes_requested``, say) takes a new one. The other arguments are
        the task (``wire.HumanTaskSpec``): ``assignees`` are people (an e-mail or a key's name) or
        ``role:<name>``; reminders, escalation and ``timeout_seconds`` with ``on_timeout`` (cancel,
        fail, default_outcome, escalate) say what happens when nobody answers. The server checks
        them: a bad one raises ``ValidationFailed`` naming ``human_task.<field>``."""
        spec = request_body(
            HumanTaskSpec,
            title=title,
            task_type=task_type,
            description=description,
            allowed_outcomes=list(allowed_outcomes) if allowed_outcomes is not None else None,
            assignees=list(assignees),
            form_schema=dict(form_schema) if form_schema is not None else None,
            required_comment=required_comment,
            evidence_required=evidence_required,
            remind_after_seconds=remind_after_seconds,
            remind_interval_seconds=remind_interval_seconds,
            max_reminders=max_reminders,
            escalate_to=_levels(escalate_to),
            timeout_seconds=timeout_seconds,
            on_timeout=on_timeout,
            default_outcome=default_outcome,
        )
        return self._asked(check_key(key), spec)

    def _asked(self, key: str, human_task: JSON) -> Asked:
        raise NotImplementedError

    def _progress_call(self, message: str) -> Any:
        d = self._state.delivery
        return self._state.client.progress(d.intent.intent_id, message, lease_token=d.lease_token)

    async def _wait_call(
        self, reason: WaitingReason | str, wake_at: datetime | None, details: JSON | None
    ) -> Any:
        await self._state.journal.flush_usage()  # a parked handler reports no outcome
        self._state.parked = True
        d = self._state.delivery
        return await self._state.client.wait(
            d.intent.intent_id, d.lease_token, reason, wake_at=wake_at, details=details
        )


class AsyncContext(_ContextBase[Awaitable[HumanAnswer]]):
    """The context of an async handler: its actions are awaited.

    drafts = await ctx.gather(*(ctx.spawn(WRITER, {"topic": t}, key=f"draft-{t}") for t in topics))
    score = await ctx.step("review", lambda: review(drafts), compensate=undo_review)
    answer = await ctx.ask_human("publish", title="Publish the review?", assignees=["role:editors"])
    """

    _awaitable_children = True

    def _asked(self, key: str, human_task: JSON) -> Awaitable[HumanAnswer]:
        return self._state.journal.ask(key, human_task)

    async def gather(self, *children: Child, return_exceptions: bool = False) -> list[Any]:
        """The children's results, in order. Spawns those not spawned yet (one request); when some
        have not finished, the intent is parked without a lease and this handler stops here (nothing
        is reported), to run again from the top, on any worker, once they all have. A child that
        failed or was canceled raises :class:`~intentd.worker.ChildFailed` (the first in order), or
        stands in its place with ``return_exceptions=True``. Gather a fan-out in one call, not in
        concurrent gathers: the first one to park the intent ends the lease of the others."""
        return await self._state.journal.gather(children, return_exceptions)

    async def _one(self, child: Child) -> Any:
        [result] = await self.gather(child)
        return result

    async def step(
        self,
        key: str,
        fn: Callable[[], Any] | Awaitable[Any],
        *,
        compensate: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Run ``fn`` (a callable, sync or async, or an awaitable) once, ever, for this intent: its
        JSON result is journaled under ``key`` and a later run of the handler gets the journaled
        result without running it. ``compensate(result)`` (sync or async) undoes the step if the
        handler fails for good later; each runs once, last registered first."""
        journal = self._state.journal
        found, result = await journal.journaled(key)
        if found:
            if inspect.iscoroutine(fn):
                fn.close()  # not needed: never awaited, and not to be warned about
        else:
            value = fn() if callable(fn) else fn
            if inspect.isawaitable(value):
                value = await value
            result = await journal.record(key, value)
        journal.register(key, compensate, result)
        return result

    async def progress(self, message: str) -> None:
        """Record progress as an ``intent.progress`` event."""
        await self._progress_call(message)

    async def allowed_tool(self, tool: str) -> bool:
        """Whether the agent's Mesh policy lets it call ``tool`` (its ``tools`` rule, read once per
        delivery; docs/mesh.md). Ask before the call; :meth:`record_tool` records it."""
        return await self._allowed_tool(tool)

    async def record_tool(self, tool: str) -> None:
        """Record a call of ``tool`` on the intent (an ``intent.progress`` event: the audit trail
        shows it); the server checks it against the policy: ``Forbidden`` (``policy_denied``)."""
        await self._tool_call(tool)

    async def wait(
        self,
        reason: WaitingReason | str = WaitingReason.HUMAN,
        *,
        wake_at: datetime | None = None,
        details: JSON | None = None,
    ) -> None:
        """Park the intent in WAITING; the handler should return next (its value is ignored).
        A resume (or ``wake_at``) delivers it again."""
        await self._wait_call(reason, wake_at, details)


class Context(_ContextBase[HumanAnswer]):
    """The context of a sync handler, which runs in a thread: its actions block.

    drafts = ctx.gather(*(ctx.spawn(WRITER, {"topic": t}, key=f"draft-{t}") for t in topics))
    score = ctx.step("review", lambda: review(drafts), compensate=undo_review)
    answer = ctx.ask_human("publish", title="Publish the review?", assignees=["role:editors"])
    """

    def __init__(self, state: _ContextState, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(state)
        self._loop = loop
        state.journal.blocking = True

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def gather(self, *children: Child, return_exceptions: bool = False) -> list[Any]:
        """The children's results, in order. Spawns those not spawned yet (one request); when some
        have not finished, the intent is parked without a lease and this handler stops here (nothing
        is reported), to run again from the top, on any worker, once they all have. A child that
        failed or was canceled raises :class:`~intentd.worker.ChildFailed` (the first in order), or
        stands in its place with ``return_exceptions=True``."""
        return list(self._run(self._state.journal.gather(children, return_exceptions)))

    def _one(self, child: Child) -> Any:
        [result] = self.gather(child)
        return result

    def _asked(self, key: str, human_task: JSON) -> HumanAnswer:
        return cast(HumanAnswer, self._run(self._state.journal.ask(key, human_task)))

    def step(self, key: str, fn: Callable[[], Any], *, compensate: Callable[[Any], Any] | None = None) -> Any:
        """Run ``fn()`` once, ever, for this intent: its JSON result is journaled under ``key`` and a
        later run of the handler gets the journaled result without calling it. ``compensate(result)``
        undoes the step if the handler fails for good later; each runs once, last registered first."""
        if inspect.iscoroutinefunction(fn):
            raise TypeError("a sync handler's step takes a plain callable (async ones: an async handler)")
        journal = self._state.journal
        found, result = self._run(journal.journaled(key))
        if not found:
            result = self._run(journal.record(key, fn()))
        journal.register(key, compensate, result)
        return result

    def progress(self, message: str) -> None:
        """Record progress as an ``intent.progress`` event."""
        self._run(self._progress_call(message))

    def allowed_tool(self, tool: str) -> bool:
        """Whether the agent's Mesh policy lets it call ``tool`` (its ``tools`` rule, read once per
        delivery; docs/mesh.md). Ask before the call; :meth:`record_tool` records it."""
        return bool(self._run(self._allowed_tool(tool)))

    def record_tool(self, tool: str) -> None:
        """Record a call of ``tool`` on the intent (an ``intent.progress`` event: the audit trail
        shows it); the server checks it against the policy: ``Forbidden`` (``policy_denied``)."""
        self._run(self._tool_call(tool))

    def wait(
        self,
        reason: WaitingReason | str = WaitingReason.HUMAN,
        *,
        wake_at: datetime | None = None,
        details: JSON | None = None,
    ) -> None:
        """Park the intent in WAITING; the handler should return next (its value is ignored).
        A resume (or ``wake_at``) delivers it again."""
        self._run(self._wait_call(reason, wake_at, details))


_current: contextvars.ContextVar[Context | AsyncContext | None] = contextvars.ContextVar(
    "intentd_worker_context", default=None
)


def current_context() -> Context | AsyncContext | None:
    """The context of the handler running in this task or thread (None outside one). Code the
    handler calls without passing ``ctx`` down reaches it here: a framework adapter's tool or node
    spawns a child of the intent being handled, or asks a person, through it."""
    return _current.get()


def _levels(escalate_to: str | Sequence[str | Mapping[str, Any]] | None) -> Any:
    """``escalate_to`` as JSON: one assignee, or levels (assignees, or ``{assignees, after_seconds}``)."""
    if escalate_to is None or isinstance(escalate_to, str):
        return escalate_to
    return [level if isinstance(level, str) else dict(level) for level in escalate_to]
