"""Inbox threads and approval decisions, the AXP family the official SDK reaches through ``list_inbox``,
``get_inbox_thread``, ``list_inbox_changes``, ``reply_inbox_thread``, ``delegate_inbox_thread``,
``approve_inbox_thread`` / ``reject_inbox_thread``, ``delete_inbox_messages`` and ``decide_approval``
(PROTOCOL.md §2.4, §2.6; choices in docs/axp-compat.md).

An inbox thread is the *completion thread* of an intent that names a ``reply_to`` address: its intent
and the intent's events, plus the thread's own entries (``inbox_items``: replies, delegations). It
belongs to its *owner*, the ``reply_to`` until a delegation hands it to another address; the owner is
on the thread's row (``inbox_threads``), which every change of the thread touches in its transaction
(``effects/inbox.py``), and every change joins the owner's feed of changes (cursors in commit order).
Writes to a thread lock its intent's row first, like every change of the intent, so they are
serialised with them and take locks in one order.

An approval decision on the id of a WAITING intent moves that intent in the same transaction that
records the decision: ``approve`` hands it back to its agent (exactly like ``resume``), ``reject``
fails it. A decision on any other id is only recorded. Each approval id is decided once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from intentd.model import (
    JSON,
    ApprovalDecided,
    Event,
    EventType,
    IdempotencyConflict,
    Intent,
    IntentNotWaiting,
    IntentTerminal,
    MessageNotDeletable,
    MessageNotFound,
    Micros,
    Status,
    ThreadFull,
    ThreadNotFound,
    ValidationFailed,
    to_rfc3339,
)
from intentd.store import Store, Tx

from ._change import Change
from .effects.inbox import EVERY_OWNER, thread_changed
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
# A thread's own entries (replies and delegations), read whole with the thread: more are refused.
MAX_THREAD_ITEMS = 1000

# The thread's own entries, as their timeline items name them; the last one names a change only.
MESSAGE_SENT, DELEGATED, MESSAGES_DELETED = "message.sent", "thread.delegated", "messages.deleted"

# Accepted spellings of a decision; the AXP docs' own example sends "approved" (PROTOCOL.md §9.13).
DECISIONS = {"approve": "approve", "approved": "approve", "reject": "reject", "rejected": "reject"}

# Timeline and message ids are derived, stable UUIDs: the same thread always shows the same ids.
_IDS = uuid.UUID("6f1c1f4e-3f55-4b1e-9d6a-1c0de0a1b0c5")


def derived_id(thread_id: str, key: str) -> str:
    """The id of an item of a thread: ``request``, ``completion``, an event's seq, ``item:<seq>``."""
    return str(uuid.uuid5(_IDS, f"{thread_id}:{key}"))


@dataclass(frozen=True, slots=True)
class ThreadItem:
    """An entry of the thread itself, not of its intent: a reply (``message.sent``; ``details``: its
    ``text``, ``from``, ``to``, and whom it is deleted for) or a delegation (``thread.delegated``)."""

    thread_id: str
    seq: int
    item_type: str
    actor: str
    at: Micros
    details: JSON

    @property
    def item_id(self) -> str:
        """Its timeline ``event_id``; a reply's ``message_id`` too."""
        return derived_id(self.thread_id, f"item:{self.seq}")

    def deleted_for(self, viewer: str, mode: str = "self") -> bool:
        """A reply erased for everyone, or (``mode == "self"``) hidden by ``viewer`` for itself."""
        if self.item_type != MESSAGE_SENT:
            return False
        return bool(self.details.get("erased")) or (
            mode == "self" and viewer in self.details.get("hidden_for", ())
        )


@dataclass(frozen=True, slots=True)
class Thread:
    """The completion thread of ``intent`` (which has a ``reply_to``) as its owner sees it: the
    intent's events in order, and the thread's own entries without the replies deleted for it."""

    intent: Intent
    events: list[Event]
    owner_agent: str
    items: list[ThreadItem] = field(default_factory=list)

    @property
    def last_status(self) -> Status:
        # From the last event read, so status, updated_at and timeline always agree.
        return self.events[-1].status if self.events else self.intent.status

    @property
    def status(self) -> str:
        return THREAD_STATUS[self.last_status]

    @property
    def updated_at(self) -> Micros:
        at = self.events[-1].at if self.events else self.intent.updated_at
        return max(at, self.items[-1].at) if self.items else at


