"""What a declared workflow's parts mean together, checked before anything runs: the links between
steps (duplicates, unknown targets, ``on_success`` cycles, steps no path reaches), whom each step is
assigned to, parallel branches and their join, escalations, input expressions, human tasks, and the
bundle's roles and addresses. :func:`check_plan` reports every problem, each with the JSON path of the
field at fault and a stable code, so a caller can fix them all at once. It touches no storage.

>>> plan = Plan(steps=(Step("a", on_success="b", path="workflow.steps[0]"),))
>>> [p.code for p in check_plan(plan)]
['unknown_step']
"""

from __future__ import annotations

from dataclasses import dataclass

from intentd.model import ValidationFailed, normalize_address

from ..humans.spec import normalise
from .expressions import references
from .plan import RESERVED_STEP_IDS, OnFailure, Plan, Step, StepKind

SCHEME = "agent://"

# The codes, stable on the wire (``error.details.problems[].code``).
DUPLICATE_STEP = "duplicate_step_id"
RESERVED_STEP = "reserved_step_id"
UNKNOWN_STEP = "unknown_step"
SUCCESS_CYCLE = "on_success_cycle"
UNREACHABLE_STEP = "unreachable_step"
UNKNOWN_ASSIGNEE = "unknown_assignee"
MISSING_ASSIGNEE = "missing_assignee"
DUPLICATE_ROLE = "duplicate_role"
INVALID_ADDRESS = "invalid_address"
BRANCH_LINK = "branch_link"
BAD_QUORUM = "bad_quorum"
NO_ESCALATION_TARGET = "no_escalation_target"
BAD_EXPRESSION = "bad_expression"
MISSING_PART = "missing_part"
BAD_HUMAN_TASK = "bad_human_task"


@dataclass(frozen=True)
class Problem:
    path: str
    code: str
    message: str


def check_plan(plan: Plan, prefix: str = "workflow") -> list[Problem]:
    """Every problem of ``plan``, in the order of the bundle's fields (participants, then steps).
    ``prefix`` is the path of the plan's workflow in its bundle (a subflow's is inside its step)."""
    problems = _participant_problems(plan) if prefix == "workflow" else []
    problems += _step_problems(plan, prefix)
    for step in plan.steps:
        if step.subflow is not None:
            problems += check_plan(step.subflow, f"{step.path}.workflow")
    return problems


def _at(step: Step, field: str | None = None) -> str:
    return step.path + (f".{field}" if field else "")


def _participant_problems(plan: Plan) -> list[Problem]:
    problems: list[Problem] = []
    roles: dict[str, str] = {}  # role -> the path that declared it first
    declared = [(f"agents[{i}].role", agent.role) for i, agent in enumerate(plan.agents)]
    declared += [(f"humans[{i}].role", role) for i, role in enumerate(plan.human_roles)]
    for path, role in declared:
        if role in roles:
            message = f"role {role!r} is already declared at {roles[role]}"
            problems.append(Problem(path, DUPLICATE_ROLE, message))
        else:
            roles[role] = path
    for i, agent in enumerate(plan.agents):
        if address_of(agent.address) is None:
            message = f"{agent.address[:100]!r} is not an address: agent://org/env/name or a short name"
            problems.append(Problem(f"agents[{i}].address", INVALID_ADDRESS, message))
    return problems


