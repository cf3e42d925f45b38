"""A run's journal (``intentd.wire.runs``): read by anyone who may read the intent, written by the
supervisor agent holding its lease (``ctx.spawn`` / ``ctx.gather`` / ``ctx.step`` in the worker)."""

from __future__ import annotations

from fastapi import Request

from intentd.engine import SpawnChild, SubmitIntent
from intentd.model import JSON, normalize_address, to_micros
from intentd.wire import (
    AwaitAnswer,
    AwaitBody,
    ChildSpec,
    JournalAnswer,
    RecordAnswer,
    RecordBody,
    SpawnBody,
)

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ..tracing import trace_context
from ._params import IntentId, v1_router

router = v1_router("/v1/intents", "runs")


@router.get(
    "/{intent_id}/journal",
    summary="A run's journal: its keyed steps and children",
    response_model=JournalAnswer,
)
async def get_journal(intent_id: IntentId, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    entries = await engine.runs.journal(caller, intent_id)
    return answer({"ok": True, "intent_id": intent_id, "entries": [e.to_wire() for e in entries]})


@router.post(
    "/{intent_id}/children",
    summary="Spawn child intents under keys (a key already journaled answers its entry)",
    response_model=JournalAnswer,
)
async def spawn_children(
    intent_id: IntentId, body: SpawnBody, request: Request, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    context = trace_context(request)  # the spawning handler's span; without one, the parent's trace
    children = [SpawnChild(c.key, _spec(c, context)) for c in body.children]
    entries = await engine.runs.spawn(caller, intent_id, body.lease_token, children)
    return answer({"ok": True, "intent_id": intent_id, "entries": [e.to_wire() for e in entries]})


@router.post(
    "/{intent_id}/journal",
    summary="Journal a step's result under a key (the first write wins)",
    response_model=RecordAnswer,
)
async def record_step(
    intent_id: IntentId, body: RecordBody, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    entry, recorded = await engine.runs.record(caller, intent_id, body.lease_token, body.key, body.result)
    return answer({"ok": True, "entry": entry.to_wire(), "recorded": recorded})


@router.post(
    "/{intent_id}/await",
    summary="Park until the keyed entries have finished (not parked if they have)",
    response_model=AwaitAnswer,
)
async def await_entries(
    intent_id: IntentId, body: AwaitBody, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    parked, entries = await engine.runs.await_entries(caller, intent_id, body.lease_token, body.keys)
    return answer({"ok": True, "parked": parked, "entries": [e.to_wire() for e in entries]})


def _spec(child: ChildSpec, trace_context: JSON | None) -> SubmitIntent:
    return SubmitIntent(
        intent_type=child.intent_type,
        correlation_id="",  # the parent's
        to_agent=normalize_address(child.to_agent, "to_agent"),
        payload=child.payload,
        deadline_at=to_micros(child.deadline_at) if child.deadline_at else None,
        max_delivery_attempts=child.max_delivery_attempts,
        trace_context=trace_context,
    )