@dataclass(frozen=True, slots=True)
class ThreadChange:
    """An entry of an owner's feed of changes: ``cursor`` grows in commit order; ``thread`` is the
    thread as it is now (so two changes of one thread show the same thread)."""

    cursor: int
    change_type: str  # the intent event's type, message.sent, thread.delegated, messages.deleted
    at: Micros
    thread: Thread


@dataclass(frozen=True, slots=True)
class ChangePage:
    changes: list[ThreadChange]
    has_more: bool


@dataclass(frozen=True, slots=True)
class Reply:
    thread_id: str
    message: str
    idempotency_key: str | None = None  # the same key again answers without a second message


@dataclass(frozen=True, slots=True)
class Delegate:
    thread_id: str
    delegate_to: str  # a normalised address: the thread's owner from now on
    note: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteMessages:
    thread_id: str
    mode: str  # self: hidden for the owner who deletes; both: erased for everyone
    message_ids: tuple[str, ...] | None = None  # None: every reply (newest first, up to limit)
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Deleted:
    thread: Thread
    mode: str
    message_ids: list[str]  # the replies deleted now, in thread order


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
        """Completion threads, most recently changed first; ``owner`` None means every owner in
        the caller's namespace."""
        if status is not None and status not in THREAD_STATUSES:
            raise ValidationFailed(
                f"status must be one of {', '.join(THREAD_STATUSES)}", details={"field": "status"}
            )

        async def read(tx: Tx) -> list[Thread]:
            found = await tx.list_inbox_threads(
                principal.namespace, owner=owner, thread_status=status, limit=limit
            )
            return [await _read_thread(tx, intent, owned_by) for intent, owned_by in found]

        return await self._store.read(read)

    async def thread(self, principal: Principal, thread_id: str, *, owner: str | None = None) -> Thread:
        """One thread; a thread of another owner looks like an unknown one (404)."""

        async def read(tx: Tx) -> Thread:
            return await _read_thread(tx, *await _find(tx, principal, thread_id, owner))

        return await self._store.read(read)

    async def changes(
        self, principal: Principal, *, owner: str | None = None, after: int = 0, limit: int = 50
    ) -> ChangePage:
        """The changes of ``owner``'s threads (every owner's in the namespace if None) with a cursor
        past ``after``, in cursor order. A thread delegated away shows its last change to the owner
        it left, with its new owner."""

        async def read(tx: Tx) -> ChangePage:
            rows = await tx.read_inbox_changes(principal.namespace, owner or EVERY_OWNER, after, limit + 1)
            threads: dict[str, Thread] = {}
            for row in rows[:limit]:
                if row["thread_id"] not in threads:
                    intent = await tx.get_intent(row["thread_id"])
                    assert intent is not None and intent.reply_to is not None  # intents are kept
                    owned_by = await tx.inbox_thread_owner(intent.intent_id) or intent.reply_to
                    threads[row["thread_id"]] = await _read_thread(tx, intent, owned_by)
            changes = [
                ThreadChange(r["seq"], r["change_type"], r["at"], threads[r["thread_id"]])
                for r in rows[:limit]
            ]
            return ChangePage(changes, has_more=len(rows) > limit)

        return await self._store.read(read)

    async def reply(self, principal: Principal, req: Reply, *, owner: str | None = None) -> Thread:
        """Append the owner's message to the thread (it does not move the intent)."""

        async def unit(tx: Tx) -> None:
            intent, current = await _find(tx, principal, req.thread_id, owner, for_update=True)
            if req.idempotency_key is not None and await _replied(tx, req):
                return
            seq = await _next_item(tx, req.thread_id)
            details = {"role": "owner", "from": current, "to": intent.to_agent, "text": req.message}
            item = ThreadItem(req.thread_id, seq, MESSAGE_SENT, principal.name, self._clock(), details)
            await _append(tx, intent, item, req.idempotency_key)

        await self._store.write(unit)
        return await self.thread(principal, req.thread_id)

    async def delegate(self, principal: Principal, req: Delegate, *, owner: str | None = None) -> Thread:
        """Hand the thread to ``req.delegate_to``: it is listed for that owner from now on, and the
        owner it leaves sees it no more (its last change shows where it went). Delegating to the
        owner it has changes nothing. The intent, and where its outcome is delivered, stay as sent."""

        async def unit(tx: Tx) -> None:
            intent, current = await _find(tx, principal, req.thread_id, owner, for_update=True)
            if req.delegate_to == current:
                return
            seq = await _next_item(tx, req.thread_id)
            details = {"from_owner": current, "to_owner": req.delegate_to, "note": req.note}
            item = ThreadItem(req.thread_id, seq, DELEGATED, principal.name, self._clock(), details)
            await tx.set_inbox_thread_owner(req.thread_id, req.delegate_to)
            await _append(tx, intent, item)
            tx.queue_inbox_change(intent.namespace, current, req.thread_id, DELEGATED, item.at)

        await self._store.write(unit)
        return await self.thread(principal, req.thread_id)

    async def decide_thread(
        self, principal: Principal, thread_id: str, decision: str, comment: str | None, *, owner: str | None
    ) -> tuple[Thread, Approval]:
        """Approve or reject the thread's intent: the decision of ``POST /v1/approvals/{id}/decision``
        on it. A terminal thread is a conflict, whatever was decided before."""
        thread = await self.thread(principal, thread_id, owner=owner)
        if thread.intent.is_terminal:
            raise IntentTerminal.of(thread.intent.status.value)
        approval = await self.decide(principal, Decide(thread_id, decision, comment))
        return await self.thread(principal, thread_id), approval

    async def delete_messages(
        self, principal: Principal, req: DeleteMessages, *, owner: str | None = None
    ) -> Deleted:
        """Delete replies: ``self`` hides them for the thread's owner now (an owner it is delegated
        to later sees them), ``both`` erases their text for everyone. The request and the outcome
        are the intent's own record: they cannot be deleted."""

        async def unit(tx: Tx) -> list[str]:
            intent, current = await _find(tx, principal, req.thread_id, owner, for_update=True)
            items = await _items(tx, req.thread_id)
            chosen = _to_delete(req, items, current)
            now = self._clock()
            for item in chosen:
                await tx.update_inbox_item(req.thread_id, item.seq, _deleted(item, req.mode, current, now))
            if chosen:
                assert intent.reply_to is not None
                await thread_changed(
                    tx, intent.namespace, req.thread_id, intent.reply_to, MESSAGES_DELETED, now
                )
            return [item.item_id for item in chosen]

        deleted = await self._store.write(unit)
        return Deleted(await self.thread(principal, req.thread_id), req.mode, deleted)

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
            if intent is None:  # the id of a human task decides that task's intent
                task = await tx.get_human_task(req.approval_id)
                intent = await tx.get_intent(task.intent_id, for_update=True) if task else None
            if intent is not None and intent.namespace == principal.namespace:
                intent = await self._apply(tx, principal, intent, approval)
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

    async def _apply(self, tx: Tx, principal: Principal, intent: Intent, approval: Approval) -> Intent:
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
            tx, principal, intent, approve, approval.comment, approval.decided_at
        )
        if answered is not None:  # the answer to the intent's human task
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