def _step_problems(plan: Plan, prefix: str) -> list[Problem]:
    index: dict[str, Step] = {}
    problems: list[Problem] = []
    for step in plan.steps:
        if step.step_id in RESERVED_STEP_IDS:
            message = f"{step.step_id!r} is an on_failure keyword and cannot name a step"
            problems.append(Problem(_at(step, "step_id"), RESERVED_STEP, message))
        elif step.step_id.startswith("$") or ":" in step.step_id:
            message = "a step id cannot start with $ or hold ':' (the runtime's own journal keys do)"
            problems.append(Problem(_at(step, "step_id"), RESERVED_STEP, message))
        if step.step_id in index:
            message = f"step_id {step.step_id!r} is already used by {index[step.step_id].path}"
            problems.append(Problem(_at(step, "step_id"), DUPLICATE_STEP, message))
        else:
            index[step.step_id] = step
    top = [s for s in plan.steps if s.branch_of is None]
    for step in plan.steps:
        problems += _link_problems(step, index)
    entry_known = plan.entry_step is None or plan.entry_step in index
    if not entry_known:
        message = f"no step {plan.entry_step!r}"
        problems.append(Problem(f"{prefix}.entry_step", UNKNOWN_STEP, message))
    problems += _cycles(top, index)
    if entry_known and top:
        problems += _unreachable(plan, top, index)
    for step in plan.steps:
        problems += _assignee_problems(plan, step)
        problems += _shape_problems(plan, step)
        problems += _expression_problems(step, index)
        problems += _human_task_problems(step)
    return problems


def _human_task_problems(step: Step) -> list[Problem]:
    """A step's ``human_task`` is checked as the task it will open (a bad form schema, a default
    outcome it does not allow): found when the bundle is applied, not when a step reaches it."""
    if step.human_task is None:
        return []
    try:
        normalise(step.human_task, default_title=step.step_id)
    except ValidationFailed as exc:
        field = str(exc.details.get("field", "human_task"))
        return [Problem(_at(step, field), BAD_HUMAN_TASK, exc.message)]
    return []


def _link_problems(step: Step, index: dict[str, Step]) -> list[Problem]:
    problems = []
    links = (("on_success", step.on_success), ("on_failure", step.on_failure))
    for field, target in links:
        if target is None:
            continue
        if step.branch_of is not None:  # a branch's failure counts against its join, keyword or not
            message = f"a branch ends at its parallel step's join; {field} belongs on {step.branch_of!r}"
            problems.append(Problem(_at(step, field), BRANCH_LINK, message))
        elif field == "on_failure" and target in RESERVED_STEP_IDS:
            continue
        elif target not in index:
            problems.append(Problem(_at(step, field), UNKNOWN_STEP, f"no step {target!r}"))
        elif index[target].branch_of is not None:
            message = f"{target!r} is a branch of {index[target].branch_of!r}: link to that step instead"
            problems.append(Problem(_at(step, field), BRANCH_LINK, message))
    return problems


def _cycles(steps: list[Step], index: dict[str, Step]) -> list[Problem]:
    """Each cycle through ``on_success`` links once, reported at its first listed step. A step has one
    ``on_success``, so following them from any step either ends or enters exactly one cycle."""
    order: dict[str, int] = {}
    for i, step in enumerate(steps):
        order.setdefault(step.step_id, i)  # a duplicate id links to the step that has it first
    problems: list[Problem] = []
    done: set[int] = set()
    for start in range(len(steps)):
        trail: list[int] = []
        at: int | None = start
        while at is not None and at not in done and at not in trail:
            trail.append(at)
            following = steps[at].on_success
            at = order.get(following) if following is not None else None
        if at is not None and at in trail:
            cycle = trail[trail.index(at) :]
            first = min(cycle)
            ordered = cycle[cycle.index(first) :] + cycle[: cycle.index(first)]
            names = " -> ".join(steps[i].step_id for i in [*ordered, first])
            message = f"on_success links loop forever: {names}"
            problems.append(Problem(_at(steps[first], "on_success"), SUCCESS_CYCLE, message))
        done.update(trail)
    return problems


def _unreachable(plan: Plan, top: list[Step], index: dict[str, Step]) -> list[Problem]:
    entry = plan.entry
    assert entry is not None
    seen = {entry.step_id}
    pending = [entry]
    while pending:
        step = pending.pop()
        for target in (step.on_success, step.on_failure):
            following = index.get(target) if target is not None else None
            if following is not None and following.step_id not in seen:
                seen.add(following.step_id)
                pending.append(following)
    return [
        Problem(
            step.path, UNREACHABLE_STEP, f"no on_success/on_failure path from {entry.step_id!r} leads here"
        )
        for step in top
        if step.step_id not in seen and index.get(step.step_id) is step  # a duplicate is reported once
    ]


