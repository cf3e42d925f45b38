"""Lease operations of a claimed delivery. Each presents the lease token (fencing): a token that is not
the intent's current lease gets 409 ``stale_lease``; a terminal intent gets 409 ``intent_terminal``."""

from __future__ import annotations

from fastapi import Request

from intentd.engine import Complete, Fail, Wait
from intentd.model import JSON, Intent, to_micros
from intentd.wire import (
    CompleteBody,
    Completion,
    FailBody,
    HeartbeatBody,
    IntentAnswer,
    LeaseAnswer,
    LeaseBody,
    ProgressBody,
    WaitBody,
)

from .. import lean
from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ..inputs import submit_spec
from ..tracing import trace_context
from ._params import IntentId, v1_router

router = v1_router("/v1/intents/{intent_id}", "leases")


def _ok(intent: Intent) -> JSON:
    return {"ok": True, "intent": intent.to_wire()}


@lean.post(
    router, "/lease/heartbeat", summary="Extend the lease of a claimed intent", response_model=LeaseAnswer
)
async def heartbeat(
    intent_id: IntentId, body: HeartbeatBody, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    intent = await engine.delivery.heartbeat(caller, intent_id, body.lease_token, body.lease_seconds)
    assert intent.lease is not None
    return answer({**_ok(intent), "lease": intent.lease.to_wire()})


@lean.post(
    router,
    "/complete",
    summary="Complete a claimed intent (and submit follow-ups atomically)",
    response_model=Completion,
)
async def complete(
    intent_id: IntentId, body: CompleteBody, request: Request, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    # Follow-ups continue the trace of the completing handler's span (else their parent's).
    context = trace_context(request) if body.then else None
    done = await engine.delivery.complete(
        caller,
        intent_id,
        Complete(
            lease_token=body.lease_token,
            result=body.result,
            usage=body.usage,
            then=tuple(submit_spec(spec, context) for spec in body.then),
        ),
    )
    return answer({**_ok(done.intent), "then": [c.to_wire() for c in done.then], "replayed": done.replayed})


@lean.post(
    router,
    "/fail",
    summary="Fail a claimed intent, or queue it again with retry=true",
    response_model=IntentAnswer,
)
async def fail(intent_id: IntentId, body: FailBody, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    error = body.error if isinstance(body.error, dict) else {"code": "failed", "message": body.error}
    return answer(
        _ok(
            await engine.delivery.fail(
                caller,
                intent_id,
                Fail(
                    lease_token=body.lease_token,
                    error=error,
                    retry=body.retry,
                    retry_after_seconds=body.retry_after_seconds,
                    usage=body.usage,
                ),
            )
        )
    )


@router.post(
    "/release", summary="Give a claimed intent back for immediate redelivery", response_model=IntentAnswer
)
async def release(
    intent_id: IntentId, body: LeaseBody, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    return answer(_ok(await engine.delivery.release(caller, intent_id, body.lease_token)))


@router.post(
    "/wait", summary="Park a claimed intent in WAITING (ends the lease)", response_model=IntentAnswer
)
async def wait(intent_id: IntentId, body: WaitBody, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    wake_at = to_micros(body.wake_at) if body.wake_at else None
    return answer(
        _ok(
            await engine.delivery.wait(
                caller,
                intent_id,
                Wait(
                    lease_token=body.lease_token,
                    reason=body.reason,
                    wake_at=wake_at,
                    details=body.details,
                    human_task=body.human_task.model_dump(exclude_none=True) if body.human_task else None,
                    key=body.key,
                ),
            )
        )
    )


@router.post("/progress", summary="Record progress and usage as an event", response_model=IntentAnswer)
async def progress(
    intent_id: IntentId, body: ProgressBody, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    return answer(
        _ok(
            await engine.delivery.progress(
                caller, intent_id, body.lease_token, body.message, body.usage, body.tool
            )
        )
    )
