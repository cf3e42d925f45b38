"""Durable delegation from a handler: its intent's journal, read once per handler run, written by key.

``ctx.spawn``, ``ctx.gather`` and ``ctx.step`` (``_context.py``) are thin; the logic is here, shared by
the async and the sync context. Every write is keyed, so a handler that runs again from the top (after
a crash, or once the children it waited for have finished) reads what it did before instead of doing
it again: no child is spawned twice and no journaled step runs twice. Stable keys are the only rule.

Parking: when a gather's children have not all finished, the server parks the intent (WAITING, no lease
held) and the handler is unwound with :class:`Unwind`, a ``BaseException`` so that ``except Exception``
in user code does not swallow it. The worker reports nothing; the server queues the intent again once
the children have finished, and any worker runs the handler again.

Asking a person: ``ctx.ask_human(key, title=...)`` answers from the journal when a person has answered
(the answer is journaled under ``key`` in the transaction that gives the intent back to its agent);
otherwise it parks the intent on a human task and unwinds the handler as a gather does. Whatever ran
before the question runs again when the handler does, unless it was a ``ctx.step``.

Saga: ``ctx.step(..., compensate=undo)`` registers ``undo`` (also when the step's result came from the
journal). When the handler fails for good, the failure is journaled under ``$failed``, each
compensation runs once, last registered first (journaled under ``compensate:<key>``), and the intent
fails with the original error plus ``details.compensated``. A crash in between leaves ``$failed``
journaled: the next run replays the journaled steps, registering their compensations, and fails with
the same error at the first key that is not journaled, so the rest of the steps get compensated.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from intentd.client import AsyncClient, ChildSpec, Delivery, IntentTerminal, JournalEntry, StaleLease
from intentd.model import JSON

from ._errors import ChildFailed, ReportedFailure, error_object

log = logging.getLogger("intentd.worker.journal")
T = TypeVar("T")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAILED_KEY = "$failed"
COMPENSATE_PREFIX = "compensate:"
MAX_KEY_LENGTH = 240  # the server takes 255: room for the "compensate:" prefix
MAX_SPAWN = 100  # children per request (wire.SpawnBody)
MAX_AWAIT = 1000  # keys per await (wire.AwaitBody)
# What a key is used for in one run; a person's answer is journaled as a "value" entry.
Kind = Literal["child", "value", "human"]
_BY = {
    "child": "ctx.spawn",
    "value": "ctx.step",
    "human": "ctx.ask_human",
    "step": "a declared workflow step",
}
# The yes of every task type (its first default outcome, engine/humans/outcomes.py): HumanAnswer.approved.
APPROVING_OUTCOMES = frozenset(
    {
        "approved",  # approval, review
        "provided",  # clarification, provide_data, attach_file
        "completed",  # manual_action
        "confirmed",  # confirmation
        "validated",  # validate_real_world, validate_output
        "assigned",  # assignment
        "rerouted",  # reroute
        "override_approved",  # override
        "submitted",  # form
    }
)  # (delegated and escalated keep a task open: they move it to other people, never to the agent)


class Unwind(BaseException):
    """Stops a handler whose intent it may no longer finish (internal): parked until its children
    have finished, or its lease lost. The worker reports nothing."""


class Child:
    """A child intent a handler spawns (``ctx.spawn``); nothing is sent until it is gathered.

    In an async handler, await it (a gather of one); in a sync handler, call :meth:`result`. Several
    at once: ``ctx.gather(*children)``, which spawns them together and waits for all of them."""

    __slots__ = ("_awaitable", "_resolve", "spec")

    def __init__(self, spec: ChildSpec, resolve: Callable[[Child], Any], *, awaitable: bool) -> None:
        self.spec = spec
        self._resolve = resolve
        self._awaitable = awaitable

    @property
    def key(self) -> str:
        return self.spec.key

    def __await__(self) -> Generator[Any, None, Any]:
        if not self._awaitable:
            raise TypeError("a sync handler gets a child's result with child.result() or ctx.gather()")
        pending: Awaitable[Any] = self._resolve(self)
        return pending.__await__()

    def result(self) -> Any:
        """The child's result once it has completed (the handler may be parked meanwhile); raises
        :class:`~intentd.worker.ChildFailed` if it failed or was canceled. Sync handlers only."""
        if self._awaitable:
            raise TypeError("an async handler awaits the child: result = await child")
        return self._resolve(self)

    def __repr__(self) -> str:
        return f"Child(key={self.key!r}, to_agent={self.spec.to_agent!r})"


@dataclass(frozen=True, slots=True)
class HumanAnswer:
    """A person's answer to ``ctx.ask_human``: the ``outcome`` they chose (one of the task's allowed
    outcomes), their ``comment``, the ``data`` of a form (``{}`` when none was sent), who decided
    (``decided_by``: the person's key name, or the runtime for a timeout's default outcome) and when.

    ``approved`` is True when the outcome is the yes of its task type: ``approved`` (approval,
    review), ``provided`` (clarification, provide_data, attach_file), ``completed`` (manual_action),
    ``confirmed`` (confirmation), ``validated`` (validate_real_world, validate_output), ``assigned``
    (assignment), ``rerouted`` (reroute), ``override_approved`` (override) or ``submitted`` (form).
    It is False for a no (``rejected``, ``changes_requested``, ``failed``, ``declined``) and for an
    outcome of your own ``allowed_outcomes``: compare ``outcome`` with it."""

    outcome: str
    comment: str | None = None
    data: JSON = field(default_factory=dict)
    decided_by: str = ""
    decided_at: datetime | None = None

    @property
    def approved(self) -> bool:
        return self.outcome in APPROVING_OUTCOMES

    @classmethod
    def from_journal(cls, key: str, result: Any) -> HumanAnswer:
        """The answer journaled under ``key``; a value no person gave (a step's) is a reused key."""
        if not isinstance(result, dict) or not isinstance(result.get("outcome"), str):
            raise _reused(key, "value", "human")
        return cls(
            outcome=result["outcome"],
            comment=result.get("comment"),
            data=dict(result.get("data") or {}),
            decided_by=str(result.get("decided_by") or ""),
            decided_at=_time(result.get("decided_at")),
        )


def _time(value: Any) -> datetime | None:
    """RFC 3339 text, or microseconds since the epoch (how the runtime stores times)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return _EPOCH + timedelta(microseconds=value)
    return None


@dataclass(frozen=True, slots=True)
class _Compensation:
    key: str
    undo: Callable[[Any], Any]
    result: Any


def check_key(key: object) -> str:
    """A key of the caller's: text, unique per parent, and not one the worker keeps for itself."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"a journal key must be non-empty text, not {key!r}")
    if key.startswith(("$", COMPENSATE_PREFIX)):
        raise ValueError(f"journal key {key!r}: keys starting with '$' or {COMPENSATE_PREFIX!r} are reserved")
    if len(key) > MAX_KEY_LENGTH or "\x00" in key:
        raise ValueError(f"journal key {key[:40]!r}...: at most {MAX_KEY_LENGTH} characters, no NUL")
    return key


def _reused(key: str, first: str, then: str) -> ValueError:
    return ValueError(
        f"journal key {key!r} is used by {_BY.get(first, first)} and by {_BY.get(then, then)}: "
        "keys must be unique per parent intent"
    )


def _as_error(value: Any) -> JSON:
    if isinstance(value, dict) and "code" in value:
        return value
    return {"code": "failed", "message": str(value)}


class Journal:
    """One handler run's view of its intent's journal, and its keyed writes under the run's lease."""

    def __init__(
        self,
        client: AsyncClient,
        delivery: Delivery,
        *,
        lose: Callable[[], None],
        usage: dict[str, float] | None = None,
    ) -> None:
        self._client = client
        self._usage = usage if usage is not None else {}  # the handler's, not yet reported
        self._intent_id = delivery.intent.intent_id
        self._token = delivery.lease_token
        self._lose = lose
        self.parked = False  # the intent waits (children, a person) without a lease: report nothing
        self.blocking = False  # user callables are blocking (a sync handler's): run them in a thread
        self._entries: dict[str, JournalEntry] | None = None  # loaded on first use
        self._kinds: dict[str, Kind] = {}  # keys used in this run
        self._specs: dict[str, ChildSpec] = {}
        self._compensations: dict[str, _Compensation] = {}  # in registration order

    # --- keys -------------------------------------------------------------------------------------

    def claim_child(self, spec: ChildSpec) -> None:
        self._claim(spec.key, "child")
        if self._specs.setdefault(spec.key, spec) != spec:
            raise ValueError(f"journal key {spec.key!r} names two different children in this run")

    def _claim(self, key: str, kind: Kind) -> None:
        first = self._kinds.setdefault(check_key(key), kind)
        if first != kind:
            raise _reused(key, first, kind)

    async def _load(self) -> dict[str, JournalEntry]:
        if self._entries is None:
            entries = await self._client.journal(self._intent_id)
            self._entries = {entry.key: entry for entry in entries}
        return self._entries

    def _update(self, entries: Iterable[JournalEntry]) -> None:
        assert self._entries is not None
        self._entries.update((entry.key, entry) for entry in entries)

    def _journaled(self, entries: dict[str, JournalEntry], key: str, kind: Kind) -> JournalEntry | None:
        entry = entries.get(key)
        if entry is not None and entry.kind != kind:
            raise _reused(key, entry.kind, kind)
        return entry

    def _failed_before(self) -> JSON | None:
        entry = (self._entries or {}).get(FAILED_KEY)
        return None if entry is None else _as_error(entry.result)

    def _check_new_work(self) -> None:
        """Before anything not journaled: an earlier delivery that failed for good fails here again."""
        failed = self._failed_before()
        if failed is not None:
            raise ReportedFailure(failed)

    async def _write(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except (StaleLease, IntentTerminal) as exc:
            self._lose()
            raise Unwind(f"intent {self._intent_id} is no longer this worker's ({exc.code})") from exc

    # --- children ---------------------------------------------------------------------------------

    async def gather(self, children: Sequence[Child], return_exceptions: bool) -> list[Any]:
        specs = {child.key: child.spec for child in children}
        if not specs:
            return []
        if len(specs) > MAX_AWAIT:
            raise ValueError(f"a gather waits for at most {MAX_AWAIT} children, not {len(specs)}")
        for spec in specs.values():
            self.claim_child(spec)
        entries = await self._load()
        missing = [spec for key, spec in specs.items() if self._journaled(entries, key, "child") is None]
        if missing:
            self._check_new_work()
        for start in range(0, len(missing), MAX_SPAWN):
            batch = missing[start : start + MAX_SPAWN]
            self._update(await self._write(self._client.spawn(self._intent_id, self._token, batch)))
        if not all(entries[key].finished for key in specs):
            await self.flush_usage()
            answer = await self._write(self._client.await_entries(self._intent_id, self._token, list(specs)))
            if answer.parked:
                self.parked = True
                raise Unwind(f"intent {self._intent_id} is parked until its children have finished")
            self._update(answer.entries)
        return [self._outcome(entries[child.key], return_exceptions) for child in children]

    @staticmethod
    def _outcome(entry: JournalEntry, return_exceptions: bool) -> Any:
        if entry.status == "COMPLETED":
            return entry.result
        failed = ChildFailed(entry.key, entry.status, entry.error)
        if return_exceptions:
            return failed
        raise failed

    # --- steps ------------------------------------------------------------------------------------

    async def journaled(self, key: str) -> tuple[bool, Any]:
        """Whether step ``key`` is journaled, and its result if it is."""
        self._claim(key, "value")
        entry = self._journaled(await self._load(), key, "value")
        if entry is not None:
            return True, entry.result
        self._check_new_work()
        return False, None

    async def record(self, key: str, result: Any) -> Any:
        """Journal a step's result; the journaled one is returned (JSON as read back, or an earlier
        write of the key, which wins)."""
        try:
            json.dumps(result, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"the result of step {key!r} must be JSON: {exc}") from None
        answer = await self._write(self._client.record_step(self._intent_id, self._token, key, result))
        self._update([answer.entry])
        return answer.entry.result

    def register(self, key: str, undo: Callable[[Any], Any] | None, result: Any) -> None:
        if undo is not None:
            self._compensations.setdefault(key, _Compensation(key, undo, result))

    # --- people -----------------------------------------------------------------------------------

    async def ask(self, key: str, human_task: Mapping[str, Any]) -> HumanAnswer:
        """The answer journaled under ``key``; without one, the intent is parked on ``human_task``
        (WAITING_FOR_HUMAN, no lease held) and the handler unwound, to run again once it is answered."""
        self._claim(key, "human")
        entry = (await self._load()).get(key)
        if entry is not None and entry.kind != "value":
            raise _reused(key, entry.kind, "human")
        if entry is not None:
            return HumanAnswer.from_journal(key, entry.result)
        self._check_new_work()
        await self.flush_usage()
        await self._write(self._client.ask_human(self._intent_id, self._token, key, human_task))
        self.parked = True
        raise Unwind(f"intent {self._intent_id} is parked until a person answers {key!r}")

    async def flush_usage(self) -> None:
        """Report the usage counted so far, before the intent may be parked: a parked handler reports
        no outcome, and what it used (a model's tokens before a pause) would be lost with it."""
        if self._usage:
            usage = dict(self._usage)
            self._usage.clear()
            await self._write(
                self._client.progress(self._intent_id, "usage", lease_token=self._token, usage=usage)
            )

    # --- the outcome of a run ---------------------------------------------------------------------

    def returned(self, value: T) -> T:
        """A handler's return value, unless an earlier delivery failed for good: then that failure."""
        self._check_new_work()
        return value

    def failure(self, exc: Exception) -> Exception:
        """What a handler's exception counts as: an earlier final failure, when one is journaled."""
        failed = self._failed_before()
        return exc if failed is None or isinstance(exc, ReportedFailure) else ReportedFailure(failed)

    async def compensate(self, exc: Exception) -> Exception:
        """Undo the registered steps after a final failure (each once, last first); the failure to
        report, with ``details.compensated`` (and ``compensation_failed``). ``exc`` itself when no
        step registered a compensation."""
        if not self._compensations:
            return exc
        await self._load()
        recorded = await self.record(FAILED_KEY, error_object(exc))  # an earlier run's wins
        error = _as_error(recorded)
        compensated, failed = [], []
        for step in reversed(list(self._compensations.values())):
            key = COMPENSATE_PREFIX + step.key
            if not await self._undo(key, step):
                failed.append(step.key)
                continue
            compensated.append(step.key)
        details = {**(error.get("details") or {}), "compensated": compensated}
        if failed:
            details["compensation_failed"] = failed
        return ReportedFailure({**error, "details": details})

    async def _undo(self, key: str, step: _Compensation) -> bool:
        assert self._entries is not None
        if key in self._entries:
            return True  # compensated by an earlier delivery
        try:
            result = await self._call(step.undo, step.result)
        except Exception:
            log.exception("compensation of step %r of intent %s failed", step.key, self._intent_id)
            return False
        # Not journaled is not undone: an error here (the server unreachable) propagates, the delivery
        # is retried, and the next one runs this compensation again (agents key it, as every side effect).
        await self.record(key, result)
        return True

    async def _call(self, fn: Callable[[Any], Any], argument: Any) -> Any:
        if self.blocking and not inspect.iscoroutinefunction(fn):
            result = await asyncio.to_thread(fn, argument)
        else:
            result = fn(argument)
        if inspect.isawaitable(result):
            result = await result
        return result
