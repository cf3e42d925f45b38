"""The intent projection (evolve / rebuild), JSON merge patch, IDs, times and agent addresses."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Any

import pytest

from intentd.model import (
    Event,
    EventType,
    Status,
    ValidationFailed,
    evolve,
    from_rfc3339,
    merge_patch,
    new_id,
    normalize_address,
    rebuild,
    to_rfc3339,
)

T0 = 1_700_000_000_000_000


def _events() -> list[Event]:
    spec = {
        "namespace": "default",
        "intent_type": "t",
        "correlation_id": "c",
        "from_agent": "agent://a/b/from",
        "to_agent": "agent://a/b/to",
        "payload": {"x": 1},
        "max_delivery_attempts": 3,
        "controls": {"mode": {"fast": True, "depth": 2}},
    }
    return [
        Event("i-1", 1, EventType.CREATED, Status.CREATED, T0, "a", details=spec),
        Event("i-1", 2, EventType.SUBMITTED, Status.SUBMITTED, T0 + 1, "a"),
        Event(
            "i-1",
            3,
            EventType.DELIVERED,
            Status.DELIVERED,
            T0 + 2,
            "w",
            details={"delivery_attempt": 1, "lease_token": "tok", "worker": "w", "lease_expires_at": T0 + 99},
        ),
        Event(
            "i-1",
            4,
            EventType.PROGRESS,
            Status.DELIVERED,
            T0 + 3,
            "w",
            details={"usage": {"tokens": 5, "usd": 0.5, "note": "ignored"}},
        ),
        Event(
            "i-1",
            5,
            EventType.CONTROLS_UPDATED,
            Status.DELIVERED,
            T0 + 4,
            "op",
            details={"controls_patch": {"mode": {"depth": None, "slow": 1}}, "policy_generation": 1},
        ),
        Event(
            "i-1",
            6,
            EventType.COMPLETED,
            Status.COMPLETED,
            T0 + 5,
            "w",
            details={"result": {"ok": True}, "usage": {"tokens": 2}},
        ),
    ]


def test_rebuild_folds_every_event_into_the_projection() -> None:
    intent = rebuild(_events())
    assert intent.status is Status.COMPLETED
    assert intent.last_seq == 6
    assert intent.created_at == T0 and intent.updated_at == T0 + 5
    assert intent.result == {"ok": True}
    assert intent.lease is None  # a terminal intent holds no lease
    assert intent.delivery_attempt == 1
    assert intent.usage == {"tokens": 7, "usd": 0.5}
    assert intent.controls == {"mode": {"fast": True, "slow": 1}}
    assert intent.policy_generation == 1


def test_delivered_event_sets_the_lease_and_a_requeue_clears_it() -> None:
    delivered = rebuild(_events()[:3])
    assert delivered.lease is not None
    lease = delivered.lease
    assert (lease.token, lease.owner, lease.attempt, lease.expires_at) == ("tok", "w", 1, T0 + 99)
    released = evolve(delivered, Event("i-1", 4, EventType.RELEASED, Status.SUBMITTED, T0 + 9, "w"))
    assert released.lease is None
    assert released.delivery_attempt == 1  # the attempt count survives the requeue


@pytest.mark.parametrize("drop", [1, 2, 4])
def test_rebuild_rejects_a_seq_gap(drop: int) -> None:
    events = [e for e in _events() if e.seq != drop]
    with pytest.raises(ValueError, match="seq gap"):
        rebuild(events)


def test_rebuild_rejects_a_duplicate_seq_and_an_empty_log() -> None:
    events = _events()
    with pytest.raises(ValueError, match="seq gap"):
        rebuild([*events[:3], replace(events[3], seq=3)])
    with pytest.raises(ValueError, match="no events"):
        rebuild([])


def test_an_event_before_created_is_rejected() -> None:
    with pytest.raises(ValueError, match="before intent.created"):
        evolve(None, _events()[1])


# -- RFC 7386 JSON merge patch: the dict/dict rows of its Appendix A, plus nesting --------------


@pytest.mark.parametrize(
    ("base", "patch", "merged"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
        ({"a": "scalar"}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
        ({"missing": 1}, {"gone": None}, {"missing": 1}),
        ({"a": {"b": 1}}, {}, {"a": {"b": 1}}),
    ],
)
def test_merge_patch_follows_rfc_7386(
    base: dict[str, Any], patch: dict[str, Any], merged: dict[str, Any]
) -> None:
    assert merge_patch(base, patch) == merged


def test_merge_patch_leaves_its_inputs_alone() -> None:
    base = {"a": {"b": 1, "c": 2}}
    patch = {"a": {"b": None}}
    merge_patch(base, patch)
    assert base == {"a": {"b": 1, "c": 2}}
    assert patch == {"a": {"b": None}}


# -- IDs and times ----------------------------------------------------------------------------


def test_new_id_is_a_uuid_version_7_carrying_the_current_unix_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(new_id())
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_new_ids_are_unique_and_sort_by_creation_time() -> None:
    first = [new_id() for _ in range(200)]
    later = new_id()
    while uuid.UUID(later).int >> 80 == uuid.UUID(first[-1]).int >> 80:
        later = new_id()  # within one millisecond the order is random; across them it is not
    assert len(set(first)) == len(first)
    assert all(later > earlier for earlier in first)
    stamps = [uuid.UUID(i).int >> 80 for i in first]
    assert stamps == sorted(stamps)


def test_rfc3339_round_trips_microseconds_in_utc() -> None:
    text = to_rfc3339(T0 + 123_456)
    assert text is not None and text.endswith("Z")
    assert from_rfc3339(text) == T0 + 123_456
    assert from_rfc3339("2023-11-14T22:13:20+00:00") == T0
    assert from_rfc3339("2023-11-14T22:13:20") == T0  # naive means UTC
    assert to_rfc3339(None) is None


def test_rfc3339_always_has_six_fraction_digits_so_text_order_is_time_order() -> None:
    assert to_rfc3339(T0) == "2023-11-14T22:13:20.000000Z"
    stamps = [to_rfc3339(T0 + delta) for delta in (0, 1, 999_999, 1_000_000)]
    assert stamps == sorted(stamps)


# -- agent addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        ("agent://acme/prod/writer", "agent://acme/prod/writer"),
        ("acme/prod/writer", "agent://acme/prod/writer"),
        ("writer", "agent://writer"),
        ("/acme/prod/writer/", "agent://acme/prod/writer"),
        ("agent://acme/prod/writer@v2", "agent://acme/prod/writer@v2"),
    ],
)
def test_normalize_address_accepts_every_form_of_one_agent(given: str, normal: str) -> None:
    assert normalize_address(given) == normal


@pytest.mark.parametrize(
    "junk",
    [
        "",
        "agent://",
        "/",
        "acme//writer",
        "acme/prod/wri ter",
        "-acme/writer",
        "acme/pr?d",
        "agent://acme/" + "x" * 400,
        "http://acme/writer",
    ],
)
def test_normalize_address_rejects_junk_naming_the_field(junk: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalize_address(junk, field="reply_to")
    assert caught.value.code == "validation_error"
    assert caught.value.details["field"] == "reply_to"
    assert caught.value.details["value"] == junk[:100]
