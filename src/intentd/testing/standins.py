"""Stand-in agents: any address faked with a scripted behaviour, so a flow's orchestration (retries,
escalation, compensation, joins, approvals) is tested without the real agents or a model.

A stand-in is a handler on the test's worker, run in the test process through the real API like any
agent: it takes a delivery, does what its script says for that delivery, and records the call::

    payment = intentd.stand_in("agent://shop/prod/payment", fails=2, returns={"paid": True})
    ask = {"title": "Refund?", "assignees": ["role:managers"]}
    manager = intentd.stand_in("agent://shop/prod/manager", asks=ask)
    risk = intentd.stand_in("agent://shop/prod/risk", fatal="fraud suspected")
    ...
    assert [call.attempt for call in payment.calls] == [1, 2, 3]

Each delivery of an intent is one call. The script, in order: ``takes`` seconds of the server's time
from the first delivery (on the embedded server the handler holds its lease until the test moves time
on that far); ``fails``
retryable failures (each retried after ``retry_after`` seconds of server time, at once without it);
``fatal``, a failure for good; ``asks``, a human task (the intent waits for the person, then comes
back with the answer); then the result, ``returns`` (a value, or a function of the intent and, after
``asks``, the answer), handing on ``then`` (intents to submit once it completes).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from intentd.client import Intent, IntentSpec
from intentd.worker import FatalError, HumanAnswer, Result, RetryableError, Worker

ASK_KEY = "stand-in:ask"  # the journal key of a stand-in's one question
CLOCK_POLL_SECONDS = 0.005  # how often a ``takes`` stand-in looks at the server's clock


@dataclass(frozen=True, slots=True)
class Call:
    """One delivery a stand-in took."""

    intent_id: str
    intent_type: str
    payload: dict[str, Any]
    from_agent: str
    attempt: int  # the delivery attempt (1, 2, …: a retry is the next attempt)
    answer: HumanAnswer | None = None  # after ``asks``: the person's answer this delivery came back with


@dataclass
class StandIn:
    """A scripted agent at ``address``; :attr:`calls` records each delivery it took."""

    address: str
    returns: Any = None
    fails: int = 0
    error: str = "the stand-in failed, as scripted"
    retry_after: float | None = None
    fatal: str | None = None
    asks: Mapping[str, Any] | None = None
    then: Sequence[IntentSpec] | Callable[[Intent], Sequence[IntentSpec]] = ()
    takes: float | None = None
    clock: Callable[[], float] = field(default=lambda: 0.0, repr=False)  # the server's time (seconds)
    calls: list[Call] = field(default_factory=list, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def serve_on(self, worker: Worker) -> StandIn:
        worker.agent(self.address)(self._handle)
        return self

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [call.payload for call in self.calls]

    def calls_for(self, intent_id: str) -> list[Call]:
        return [call for call in self.calls if call.intent_id == intent_id]

    async def _handle(self, ctx: Any, intent: Intent) -> Any:
        index = self._record(
            Call(intent.intent_id, intent.intent_type, dict(intent.payload), intent.from_agent, ctx.attempt)
        )
        answer = None
        if self.asks is not None:  # the first time, the intent parks here: the handler ends
            answer = await ctx.ask_human(ASK_KEY, **self.asks)
            with self._lock:
                self.calls[index] = replace(self.calls[index], answer=answer)
        if self.takes is not None and len(self.calls_for(intent.intent_id)) == 1:
            # From the delivery, in server time (the intent's last change): not from when this
            # handler got to run, which the test cannot see.
            await self._take_until(intent.updated_at.timestamp() + self.takes)
        if ctx.attempt <= self.fails:
            message = f"{self.error} (attempt {ctx.attempt} of {self.fails} scripted)"
            raise RetryableError(message, retry_after=self.retry_after)
        if self.fatal is not None:
            raise FatalError(self.fatal)
        value = self._result(intent, answer)
        handed_on = self.then(intent) if callable(self.then) else self.then
        return Result(value, then=list(handed_on)) if handed_on else value

    def _record(self, call: Call) -> int:
        with self._lock:
            self.calls.append(call)
            return len(self.calls) - 1

    async def _take_until(self, until: float) -> None:
        while self.clock() < until:
            await asyncio.sleep(CLOCK_POLL_SECONDS)

    def _result(self, intent: Intent, answer: HumanAnswer | None) -> Any:
        if callable(self.returns):
            return self.returns(intent, answer) if self.asks is not None else self.returns(intent)
        if self.returns is not None:
            return self.returns
        if answer is None:
            return {}
        return {
            "outcome": answer.outcome,
            "comment": answer.comment,
            "data": answer.data,
            "decided_by": answer.decided_by,
        }
