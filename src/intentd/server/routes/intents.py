"""AXP intent family (PROTOCOL.md §2.2-2.3): create, read, list, events, stream, resolve, resume,
cancel, controls, policy."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import Body, Query, Request
from starlette.responses import StreamingResponse

from intentd.engine import Resolve
from intentd.model import JSON, BadRequest, Event, Intent, Status, ValidationFailed, to_rfc3339
from intentd.wire import (
    AppliedAnswer,
    CancelBody,
    ControlsBody,
    CreateAnswer,
    CreateIntent,
    EventList,
    IntentAnswer,
    IntentPage,
    PolicyBody,
    ResolveAnswer,
    ResolveBody,
    ResumeBody,
    RunTree,
)
from intentd.wire.limits import INT64_MAX, MAX_SEQ, NO_NUL

from .. import lean
from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ..disconnect import unless_disconnected
from ..inputs import submit_spec
from ..openapi import EVENT_STREAM
from ..sse import Batch, event_stream, follow
from ..tracing import trace_context
from ._params import IdempotencyKey, IntentId, LastEventId, Since, WaitSeconds, v1_router

EVENT_PAGE = 1000  # events read per fetch of an intent stream
router = v1_router("/v1/intents", "intents")


@lean.post(router, "", summary="Submit an intent", response_model=CreateAnswer)
async def create_intent(
    body: CreateIntent,
    request: Request,
    caller: Caller,
    engine: EngineDep,
    idempotency_key: IdempotencyKey = None,
    wait_seconds: Annotated[
        float,
        Query(
            ge=0,
            le=86400,
            allow_inf_nan=False,
            description="hold the answer until the intent is terminal, up to this long (capped by "
            "INTENTD_MAX_STREAM_WAIT_SECONDS): a submit and its outcome in one exchange",
        ),
    ] = 0,
) -> FastJSONResponse:
    spec = submit_spec(body, trace_context(request))
    intent, created = await engine.intents.submit(caller, spec, idempotency_key)
    wait = min(wait_seconds, request.app.state.settings.max_stream_wait_seconds)
    if wait > 0 and not intent.is_terminal:
        settled = engine.intents.settled(caller, intent.intent_id, wait)
        intent = await unless_disconnected(request, settled, intent)
    wire = intent.to_wire()
    response: JSON = {
        "ok": True,
        "intent_id": intent.intent_id,
        "status": intent.status.value,
        "created_at": wire["created_at"],
        "idempotent_replay": not created,
        "intent": wire,
    }
    if body.ignored_fields():
        response["ignored_fields"] = body.ignored_fields()
    return answer(response)


@router.get("", summary="List intents, newest first", response_model=IntentPage)
async def list_intents(
    caller: Caller,
    engine: EngineDep,
    status: Annotated[
        str | None,
        Query(
            max_length=20,
            description="one status (any case)",
            json_schema_extra={"enum": [s.value for s in Status]},
        ),
    ] = None,
    to_agent: Annotated[str | None, Query(max_length=383, pattern=NO_NUL)] = None,
    correlation_id: Annotated[str | None, Query(max_length=128, pattern=NO_NUL)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=1024, pattern=NO_NUL)] = None,
) -> FastJSONResponse:
    page = await engine.intents.list(
        caller,
        status=_status(status),
        to_agent=to_agent,
        correlation_id=correlation_id,
        before=_decode_cursor(cursor),
        limit=limit,
    )
    next_cursor = _encode_cursor(page.next_cursor) if page.next_cursor else None
    return answer(
        {
            "ok": True,
            "intents": [i.to_wire() for i in page.intents],
            "next_cursor": next_cursor,
            "has_more": next_cursor is not None,
        }
    )


@router.get("/{intent_id}", summary="Get one intent", response_model=IntentAnswer)
async def get_intent(intent_id: IntentId, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    return answer({"ok": True, "intent": (await engine.intents.get(caller, intent_id)).to_wire()})


@router.get("/{intent_id}/tree", summary="The whole run this intent belongs to", response_model=RunTree)
async def get_tree(
    intent_id: IntentId,
    caller: Caller,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> FastJSONResponse:
    tree = await engine.intents.tree(caller, intent_id, limit)
    return answer(
        {
            "ok": True,
            "root_intent_id": tree.root_intent_id,
            "intents": [i.to_wire() for i in tree.intents],
            "truncated": tree.truncated,
        }
    )


@router.get(
    "/{intent_id}/events", summary="Events after `since` (exclusive), in seq order", response_model=EventList
)
async def list_events(
    intent_id: IntentId,
    caller: Caller,
    engine: EngineDep,
    since: Since = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> FastJSONResponse:
    events = await engine.intents.events(caller, intent_id, since, limit)
    return answer({"ok": True, "events": [e.to_wire() for e in events]})


@router.get(
    "/{intent_id}/events/stream",
    summary="Follow an intent's events (SSE)",
    response_class=StreamingResponse,
    responses={200: EVENT_STREAM},
)
async def stream_events(
    intent_id: IntentId,
    request: Request,
    caller: Caller,
    engine: EngineDep,
    since: Since = 0,
    wait_seconds: WaitSeconds = 15,
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    await engine.intents.get(caller, intent_id)  # 404 before the stream starts
    if last_event_id:
        since = max(since, min(int(last_event_id), MAX_SEQ))  # past the last event: nothing follows
    wait = min(wait_seconds, request.app.state.settings.max_stream_wait_seconds)

    async def fetch(cursor: int) -> Batch:
        events = await engine.intents.events(caller, intent_id, cursor, EVENT_PAGE)
        return Batch(
            [(e.event_type.value, e.seq, e.to_wire()) for e in events],
            events[-1].seq if events else cursor,
            bool(events) and events[-1].status.is_terminal,  # nothing follows a terminal event
            more=len(events) == EVENT_PAGE,
        )

    return event_stream(follow(lambda: engine.intents.watch(intent_id), fetch, since, wait), request, caller)


def _applied(intent: Intent) -> JSON:
    """The answer of resume, controls and policy (``AppliedAnswer``)."""
    return {
        "ok": True,
        "applied": True,
        "policy_generation": intent.policy_generation,
        "intent": intent.to_wire(),
    }


def _resolved(intent: Intent, event: Event) -> JSON:
    return {
        "ok": True,
        "intent": intent.to_wire(),
        "event": event.to_wire(),
        "completion_delivery": _completion_delivery(intent, event),
    }


def _completion_delivery(intent: Intent, event: Event) -> JSON:
    """The outcome lands in the ``reply_to`` address's agent feed and inbox thread in the resolve's
    own transaction (effects/reply.py, effects/inbox.py): once this answer exists, it is delivered."""
    if intent.reply_to is None:
        return {"delivered": False, "reason": "no_reply_to"}
    return {
        "delivered": True,
        "reply_to": intent.reply_to,
        "thread_id": intent.intent_id,
        "event_type": event.event_type.value,
        "delivered_at": to_rfc3339(event.at),
    }


@router.post(
    "/{intent_id}/resolve", summary="Move an intent to a terminal status", response_model=ResolveAnswer
)
async def resolve_intent(
    intent_id: IntentId, body: ResolveBody, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    intent, event = await engine.intents.resolve(caller, intent_id, Resolve(**body.model_dump()))
    return answer(_resolved(intent, event))


@router.post(
    "/{intent_id}/cancel", summary="Cancel an intent (resolve with CANCELED)", response_model=ResolveAnswer
)
async def cancel_intent(
    intent_id: IntentId, caller: Caller, engine: EngineDep, body: Annotated[CancelBody | None, Body()] = None
) -> FastJSONResponse:
    body = body or CancelBody()
    intent, event = await engine.intents.cancel(caller, intent_id, body.reason, body.actor)
    return answer(_resolved(intent, event))


@router.post(
    "/{intent_id}/resume",
    summary="Resume, or complete with a result (free-form body)",
    response_model=AppliedAnswer,
)
async def resume_intent(
    intent_id: IntentId,
    caller: Caller,
    engine: EngineDep,
    body: Annotated[ResumeBody | None, Body()] = None,
) -> FastJSONResponse:
    sent = body.model_dump(exclude_unset=True) if body is not None else {}
    intent = await engine.intents.resume(caller, intent_id, sent)
    return answer(_applied(intent))


@router.post(
    "/{intent_id}/controls", summary="Patch controls (compare-and-set)", response_model=AppliedAnswer
)
async def update_controls(
    intent_id: IntentId, body: ControlsBody, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    intent = await engine.intents.update_controls(
        caller, intent_id, body.controls_patch, body.expected_policy_generation, body.actor
    )
    return answer(_applied(intent))


@router.post(
    "/{intent_id}/policy", summary="Patch grants and envelope (compare-and-set)", response_model=AppliedAnswer
)
async def update_policy(
    intent_id: IntentId, body: PolicyBody, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    patch = {
        k: v for k, v in (("grants", body.grants_patch), ("envelope", body.envelope_patch)) if v is not None
    }
    intent = await engine.intents.update_policy(
        caller, intent_id, patch, body.expected_policy_generation, body.actor
    )
    return answer(_applied(intent))


def _status(param: str | None) -> str | None:
    if param is None:
        return None
    if param.upper() not in Status.__members__:
        raise ValidationFailed(f"unknown status {param!r}", details={"field": "status"})
    return param.upper()


def _encode_cursor(position: tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(f"{position[0]}:{position[1]}".encode()).decode()


def _decode_cursor(cursor: str | None) -> tuple[int, str] | None:
    if not cursor:
        return None
    try:
        at, _, intent_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        position = int(at)
        if not intent_id or "\x00" in intent_id or not 0 <= position <= INT64_MAX:
            raise ValueError("not a position")
        return position, intent_id
    except ValueError:
        raise BadRequest("cursor is not one this server issued", details={"field": "cursor"}) from None
