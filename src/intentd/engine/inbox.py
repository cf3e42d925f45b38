"""Inbox threads and approval decisions, the AXP family the official SDK reaches through
``list_inbox`` / ``get_inbox_thread`` / ``decide_approval`` (PROTOCOL.md §2.4, choices in
docs/axp-compat.md).

An inbox thread is not a table of its own: it is the *completion thread* of an intent that names a
``reply_to`` address, read from the intent and its events. The thread belongs to that address (its
``owner_agent``), so the address that asked for the reply finds the work and its outcome there.

An approval decision on the id of a WAITING intent moves that intent in the same transaction that
records the decision: ``approve`` hands it back to its agent (exactly like ``resume``), ``reject``
fails it. A decision on any other id is only recorded. Each approval id is decided once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from intentd.model import (
    JSON,
    ApprovalDecided,
    Event,
    EventType,
    Intent,
    IntentNotWaiting,
    IntentTerminal,
    Micros,
    Status,
    ThreadNotFound,
    ValidationFailed,
    to_rfc3339,
)
from intentd.store import Store, Tx

from ._change import Change
from .inputs import Principal
from .recorder import Recorder
from .workflows.human import HumanAnswers

Clock = Callable[[], Micros]

# Thread status from the intent's status: pending until an agent has it, done once terminal.
# store/sql/queries.sql (list_inbox_threads) filters with the same mapping.
THREAD_STATUS: dict[Status, str] = {
    **{s: "active" for s in Status},
    Status.CREATED: "pending",
    Status.SUBMITTED: "pending",
    **{s: "done" for s in Status if s.is_terminal},
}
THREAD_STATUSES = ("pending", "active", "done")
MAX_TIMELINE = 1000  # events per thread; an intent with more shows its first MAX_TIMELINE

# Accepted spellings of a decision; the AXP docs' own example sends "approved" (PROTOCOL.md §9.13).
DECISIONS = {"approve": "approve", "approved": "approve", "reject": "reject", "rejected": "reject"}


@dataclass(frozen=True, slots=True)
class Thread:
    """The completion thread of ``intent`` (which has a ``reply_to``), with its events in order."""

    intent: Intent
    events: list[Event]

    @property
    def owner_agent(self) -> str:
        assert self.intent.reply_to is not None
        return self.intent.reply_to

    @property
    def last_status(self) -> Status:
        # From the last event read, so status, updated_at and timeline always agree.
        return self.events[-1].status if self.events else self.intent.status

    @property
    def status(self) -> str:
        return THREAD_STATUS[self.last_status]

    @property
    def updated_at(self) -> Micros:
        return self.events[-1].at if self.events else self.intent.updated_at


@dataclass(frozen=True, slots=True)
class Decide:
    approval_id: str
    decision: str  # approve | reject (or a spelling in DECISIONS)
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Approval:
    approval_id: str
    decision: str
    comment: str | None
    decided_by: str
    decided_at: Micros
    intent_id: str | None  # the intent the decision moved, if any
    intent: Intent | None = None  # that intent as it is now
    replayed: bool = False  # the same decision was already recorded; nothing changed now

    def record(self) -> JSON:
        return {
            "approval_id": self.approval_id,
            "decision": self.decision,
            "comment": self.comment,
            "decided_by": self.decided_by,
            "decided_at": to_rfc3339(self.decided_at),
        }


class InboxService:
    def __init__(self, store: Store, clock: Clock, recorder: Recorder, answers: HumanAnswers) -> None:
        self._store = store
        self._clock = clock
        self._recorder = recorder
        self._answers = answers

    async def threads(
        self, principal: Principal, *, owner: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[Thread]:
        """Completion threads, most recently updated first; ``owner`` None means every owner in
        the caller's namespace."""
        if status is not None and status not in THREAD_STATUSES:
            raise ValidationFailed(
                f"status must be one of {', '.join(THREAD_STATUSES)}", details={"field": "status"}
            )

        async def read(tx: Tx) -> list[Thread]:
            intents = await tx.list_inbox_threads(
                principal.namespace, owner=owner, thread_status=status, limit=limit
            )
            return [Thread(i, await tx.list_events(i.intent_id, 0, MAX_TIMELINE)) for i in intents]

        return await self._store.read(read)

    async def thread(self, principal: Principal, thread_id: str, *, owner: str | None = None) -> Thread:
        """One thread; a thread of another owner looks like an unknown one (404)."""

        async def read(tx: Tx) -> Thread:
            intent = await tx.get_intent(thread_id)
            if (
                intent is None
                or intent.namespace != principal.namespace
                or intent.reply_to is None
                or owner not in (None, intent.reply_to)
            ):
                raise ThreadNotFound(f"inbox thread {thread_id} not found", details={"thread_id": thread_id})
            return Thread(intent, await tx.list_events(thread_id, 0, MAX_TIMELINE))

        return await self._store.read(read)

    async def decide(self, principal: Principal, req: Decide) -> Approval:
        decision = DECISIONS.get(req.decision.strip().lower())
        if decision is None:
            raise ValidationFailed("decision must be approve or reject", details={"field": "decision"})
        comment = req.comment or None  # an empty comment is no comment

        async def unit(tx: Tx) -> Approval:
            recorded = await tx.get_approval(principal.namespace, req.approval_id)
            if recorded is not None:
                return await _replay(tx, recorded, decision, comment)
            approval = Approval(req.approval_id, decision, comment, principal.name, self._clock(), None)
            intent = await tx.get_intent(req.approval_id, for_update=True)
            if intent is not None and intent.namespace == principal.namespace:
                intent = await self._apply(tx, intent, approval)
                approval = replace(approval, intent_id=intent.intent_id, intent=intent)
            await tx.insert_approval(
                principal.namespace,
                approval.approval_id,
                decision,
                comment,
                approval.decided_by,
                approval.decided_at,
                approval.intent_id,
            )
            return approval

        return await self._store.write(unit)

    async def _apply(self, tx: Tx, intent: Intent, approval: Approval) -> Intent:
        """Approve = resume (back to the agent, the decision as its input); reject = fail."""
        if intent.is_terminal:
            raise IntentTerminal.of(intent.status.value)
        if intent.status is not Status.WAITING:
            raise IntentNotWaiting(
                f"intent {intent.intent_id} is {intent.status.value}, not WAITING: there is no "
                "pending approval to decide",
                details={"intent_id": intent.intent_id, "status": intent.status.value},
            )
        record = approval.record()
        approve = approval.decision == "approve"
        answered = await self._answers.decide(
            tx, intent, approve, approval.comment, approval.decided_by, approval.decided_at
        )
        if answered is not None:  # a run's human step: the decision ends it
            await self._recorder.record(tx, answered)
            return await tx.get_intent(intent.intent_id) or intent
        change = Change(intent)
        if approve:
            change.step(
                EventType.RESUMED,
                Status.SUBMITTED,
                approval.decided_by,
                approval.decided_at,
                details={"input": {"approval": record}, "approval": record},
            )
        else:
            error = {
                "code": "approval_rejected",
                "message": approval.comment or f"rejected by {approval.decided_by}",
            }
            change.step(
                EventType.FAILED,
                Status.FAILED,
                approval.decided_by,
                approval.decided_at,
                details={"error": error, "approval": record},
            )
        return await self._recorder.record(tx, change)


async def _replay(tx: Tx, recorded: dict[str, Any], decision: str, comment: str | None) -> Approval:
    """A repeated identical decision (a client retry) answers what was decided; a different one
    is a conflict: an approval is decided once."""
    if (recorded["decision"], recorded["comment"]) != (decision, comment):
        raise ApprovalDecided(
            f"approval {recorded['approval_id']} was already decided ({recorded['decision']})",
            details={"approval_id": recorded["approval_id"], "decision": recorded["decision"]},
        )
    intent = await tx.get_intent(recorded["intent_id"]) if recorded["intent_id"] else None
    return Approval(
        recorded["approval_id"],
        recorded["decision"],
        recorded["comment"],
        recorded["decided_by"],
        recorded["decided_at"],
        recorded["intent_id"],
        intent,
        replayed=True,
    )