async def _find(
    tx: Tx, principal: Principal, thread_id: str, owner: str | None, *, for_update: bool = False
) -> tuple[Intent, str]:
    """The thread's intent and its owner, if the caller may see it: in its namespace, with a
    ``reply_to``, and owned by ``owner`` when one is given; else it looks unknown (404)."""
    intent = await tx.get_intent(thread_id, for_update=for_update)
    if intent is not None and intent.namespace == principal.namespace and intent.reply_to is not None:
        current = await tx.inbox_thread_owner(thread_id) or intent.reply_to
        if owner in (None, current):
            return intent, current
    raise ThreadNotFound(f"inbox thread {thread_id} not found", details={"thread_id": thread_id})


async def _items(tx: Tx, thread_id: str) -> list[ThreadItem]:
    rows = await tx.list_inbox_items(thread_id, MAX_THREAD_ITEMS)
    return [ThreadItem(thread_id, r["seq"], r["item_type"], r["actor"], r["at"], r["details"]) for r in rows]


async def _read_thread(tx: Tx, intent: Intent, owner: str) -> Thread:
    events = await tx.list_events(intent.intent_id, 0, MAX_TIMELINE)
    items = [i for i in await _items(tx, intent.intent_id) if not i.deleted_for(owner)]
    return Thread(intent, events, owner, items)


