"""The pure parts of declared workflows: retry policies, joins, the order of compensation, what a run
waits for, how a step's kind is inferred, and a plan's round trip through the JSON it is stored as."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intentd.engine.workflows import Join, Plan, Retry, Step, StepKind, Task, infer_kind
from intentd.engine.workflows.readings import (
    FAILURE,
    failure_error,
    join_state,
    next_to_compensate,
    tally,
    waiting_for,
)
from intentd.model import EntryKind, EntryStatus, JournalEntry, WaitingReason


def entry(
    key: str, status: EntryStatus, *, ended_at: int | None = None, seq: int = 0, **more: object
) -> JournalEntry:
    return JournalEntry("run", key, seq, EntryKind.STEP, status, 0, ended_at=ended_at, **more)  # type: ignore[arg-type]


@given(
    st.integers(1, 20),
    st.floats(0, 100),
    st.floats(1, 10),
    st.floats(0, 1000),
    st.floats(0, 1),
)
def test_a_backoff_grows_is_capped_and_stays_within_its_jitter(
    attempt: int, base: float, multiplier: float, cap: float, jitter: float
) -> None:
    retry = Retry(delay_seconds=base, multiplier=multiplier, max_delay_seconds=cap, jitter=jitter)
    expected = min(cap, base * multiplier ** (attempt - 1))
    assert expected * (1 - jitter) - 1e-9 <= retry.delay(attempt) <= expected * (1 + jitter) + 1e-9


def test_retries_are_counted_and_limited_to_their_codes() -> None:
    retry = Retry(max_retries=2, retry_on=("flaky",))
    assert retry.allows(1, "flaky") and retry.allows(2, "flaky") and not retry.allows(3, "flaky")
    assert not retry.allows(1, "fatal") and Retry(max_retries=1).allows(1, None)


PARALLEL = Step("fan", kind=StepKind.PARALLEL, branches=("a", "b", "c"), join=Join("quorum", 2))


@pytest.mark.parametrize(
    ("statuses", "decided", "succeeded"),
    [
        ({"a": EntryStatus.COMPLETED}, False, False),
        ({"a": EntryStatus.COMPLETED, "b": EntryStatus.FAILED}, False, False),
        ({"a": EntryStatus.COMPLETED, "b": EntryStatus.COMPLETED}, True, True),
        ({"a": EntryStatus.FAILED, "b": EntryStatus.FAILED}, True, False),
    ],
)
def test_a_quorum_join_is_decided_once_the_outcome_cannot_change(
    statuses: dict[str, EntryStatus], decided: bool, succeeded: bool
) -> None:
    entries = {b: entry(b, statuses.get(b, EntryStatus.RUNNING)) for b in PARALLEL.branches}
    state = join_state(PARALLEL, entries)
    assert (state.decided, state.succeeded) == (decided, succeeded)


def test_a_tally_counts_each_branch_once() -> None:
    entries = {
        "a": entry("a", EntryStatus.COMPLETED),
        "b": entry("b", EntryStatus.CANCELED, error={"never_ran": True}),
    }
    assert tally(PARALLEL, entries) == {
        "completed": 1,
        "failed": 0,
        "canceled": 0,
        "never_ran": 2,
        "running": 0,
    }


def test_compensation_goes_newest_first_and_skips_what_started() -> None:
    undo = Task("agent://x/y/undo")
    plan = Plan(steps=(Step("a", compensate=undo), Step("b"), Step("c", compensate=undo)))
    entries = {
        "a": entry("a", EntryStatus.COMPLETED, ended_at=1, seq=1),
        "b": entry("b", EntryStatus.COMPLETED, ended_at=2, seq=2),
        "c": entry("c", EntryStatus.COMPLETED, ended_at=3, seq=3),
    }
    first = next_to_compensate(plan, entries)
    assert first is not None and first.step_id == "c"
    entries["compensate:c"] = entry("compensate:c", EntryStatus.COMPLETED)
    second = next_to_compensate(plan, entries)
    assert second is not None and second.step_id == "a"
    entries["compensate:a"] = entry("compensate:a", EntryStatus.FAILED)
    assert next_to_compensate(plan, entries) is None
    entries[FAILURE] = entry(FAILURE, EntryStatus.FAILED, error={"step_id": "d", "cause": {"message": "no"}})
    error = failure_error(entries)
    assert (error["compensated"], error["compensation_failed"], error["message"]) == (
        ["c"],
        ["a"],
        "step 'd' failed: no",
    )


def test_a_run_waits_for_a_person_for_time_or_for_agents() -> None:
    plan = Plan(steps=(Step("ask", kind=StepKind.HUMAN), Step("work")))
    assert waiting_for(plan, {"ask": entry("ask", EntryStatus.RUNNING)}) is WaitingReason.HUMAN
    assert waiting_for(plan, {"work": entry("work", EntryStatus.WAITING, due_at=5)}) is WaitingReason.TIME
    assert waiting_for(plan, {"work": entry("work", EntryStatus.RUNNING)}) is WaitingReason.AGENT


@pytest.mark.parametrize(
    ("kind", "tool_id", "runtime_type", "branches", "subflow", "expected"),
    [
        ("delay", "tool.agent.task.v1", None, False, False, StepKind.DELAY),
        (None, None, None, True, False, StepKind.PARALLEL),
        (None, None, None, False, True, StepKind.SUBFLOW),
        (None, "tool.approval.human_signoff", None, False, False, StepKind.HUMAN),
        (None, None, "notification", False, False, StepKind.NOTIFICATION),
        (None, "tool.unknown", "timeout", False, False, StepKind.AGENT),
    ],
)
def test_a_steps_kind_is_what_it_says_or_what_its_shape_or_tool_says(
    kind: str | None,
    tool_id: str | None,
    runtime_type: str | None,
    branches: bool,
    subflow: bool,
    expected: StepKind,
) -> None:
    assert infer_kind(kind, tool_id, runtime_type, branches=branches, subflow=subflow) is expected


def test_a_plan_survives_the_json_it_is_stored_as() -> None:
    inner = Plan(steps=(Step("x", retry=Retry(retry_on=("a",))),))
    plan = Plan(
        steps=(
            Step("s", kind=StepKind.SUBFLOW, subflow=inner, compensate=Task("agent://a/b/c", input={"k": 1})),
        ),
        parameters={"p": [1, 2]},
    )
    assert Plan.from_json(plan.to_json()) == plan
