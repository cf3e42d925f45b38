"""AXP ScenarioBundles (PROTOCOL.md §4.4): ``POST /v1/scenarios/validate`` checks a bundle and creates
nothing; ``POST /v1/scenarios/apply`` starts a run of it. The schema (``wire/scenarios.py``) refuses a
malformed field with the usual 422; a well-formed bundle whose parts do not fit together
(``engine/workflows/check.py``) gets one 422 listing every problem in ``error.details.problems``,
each with its path and code, and nothing is created."""

from __future__ import annotations

from fastapi import Request

from intentd.wire import ScenarioApplied, ScenarioBundle, ScenarioValid

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ..plans import apply_request, scenario_plan
from ..tracing import trace_context
from ._params import IdempotencyKey, v1_router

router = v1_router("/v1/scenarios", "scenarios")


@router.post(
    "/validate",
    summary="Check a ScenarioBundle: every problem with its path (creates nothing)",
    response_model=ScenarioValid,
)
async def validate(body: ScenarioBundle, _: Caller, engine: EngineDep) -> FastJSONResponse:
    engine.runs.check(scenario_plan(body))
    steps = len(body.workflow.steps) if body.workflow else 0
    return answer(
        {
            "ok": True,
            "valid": True,
            "scenario_id": body.scenario_id,
            "steps": steps,
            "errors": [],
            "warnings": [],
        }
    )


@router.post(
    "/apply",
    summary="Start a run of a ScenarioBundle: the run is an intent, its steps are its children",
    response_model=ScenarioApplied,
)
async def apply(
    body: ScenarioBundle,
    http: Request,
    caller: Caller,
    engine: EngineDep,
    idempotency_key: IdempotencyKey = None,
) -> FastJSONResponse:
    request = apply_request(body, trace_context(http))
    run, created = await engine.runs.apply(caller, request, idempotency_key or body.idempotency_key)
    wire = run.to_wire()
    entry = request.plan.entry
    compile_id = (run.controls.get("plan_sha256") or "")[:32]
    return answer(
        {
            "ok": True,
            "intent_id": run.intent_id,
            "run_id": run.intent_id,
            "scenario_id": body.scenario_id,
            "status": run.status.value,
            "pending_with": (entry.to_agent or entry.approver) if entry else None,
            "compile_id": compile_id,
            "workflow_compile_id": compile_id,
            "idempotent": not created,
            "agents": [{"role": a.role, "address": a.address, "created": False} for a in request.plan.agents],
            "deadline_at": wire["deadline_at"],
            "created_at": wire["created_at"],
            "intent": wire,
        }
    )