async def _next_item(tx: Tx, thread_id: str) -> int:
    """The seq of the thread's next entry; a full thread refuses it (before anything is written)."""
    seq = await tx.next_inbox_item_seq(thread_id)
    if seq > MAX_THREAD_ITEMS:
        raise ThreadFull(
            f"inbox thread {thread_id} already holds {MAX_THREAD_ITEMS} replies and delegations",
            details={"thread_id": thread_id, "limit": MAX_THREAD_ITEMS},
        )
    return seq


async def _append(tx: Tx, intent: Intent, item: ThreadItem, idempotency_key: str | None = None) -> None:
    assert intent.reply_to is not None
    row = {
        "thread_id": item.thread_id,
        "seq": item.seq,
        "item_type": item.item_type,
        "actor": item.actor,
        "at": item.at,
        "details": item.details,
        "idempotency_key": idempotency_key,
    }
    await tx.insert_inbox_item(row)
    await thread_changed(tx, intent.namespace, item.thread_id, intent.reply_to, item.item_type, item.at)


async def _replied(tx: Tx, req: Reply) -> bool:
    """Whether the reply under this Idempotency-Key is in the thread already (a client's retry); the
    key with another message is a conflict."""
    assert req.idempotency_key is not None
    earlier = await tx.inbox_item_by_key(req.thread_id, req.idempotency_key)
    if earlier is None:
        return False
    details = earlier["details"]
    if not details.get("erased") and details.get("text") != req.message:
        raise IdempotencyConflict(
            "Idempotency-Key was already used with a different message",
            details={"idempotency_key": req.idempotency_key, "thread_id": req.thread_id},
        )
    return True


def _to_delete(req: DeleteMessages, items: list[ThreadItem], viewer: str) -> list[ThreadItem]:
    """The replies ``req`` deletes, in thread order: those it names (each must be a reply of the
    thread), else all of them, newest first up to ``limit``; one already deleted so is skipped."""
    if req.mode not in ("self", "both"):
        raise ValidationFailed("mode must be self or both", details={"field": "mode"})
    replies = [i for i in items if i.item_type == MESSAGE_SENT]
    if req.message_ids is not None:
        known = {r.item_id for r in replies}
        for message_id in req.message_ids:
            _check_deletable(req.thread_id, message_id, known)
        replies = [r for r in replies if r.item_id in req.message_ids]
    pending = [r for r in replies if not r.deleted_for(viewer, req.mode)]
    newest = pending[::-1][: req.limit]
    return newest[::-1]


def _check_deletable(thread_id: str, message_id: str, replies: set[str]) -> None:
    if message_id in replies:
        return
    details = {"message_id": message_id, "thread_id": thread_id, "field": "message_ids"}
    if message_id in (derived_id(thread_id, "request"), derived_id(thread_id, "completion")):
        raise MessageNotDeletable(
            f"message {message_id} is the thread's request or outcome, the intent's own record: "
            "only replies can be deleted",
            details=details,
        )
    raise MessageNotFound(f"inbox thread {thread_id} has no reply {message_id}", details=details)


def _deleted(item: ThreadItem, mode: str, viewer: str, now: Micros) -> JSON:
    """The reply's details once deleted: ``both`` takes its text out of storage (the entry stays, so
    no seq or id moves), ``self`` adds ``viewer`` to those it is hidden for."""
    details = {k: v for k, v in item.details.items() if not (mode == "both" and k == "text")}
    if mode == "both":
        return {**details, "erased": True, "erased_at": now}
    return {**details, "hidden_for": [*details.get("hidden_for", []), viewer]}
