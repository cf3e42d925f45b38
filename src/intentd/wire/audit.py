"""The audit trail on the wire (docs/audit.md): ``GET /v1/audit`` lists the caller's namespace's records
in chain order, ``GET /v1/audit/verify`` walks the chain, ``POST /v1/audit/prune`` drops old records'
details (the chain still verifies)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from ._model import WireModel
from .limits import Time


class AuditRecord(WireModel):
    """One record: who (``key_id``, ``principal``, ``role``) did what (``action``) to which intent or
    agent, when; ``details`` null once pruned. ``hash`` chains it to ``prev_hash``."""

    seq: int
    at: datetime
    key_id: str | None = None
    principal: str
    role: str | None = None
    action: str
    intent_id: str | None = None
    agent: str | None = None
    details: dict[str, Any] | None = None
    details_hash: str
    prev_hash: str
    hash: str


class AuditPage(WireModel):
    ok: bool = True
    records: list[AuditRecord]
    next_after: int | None = Field(None, description="pass as after= for the next page; null: no more")


class AuditVerdict(WireModel):
    """``valid``: the chain holds from its first record to its head; otherwise ``broken_at`` is the seq
    of the first record that does not, and ``problem`` says why."""

    ok: bool = True
    namespace: str
    valid: bool
    records: int
    head_seq: int
    broken_at: int | None = None
    problem: str | None = None


class PruneBody(BaseModel):
    """``POST /v1/audit/prune``: drop the details of records older than ``before``."""

    before: Time = Field(description="records older than this lose their details (not their place)")


class Pruned(WireModel):
    ok: bool = True
    pruned: int
