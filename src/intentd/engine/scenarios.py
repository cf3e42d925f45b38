"""What a scenario's parts mean together, checked before anything runs: the links between workflow
steps (duplicates, unknown targets, ``on_success`` cycles, steps no path reaches), whom each step is
assigned to, and the bundle's roles and addresses. :func:`check_scenario` reports every problem, each
with the JSON path of the field at fault and a stable code, so a caller can fix them all at once.

It takes a :class:`ScenarioPlan` (the server builds one from the wire's ``ScenarioBundle``) and touches
no storage.

>>> plan = ScenarioPlan(steps=(ScenarioStep("a", on_success="b"),))
>>> [p.code for p in check_scenario(plan)]
['unknown_step']
"""

from __future__ import annotations

from dataclasses import dataclass

from intentd.model import ValidationFailed, normalize_address

SCHEME = "agent://"

# The codes, stable on the wire (``error.details.problems[].code``).
DUPLICATE_STEP = "duplicate_step_id"
UNKNOWN_STEP = "unknown_step"
SUCCESS_CYCLE = "on_success_cycle"
UNREACHABLE_STEP = "unreachable_step"
UNKNOWN_ASSIGNEE = "unknown_assignee"
DUPLICATE_ROLE = "duplicate_role"
INVALID_ADDRESS = "invalid_address"


@dataclass(frozen=True)
class ScenarioStep:
    step_id: str
    on_success: str | None = None
    on_failure: str | None = None
    assigned_to: str | None = None


@dataclass(frozen=True)
class ScenarioAgent:
    role: str
    address: str


@dataclass(frozen=True)
class ScenarioPlan:
    """The parts of a bundle the checks read, in the bundle's order (paths are built from indexes)."""

    steps: tuple[ScenarioStep, ...] = ()
    entry_step: str | None = None
    agents: tuple[ScenarioAgent, ...] = ()
    human_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Problem:
    path: str
    code: str
    message: str


def check_scenario(plan: ScenarioPlan) -> list[Problem]:
    """Every problem of ``plan``, in the order of the bundle's fields (participants, then steps)."""
    problems = _participant_problems(plan)
    problems += _step_problems(plan)
    return problems


def _step_path(index: int, field: str | None = None) -> str:
    return f"workflow.steps[{index}]" + (f".{field}" if field else "")


def _participant_problems(plan: ScenarioPlan) -> list[Problem]:
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
        if _address(agent.address) is None:
            message = f"{agent.address[:100]!r} is not an address: agent://org/env/name or a short name"
            problems.append(Problem(f"agents[{i}].address", INVALID_ADDRESS, message))
    return problems


def _step_problems(plan: ScenarioPlan) -> list[Problem]:
    index: dict[str, int] = {}
    problems: list[Problem] = []
    for i, step in enumerate(plan.steps):
        if step.step_id in index:
            message = f"step_id {step.step_id!r} is already used by {_step_path(index[step.step_id])}"
            problems.append(Problem(_step_path(i, "step_id"), DUPLICATE_STEP, message))
        else:
            index[step.step_id] = i
    for i, step in enumerate(plan.steps):
        for field, target in (("on_success", step.on_success), ("on_failure", step.on_failure)):
            if target is not None and target not in index:
                problems.append(Problem(_step_path(i, field), UNKNOWN_STEP, f"no step {target!r}"))
    entry_known = plan.entry_step is None or plan.entry_step in index
    if not entry_known:
        message = f"no step {plan.entry_step!r}"
        problems.append(Problem("workflow.entry_step", UNKNOWN_STEP, message))
    problems += _cycles(plan.steps, index)
    if entry_known and plan.steps:
        problems += _unreachable(plan, index)
    problems += _assignees(plan)
    return problems


def _cycles(steps: tuple[ScenarioStep, ...], index: dict[str, int]) -> list[Problem]:
    """Each cycle through ``on_success`` links once, reported at its first listed step. A step has one
    ``on_success``, so following them from any step either ends or enters exactly one cycle."""
    problems: list[Problem] = []
    done: set[int] = set()
    for start in range(len(steps)):
        trail: list[int] = []
        at: int | None = start
        while at is not None and at not in done and at not in trail:
            trail.append(at)
            following = steps[at].on_success
            at = index.get(following) if following is not None else None
        if at is not None and at in trail:
            cycle = trail[trail.index(at) :]
            first = min(cycle)
            ordered = cycle[cycle.index(first) :] + cycle[: cycle.index(first)]
            names = " -> ".join(steps[i].step_id for i in [*ordered, first])
            message = f"on_success links loop forever: {names}"
            problems.append(Problem(_step_path(first, "on_success"), SUCCESS_CYCLE, message))
        done.update(trail)
    return problems


def _unreachable(plan: ScenarioPlan, index: dict[str, int]) -> list[Problem]:
    entry = index[plan.entry_step] if plan.entry_step is not None else 0
    seen = {entry}
    pending = [entry]
    while pending:
        step = plan.steps[pending.pop()]
        for target in (step.on_success, step.on_failure):
            following = index.get(target) if target is not None else None
            if following is not None and following not in seen:
                seen.add(following)
                pending.append(following)
    entry_id = plan.steps[entry].step_id
    return [
        Problem(
            _step_path(i), UNREACHABLE_STEP, f"no on_success/on_failure path from {entry_id!r} leads here"
        )
        for i, step in enumerate(plan.steps)
        if i not in seen and index.get(step.step_id) == i  # a duplicate is reported as one already
    ]


def _assignees(plan: ScenarioPlan) -> list[Problem]:
    roles = {agent.role for agent in plan.agents} | set(plan.human_roles)
    addresses = {_address(agent.address) for agent in plan.agents} - {None}
    problems: list[Problem] = []
    for i, step in enumerate(plan.steps):
        target = step.assigned_to
        if target is None or target in roles:
            continue
        address = _address(target)
        # A bare name is a role alias (a typo must not pass as a short address); a full address may
        # name an agent outside the bundle.
        if address is not None and (target.startswith(SCHEME) or address in addresses):
            continue
        message = f"{target[:100]!r} is neither a role of the bundle's agents or humans nor an agent address"
        problems.append(Problem(_step_path(i, "assigned_to"), UNKNOWN_ASSIGNEE, message))
    return problems


def _address(text: str) -> str | None:
    try:
        return normalize_address(text)
    except ValidationFailed:
        return None
