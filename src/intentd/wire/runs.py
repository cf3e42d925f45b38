"""A run's journal on the wire: what a supervisor agent (the worker's ``ctx.spawn`` / ``ctx.gather`` /
``ctx.step``) sends to delegate durably, and the entries it reads back. Every write is under the
parent's lease and keyed: sending a key again answers the entry it already has, so a handler that runs
again after a crash creates no child twice and repeats no journaled step."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ._model import JSON, WireModel
from .limits import Address, Id, IntentType, Time
from .requests import LeaseBody

EntryStatus = Literal["RUNNING", "WAITING", "COMPLETED", "FAILED", "CANCELED", "SKIPPED"]


class ChildSpec(BaseModel):
    """One child intent to spawn under ``key`` (unique within its parent)."""

    key: Id
    to_agent: Address = Field(examples=["agent://acme/prod/writer"])
    intent_type: IntentType = Field(examples=["intent.draft.v1"])
    payload: dict[str, Any] = Field(default_factory=dict)
    deadline_at: Time | None = None
    max_delivery_attempts: int = Field(5, ge=1, le=100, strict=True)


class SpawnBody(LeaseBody):
    """``POST /v1/intents/{id}/children``: spawn children of a leased intent, atomically."""

    children: list[ChildSpec] = Field(min_length=1, max_length=100)


class RecordBody(LeaseBody):
    """``POST /v1/intents/{id}/journal``: journal a step's result under ``key`` (the first write wins)."""

    key: Id
    result: Any = None


class AwaitBody(LeaseBody):
    """``POST /v1/intents/{id}/await``: park the intent until every entry in ``keys`` has finished.
    If they all have, it is not parked and keeps its lease."""

    keys: list[Id] = Field(min_length=1, max_length=1000)


class JournalEntry(WireModel):
    """One keyed entry of a run's journal: a spawned child (``child_intent_id``) or a journaled value."""

    key: str
    kind: Literal["child", "value", "step"] = Field(
        description="child: a spawned intent; value: a journaled result; step: a declared workflow step"
    )
    status: EntryStatus
    attempt: int = 1
    child_intent_id: str | None = None
    result: Any = None
    error: JSON | None = None
    started_at: datetime
    ended_at: datetime | None = None
    due_at: datetime | None = Field(None, description="when a waiting entry moves on (backoff, delay)")

    @property
    def finished(self) -> bool:
        return self.status not in ("RUNNING", "WAITING")


class JournalAnswer(WireModel):
    ok: bool = True
    intent_id: str
    entries: list[JournalEntry]


class RecordAnswer(WireModel):
    ok: bool = True
    entry: JournalEntry
    recorded: bool = Field(description="false when the key was journaled before (its entry is returned)")


class AwaitAnswer(WireModel):
    ok: bool = True
    parked: bool = Field(description="false when every awaited entry had already finished")
    entries: list[JournalEntry]
