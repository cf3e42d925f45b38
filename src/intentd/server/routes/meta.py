"""Health and capabilities."""

from __future__ import annotations

from fastapi import APIRouter, Request

from intentd import __version__

from .._responses import FastJSONResponse, answer
from ..auth import Caller

router = APIRouter(tags=["meta"])

CAPABILITIES = [
    "intents.create",
    "intents.idempotency",
    "intents.events",
    "intents.stream",
    "intents.resolve",
    "intents.resume",
    "intents.controls",
    "intents.policy",
    "intents.cancel",
    "agents.stream",
    "agents.claims",
    "leases",
    "deadlines",
]


@router.get("/health", summary="Liveness (no key needed)")
async def health(request: Request) -> FastJSONResponse:
    return answer(
        {
            "ok": True,
            "service": "intentd",
            "version": __version__,
            "database": request.app.state.engine.store.dialect,
        }
    )


@router.get("/v1/capabilities", tags=["meta"])
async def capabilities(_: Caller) -> FastJSONResponse:
    return answer({"ok": True, "capabilities": CAPABILITIES, "supported_intent_types": ["intent.*.v1"]})
