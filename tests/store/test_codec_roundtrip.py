"""Property: below the HTTP layer, the store gives back exactly the intent and events it was given, and
what it gives back renders to the wire. On SQLite and PostgreSQL.

For any ``intentd.model.Intent`` whose values are within the wire's limits (``intentd.wire.limits``)
— every field set or not, every ``Status`` and ``WaitingReason``, a lease or none, JSON fields with
integers across 64 bits, ``-0.0``, subnormal and huge floats, NUL, control and astral characters, as
deep as a request may nest, stored text without NUL, times anywhere in 1970-9999 — and any events
(every ``EventType``, seqs up to the 32-bit maximum), written with ``Tx.insert_intent``:

- ``Tx.get_intent``, ``Tx.intent_by_idempotency_key`` and ``Tx.list_events`` read back values equal
  to those written, and the JSON fields byte-equal in orjson's text (which tells ``-0.0`` from
  ``0.0``, ``1`` from ``1.0`` and keeps the order of keys, all of which ``==`` forgives);
- ``Intent.to_wire()`` and ``Event.to_wire()`` serialise with orjson and validate as
  ``intentd.wire.Intent`` and ``intentd.wire.Event``, and each time renders in UTC with six fraction
  digits and ``Z`` and parses back to the very microsecond stored.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy

from intentd import wire
from intentd.model import Event, EventType, Intent, Lease, Status, WaitingReason
from intentd.store import Store
from intentd.wire.limits import EARLIEST_TIME, INT64_MAX, INT64_MIN, LATEST_TIME, MAX_JSON_DEPTH, MAX_SEQ
from tests._support.properties import against_one_database

JSON = dict[str, Any]
EXAMPLES = 60
PROPERTY = against_one_database(EXAMPLES)
INT32_MAX = 2**31 - 1  # INTEGER columns: attempts, policy_generation, last_seq, seq
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
RENDERED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
# A JSON field of a request sits one level below the body, which counts as the first.
MAX_FIELD_NESTING = MAX_JSON_DEPTH - 1


def micros(at: datetime) -> int:
    return (at - EPOCH) // US


FIRST_US, LAST_US = micros(EARLIEST_TIME), micros(LATEST_TIME)
ERA_US = micros(datetime(2000, 1, 1, tzinfo=UTC)), micros(datetime(2100, 1, 1, tzinfo=UTC))
TIMES = st.one_of(
    st.integers(FIRST_US, LAST_US),
    st.integers(*ERA_US),
    st.sampled_from([FIRST_US, FIRST_US + 1, 2**31 * 1_000_000 - 1, 2**31 * 1_000_000, LAST_US - 1, LAST_US]),
)

# --- values ------------------------------------------------------------------------------------------

AWKWARD = [chr(c) for c in (*range(0x01, 0x20), 0x7F, *range(0x80, 0xA0))]
AWKWARD += list("\u2028\u2029\ufeff\uffff\U0001f600\U0010ffff'\"\\%?$:")


def text(*, nul: bool = False, min_size: int = 0, max_size: int = 16) -> SearchStrategy[str]:
    """Any text without lone surrogates (no JSON text carries one); NUL only where ``nul``."""
    characters = st.one_of(
        st.characters(codec="utf-8", exclude_characters=None if nul else "\x00"),
        st.sampled_from(AWKWARD + (["\x00"] if nul else [])),
    )
    return st.text(characters, min_size=min_size, max_size=max_size)


def optional(values: SearchStrategy[Any]) -> SearchStrategy[Any]:
    return st.one_of(st.none(), values)


KEYS = st.one_of(text(nul=True, max_size=10), st.sampled_from(["", "__proto__", "0", "null", "\x00"]))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([INT64_MIN, INT64_MAX, 0, 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([-0.0, 0.0, 1.0, 5e-324, 1.7976931348623157e308, 9.223372036854776e18]),
    text(nul=True, max_size=24),
)
SHALLOW_JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=8,
)


def nesting(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(nesting, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(nesting, value), default=0)
    return 0


@st.composite
def json_objects(draw: DrawFn) -> JSON:
    """An object nesting at most as deep as a request's field may, often exactly that deep."""
    value: JSON = draw(st.dictionaries(KEYS, SHALLOW_JSON.filter(lambda v: nesting(v) < 4), max_size=4))
    if draw(st.booleans()):
        chain: Any = draw(SCALARS)
        for _ in range(draw(st.sampled_from([MAX_FIELD_NESTING - 1, 1, 5]))):
            chain = [chain] if draw(st.booleans()) else {draw(KEYS): chain}
        value[draw(KEYS)] = chain
    assert nesting(value) <= MAX_FIELD_NESTING
    return value


