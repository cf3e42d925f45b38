"""AXP inbox (PROTOCOL.md §2.4): the completion threads of intents sent with a ``reply_to``.

``thread_id`` is the intent's id and ``owner_agent`` its ``reply_to``. The owner scope comes from
``owner_agent`` (query) or ``x-owner-agent`` (header); without either, every thread of the caller's
namespace is listed (an API key is not bound to one address yet). See docs/axp-compat.md.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Depends, Header, Query

from intentd.engine.inbox import Thread
from intentd.model import (
    ADDRESS_PATTERN,
    JSON,
    TERMINAL,
    Event,
    OwnerMismatch,
    normalize_address,
    to_rfc3339,
)
from intentd.wire import ThreadAnswer, ThreadList

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ._params import IntentId, v1_router

router = v1_router("/v1/inbox", "inbox")

# Timeline and message ids are derived, stable UUIDs: the same thread always shows the same ids.
_IDS = uuid.UUID("6f1c1f4e-3f55-4b1e-9d6a-1c0de0a1b0c5")


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


@router.get("", summary="Completion threads of intents sent with reply_to", response_model=ThreadList)
async def list_threads(
    caller: Caller,
    engine: EngineDep,
    owner: Owner,
    status: Literal["pending", "active", "done"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> FastJSONResponse:
    threads = await engine.inbox.threads(caller, owner=owner, status=status, limit=limit)
    return answer({"ok": True, "threads": [thread_wire(t) for t in threads]})


@router.get("/{thread_id}", summary="One completion thread with its timeline", response_model=ThreadAnswer)
async def get_thread(
    thread_id: IntentId, caller: Caller, engine: EngineDep, owner: Owner
) -> FastJSONResponse:
    thread = await engine.inbox.thread(caller, thread_id, owner=owner)
    wire = thread_wire(thread)
    # The AXP examples read the messages at the top level of this response.
    return answer({"ok": True, "thread": wire, "messages": wire["messages"]})


def thread_wire(thread: Thread) -> JSON:
    intent = thread.intent
    return {
        "thread_id": intent.intent_id,
        "intent_id": intent.intent_id,
        "status": thread.status,
        "owner_agent": thread.owner_agent,
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
    """One item per intent event, then ``intent_completion_delivered`` once the outcome is in."""
    items = [
        _item(
            thread.intent.intent_id,
            e.event_type.value,
            e.actor,
            e.at,
            {**e.details, "seq": e.seq, "status": e.status.value},
            str(e.seq),
        )
        for e in thread.events
    ]
    final = _outcome_event(thread)
    if final is not None:
        items.append(
            _item(
                thread.intent.intent_id,
                "intent_completion_delivered",
                final.actor,
                final.at,
                {"status": final.status.value, "reply_to": thread.owner_agent, **_outcome(final)},
                "completion",
            )
        )
    return items


def _messages(thread: Thread) -> list[JSON]:
    """The request and, once there is one, the outcome, as the two messages of the thread."""
    intent = thread.intent
    messages = [
        {
            "message_id": _id(intent.intent_id, "request"),
            "role": "requester",
            "from": intent.from_agent,
            "to": intent.to_agent,
            "at": to_rfc3339(intent.created_at),
            "content": intent.payload,
        }
    ]
    final = _outcome_event(thread)
    if final is not None:
        messages.append(
            {
                "message_id": _id(intent.intent_id, "completion"),
                "role": "agent",
                "from": intent.to_agent,
                "to": thread.owner_agent,
                "at": to_rfc3339(final.at),
                "status": final.status.value,
                "content": _outcome(final),
            }
        )
    return messages


def _outcome_event(thread: Thread) -> Event | None:
    last = thread.events[-1] if thread.events else None
    return last if last is not None and last.status in TERMINAL else None


def _outcome(event: Event) -> JSON:
    return {k: event.details[k] for k in ("result", "error", "reason") if k in event.details}


def _item(intent_id: str, event_type: str, actor: str, at: int, details: JSON, key: str) -> JSON:
    return {
        "event_id": _id(intent_id, key),
        "event_type": event_type,
        "actor": actor,
        "at": to_rfc3339(at),
        "details": details,
    }


def _id(intent_id: str, key: str) -> str:
    return str(uuid.uuid5(_IDS, f"{intent_id}:{key}"))
