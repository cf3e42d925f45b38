"""The held delivery stream: a worker process holds one stream for its agents and the server pushes
each delivery onto it with its lease, the moment it commits (``engine/streams.py``). The worker
completes each with one request, with the lease token, as after a claim.

Frames: ``event: ready`` first (the worker knows the server streams; an older server answers 404 and
the worker claims instead), then ``event: delivery`` (``id:`` counts from 1; data as a claim's
delivery, with ``resumed: true`` for a lease the worker held before this stream), and ``: keep-alive``
comments while idle. ``event: agent.killed`` (data: ``agent`` and its ``kill``) tells the worker to
stop that agent's handlers now: their leases were revoked (docs/mesh.md); ``event: agent.resumed``
(data: ``agent``) that it is sent that agent's work again.

The stream is held ``INTENTD_MAX_STREAM_WAIT_SECONDS`` at most, as every stream
(a proxy's idle cut and a replica that holds a worker forever are both avoided), or until the server
shuts down, and ends with ``event: stream.timeout`` (data ``{ok: true, next_seq}``, the id the next
delivery would have had: ids count per stream). Its leases stay the worker's: the worker opens the
stream again and is sent them as ``resumed``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Query, Request
from starlette.responses import StreamingResponse

from intentd.engine import AgentSwitch, OpenStream, Pushed, Sent
from intentd.engine.streams import MAX_AGENTS, MAX_IN_FLIGHT
from intentd.model import JSON, normalize_address
from intentd.wire.limits import NO_NUL

from ..auth import Caller, EngineDep
from ..openapi import EVENT_STREAM
from ..sse import event_stream, frame
from ._params import v1_router

router = v1_router("/v1/deliveries", "deliveries")


@router.get(
    "/stream",
    response_class=StreamingResponse,
    summary="Hold a delivery stream: intents for these agents are pushed with their leases",
    responses={200: EVENT_STREAM},
)
async def delivery_stream(
    request: Request,
    caller: Caller,
    engine: EngineDep,
    agent: Annotated[
        list[str], Query(min_length=1, max_length=MAX_AGENTS, description="an agent served (repeat)")
    ],
    worker_id: Annotated[
        str, Query(min_length=1, max_length=200, pattern=NO_NUL, description="the leases' owner")
    ],
    lease_seconds: Annotated[float, Query(gt=0, le=3600, allow_inf_nan=False)] = 30.0,
    max_in_flight: Annotated[
        int, Query(ge=1, le=MAX_IN_FLIGHT, description="open leases of this worker at most")
    ] = 8,
) -> StreamingResponse:
    req = OpenStream(
        agents=tuple(dict.fromkeys(normalize_address(a, "agent") for a in agent)),
        worker=worker_id,
        lease_seconds=lease_seconds,
        max_in_flight=max_in_flight,
        hold_seconds=request.app.state.settings.max_stream_wait_seconds,
    )
    deliveries = engine.streams.deliveries(caller, req)
    return event_stream(_frames(req, deliveries), request, caller)


async def _frames(req: OpenStream, deliveries: AsyncIterator[list[Sent]]) -> AsyncIterator[bytes]:
    ready = {
        "ok": True,
        "worker_id": req.worker,
        "agents": list(req.agents),
        "max_in_flight": req.max_in_flight,
        "lease_seconds": req.lease_seconds,
    }
    yield frame("ready", ready)
    sent = 0
    async for batch in deliveries:
        if not batch:
            yield b": keep-alive\n\n"
            continue
        chunk = []
        for item in batch:
            if isinstance(item, AgentSwitch):
                chunk.append(_switch(item))
                continue
            sent += 1
            chunk.append(frame("delivery", _delivery(item), sent))
        yield b"".join(chunk)  # one write for a batch
    yield frame("stream.timeout", {"ok": True, "next_seq": sent + 1})


def _delivery(pushed: Pushed) -> JSON:
    lease = pushed.intent.lease
    assert lease is not None  # a stream sends leased intents only
    data: JSON = {"intent": pushed.intent.to_wire(), "lease": lease.to_wire()}
    if pushed.resumed:
        data["resumed"] = True
    return data


def _switch(switch: AgentSwitch) -> bytes:
    if switch.kill is None:
        return frame("agent.resumed", {"ok": True, "agent": switch.agent})
    kill = switch.kill
    data = {"target": kill.target, "in_flight": kill.in_flight, "reason": kill.reason}
    return frame("agent.killed", {"ok": True, "agent": switch.agent, "kill": data})
