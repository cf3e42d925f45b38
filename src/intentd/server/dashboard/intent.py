"""One intent and its run (``/ui/intents/{intent_id}``): the run's tree, the intent's facts, attempts,
leases, waits, human tasks, journal, payload and result, cost, and the timeline of its events with who
did each. The page follows the run live: ``/live`` is an SSE stream (htmx's SSE extension) that says
``changed`` after any commit to an intent of the run, and the detail then reloads itself."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Path, Query, Request, Response

from intentd.engine import Engine, Principal
from intentd.wire.limits import NO_NUL

from ..auth import app_engine
from ..sse import KEEPALIVE_SECONDS, event_stream, frame
from ._routing import page_router
from .access import READ_INTENT
from .runs import TREE_LIMIT, run_view, shown, stamp
from .session import ViewerDep
from .templating import render

router = page_router()
IntentId = Annotated[str, Path(min_length=1, max_length=255, pattern=NO_NUL)]
LIVE_SECONDS = 300.0  # one stream's life: then the browser reconnects, after RETRY_MS
RETRY_MS = 1000


@router.get("/intents/{intent_id}")
async def intent_page(request: Request, viewer: ViewerDep, intent_id: IntentId) -> Response:
    viewer.require(READ_INTENT)
    view = await run_view(app_engine(request), viewer, intent_id)
    return render(request, viewer, "intent.html", {"run": view, "shown": shown})


@router.get("/intents/{intent_id}/detail")
async def intent_detail(request: Request, viewer: ViewerDep, intent_id: IntentId) -> Response:
    viewer.require(READ_INTENT)
    view = await run_view(app_engine(request), viewer, intent_id)
    return render(request, viewer, "partials/intent_detail.html", {"run": view, "shown": shown})


@router.get("/intents/{intent_id}/live")
async def intent_live(
    request: Request,
    viewer: ViewerDep,
    intent_id: IntentId,
    seen: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """``event: changed`` whenever the run's stamp moves from ``seen`` (the page's)."""
    viewer.require(READ_INTENT)
    engine = app_engine(request)
    await engine.intents.get(viewer.principal, intent_id)  # 404 before the stream starts
    wait = min(LIVE_SECONDS, request.app.state.settings.max_stream_wait_seconds)
    changes = run_changes(engine, viewer.principal, intent_id, seen, wait)
    return event_stream(changes, request, viewer.principal)


async def run_changes(
    engine: Engine, principal: Principal, intent_id: str, seen: str, wait_seconds: float
) -> AsyncIterator[bytes]:
    """Subscribed to every intent of the run before each read (store/_hub.py), so no commit between a
    read and the wait is missed; a run that grew is subscribed again before waiting."""
    yield f"retry: {RETRY_MS}\n\n".encode()
    deadline = time.monotonic() + wait_seconds
    members = frozenset({intent_id})
    while True:
        with engine.intents.watch(*members) as subscription:
            tree = await engine.intents.tree(principal, intent_id, TREE_LIMIT)
            now = stamp(tree.intents)
            if now != seen:
                seen = now
                yield frame("changed", {"stamp": now})
            current = frozenset(i.intent_id for i in tree.intents) | {intent_id}
            if current != members:
                members = current
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0 or subscription.closed:
                return
            if not await subscription.wait(min(remaining, KEEPALIVE_SECONDS)):
                yield b": keep-alive\n\n"
