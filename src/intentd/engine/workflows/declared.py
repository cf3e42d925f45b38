"""The interpreter of declared workflows (``POST /v1/scenarios/apply``): the runtime, not an agent,
owns the plan. A run is a parent intent parked in WAITING while its steps run; each step is a child
intent (or a timer, for a delay) and an entry of the run's journal under the step's id.

Every move happens in the transaction of what caused it: the run starts in the apply's transaction,
moves on in the transaction that ends one of its children (the ``JoinParent`` effect) or fires one of
its timers (``StepTimer``). A move reads the plan and the journal, writes the entries it changes,
adds ``intent.step_*`` events to the run and returns the changes of other intents it makes (new
children, canceled branches). A crash between moves loses nothing and repeats nothing: a move
commits whole or not at all, and a child that ends twice (a redelivery) finds its entry finished.

A step's final failure (its retries used up) follows its ``on_failure``: another step, ``escalate``
(a human decides retry, skip or abort), ``fail``, or ``compensate`` (the default): the ``compensate``
intents of the completed steps run one at a time, newest first, each retried by its own policy, and
then the run fails naming the step and why.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from intentd.model import (
    JSON,
    EntryKind,
    EntryStatus,
    EventType,
    Intent,
    JournalEntry,
    Micros,
    Status,
    WaitingReason,
)
from intentd.store import Tx

from .._change import Change
from ..inputs import SubmitIntent
from .expressions import render
from .journal import child_entry, outcome, spawn
from .plan import OnFailure, Plan, Step, StepKind
from .readings import (
    APPROVAL,
    COMPENSATE,
    ESCALATION,
    FAILURE,
    comment,
    completion_result,
    decision,
    failure_error,
    join_errors,
    join_outputs,
    join_state,
    next_to_compensate,
    scope,
    signoff,
    tally,
    waiting_for,
)

ACTOR = "workflow"
ESCALATION_OUTCOMES = ["retry", "skip", "abort"]
CHANGES_REQUESTED = "changes_requested"


def micros(seconds: float) -> int:
    return int(seconds * 1_000_000)


class DeclaredRun:
    """One move of one run, in a transaction. ``change`` is the run's change (it may be the one
    creating the run); after the move, :attr:`follow_ups` are the other intents' changes to record."""

    def __init__(self, tx: Tx, change: Change, plan: Plan, entries: list[JournalEntry], now: Micros) -> None:
        self.tx = tx
        self.change = change
        self.plan = plan
        self.now = now
        self.entries = {e.key: e for e in entries}
        self._seq = max((e.seq for e in entries), default=0)
        self.follow_ups: list[Change] = []
        self._revision: JSON | None = None  # a person's requested changes, for the step run again

    @property
    def run(self) -> Intent:
        return self.change.intent

    # -- what moves a run ----------------------------------------------------------------------
    async def start(self) -> None:
        entry = self.plan.entry
        if entry is None:
            self._complete(None)
        else:
            await self._start(entry)
        self._settle()

    async def child_ended(self, entry: JournalEntry, child: Intent) -> None:
        ended = outcome(entry, child, self.now)
        await self._put(ended)
        key = entry.key
        if key.startswith(COMPENSATE):
            await self._compensation_ended(self.plan.step(key.removeprefix(COMPENSATE)), ended)
        elif key.endswith(APPROVAL):
            await self._approval_ended(self.plan.step(key.removesuffix(APPROVAL)), ended)
        elif key.endswith(ESCALATION):
            await self._escalation_ended(self.plan.step(key.removesuffix(ESCALATION)), ended)
        else:
            await self._step_ended(self.plan.step(key), ended)
        self._settle()

    async def timer_fired(self) -> None:
        """Move every waiting entry whose time has come (a delay ends, a backoff is over)."""
        due = [e for e in self.entries.values() if e.status is EntryStatus.WAITING and e.due_at is not None]
        for entry in sorted(due, key=lambda e: (e.due_at or 0, e.seq)):
            if entry.due_at is not None and entry.due_at <= self.now and not self.run.is_terminal:
                await self._due(entry)
        self._settle()

    # -- steps -----------------------------------------------------------------------------------
    async def _start(self, step: Step, attempt: int = 1) -> None:
        if step.kind is StepKind.PARALLEL:
            await self._put(self._entry(step.step_id, EntryStatus.RUNNING, attempt))
            self._event(EventType.STEP_STARTED, step, attempt, branches=list(step.branches))
            for branch in step.branches:
                await self._start(self.plan.step(branch))
            return
        if step.kind is StepKind.DELAY:
            due_at = self.now + micros(step.delay_seconds or 0)
            await self._put(self._entry(step.step_id, EntryStatus.WAITING, attempt, due_at=due_at))
            self._event(EventType.STEP_STARTED, step, attempt, due_at=due_at)
            return
        child = await self._spawn_step(step)
        entry = child_entry(
            self.run.intent_id, step.step_id, self._seq_of(step.step_id), child, self.now,
            attempt=attempt, kind=EntryKind.STEP,
        )  # fmt: skip
        await self._put(entry)
        self._event(EventType.STEP_STARTED, step, attempt, child_intent_id=child.intent_id, to=child.to_agent)
        if step.kind is StepKind.NOTIFICATION:  # one way: the run does not wait for it
            await self._complete_step(step, {"intent_id": child.intent_id})

    async def _spawn_step(self, step: Step) -> Intent:
        payload = {**self._render(step.input), "parent_payload": self.run.payload, "step_id": step.step_id}
        if self._revision is not None:  # asked again after a person requested changes
            payload["revision"] = self._revision
        human = step.kind is StepKind.HUMAN
        controls: JSON = {"human_task": step.human_task or signoff(step)} if human else {}
        deadline = self.now + micros(step.deadline_seconds) if step.deadline_seconds else None
        spec = SubmitIntent(
            intent_type=step.intent_type or self.plan.intent_type,
            correlation_id=self.run.correlation_id,
            to_agent=step.to_agent or (self.plan.default_human if human else self.run.to_agent),
            payload=payload,
            deadline_at=deadline,
            max_delivery_attempts=self.plan.max_delivery_attempts,
            controls=controls,
        )
        waiting = WaitingReason.HUMAN if human else WaitingReason.AGENT if step.subflow else None
        change = spawn(self.run, step.step_id, spec, self.now, waiting_for=waiting)
        self.follow_ups.append(change)
        if step.subflow is not None:  # a child run: it starts in this same transaction
            await self.tx.insert_workflow_run(
                change.intent.intent_id, self.run.namespace, step.step_id, step.subflow.to_json(), self.now
            )
            inner = DeclaredRun(self.tx, change, step.subflow, [], self.now)
            await inner.start()
            self.follow_ups += inner.follow_ups
        return change.intent

    async def _step_ended(self, step: Step, ended: JournalEntry) -> None:
        if ended.status is not EntryStatus.COMPLETED:
            await self._failed(step, ended)
        elif step.kind is StepKind.HUMAN and decision(ended) == CHANGES_REQUESTED:
            await self._revise(self._agent_before(step), step, ended)
        elif step.requires_approval and step.kind is StepKind.AGENT:
            await self._ask_approval(step, ended)
        else:
            await self._complete_step(step, ended.result)

    async def _complete_step(self, step: Step, output: Any) -> None:
        entry = self.entries[step.step_id]
        await self._put(entry.ended(EntryStatus.COMPLETED, self.now, result=output))
        self._event(EventType.STEP_COMPLETED, step, entry.attempt, child_intent_id=entry.child_intent_id)
        await self._after(step)

    async def _after(self, step: Step) -> None:
        """``step`` is done (completed or skipped): join its parallel step, or go on."""
        if FAILURE in self.entries or self.run.is_terminal:
            return
        if step.branch_of is not None:
            await self._join(self.plan.step(step.branch_of))
        elif step.on_success is not None:
            await self._start(self.plan.step(step.on_success))
        else:
            self._complete(step)

    async def _due(self, entry: JournalEntry) -> None:
        if entry.key.startswith(COMPENSATE):
            await self._compensate(self.plan.step(entry.key.removeprefix(COMPENSATE)), entry.attempt + 1)
            return
        step = self.plan.step(entry.key)
        if step.kind is StepKind.DELAY:
            await self._complete_step(step, {"delayed_seconds": step.delay_seconds})
        else:
            await self._start(step, entry.attempt + 1)

    # -- failures ----------------------------------------------------------------------------------
    async def _failed(self, step: Step, ended: JournalEntry) -> None:
        """A step attempt failed: retry it while its policy allows, else its failure is final."""
        code = (ended.error or {}).get("code")
        if ended.status is EntryStatus.FAILED and step.retry.allows(ended.attempt, code):
            await self._retry_later(step.step_id, step, ended, step.retry.delay(ended.attempt))
            return
        self._event(EventType.STEP_FAILED, step, ended.attempt, error=ended.error)
        if step.branch_of is not None:
            await self._join(self.plan.step(step.branch_of))
        else:
            await self._final_failure(step, ended.error or {})

    async def _retry_later(self, key: str, step: Step, ended: JournalEntry, delay: float) -> None:
        due_at = self.now + micros(delay)
        await self._put(replace(ended, status=EntryStatus.WAITING, due_at=due_at, ended_at=None))
        details: JSON = {"key": key, "error": ended.error, "due_at": due_at, "delay_seconds": round(delay, 3)}
        self._event(EventType.STEP_RETRYING, step, ended.attempt + 1, **details)
        if delay <= 0:
            await self._due(self.entries[key])

    async def _final_failure(self, step: Step, error: JSON) -> None:
        target = step.on_failure
        if target == OnFailure.ESCALATE:
            await self._escalate(step, error)
        elif target == OnFailure.FAIL:
            await self._fail(step, error, compensate=False)
        elif target is None or target == OnFailure.COMPENSATE:
            await self._fail(step, error, compensate=True)
        else:
            await self._start(self.plan.step(target))

    # -- people: approvals and escalations -------------------------------------------------------
    async def _ask_human(self, step: Step, suffix: str, human_task: JSON, details: JSON) -> Intent:
        key = step.step_id + suffix
        previous = self.entries.get(key)
        spec = SubmitIntent(
            intent_type=self.plan.intent_type,
            correlation_id=self.run.correlation_id,
            to_agent=step.approver or self.plan.default_human,
            payload={**details, "step_id": step.step_id, "human_task": human_task},
            controls={"human_task": human_task},
        )
        change = spawn(self.run, key, spec, self.now, waiting_for=WaitingReason.HUMAN)
        self.follow_ups.append(change)
        attempt = previous.attempt + 1 if previous else 1
        entry = child_entry(
            self.run.intent_id, key, self._seq_of(key), change.intent, self.now,
            attempt=attempt, kind=EntryKind.STEP,
        )  # fmt: skip
        await self._put(entry)
        return change.intent

    async def _ask_approval(self, step: Step, ended: JournalEntry) -> None:
        await self._put(replace(ended, status=EntryStatus.WAITING, ended_at=None))
        task = step.human_task or {
            "title": f"Approve the result of step {step.step_id!r}",
            "task_type": "approval",
            "allowed_outcomes": ["approved", "rejected"],
        }
        asked = await self._ask_human(step, APPROVAL, task, {"output": ended.result})
        self._event(EventType.STEP_STARTED, step, 1, key=step.step_id + APPROVAL, to=asked.to_agent)

    async def _approval_ended(self, step: Step, ended: JournalEntry) -> None:
        entry = self.entries[step.step_id]
        if ended.status is EntryStatus.COMPLETED and decision(ended) == CHANGES_REQUESTED:
            await self._revise(step, step, ended)
            return
        if ended.status is EntryStatus.COMPLETED:  # a rejection fails the approval (workflows/human.py)
            await self._complete_step(step, entry.result)
            return
        error = {"code": "rejected", "message": comment(ended) or "the approval was rejected"}
        await self._failed(step, entry.ended(EntryStatus.FAILED, self.now, error=error))

    def _agent_before(self, human: Step) -> Step | None:
        """The agent step a human step follows (its ``on_success`` leads here)."""
        return next(
            (s for s in self.plan.steps if s.on_success == human.step_id and s.kind is StepKind.AGENT), None
        )

    async def _revise(self, agent: Step | None, asked: Step, ended: JournalEntry) -> None:
        """``changes_requested``: the agent step runs again with the person's comment and data in its
        input (``revision``), and the person is asked again when it completes. A human step with no
        agent step before it has nothing to revise: the answer fails it."""
        if agent is None:
            error = {"code": CHANGES_REQUESTED, "message": comment(ended) or "changes requested"}
            await self._failed(
                asked, self.entries[asked.step_id].ended(EntryStatus.FAILED, self.now, error=error)
            )
            return
        self._revision = {
            "comment": comment(ended),
            "data": (ended.result or {}).get("data"),
            "step_id": asked.step_id,
        }
        await self._start(agent, self.entries[agent.step_id].attempt + 1)
        self._revision = None

    async def _escalate(self, step: Step, error: JSON) -> None:
        task = {
            "title": f"Step {step.step_id!r} failed: retry, skip or abort?",
            "description": str(error.get("message", ""))[:2000],
            "task_type": "escalate",
            "allowed_outcomes": ESCALATION_OUTCOMES,
        }
        asked = await self._ask_human(step, ESCALATION, task, {"error": error})
        self._event(
            EventType.STEP_ESCALATED, step, self.entries[step.step_id].attempt,
            error=error, to=asked.to_agent, escalation_intent_id=asked.intent_id,
        )  # fmt: skip

    async def _escalation_ended(self, step: Step, ended: JournalEntry) -> None:
        chosen = decision(ended) if ended.status is EntryStatus.COMPLETED else "abort"
        entry = self.entries[step.step_id]
        if chosen == "retry":
            await self._start(step)  # a fresh round of attempts
        elif chosen == "skip":
            await self._put(entry.ended(EntryStatus.SKIPPED, self.now, error=entry.error))
            self._event(EventType.STEP_SKIPPED, step, entry.attempt, by=ended.child_intent_id)
            await self._after(step)
        else:
            await self._fail(step, entry.error or {"code": "aborted", "message": "aborted"}, compensate=True)

    # -- parallel steps ------------------------------------------------------------------------------
    async def _join(self, parallel: Step) -> None:
        entry = self.entries[parallel.step_id]
        state = join_state(parallel, self.entries)
        if entry.finished or not state.decided:
            return  # decided already (a branch let finish ended), or waiting for more branches
        if not state.succeeded or parallel.join.remaining == "cancel":
            await self._cancel(state.running)
        counts = tally(parallel, self.entries)
        if state.succeeded:
            output = {"branches": join_outputs(parallel, self.entries), "tally": counts}
            await self._put(entry.ended(EntryStatus.COMPLETED, self.now, result=output))
            self._event(EventType.STEP_COMPLETED, parallel, entry.attempt, tally=counts)
            await self._after(parallel)
            return
        error = {
            "code": "join_failed",
            "message": f"{state.completed} of {state.branches} branches completed; "
            f"the join needs {state.needed}",
            "tally": counts,
            "branches": join_errors(parallel, self.entries),
        }
        failed = entry.ended(EntryStatus.FAILED, self.now, error=error)
        await self._put(failed)
        await self._failed(parallel, failed)  # its own retry runs every branch again

    async def _cancel(self, entries: list[JournalEntry]) -> None:
        """End the branches still running (their intents are canceled after the run's change)."""
        for entry in entries:
            never_ran = entry.child_intent_id is None
            if entry.child_intent_id is not None:
                child = await self.tx.get_intent(entry.child_intent_id, for_update=True)
                if child is not None and not child.is_terminal:
                    never_ran = child.delivery_attempt == 0 and entry.attempt == 1
                    change = Change(child)
                    reason = f"canceled by run {self.run.intent_id}: the join was decided"
                    change.step(
                        EventType.CANCELED, Status.CANCELED, ACTOR, self.now, details={"reason": reason}
                    )
                    self.follow_ups.append(change)
            error = {"code": "canceled", "message": "the join was decided", "never_ran": never_ran}
            await self._put(entry.ended(EntryStatus.CANCELED, self.now, error=error))

    # -- the end: compensation, failure, completion ---------------------------------------------------
    async def _fail(self, step: Step, error: JSON, *, compensate: bool) -> None:
        await self._put(
            JournalEntry(
                self.run.intent_id, FAILURE, self._seq_of(FAILURE), EntryKind.STEP, EntryStatus.FAILED,
                self.now, error={"step_id": step.step_id, "cause": error}, ended_at=self.now,
            )
        )  # fmt: skip
        if not (compensate and await self._compensate_next()):
            self._finish_failed()

    async def _compensate_next(self) -> bool:
        """Start undoing the newest completed step not undone yet; False if none is left."""
        step = next_to_compensate(self.plan, self.entries)
        if step is not None:
            await self._compensate(step, 1)
        return step is not None

    async def _compensate(self, step: Step, attempt: int) -> None:
        task = step.compensate
        assert task is not None
        done = self.entries[step.step_id]
        spec = SubmitIntent(
            intent_type=task.intent_type or self.plan.intent_type,
            correlation_id=self.run.correlation_id,
            to_agent=task.to_agent,
            payload={
                **self._render(task.input),
                "compensates": step.step_id,
                "step_output": done.result,
                "parent_payload": self.run.payload,
            },
            max_delivery_attempts=self.plan.max_delivery_attempts,
        )
        key = COMPENSATE + step.step_id
        change = spawn(self.run, key, spec, self.now)
        self.follow_ups.append(change)
        entry = child_entry(
            self.run.intent_id, key, self._seq_of(key), change.intent, self.now,
            attempt=attempt, kind=EntryKind.STEP,
        )  # fmt: skip
        await self._put(entry)
        self._event(
            EventType.STEP_COMPENSATING, step, attempt, compensation_intent_id=change.intent.intent_id
        )

    async def _compensation_ended(self, step: Step, ended: JournalEntry) -> None:
        assert step.compensate is not None
        retry = step.compensate.retry
        if ended.status is EntryStatus.FAILED and retry.allows(
            ended.attempt, (ended.error or {}).get("code")
        ):
            await self._retry_later(ended.key, step, ended, retry.delay(ended.attempt))
            return
        if ended.status is EntryStatus.COMPLETED:
            self._event(EventType.STEP_COMPENSATED, step, ended.attempt, key=ended.key)
        else:
            self._event(EventType.STEP_FAILED, step, ended.attempt, key=ended.key, error=ended.error)
        if not await self._compensate_next():
            self._finish_failed()

    def _finish_failed(self) -> None:
        error = failure_error(self.entries)
        self.change.step(EventType.FAILED, Status.FAILED, ACTOR, self.now, details={"error": error})

    def _complete(self, last: Step | None) -> None:
        result = completion_result(self.plan, self.entries, last)
        self.change.step(EventType.COMPLETED, Status.COMPLETED, ACTOR, self.now, details={"result": result})

    # -- bookkeeping -----------------------------------------------------------------------------------
    def _settle(self) -> None:
        """Say what the run waits for now (a person, time, or agents), if that changed."""
        if self.run.is_terminal:
            return
        reason = waiting_for(self.plan, self.entries)
        if reason is not self.run.waiting_reason or self.run.status is not Status.WAITING:
            self.change.step(EventType.WAITING, Status.WAITING, ACTOR, self.now, waiting_reason=reason)

    def _event(self, event_type: EventType, step: Step, attempt: int, **details: Any) -> None:
        if self.run.is_terminal:
            return
        details = {"step_id": step.step_id, "kind": step.kind.value, "attempt": attempt, **details}
        self.change.step(event_type, self.run.status, ACTOR, self.now, details=details)

    def _entry(
        self, key: str, status: EntryStatus, attempt: int, due_at: Micros | None = None
    ) -> JournalEntry:
        return JournalEntry(
            self.run.intent_id, key, self._seq_of(key), EntryKind.STEP, status, self.now,
            attempt=attempt, due_at=due_at,
        )  # fmt: skip

    def _seq_of(self, key: str) -> int:
        if key in self.entries:
            return self.entries[key].seq
        self._seq += 1
        return self._seq

    async def _put(self, entry: JournalEntry) -> None:
        await self.tx.put_journal_entry(entry)
        self.entries[entry.key] = entry

    def _render(self, template: JSON) -> JSON:
        rendered = render(template, scope(self.run, self.plan, self.entries))
        return rendered if isinstance(rendered, dict) else {"input": rendered}
