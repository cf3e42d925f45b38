"""The lifecycle transition table (PROTOCOL.md §1.1-1.3) and the invariant it exists for: a terminal
intent never changes, and every accepted change appends exactly the next seq."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intentd.model import (
    NON_TERMINAL,
    TERMINAL,
    TERMINAL_EVENT,
    TRANSITIONS,
    Event,
    EventType,
    IllegalTransition,
    Intent,
    IntentTerminal,
    Status,
    WaitingReason,
    check_transition,
    evolve,
    rebuild,
)

T0 = 1_700_000_000_000_000


def test_table_covers_every_status_and_splits_terminal_from_the_rest() -> None:
    assert set(TRANSITIONS) == set(Status)
    assert set(Status) == TERMINAL | NON_TERMINAL
    assert not TERMINAL & NON_TERMINAL
    assert {Status.COMPLETED, Status.FAILED, Status.CANCELED, Status.TIMED_OUT} == TERMINAL


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_terminal_status_has_no_exits(terminal: Status) -> None:
    assert TRANSITIONS[terminal] == frozenset()
    assert terminal.is_terminal


@pytest.mark.parametrize("current", sorted(NON_TERMINAL))
@pytest.mark.parametrize("target", sorted(TERMINAL))
def test_resolve_is_allowed_from_every_non_terminal_status(current: Status, target: Status) -> None:
    check_transition(current, target)  # must not raise


@pytest.mark.parametrize("current", sorted(TERMINAL))
@pytest.mark.parametrize("target", list(Status))
def test_leaving_a_terminal_status_is_intent_terminal(current: Status, target: Status) -> None:
    with pytest.raises(IntentTerminal) as caught:
        check_transition(current, target)
    assert caught.value.code == "intent_terminal"
    assert caught.value.http_status == 409
    assert caught.value.details == {"status": current.value}


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.CREATED, Status.DELIVERED),
        (Status.CREATED, Status.IN_PROGRESS),
        (Status.SUBMITTED, Status.ACKNOWLEDGED),
        (Status.IN_PROGRESS, Status.DELIVERED),
        (Status.WAITING, Status.CREATED),
    ],
)
def test_skipping_the_lifecycle_is_an_illegal_transition(current: Status, target: Status) -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition(current, target)
    assert caught.value.code == "illegal_transition"
    assert caught.value.http_status == 409
    assert caught.value.details == {"from": current.value, "to": target.value}


def test_nothing_returns_to_created() -> None:
    assert all(Status.CREATED not in targets for targets in TRANSITIONS.values())


def test_the_happy_path_is_allowed() -> None:
    path = [
        Status.CREATED,
        Status.SUBMITTED,
        Status.DELIVERED,
        Status.ACKNOWLEDGED,
        Status.IN_PROGRESS,
        Status.WAITING,
        Status.IN_PROGRESS,
        Status.COMPLETED,
    ]
    for current, target in zip(path, path[1:], strict=False):
        check_transition(current, target)


# -- property: random attempts through check_transition + evolve ----------------------------------


def _created() -> Event:
    return Event(
        "i-1",
        1,
        EventType.CREATED,
        Status.CREATED,
        T0,
        "tester",
        details={
            "namespace": "default",
            "intent_type": "t",
            "correlation_id": "c",
            "from_agent": "agent://a/b/from",
            "to_agent": "agent://a/b/to",
            "payload": {},
            "max_delivery_attempts": 5,
        },
    )


def _event_for(intent: Intent, target: Status, requeue: EventType) -> Event:
    """The event the engine would append to move ``intent`` to ``target``."""
    seq, at = intent.last_seq + 1, T0 + intent.last_seq
    if target is Status.DELIVERED:
        attempt = intent.delivery_attempt + 1
        return Event(
            intent.intent_id,
            seq,
            EventType.DELIVERED,
            target,
            at,
            "worker",
            details={
                "delivery_attempt": attempt,
                "lease_token": f"lease-{seq}",
                "worker": "w",
                "lease_expires_at": at + 30_000_000,
            },
        )
    if target is Status.WAITING:
        return Event(intent.intent_id, seq, EventType.WAITING, target, at, "worker", WaitingReason.HUMAN)
    kind = {
        Status.SUBMITTED: requeue,
        Status.ACKNOWLEDGED: EventType.ACKNOWLEDGED,
        Status.IN_PROGRESS: EventType.IN_PROGRESS,
    }.get(target) or TERMINAL_EVENT[target]
    return Event(
        intent.intent_id,
        seq,
        kind,
        target,
        at,
        "worker",
        details={"result": {"n": seq}} if target is Status.COMPLETED else {},
    )


_REQUEUE = st.sampled_from(
    [EventType.SUBMITTED, EventType.LEASE_EXPIRED, EventType.RELEASED, EventType.RESUMED]
)


@given(st.lists(st.tuples(st.sampled_from(list(Status)), _REQUEUE), max_size=40))
def test_random_attempts_never_leave_a_terminal_status_and_never_skip_a_seq(
    attempts: list[tuple[Status, EventType]],
) -> None:
    accepted = [_created()]
    intent = evolve(None, accepted[0])
    for target, requeue in attempts:
        before = intent
        try:
            check_transition(intent.status, target)
        except IntentTerminal:
            assert before.is_terminal
            continue
        except IllegalTransition:
            assert target not in TRANSITIONS[before.status]
            continue
        assert not before.is_terminal
        event = _event_for(intent, target, requeue)
        intent = evolve(intent, event)
        accepted.append(event)
        assert intent.status is target
        assert intent.last_seq == before.last_seq + 1
    assert [e.seq for e in accepted] == list(range(1, len(accepted) + 1))
    terminal_at = next((i for i, e in enumerate(accepted) if e.status.is_terminal), None)
    if terminal_at is not None:
        assert terminal_at == len(accepted) - 1, "an event was accepted after a terminal one"
    assert rebuild(accepted) == intent
