"""AXP inbox (PROTOCOL.md §2.4, §2.6): the completion threads of intents sent with a ``reply_to``.

``thread_id`` is the intent's id and ``owner_agent`` its ``reply_to``, until a delegation hands the
thread to another address. The owner scope comes from ``owner_agent`` (query) or ``x-owner-agent``
(header); without either, every thread of the caller's namespace is in scope (an API key is not bound
to one address yet), and a thread of another owner answers 404. See docs/axp-compat.md.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Annotated, Literal

from fastapi import Body, Depends, Header, Query

from intentd.engine.effects.inbox import EVERY_OWNER
from intentd.engine.inbox import (
    DELEGATED,
    MESSAGE_SENT,
    Delegate,
    DeleteMessages,
    Reply,
    Thread,
    ThreadChange,
    ThreadItem,
    derived_id,
)
from intentd.model import (
    ADDRESS_PATTERN,
    JSON,
    TERMINAL,
    BadRequest,
    Event,
    OwnerMismatch,
    normalize_address,
    to_rfc3339,
)
from intentd.wire import (
    DelegateBody,
    DeleteMessagesBody,
    MessagesDeleted,
    ReplyBody,
    ThreadAnswer,
    ThreadChanges,
    ThreadDecided,
    ThreadDecisionBody,
    ThreadList,
)
from intentd.wire.limits import INBOX_PAGE_MAX, INT64_MAX

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ._params import IdempotencyKey, IntentId, v1_router
from .approvals import approval_wire

router = v1_router("/v1/inbox", "inbox")


async def owner_scope(
    owner_agent: Annotated[
        str | None, Query(max_length=383, pattern=ADDRESS_PATTERN, description="the owner address (scope)")
    ] = None,
    x_owner_agent: Annotated[
        str | None, Header(alias="x-owner-agent", max_length=383, pattern=ADDRESS_PATTERN)
    ] = None,
) -> str | None:
    """AXP owner scope: query or header; both present and different is a 400 (PROTOCOL.md §7).
    (async: FastAPI would run a sync dependency in a thread pool.)"""
    given = {normalize_address(v, "owner_agent") for v in (owner_agent, x_owner_agent) if v}
    if len(given) > 1:
        raise OwnerMismatch(details={"field": "owner_agent"})
    return given.pop() if given else None


Owner = Annotated[str | None, Depends(owner_scope)]
Cursor = Annotated[
    str | None,
    Query(
        min_length=3,
        max_length=200,
        pattern=r"^[A-Za-z0-9_=-]+$",
        description="next_cursor of the previous page (opaque); none: from the first change",
    ),
]
Limit = Annotated[int, Query(ge=1, le=INBOX_PAGE_MAX)]


@router.get("", summary="Completion threads of intents sent with reply_to", response_model=ThreadList)
async def list_threads(
    caller: Caller,
    engine: EngineDep,
    owner: Owner,
    status: Literal["pending", "active", "done"] | None = None,
    limit: Limit = 50,
) -> FastJSONResponse:
    threads = await engine.inbox.threads(caller, owner=owner, status=status, limit=limit)
    return answer({"ok": True, "threads": [thread_wire(t) for t in threads]})


@router.get(
    "/changes",
    summary="Changes of the owner's threads, in commit order (pages by cursor)",
    response_model=ThreadChanges,
)
async def list_changes(
    caller: Caller, engine: EngineDep, owner: Owner, cursor: Cursor = None, limit: Limit = 50
) -> FastJSONResponse:
    scope = owner or EVERY_OWNER
    page = await engine.inbox.changes(caller, owner=owner, after=_after(cursor, scope), limit=limit)
    changes = [_change_wire(c, scope) for c in page.changes]
    # The position after this page even when it is the last: a client polls on from there.
    next_cursor = changes[-1]["cursor"] if changes else cursor
    return answer({"ok": True, "changes": changes, "next_cursor": next_cursor, "has_more": page.has_more})


@router.get("/{thread_id}", summary="One completion thread with its timeline", response_model=ThreadAnswer)
async def get_thread(
    thread_id: IntentId, caller: Caller, engine: EngineDep, owner: Owner
) -> FastJSONResponse:
    return _thread_answer(await engine.inbox.thread(caller, thread_id, owner=owner))


@router.post("/{thread_id}/reply", summary="Add the owner's message to a thread", response_model=ThreadAnswer)
async def reply_thread(
    thread_id: IntentId,
    body: ReplyBody,
    caller: Caller,
    engine: EngineDep,
    owner: Owner,
    idempotency_key: IdempotencyKey = None,
) -> FastJSONResponse:
    thread = await engine.inbox.reply(caller, Reply(thread_id, body.message, idempotency_key), owner=owner)
    return _thread_answer(thread)


@router.post(
    "/{thread_id}/delegate",
    summary="Hand a thread to another owner (listed for it from now on)",
    response_model=ThreadAnswer,
)
async def delegate_thread(
    thread_id: IntentId, body: DelegateBody, caller: Caller, engine: EngineDep, owner: Owner
) -> FastJSONResponse:
    to = normalize_address(body.delegate_to, "delegate_to")
    thread = await engine.inbox.delegate(caller, Delegate(thread_id, to, body.note), owner=owner)
    return _thread_answer(thread)


@router.post(
    "/{thread_id}/approve",
    summary="Approve the thread's WAITING intent (as POST /v1/approvals/{id}/decision)",
    response_model=ThreadDecided,
)
async def approve_thread(
    thread_id: IntentId,
    caller: Caller,
    engine: EngineDep,
    owner: Owner,
    body: Annotated[ThreadDecisionBody | None, Body()] = None,
) -> FastJSONResponse:
    return await _decide(engine, caller, thread_id, "approve", body, owner)


@router.post(
    "/{thread_id}/reject",
    summary="Reject the thread's WAITING intent: it fails (as POST /v1/approvals/{id}/decision)",
    response_model=ThreadDecided,
)
async def reject_thread(
    thread_id: IntentId,
    caller: Caller,
    engine: EngineDep,
    owner: Owner,
    body: Annotated[ThreadDecisionBody | None, Body()] = None,
) -> FastJSONResponse:
    return await _decide(engine, caller, thread_id, "reject", body, owner)


@router.post(
    "/{thread_id}/messages/delete",
    summary="Delete replies: for the owner (self) or for everyone (both)",
    response_model=MessagesDeleted,
)
async def delete_messages(
    thread_id: IntentId, body: DeleteMessagesBody, caller: Caller, engine: EngineDep, owner: Owner
) -> FastJSONResponse:
    ids = tuple(body.message_ids) if body.message_ids is not None else None
    deleted = await engine.inbox.delete_messages(
        caller, DeleteMessages(thread_id, body.mode, ids, body.limit), owner=owner
    )
    return answer(
        {
            "ok": True,
            "thread": thread_wire(deleted.thread),
            "mode": deleted.mode,
            "deleted_count": len(deleted.message_ids),
            "message_ids": deleted.message_ids,
        }
    )


async def _decide(
    engine: EngineDep,
    caller: Caller,
    thread_id: str,
    decision: str,
    body: ThreadDecisionBody | None,
    owner: str | None,
) -> FastJSONResponse:
    comment = body.comment if body is not None else None
    thread, approval = await engine.inbox.decide_thread(caller, thread_id, decision, comment, owner=owner)
    return answer(
        {
            "ok": True,
            "thread": thread_wire(thread),
            "approval": approval_wire(approval),
            "replayed": approval.replayed,
        }
    )


def _thread_answer(thread: Thread) -> FastJSONResponse:
    wire = thread_wire(thread)
    # The AXP examples read the messages at the top level of this response.
    return answer({"ok": True, "thread": wire, "messages": wire["messages"]})


# --- cursors of the change feed: opaque, and bound to the scope they page ----------------------------


def _scope_tag(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:8]


def _cursor(seq: int, scope: str) -> str:
    return base64.urlsafe_b64encode(f"{seq}:{_scope_tag(scope)}".encode()).decode()


def _after(cursor: str | None, scope: str) -> int:
    if cursor is None:
        return 0
    try:
        seq, _, tag = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        after = int(seq)
        if not 0 <= after <= INT64_MAX:
            raise ValueError("not a position")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise BadRequest("cursor is not one this server issued", details={"field": "cursor"}) from None
    if tag != _scope_tag(scope):
        raise BadRequest(
            "cursor pages another owner's changes: pass the owner_agent it was issued for",
            details={"field": "cursor"},
        )
    return after


def _change_wire(change: ThreadChange, scope: str) -> JSON:
    return {
        "cursor": _cursor(change.cursor, scope),
        "change_type": change.change_type,
        "at": to_rfc3339(change.at),
        "thread": thread_wire(change.thread),
    }


# --- a thread on the wire --------------------------------------------------------------------------


def thread_wire(thread: Thread) -> JSON:
    intent = thread.intent
    return {
        "thread_id": intent.intent_id,
        "intent_id": intent.intent_id,
        "status": thread.status,
        "owner_agent": thread.owner_agent,
        "reply_to": intent.reply_to,
        "from_agent": intent.from_agent,
        "to_agent": intent.to_agent,
        "subject": intent.intent_type,
        "intent_type": intent.intent_type,
        "correlation_id": intent.correlation_id,
        "intent_status": thread.last_status.value,
        "created_at": to_rfc3339(intent.created_at),
        "updated_at": to_rfc3339(thread.updated_at),
        "timeline": _timeline(thread),
        "messages": _messages(thread),
    }


def _timeline(thread: Thread) -> list[JSON]:
    """One item per intent event and per entry of the thread, in time order (on a tie, events
    first), with ``intent_completion_delivered`` right after the terminal event."""
    thread_id = thread.intent.intent_id
    timed = [
        (
            (e.at, 0, e.seq, 0),
            _item(
                thread_id,
                e.event_type.value,
                e.actor,
                e.at,
                {**e.details, "seq": e.seq, "status": e.status.value},
                str(e.seq),
            ),
        )
        for e in thread.events
    ]
    final = _outcome_event(thread)
    if final is not None:
        details = {"status": final.status.value, "reply_to": thread.intent.reply_to, **_outcome(final)}
        delivered = _item(
            thread_id, "intent_completion_delivered", final.actor, final.at, details, "completion"
        )
        timed.append(((final.at, 0, final.seq, 1), delivered))
    timed += [((i.at, 1, i.seq, 0), _entry(i)) for i in thread.items]
    return [item for _, item in sorted(timed, key=lambda pair: pair[0])]


def _entry(item: ThreadItem) -> JSON:
    """A timeline item of the thread's own: a reply (``message.sent``) or a delegation."""
    details = dict(item.details)
    if item.item_type == MESSAGE_SENT:
        details = {"message_id": item.item_id, **{k: details.get(k) for k in ("role", "from", "to", "text")}}
    elif item.item_type == DELEGATED:
        details = {k: details.get(k) for k in ("from_owner", "to_owner", "note")}
    return {
        "event_id": item.item_id,
        "event_type": item.item_type,
        "actor": item.actor,
        "at": to_rfc3339(item.at),
        "details": details,
    }