ADDRESSES = st.one_of(
    st.from_regex(
        r"agent://[A-Za-z0-9][A-Za-z0-9._\-]{0,8}(/[A-Za-z0-9][A-Za-z0-9._@\-]{0,8}){0,3}", fullmatch=True
    ),
    st.just("agent://" + "a" * 375),
)
INTENT_TYPES = st.from_regex(r"[a-z0-9_]{1,8}(\.[a-z0-9_]{1,8}){0,3}", fullmatch=True)
ERRORS = st.one_of(json_objects(), text(max_size=64))  # a worker may fail with a message (FailBody)
USAGE = st.dictionaries(text(max_size=8), st.one_of(st.integers(0, 10**15), st.floats(0, 1e15)), max_size=3)
POLICIES = st.fixed_dictionaries({}, optional={"grants": json_objects(), "envelope": json_objects()})
TRACE_CONTEXTS = st.fixed_dictionaries(
    {"traceparent": text(min_size=1, max_size=64)}, optional={"tracestate": text(max_size=512)}
)


@st.composite
def intents(draw: DrawFn) -> Intent:
    """An intent with every field drawn; its id and namespace are unique to the example (the rows of
    all examples share a database, with unique indexes on both)."""
    unique = uuid.uuid4().hex
    attempt = draw(st.integers(0, 100))
    lease = draw(
        optional(
            st.builds(Lease, text(min_size=1, max_size=255), text(max_size=200), TIMES, st.just(attempt))
        )
    )
    return Intent(
        intent_id=draw(text(min_size=1, max_size=200)) + unique,
        namespace=draw(text(max_size=150)) + unique,
        intent_type=draw(INTENT_TYPES),
        correlation_id=draw(text(min_size=1, max_size=128)),
        from_agent=draw(ADDRESSES),
        to_agent=draw(ADDRESSES),
        payload=draw(json_objects()),
        status=draw(st.sampled_from(Status)),
        created_at=draw(TIMES),
        updated_at=draw(TIMES),
        last_seq=draw(st.integers(0, MAX_SEQ)),
        reply_to=draw(optional(ADDRESSES)),
        parent_intent_id=draw(optional(text(min_size=1, max_size=255))),
        root_intent_id=draw(optional(text(min_size=1, max_size=255))),
        deadline_at=draw(optional(TIMES)),
        max_delivery_attempts=draw(st.integers(1, 100)),
        delivery_attempt=attempt,
        waiting_reason=draw(optional(st.sampled_from(WaitingReason))),
        result=draw(optional(json_objects())),
        error=draw(optional(ERRORS)),
        reason=draw(optional(text(max_size=2000))),
        lease=lease,
        policy_generation=draw(st.integers(0, INT32_MAX)),
        controls=draw(json_objects()),
        policy=draw(POLICIES),
        usage=draw(USAGE),
        idempotency_key=draw(optional(text(min_size=1, max_size=255))),
        request_hash=draw(optional(st.from_regex(r"[0-9a-f]{64}", fullmatch=True))),
        queued_at=draw(optional(TIMES)),
        trace_context=draw(optional(TRACE_CONTEXTS)),
    )