def _assignee_problems(plan: Plan, step: Step) -> list[Problem]:
    target = step.assigned_to
    if target is None:
        if step.kind in (StepKind.AGENT, StepKind.NOTIFICATION) and step.to_agent is None:
            message = f"an {step.kind.value} step needs assigned_to (or the bundle's intent.to_agent)"
            return [Problem(_at(step), MISSING_ASSIGNEE, message)]
        return []
    if not known_target(plan, target):
        message = f"{target[:100]!r} is neither a role of the bundle's agents or humans nor an agent address"
        return [Problem(_at(step, "assigned_to"), UNKNOWN_ASSIGNEE, message)]
    return []


def known_target(plan: Plan, target: str) -> bool:
    """A role of the bundle, or an address: a full one, or a short one an agent of the bundle has (a
    bare name is a role alias, so a typo must not pass as a short address)."""
    if target in {agent.role for agent in plan.agents} | set(plan.human_roles):
        return True
    addresses = {address_of(agent.address) for agent in plan.agents} - {None}
    address = address_of(target)
    return address is not None and (target.startswith(SCHEME) or address in addresses)


def _shape_problems(plan: Plan, step: Step) -> list[Problem]:
    problems = []
    if step.kind is StepKind.PARALLEL:
        if not step.branches:
            problems.append(Problem(_at(step, "branches"), MISSING_PART, "a parallel step needs branches"))
        join = step.join
        if join.policy == "quorum" and not (join.quorum and join.quorum <= len(step.branches)):
            message = f"a quorum join needs quorum between 1 and its {len(step.branches)} branches"
            problems.append(Problem(_at(step, "join.quorum"), BAD_QUORUM, message))
    if step.kind is StepKind.SUBFLOW and step.subflow is None:
        problems.append(Problem(_at(step, "workflow"), MISSING_PART, "a subflow step needs a workflow"))
    if step.kind is StepKind.DELAY and step.delay_seconds is None:
        problems.append(Problem(_at(step, "delay_seconds"), MISSING_PART, "a delay step needs delay_seconds"))
    escalates = step.on_failure == OnFailure.ESCALATE
    if escalates and step.escalate_to is None and not plan.human_roles:
        message = "on_failure escalate needs escalate_to or a human in the bundle"
        problems.append(Problem(_at(step, "on_failure"), NO_ESCALATION_TARGET, message))
    if step.escalate_to is not None and not known_target(plan, step.escalate_to):
        message = f"{step.escalate_to[:100]!r} is neither a role of the bundle nor an address"
        problems.append(Problem(_at(step, "escalate_to"), UNKNOWN_ASSIGNEE, message))
    if step.compensate is not None and not known_target(plan, step.compensate.assigned_to):
        message = f"{step.compensate.assigned_to[:100]!r} is neither a role of the bundle nor an address"
        problems.append(Problem(_at(step, "compensate.assigned_to"), UNKNOWN_ASSIGNEE, message))
    return problems


def _expression_problems(step: Step, index: dict[str, Step]) -> list[Problem]:
    templates = [(_at(step, "input"), step.input)]
    if step.compensate is not None:
        templates.append((_at(step, "compensate.input"), step.compensate.input))
    problems = []
    for prefix, template in templates:
        found, errors = references(template, prefix)
        problems += [Problem(e.path, BAD_EXPRESSION, e.message) for e in errors]
        for path, ref in found:
            if ref.root == "steps" and ref.step_id is not None and ref.step_id not in index:
                problems.append(Problem(path, UNKNOWN_STEP, f"{ref.text!r} names no step {ref.step_id!r}"))
    return problems


def address_of(text: str) -> str | None:
    try:
        return normalize_address(text)
    except ValidationFailed:
        return None
