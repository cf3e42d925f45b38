"""Delivery to agents: the AXP per-agent stream (what the official SDK's ``listen()`` reads) and the
claim API for pull workers with leases. Addresses go in the path with their slashes
(``/v1/agents/acme/prod/writer/...``), with or without ``agent://``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from starlette.responses import StreamingResponse

from intentd.engine import Claim, FeedItem
from intentd.engine.bindings import FeedDelivery
from intentd.model import (
    JSON,
    TERMINAL,
    Intent,
    Status,
    ValidationFailed,
    normalize_address,
    to_rfc3339,
)
from intentd.wire import ClaimAnswer, ClaimBody

from .. import lean
from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ..disconnect import unless_disconnected
from ..openapi import EVENT_STREAM
from ..sse import Batch, event_stream, follow
from ._params import FeedSince, WaitSeconds, v1_router
from .bindings import lease_data

FEED_PAGE = 200  # feed items read per fetch of an agent stream
router = v1_router("/v1/agents", "agents")
_ACTIONABLE = frozenset(Status) - TERMINAL


@router.get(
    "/{address:path}/intents/stream",
    response_class=StreamingResponse,
    summary="Per-agent delivery stream (SSE, per-agent cursor)",
    responses={200: EVENT_STREAM},
)
async def agent_stream(
    address: str,
    request: Request,
    caller: Caller,
    engine: EngineDep,
    since: FeedSince = 0,
    wait_seconds: WaitSeconds = 15,
    status: Annotated[
        str | None, Query(max_length=200, description="comma-separated statuses; default: non-terminal")
    ] = None,
) -> StreamingResponse:
    agent = normalize_address(address, "address")
    engine.delivery.check_feed(caller, agent)
    wanted = _statuses(status)
    wait = min(wait_seconds, request.app.state.settings.max_stream_wait_seconds)

    # A stream that asks for DELIVERED intents is the agent's listener: while the agent is bound to
    # `stream` it leases what it sends (engine/bindings.py); one that does not only watches.
    listener = engine.bindings.listener(caller, agent) if Status.DELIVERED.value in wanted else None

    async def fetch(cursor: int) -> Batch:
        items = await engine.delivery.feed(caller, agent, cursor, FEED_PAGE)
        sent = await listener.deliver(items) if listener else [FeedDelivery(item) for item in items]
        frames = [
            (d.item.event_type, d.item.seq, _feed_data(d.item, agent) | lease_data(d))
            for d in sent
            if d.item.status in wanted
        ]
        return Batch(frames, items[-1].seq if items else cursor, False, more=len(items) == FEED_PAGE)

    subscribe = lambda: engine.delivery.watch_feed(caller, agent)  # noqa: E731
    return event_stream(follow(subscribe, fetch, since, wait), request, caller)


def _statuses(param: str | None) -> frozenset[str]:
    if not param:
        return frozenset(s.value for s in _ACTIONABLE)
    names = {p.strip().upper() for p in param.split(",") if p.strip()}
    unknown = names - {s.value for s in Status}
    if unknown:
        raise ValidationFailed(f"unknown status {sorted(unknown)[0]}", details={"field": "status"})
    return frozenset(names)


@lean.post(
    router,
    "/{address:path}/claims",
    summary="Claim (lease) intents for an agent; long-polls",
    response_model=ClaimAnswer,
)
async def claim(
    address: str, body: ClaimBody, request: Request, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    agent = normalize_address(address, "address")
    claiming = engine.delivery.claim(
        caller,
        Claim(
            agent=agent,
            worker=body.worker_id,
            max_intents=body.max_intents,
            lease_seconds=body.lease_seconds,
            wait_seconds=body.wait_seconds,
        ),
    )
    # A long poll stops waiting when its worker is gone (see disconnect.py).
    leased = await (unless_disconnected(request, claiming, []) if body.wait_seconds > 0 else claiming)
    return answer({"ok": True, "deliveries": [_delivery(i) for i in leased]})


def _delivery(intent: Intent) -> JSON:
    lease = intent.lease
    assert lease is not None  # a claim returns leased intents only
    return {"intent": intent.to_wire(), "lease": lease.to_wire()}


def _feed_data(item: FeedItem, agent: str) -> JSON:
    """What ``listen()`` yields for a feed entry; a terminal one carries its outcome."""
    data: JSON = {
        "intent_id": item.intent_id,
        "seq": item.seq,
        "event_type": item.event_type,
        "status": item.status,
        "at": to_rfc3339(item.at),
        "intent_type": item.intent_type,
        "correlation_id": item.correlation_id,
        "to_agent": agent,
    }
    outcome = {"result": item.result, "error": item.error, "reason": item.reason}
    data.update((name, value) for name, value in outcome.items() if value is not None)
    return data