def _messages(thread: Thread) -> list[JSON]:
    """The request, the owner's replies and, once there is one, the outcome, in time order."""
    intent = thread.intent
    request = {
        "message_id": derived_id(intent.intent_id, "request"),
        "role": "requester",
        "from": intent.from_agent,
        "to": intent.to_agent,
        "at": to_rfc3339(intent.created_at),
        "content": intent.payload,
    }
    timed = [((intent.created_at, 0, 0), request)]
    final = _outcome_event(thread)
    if final is not None:
        outcome = {
            "message_id": derived_id(intent.intent_id, "completion"),
            "role": "agent",
            "from": intent.to_agent,
            "to": intent.reply_to,
            "at": to_rfc3339(final.at),
            "status": final.status.value,
            "content": _outcome(final),
        }
        timed.append(((final.at, 0, 1), outcome))
    timed += [((i.at, 1, i.seq), _reply(i)) for i in thread.items if i.item_type == MESSAGE_SENT]
    return [message for _, message in sorted(timed, key=lambda pair: pair[0])]


def _reply(item: ThreadItem) -> JSON:
    return {
        "message_id": item.item_id,
        "role": "owner",
        "from": item.details.get("from"),
        "to": item.details.get("to"),
        "at": to_rfc3339(item.at),
        "actor": item.actor,
        "content": {"text": item.details.get("text")},
    }


def _outcome_event(thread: Thread) -> Event | None:
    last = thread.events[-1] if thread.events else None
    return last if last is not None and last.status in TERMINAL else None


def _outcome(event: Event) -> JSON:
    return {k: event.details[k] for k in ("result", "error", "reason") if k in event.details}


def _item(thread_id: str, event_type: str, actor: str, at: int, details: JSON, key: str) -> JSON:
    return {
        "event_id": derived_id(thread_id, key),
        "event_type": event_type,
        "actor": actor,
        "at": to_rfc3339(at),
        "details": details,
    }
