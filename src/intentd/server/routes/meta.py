"""Health and capabilities."""

from __future__ import annotations

from fastapi import APIRouter, Request

from intentd import __version__
from intentd.wire import Capabilities, HealthAnswer

from .._responses import FastJSONResponse, answer
from ..auth import Caller
from ..openapi import ERRORS
from ..parsing import IntentdRoute

router = APIRouter(tags=["meta"], route_class=IntentdRoute)

CAPABILITIES = [
    "intents.create",
    "intents.idempotency",
    "intents.events",
    "intents.tree",
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
    "scenarios.validate",
]


@router.get("/health", summary="Liveness (no key needed)", response_model=HealthAnswer)
async def health(request: Request) -> FastJSONResponse:
    return answer(
        {
            "ok": True,
            "service": "intentd",
            "version": __version__,
            "database": request.app.state.engine.database,
        }
    )


@router.get(
    "/v1/capabilities", summary="What this server supports", response_model=Capabilities, responses=ERRORS
)
async def capabilities(_: Caller) -> FastJSONResponse:
    return answer({"ok": True, "capabilities": CAPABILITIES, "supported_intent_types": ["intent.*.v1"]})
