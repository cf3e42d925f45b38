"""AXP ScenarioBundles (PROTOCOL.md §4.4): ``POST /v1/scenarios/validate`` checks a bundle before
anything runs and creates nothing. The schema (``wire/scenarios.py``) refuses a malformed field with the
usual 422; a well-formed bundle whose parts do not fit together (``engine/scenarios.py``) gets one 422
listing every problem in ``error.details.problems``, each with its path and code."""

from __future__ import annotations

from intentd.engine.scenarios import ScenarioAgent, ScenarioPlan, ScenarioStep, check_scenario
from intentd.model import ValidationFailed
from intentd.wire import ScenarioBundle, ScenarioValid

from .._responses import FastJSONResponse, answer
from ..auth import Caller
from ._params import v1_router

router = v1_router("/v1/scenarios", "scenarios")


@router.post(
    "/validate",
    summary="Check a ScenarioBundle: every problem with its path (creates nothing)",
    response_model=ScenarioValid,
)
async def validate(body: ScenarioBundle, _: Caller) -> FastJSONResponse:
    problems = check_scenario(scenario_plan(body))
    if problems:
        listed = [{"path": p.path, "code": p.code, "message": p.message} for p in problems]
        raise ValidationFailed(
            f"the scenario has {len(problems)} problem(s); first: {problems[0].path}: {problems[0].message}",
            details={"field": problems[0].path, "problems": listed},
        )
    steps = len(body.workflow.steps) if body.workflow else 0
    return answer({"ok": True, "valid": True, "scenario_id": body.scenario_id, "steps": steps})


def scenario_plan(bundle: ScenarioBundle) -> ScenarioPlan:
    workflow = bundle.workflow
    return ScenarioPlan(
        steps=tuple(
            ScenarioStep(
                s.step_id, on_success=s.on_success, on_failure=s.on_failure, assigned_to=s.assigned_to
            )
            for s in (workflow.steps if workflow else [])
        ),
        entry_step=workflow.entry_step if workflow else None,
        agents=tuple(ScenarioAgent(a.role, a.address) for a in bundle.agents),
        human_roles=tuple(h.role for h in bundle.humans),
    )
