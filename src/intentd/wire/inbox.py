"""The inbox family (PROTOCOL.md §2.4, §2.6; choices in docs/axp-compat.md): a thread is the completion
thread of an intent sent with a ``reply_to``, owned by that address until a delegation hands it on.
Its ``messages`` are the request, the owner's replies and the outcome; its ``timeline`` has one item
per intent event and per entry of the thread itself (``message.sent``, ``thread.delegated``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from intentd.model import Status

from ._model import JSON, WireModel
from .limits import INBOX_DELETE_MAX, Address, Comment, Id, ReplyText
from .responses import ApprovalRecord

# --- requests --------------------------------------------------------------------------------------


class ReplyBody(BaseModel):
    message: ReplyText


class DelegateBody(BaseModel):
    delegate_to: Address = Field(description="the thread's owner from now on")
    note: Comment | None = None


class ThreadDecisionBody(BaseModel):
    comment: Comment | None = None


class DeleteMessagesBody(BaseModel):
    mode: Literal["self", "both"] = Field(
        description="self: hidden for the thread's owner; both: erased for everyone"
    )
    message_ids: Annotated[list[Id], Field(max_length=INBOX_DELETE_MAX)] | None = Field(
        None, description="replies to delete (default: every reply, newest first up to limit)"
    )
    limit: Annotated[int, Field(ge=1, le=INBOX_DELETE_MAX, strict=True)] | None = None


# --- answers ---------------------------------------------------------------------------------------


class Thread(WireModel):
    """An inbox thread: the completion thread of an intent sent with a ``reply_to``, owned by that
    address (``owner_agent``) unless it was delegated. ``thread_id`` is the intent's id; ``status`` is
    ``pending`` (no agent has it yet), ``active`` or ``done`` (terminal). ``messages`` are the request
    (``role == "requester"``), the owner's replies (``"owner"``) and, once there is one, the outcome
    (``"agent"``); ``timeline`` has one item per intent event and per reply or delegation."""

    thread_id: str
    intent_id: str | None = None
    status: Literal["pending", "active", "done"]
    owner_agent: str
    reply_to: str | None = Field(None, description="the intent's reply_to (the owner until a delegation)")
    from_agent: str
    to_agent: str
    subject: str | None = None
    intent_type: str
    correlation_id: str
    intent_status: Status
    created_at: datetime
    updated_at: datetime
    timeline: list[JSON] = Field(default_factory=list)
    messages: list[JSON] = Field(default_factory=list)


class ThreadList(WireModel):
    ok: bool = True
    threads: list[Thread]


class ThreadAnswer(WireModel):
    """One thread (the answer of get, reply and delegate)."""

    ok: bool = True
    thread: Thread
    messages: list[JSON] = Field(default_factory=list)


class ThreadChange(WireModel):
    """A change of a thread: ``thread`` as it is now, ``change_type`` what changed (an intent event's
    type, ``message.sent``, ``thread.delegated`` or ``messages.deleted``)."""

    cursor: str
    change_type: str
    at: datetime
    thread: Thread


class ThreadChanges(WireModel):
    """A page of an owner's thread changes in commit order. ``next_cursor`` is where the next page
    starts (the position after this page, kept even when nothing is left: poll with it later)."""

    ok: bool = True
    changes: list[ThreadChange]
    next_cursor: str | None = None
    has_more: bool = False


class ThreadDecided(WireModel):
    """The thread after ``approve`` or ``reject``, and the decision recorded on its intent."""

    ok: bool = True
    thread: Thread
    approval: ApprovalRecord
    replayed: bool = False


class MessagesDeleted(WireModel):
    """The thread after a delete; ``message_ids`` are the replies deleted now (none already deleted)."""

    ok: bool = True
    thread: Thread
    mode: Literal["self", "both"]
    deleted_count: int
    message_ids: list[str]
