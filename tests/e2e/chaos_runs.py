"""The runs of the workflow chaos test (``test_workflow_chaos.py``): what each kind of run does and
how it must end, and the request that starts it (the checks of what happened: ``chaos_checks.py``).

A :class:`Template` is a declared workflow (``POST /v1/scenarios/apply``: chains, retries, parallel
steps with joins, compensation, ``on_failure`` to ``fail`` or to another step, subflows) or a
code-first run of the supervisor agent (``ctx.spawn``/``ctx.gather``/``ctx.step`` with
compensations). Its *order* tells the agents (``chaos_agents.py``) which steps fail, once or for
good, so the terminal status, the steps that complete and the compensations are known in advance;
the one thing left to timing is a parallel branch still running when its join fails (``maybe``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tests.e2e.chaos_agents import DOER, MAX_DELIVERY_ATTEMPTS, SUPERVISOR, UNDOER

JSON = dict[str, Any]
RUNS_PER_TEMPLATE = 5
WORKFLOWS = "agent://intentd/workflows/chaos."  # the address of a declared run, before its scenario


@dataclass(frozen=True)
class Template:
    """A kind of run: its steps (a declared workflow) or none (a code-first run of the supervisor),
    what its agents are told to do (``order``), and what must follow."""

    name: str
    steps: list[JSON] | None
    order: JSON
    status: str
    done: frozenset[str]  # steps whose side effect must happen (once)
    maybe: frozenset[str] = frozenset()  # may complete or be canceled: a branch running when its join failed
    failed_step: str | None = None
    compensates: bool = False  # the failure undoes the completed steps

    @property
    def supervised(self) -> bool:
        return self.steps is None

    @property
    def agent_steps(self) -> set[str]:
        """The ids of the steps an agent does (with a side effect), in branches and subflows too."""
        if self.steps is None:
            return set(self.order["children"]) | set(self.order["steps"])
        return _agent_steps(self.steps)


def _agent_steps(steps: list[JSON]) -> set[str]:
    found: set[str] = set()
    for step in steps:
        if "branches" in step:
            found |= _agent_steps(step["branches"])
        elif "workflow" in step:
            found |= _agent_steps(step["workflow"]["steps"])
        else:
            found.add(step["step_id"])
    return found


def agent_step(
    step_id: str, then: str | None = None, *, retries: int = 0, on_failure: str | None = None
) -> JSON:
    step: JSON = {
        "step_id": step_id,
        "assigned_to": "doer",
        "compensate": {
            "assigned_to": "undoer",
            "retry": {"max_retries": 2, "retry_delay_seconds": 0.2, "jitter": 0.5},
        },
        "retry": {"max_retries": retries, "retry_delay_seconds": 0.2, "jitter": 0.5},
        "on_success": then,
        "on_failure": on_failure,
    }
    return {k: v for k, v in step.items() if v is not None}


def parallel(step_id: str, branches: list[JSON], then: str) -> JSON:
    return {"step_id": step_id, "kind": "parallel", "branches": branches, "on_success": then}


def subflow(step_id: str, steps: list[JSON], then: str) -> JSON:
    return {"step_id": step_id, "workflow": {"steps": steps}, "on_success": then}


def _set(*steps: str) -> frozenset[str]:
    return frozenset(steps)


TEMPLATES = [
    Template(
        "chain",
        [agent_step("a", "b"), agent_step("b", "c"), agent_step("c")],
        {"flaky": ["c"]},
        "COMPLETED",
        _set("a", "b", "c"),
    ),
    Template(
        "retry",
        [agent_step("a", "b"), agent_step("b", "c", retries=2), agent_step("c")],
        {"fail_once": ["b"], "flaky": ["c"]},
        "COMPLETED",
        _set("a", "b", "c"),
    ),
    Template(
        "saga",
        [agent_step("a", "b"), agent_step("b", "c"), agent_step("c", retries=1)],
        {"fail": ["c"], "flaky_undo": ["a"], "fail_once_undo": ["b"]},
        "FAILED",
        _set("a", "b"),
        failed_step="c",
        compensates=True,
    ),
    Template(
        "fanout",
        [
            agent_step("a", "p"),
            parallel("p", [agent_step("x"), agent_step("y", retries=2), agent_step("z")], "d"),
            agent_step("d"),
        ],
        {"fail_once": ["y"], "flaky": ["x"]},
        "COMPLETED",
        _set("a", "x", "y", "z", "d"),
    ),
    Template(
        "fanout_saga",
        [agent_step("a", "p"), parallel("p", [agent_step("x"), agent_step("y")], "d"), agent_step("d")],
        {"fail": ["d"], "flaky_undo": ["x"], "fail_once_undo": ["y"]},
        "FAILED",
        _set("a", "x", "y"),
        failed_step="d",
        compensates=True,
    ),
    Template(
        "join_fails",
        [
            agent_step("a", "p"),
            parallel("p", [agent_step("x"), agent_step("y", retries=1)], "d"),
            agent_step("d"),
        ],
        {"fail": ["y"]},
        "FAILED",
        _set("a"),
        maybe=_set("x"),
        failed_step="p",
        compensates=True,
    ),
    Template(
        "no_undo",
        [agent_step("a", "b"), agent_step("b", on_failure="fail")],
        {"fail": ["b"]},
        "FAILED",
        _set("a"),
        failed_step="b",
    ),
    Template(
        "detour",
        [agent_step("a", "b"), agent_step("b", on_failure="fallback"), agent_step("fallback")],
        {"fail": ["b"]},
        "COMPLETED",
        _set("a", "fallback"),
    ),
    Template(
        "nested",
        [
            agent_step("a", "sub"),
            subflow("sub", [agent_step("s1", "s2"), agent_step("s2")], "b"),
            agent_step("b"),
        ],
        {"flaky": ["s2"]},
        "COMPLETED",
        _set("a", "s1", "s2", "b"),
    ),
    Template(
        "nested_saga",
        [
            agent_step("a", "sub"),
            subflow("sub", [agent_step("s1", "s2"), agent_step("s2")], "b"),
            agent_step("b"),
        ],
        {"fail": ["s2"], "flaky_undo": ["s1"], "fail_once_undo": ["a"]},
        "FAILED",
        _set("a", "s1"),
        failed_step="sub",
        compensates=True,  # the subflow's steps (s1) in the subflow, then the run's (a)
    ),
    Template(
        "supervised",
        None,
        {"children": ["k1", "k2"], "steps": ["reserve", "charge"]},
        "COMPLETED",
        _set("k1", "k2", "reserve", "charge"),
    ),
    Template(
        "supervised_saga",
        None,
        {"children": ["k1", "k2"], "steps": ["reserve", "charge"], "decline": True},
        "FAILED",
        _set("k1", "k2", "reserve", "charge"),
        compensates=True,
    ),
]
SUPERVISED_UNDO_ORDER = ["charge", "reserve"]  # ctx.step compensations: the last registered first


@dataclass(frozen=True)
class Run:
    name: str  # also the run's idempotency key and its agents' ``order["run"]``
    template: Template

    @property
    def order(self) -> JSON:
        return {**self.template.order, "run": self.name}

    def request(self) -> tuple[str, JSON]:
        """Where to POST the run, and the body."""
        if self.template.supervised:
            body = {
                "intent_type": "intent.chaos.order.v1",
                "correlation_id": self.name,
                "to_agent": SUPERVISOR,
                "payload": self.order,
                "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
            }
            return "/v1/intents", body
        bundle = {
            "scenario_id": f"chaos.{self.template.name}",
            "agents": [{"role": "doer", "address": DOER}, {"role": "undoer", "address": UNDOER}],
            "workflow": {"steps": self.template.steps},
            "intent": {
                "type": "intent.chaos.step.v1",
                "payload": self.order,
                "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
            },
        }
        return "/v1/scenarios/apply", bundle


def plan_runs(rng: random.Random) -> list[Run]:
    runs = [Run(f"{t.name}-{n}", t) for t in TEMPLATES for n in range(RUNS_PER_TEMPLATE)]
    rng.shuffle(runs)
    return runs
