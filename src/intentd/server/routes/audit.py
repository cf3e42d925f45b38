"""The audit trail of the caller's namespace (docs/audit.md): its records, the chain's verification and
the pruning of old details. Auditors and admins read; only an admin prunes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from intentd.engine import AuditRecord
from intentd.engine.audit import Verdict
from intentd.model import JSON, to_micros, to_rfc3339
from intentd.wire import AuditPage, AuditVerdict, PruneBody, Pruned
from intentd.wire.limits import INT64_MAX, NO_NUL

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ._params import v1_router

router = v1_router("/v1/audit", "audit")
Filter = Annotated[str | None, Query(min_length=1, max_length=400, pattern=NO_NUL)]


@router.get("", summary="The namespace's audit records, in chain order", response_model=AuditPage)
async def list_audit(
    caller: Caller,
    engine: EngineDep,
    after: Annotated[int, Query(ge=0, le=INT64_MAX, description="records with a greater seq")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    intent_id: Filter = None,
    action: Filter = None,
    agent: Filter = None,
) -> FastJSONResponse:
    records = await engine.audit.list(
        caller, after=after, limit=limit, intent_id=intent_id, action=action, agent=agent
    )
    next_after = records[-1].seq if len(records) == limit else None
    return answer({"ok": True, "records": [_record(r) for r in records], "next_after": next_after})


@router.get("/verify", summary="Walk the namespace's hash chain", response_model=AuditVerdict)
async def verify_audit(caller: Caller, engine: EngineDep) -> FastJSONResponse:
    return answer(verdict_wire(await engine.audit.verify(caller.namespace)))


@router.post("/prune", summary="Drop old records' details (the chain still verifies)", response_model=Pruned)
async def prune_audit(body: PruneBody, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    pruned = await engine.audit.prune(caller.namespace, to_micros(body.before))
    return answer({"ok": True, "pruned": pruned})


def verdict_wire(verdict: Verdict) -> JSON:
    return {
        "ok": True,
        "namespace": verdict.namespace,
        "valid": verdict.ok,
        "records": verdict.records,
        "head_seq": verdict.head_seq,
        "broken_at": verdict.broken_at,
        "problem": verdict.problem,
    }


def _record(r: AuditRecord) -> JSON:
    return {
        "seq": r.seq,
        "at": to_rfc3339(r.at),
        "key_id": r.key_id,
        "principal": r.principal,
        "role": r.role,
        "action": r.action,
        "intent_id": r.intent_id,
        "agent": r.agent,
        "details": r.details,
        "details_hash": r.details_hash,
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    }
