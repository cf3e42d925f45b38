"""A declared workflow, compiled: what the interpreter (``declared.py``) runs and the checks
(``check.py``) read. The server builds a :class:`Plan` from an AXP ScenarioBundle (names resolved,
step kinds inferred); the engine stores it with the run, as JSON, and reads it back on every move.

Step kinds: ``agent`` (a child intent to an agent), ``human`` (a child intent that waits for a
person), ``parallel`` (branches joined by ``all``, ``any`` or a quorum), ``delay`` (a timer on the
run), ``notification`` (a child intent the run does not wait for) and ``subflow`` (a child run with
its own plan).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from intentd.model import JSON


class StepKind(StrEnum):
    AGENT = "agent"
    HUMAN = "human"
    PARALLEL = "parallel"
    DELAY = "delay"
    NOTIFICATION = "notification"
    SUBFLOW = "subflow"


# What AXP programs say with ``tool_id`` / ``runtime_type`` (PROTOCOL.md §4.3).
TOOL_KINDS = {
    "tool.agent.task.v1": StepKind.AGENT,
    "tool.approval.human_signoff": StepKind.HUMAN,
    "tool.human.approval.v1": StepKind.HUMAN,
    "tool.internal.delay": StepKind.DELAY,
    "tool.internal.notification": StepKind.NOTIFICATION,
    "tool.notification.notify_owner": StepKind.NOTIFICATION,
}
RUNTIME_KINDS = {
    "human_approval": StepKind.HUMAN,
    "delay": StepKind.DELAY,
    "notification": StepKind.NOTIFICATION,
}


class OnFailure(StrEnum):
    """What a step's final failure (retries used up) does, unless ``on_failure`` names a step."""

    ESCALATE = "escalate"  # a human decides: retry, skip or abort
    COMPENSATE = "compensate"  # undo the completed steps (newest first), then fail the run
    FAIL = "fail"  # fail the run at once, undoing nothing


RESERVED_STEP_IDS = frozenset(OnFailure)


@dataclass(frozen=True, slots=True)
class Retry:
    max_retries: int = 0
    delay_seconds: float = 30.0
    multiplier: float = 2.0
    max_delay_seconds: float = 3600.0
    jitter: float = 0.2
    retry_on: tuple[str, ...] | None = None

    def allows(self, failed_attempt: int, code: str | None) -> bool:
        """Whether the attempt that just failed (1, 2, …) is followed by another."""
        return failed_attempt <= self.max_retries and (self.retry_on is None or code in self.retry_on)

    def delay(self, failed_attempt: int) -> float:
        """Seconds before the next attempt: exponential, capped, with jitter."""
        base = min(self.max_delay_seconds, self.delay_seconds * self.multiplier ** (failed_attempt - 1))
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)


@dataclass(frozen=True, slots=True)
class Join:
    policy: str = "all"  # all | any | quorum
    quorum: int | None = None
    remaining: str = "cancel"  # cancel | finish

    def needed(self, branches: int) -> int:
        """How many branches must complete."""
        if self.policy == "any":
            return 1
        if self.policy == "quorum" and self.quorum is not None:
            return self.quorum
        return branches


@dataclass(frozen=True, slots=True)
class Task:
    """An intent a step sends besides its own (a compensation)."""

    to_agent: str  # resolved
    assigned_to: str = ""  # as written: a role or an address
    intent_type: str | None = None
    input: JSON = field(default_factory=dict)
    retry: Retry = field(default_factory=Retry)


@dataclass(frozen=True, slots=True)
class Step:
    step_id: str
    kind: StepKind = StepKind.AGENT
    assigned_to: str | None = None  # as written: a role or an address
    to_agent: str | None = None  # resolved: whom the step's intent goes to
    intent_type: str | None = None
    input: JSON = field(default_factory=dict)
    on_success: str | None = None
    on_failure: str | None = None  # a step id or an OnFailure
    retry: Retry = field(default_factory=Retry)
    deadline_seconds: float | None = None
    requires_approval: bool = False
    human_task: JSON | None = None
    escalate_to: str | None = None  # as written: who decides an escalation or approves
    approver: str | None = None  # escalate_to resolved (default: the plan's default_human)
    compensate: Task | None = None
    branches: tuple[str, ...] = ()  # a parallel step's branch step ids
    join: Join = field(default_factory=Join)
    delay_seconds: float | None = None
    subflow: Plan | None = None
    branch_of: str | None = None  # the parallel step this step is a branch of
    path: str = ""  # where the bundle declares it, e.g. workflow.steps[2].branches[0]


@dataclass(frozen=True, slots=True)
class Agent:
    role: str
    address: str


@dataclass(frozen=True, slots=True)
class Plan:
    """Steps in the bundle's order, branches listed after their parallel step."""

    steps: tuple[Step, ...] = ()
    entry_step: str | None = None
    agents: tuple[Agent, ...] = ()
    human_roles: tuple[str, ...] = ()
    parameters: JSON = field(default_factory=dict)
    intent_type: str = "intent.workflow.step.v1"
    max_delivery_attempts: int = 5
    default_human: str = "human://anyone"  # who approves or decides an escalation no step assigns

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.step_id == step_id)

    @property
    def entry(self) -> Step | None:
        top = [s for s in self.steps if s.branch_of is None]
        if self.entry_step is not None:
            return self.step(self.entry_step)
        return top[0] if top else None

    def to_json(self) -> JSON:
        return _PLAN.dump_python(self, mode="json")  # type: ignore[no-any-return]

    @staticmethod
    def from_json(data: Any) -> Plan:
        return _PLAN.validate_python(data)


_PLAN: TypeAdapter[Plan] = TypeAdapter(Plan)


def infer_kind(
    kind: str | None, tool_id: str | None, runtime_type: str | None, *, branches: bool, subflow: bool
) -> StepKind:
    """A step's kind: ``kind`` if given, else what its shape, ``tool_id`` or ``runtime_type`` says,
    else an agent step."""
    if kind is not None:
        return StepKind(kind)
    if branches:
        return StepKind.PARALLEL
    if subflow:
        return StepKind.SUBFLOW
    if tool_id in TOOL_KINDS:
        return TOOL_KINDS[tool_id]
    if runtime_type in RUNTIME_KINDS:
        return RUNTIME_KINDS[runtime_type]
    return StepKind.AGENT
