"""A ScenarioBundle (wire) into the engine's :class:`~intentd.engine.workflows.Plan`: roles resolved
to addresses (a human role to ``human://<role>``), each step's kind inferred from ``kind``,
``tool_id`` or ``runtime_type``, branches flattened after their parallel step, and each step's JSON
path kept for the problems the engine reports. Names that resolve to nothing are kept as written, so
the engine's checks report them at their path."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from intentd.engine import ApplyScenario, SubmitIntent
from intentd.engine.bindings import POLL, STREAM, BindAgent
from intentd.engine.workflows import Agent, Join, Plan, Retry, Step, Task, address_of, infer_kind
from intentd.model import JSON, to_micros
from intentd.wire import (
    AgentSpec,
    CompensateSpec,
    RetrySpec,
    ScenarioBundle,
    WorkflowSpec,
    WorkflowStepSpec,
)

HUMAN_SCHEME = "human://"


@dataclass(frozen=True)
class _Names:
    """Who the bundle's roles are."""

    agents: dict[str, str]  # role -> address (as written when it is not one)
    humans: tuple[str, ...]
    default_agent: str | None
    declared: tuple[Agent, ...] = ()

    def resolve(self, target: str | None) -> str | None:
        if target is None:
            return None
        if target in self.agents:
            return self.agents[target]
        if target in self.humans:
            return HUMAN_SCHEME + target
        return address_of(target) or target


def apply_request(bundle: ScenarioBundle, trace_context: JSON | None = None) -> ApplyScenario:
    """The run to start; ``trace_context`` (the request's) is its steps' trace."""
    plan = scenario_plan(bundle)
    intent = bundle.intent
    run = SubmitIntent(
        intent_type=intent.type,
        correlation_id=str(uuid.uuid4()),
        to_agent=f"agent://intentd/workflows/{bundle.scenario_id}",
        payload=intent.payload,
        reply_to=address_of(intent.reply_to) if intent.reply_to else None,  # symbolic ones are the CLI's
        deadline_at=to_micros(intent.deadline_at) if intent.deadline_at else None,
        max_delivery_attempts=intent.max_delivery_attempts or 5,
        trace_context=trace_context,
    )
    return ApplyScenario(bundle.scenario_id, plan, run, _bindings(bundle.agents))


def _bindings(agents: list[AgentSpec]) -> tuple[BindAgent, ...]:
    """The ``stream`` and ``poll`` bindings the bundle's agents declare, registered when it is
    applied. ``http`` is registered through ``PUT /v1/agents/{address}/binding`` only, whose answer
    shows the signing secret once (a bundle is applied again and again, and is often in version
    control); ``inbox`` and ``internal`` register nothing. An address that is none is left to the
    plan's checks, which report it at its path."""
    bindings = []
    for agent in agents:
        mode, address = agent.delivery_mode, address_of(agent.address)
        if mode in (STREAM, POLL) and address is not None:
            bindings.append(BindAgent(address, mode))
    return tuple(bindings)


def scenario_plan(bundle: ScenarioBundle) -> Plan:
    humans = tuple(h.role for h in bundle.humans)
    names = _Names(
        agents={a.role: address_of(a.address) or a.address for a in bundle.agents},
        humans=humans,
        default_agent=address_of(bundle.intent.to_agent) if bundle.intent.to_agent else None,
        declared=tuple(Agent(a.role, a.address) for a in bundle.agents),
    )
    return _plan(
        bundle.workflow,
        "workflow",
        names,
        agents=names.declared,
        humans=humans,
        intent_type=bundle.intent.type,
        attempts=bundle.intent.max_delivery_attempts or 5,
    )


def _plan(
    workflow: WorkflowSpec | None,
    path: str,
    names: _Names,
    *,
    agents: tuple[Agent, ...],
    humans: tuple[str, ...],
    intent_type: str,
    attempts: int,
) -> Plan:
    steps: list[Step] = []
    for i, spec in enumerate(workflow.steps if workflow else []):
        steps += _steps(spec, f"{path}.steps[{i}]", names, None, intent_type, attempts)
    return Plan(
        steps=tuple(steps),
        entry_step=workflow.entry_step if workflow else None,
        agents=agents,
        human_roles=humans,
        parameters=(workflow.parameters or {}) if workflow else {},
        intent_type=intent_type,
        max_delivery_attempts=attempts,
        default_human=HUMAN_SCHEME + (humans[0] if humans else "anyone"),
    )


def _steps(
    spec: WorkflowStepSpec, path: str, names: _Names, branch_of: str | None, intent_type: str, attempts: int
) -> list[Step]:
    """The step and, for a parallel step, its branches after it."""
    kind = infer_kind(
        spec.kind,
        spec.tool_id,
        spec.runtime_type,
        branches=bool(spec.branches),
        subflow=spec.workflow is not None,
    )
    default = names.default_agent if kind.value in ("agent", "notification") else None
    subflow = None
    if spec.workflow is not None:
        subflow = _plan(
            spec.workflow, f"{path}.workflow", names,
            agents=names.declared, humans=names.humans, intent_type=intent_type, attempts=attempts,
        )  # fmt: skip
    step = Step(
        step_id=spec.step_id,
        kind=kind,
        assigned_to=spec.assigned_to,
        to_agent=names.resolve(spec.assigned_to) or default,
        intent_type=spec.intent_type,
        input=spec.input or {},
        on_success=spec.on_success,
        on_failure=spec.on_failure,
        retry=_retry(spec.retry),
        deadline_seconds=spec.step_deadline_seconds,
        requires_approval=spec.requires_approval,
        human_task=spec.human_task.model_dump(exclude_none=True) if spec.human_task else None,
        escalate_to=spec.escalate_to,
        approver=names.resolve(spec.escalate_to),
        compensate=_task(spec.compensate, names),
        branches=tuple(b.step_id for b in spec.branches or []),
        join=Join(spec.join.policy, spec.join.quorum, spec.join.remaining) if spec.join else Join(),
        delay_seconds=spec.delay_seconds,
        subflow=subflow,
        branch_of=branch_of,
        path=path,
    )
    steps = [step]
    for i, branch in enumerate(spec.branches or []):
        steps += _steps(branch, f"{path}.branches[{i}]", names, spec.step_id, intent_type, attempts)
    return steps


def _retry(spec: RetrySpec | None) -> Retry:
    if spec is None:
        return Retry()
    return Retry(
        max_retries=spec.max_retries,
        delay_seconds=spec.retry_delay_seconds,
        multiplier=spec.backoff_multiplier,
        max_delay_seconds=spec.max_delay_seconds,
        jitter=spec.jitter,
        retry_on=tuple(spec.retry_on) if spec.retry_on is not None else None,
    )


def _task(spec: CompensateSpec | None, names: _Names) -> Task | None:
    if spec is None:
        return None
    return Task(
        to_agent=names.resolve(spec.assigned_to) or spec.assigned_to,
        assigned_to=spec.assigned_to,
        intent_type=spec.intent_type,
        input=spec.input or {},
        retry=_retry(spec.retry),
    )
