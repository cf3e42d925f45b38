"""The audit trail of the caller's namespace (docs/audit.md): its records, the chain's verification and
the pruning of old details. Auditors and admins read; only an admin prunes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from intentd.engine import AuditQuery
from intentd.engine.audit import Verdict
from intentd.model import JSON, to_micros
from intentd.wire import AuditPage, AuditVerdict, PruneBody, Pruned
from intentd.wire.limits import INT64_MAX, NO_NUL, Time

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
    correlation_id: Annotated[
        str | None, Query(min_length=1, max_length=400, pattern=NO_NUL, description="the intents with it")
    ] = None,
    action: Filter = None,
    agent: Filter = None,
    actor: Annotated[
        str | None, Query(min_length=1, max_length=400, pattern=NO_NUL, description="a key id or principal")
    ] = None,
    since: Annotated[Time | None, Query(description="records at or after this (RFC 3339)")] = None,
    until: Annotated[Time | None, Query(description="records before this (RFC 3339)")] = None,
) -> FastJSONResponse:
    query = AuditQuery(
        intent_id=intent_id,
        correlation_id=correlation_id,
        action=action,
        agent=agent,
        actor=actor,
        since=to_micros(since) if since else None,
        until=to_micros(until) if until else None,
    )
    records = await engine.audit.list(caller, after=after, limit=limit, query=query)
    next_after = records[-1].seq if len(records) == limit else None
    return answer({"ok": True, "records": [r.to_json() for r in records], "next_after": next_after})


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