@st.composite
def events_of(draw: DrawFn, intent_id: str) -> list[Event]:
    seqs = draw(st.sets(st.one_of(st.integers(1, MAX_SEQ), st.sampled_from([1, 2, MAX_SEQ])), max_size=4))
    return [
        Event(
            intent_id=intent_id,
            seq=seq,
            event_type=draw(st.sampled_from(EventType)),
            status=draw(st.sampled_from(Status)),
            at=draw(TIMES),
            actor=draw(text(max_size=383)),
            waiting_reason=draw(optional(st.sampled_from(WaitingReason))),
            details=draw(json_objects()),
        )
        for seq in sorted(seqs)
    ]


@st.composite
def histories(draw: DrawFn) -> tuple[Intent, list[Event]]:
    intent = draw(intents())
    return intent, draw(events_of(intent.intent_id))


# --- what must hold ------------------------------------------------------------------------------------

JSON_FIELDS = ("payload", "result", "error", "controls", "policy", "usage", "trace_context")


def json_text(intent: Intent) -> bytes:
    """The JSON fields as orjson writes them: unlike ``==``, byte-equality tells -0.0 from 0.0, 1 from
    1.0 and True from 1, and sees the order of keys."""
    return orjson.dumps({name: getattr(intent, name) for name in JSON_FIELDS})


def assert_renders_exactly(rendered: str | None, us: int | None) -> None:
    """A time as the wire writes it: UTC, six digits, Z; and the same microsecond."""
    if us is None:
        assert rendered is None
        return
    assert rendered is not None and RENDERED_TIME.match(rendered), rendered
    assert micros(datetime.fromisoformat(rendered.replace("Z", "+00:00"))) == us, (rendered, us)


def assert_intent_renders(intent: Intent) -> None:
    data = orjson.loads(orjson.dumps(intent.to_wire()))
    model = wire.Intent.model_validate(data)
    assert (model.intent_id, model.status, model.last_seq) == (
        intent.intent_id,
        intent.status,
        intent.last_seq,
    )
    assert orjson.dumps(data["payload"]) == orjson.dumps(intent.payload)
    for name in ("created_at", "updated_at", "deadline_at"):
        assert_renders_exactly(data[name], getattr(intent, name))
    assert_renders_exactly(data["lease_expires_at"], intent.lease.expires_at if intent.lease else None)


def assert_event_renders(event: Event) -> None:
    data = orjson.loads(orjson.dumps(event.to_wire()))
    model = wire.Event.model_validate(data)
    assert (model.intent_id, model.seq, model.event_type) == (
        event.intent_id,
        event.seq,
        event.event_type.value,
    )
    assert orjson.dumps(data["details"]) == orjson.dumps(event.details)
    assert_renders_exactly(data["at"], event.at)


@PROPERTY
@given(history=histories())
async def test_the_store_gives_back_what_it_was_given(
    store: Store, history: tuple[Intent, list[Event]]
) -> None:
    intent, events = history
    await store.write(lambda tx: tx.insert_intent(intent, events))

    read = await store.read(lambda tx: tx.get_intent(intent.intent_id))
    assert read == intent
    assert json_text(read) == json_text(intent)
    if intent.idempotency_key is not None:
        key = intent.idempotency_key
        assert await store.read(lambda tx: tx.intent_by_idempotency_key(intent.namespace, key)) == intent

    read_events = await store.read(lambda tx: tx.list_events(intent.intent_id, 0, len(events) + 1))
    assert read_events == events
    assert [orjson.dumps(e.details) for e in read_events] == [orjson.dumps(e.details) for e in events]
    if events:
        after_first = await store.read(
            lambda tx: tx.list_events(intent.intent_id, events[0].seq, len(events))
        )
        assert after_first == events[1:]

    assert_intent_renders(read)
    for event in read_events:
        assert_event_renders(event)
