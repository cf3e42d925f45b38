"""Property: what the create route accepts can always be read back, byte-equal or clearly normalised;
what it refuses leaves nothing behind. On SQLite and PostgreSQL, through the HTTP API of the app.

1. Any create body the wire models accept (``intentd.wire.requests`` within ``intentd.wire.limits``):
   arbitrary JSON payloads nesting as deep as the body limit allows, integers across the whole signed
   64-bit range, finite floats (``-0.0``, subnormals, the largest double), text with astral characters
   and every control character, keys of every kind; addresses with and without ``agent://`` and
   surrounding slashes; ``deadline_at`` at any instant of the accepted range written with any offset
   from -23:59 to +23:59; the AXP human-task extras; unknown fields; an ``Idempotency-Key``. Each is
   sent as orjson writes it or as ASCII with escapes, and answered 200. Read back through the create
   answer, ``GET``, the list, the event log, the raw event stream and the SDK's ``observe``:

   - the payload is byte-equal to the one sent (``orjson.dumps`` with sorted keys), NUL characters
     inside it included (JSON text escapes them, so PostgreSQL's TEXT holds them). ``-0.0`` is not
     normalised: orjson reads it as ``-0.0`` and writes ``-0.0``, and the payload is stored as that
     text, so it is compared byte-equal like everything else;
   - ``deadline_at`` is the same instant, rendered in UTC with six fraction digits and ``Z``;
   - ``to_agent``, ``reply_to`` and ``from_agent`` are normalised to ``agent://org/env/name``;
   - the correlation id, intent type, attempts, parent id and the AXP extras are unchanged;
   - every answer validates as its documented model in ``intentd.wire``.

2. A body just past one limit (one more level of nesting, an integer past 64 bits, NaN, a lone
   surrogate, NUL in stored text, a time past 9999-12-30 or before 1970 once its offset is applied,
   one character too many, a number of the wrong type, a missing field, too many bytes) is answered
   with its 4xx in the error shape, and the intent list and the agent list are what they were.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import httpx
import orjson
import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy
from pydantic import BaseModel

from intentd import wire
from intentd.client import AsyncClient
from intentd.wire.limits import EARLIEST_TIME, INT64_MAX, INT64_MIN, LATEST_TIME, MAX_JSON_DEPTH
from intentd.wire.requests import CreateIntent
from tests._support.http_api import JSON
from tests._support.properties import against_one_database
from tests._support.servers import API_KEY, BASE_URL, AppClient

EXAMPLES = 50
PROPERTY = against_one_database(EXAMPLES)
SCHEME = "agent://"
TEN_YEARS = 10 * 365 * 24 * 3600
MAX_BODY_BYTES = 1 << 20
# The body is the outermost level of nesting, so a payload (or any other field) may nest one less.
MAX_FIELD_NESTING = MAX_JSON_DEPTH - 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
RENDERED_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
# What must read back exactly as the create answer had it (status and updated_at move on their own
# when a past deadline fires).
STABLE_FIELDS = (
    "intent_id",
    "intent_type",
    "correlation_id",
    "from_agent",
    "to_agent",
    "reply_to",
    "parent_intent_id",
    "root_intent_id",
    "payload",
    "created_at",
    "deadline_at",
    "max_delivery_attempts",
    "workflow_control_policy",
    "idempotency_key",
)


def micros(at: datetime) -> int:
    return (at - EPOCH) // US


def rendered(us: int) -> str:
    """How the API writes an instant: UTC, six fraction digits, ``Z``."""
    return (EPOCH + us * US).isoformat(timespec="microseconds").replace("+00:00", "Z")


def sorted_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def nesting(value: Any) -> int:
    """Levels of objects and arrays: 0 for a scalar, 1 for ``{}``."""
    if isinstance(value, dict):
        return 1 + max(map(nesting, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(nesting, value), default=0)
    return 0


# --- values --------------------------------------------------------------------------------------

CONTROL_CHARACTERS = [chr(c) for c in (*range(0x01, 0x20), 0x7F, *range(0x80, 0xA0))]
# Characters some reader treats as a line end, quote, escape or marker, and the ends of the planes.
AWKWARD_CHARACTERS = list("\u2028\u2029\ufeff\ufffe\uffff\U00010000\U0001f600\U0010ffff")
AWKWARD_CHARACTERS += list("\"\\/'<&%+#=? ")


def characters(*, nul: bool) -> SearchStrategy[str]:
    """Any character but a lone surrogate (which JSON text cannot carry); NUL only where ``nul``."""
    special = CONTROL_CHARACTERS + AWKWARD_CHARACTERS + (["\x00"] if nul else [])
    return st.one_of(
        st.characters(codec="utf-8", exclude_characters=None if nul else "\x00"), st.sampled_from(special)
    )


def text(*, nul: bool = False, min_size: int = 0, max_size: int = 16) -> SearchStrategy[str]:
    return st.text(characters(nul=nul), min_size=min_size, max_size=max_size)


KEYS = st.one_of(
    text(nul=True, max_size=12),
    st.sampled_from(
        ["", "__proto__", "constructor", "0", "-0.0", "1e3", "null", "true", "$ref", "a.b", "\x00"]
    ),
)
INT64 = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from([INT64_MIN, INT64_MIN + 1, -(2**53) - 1, -1, 0, 2**53 + 1, INT64_MAX - 1, INT64_MAX]),
)
FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    # -0.0, the smallest subnormal and normal, 2**63 (re-read as a literal by the edge), the largest double
    st.sampled_from([-0.0, 0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 9.223372036854776e18]),
    st.sampled_from([-9.223372036854776e18, 1e16, 0.1, 1.7976931348623157e308, -1.7976931348623157e308]),
)
SCALARS = st.one_of(st.none(), st.booleans(), INT64, FLOATS, text(nul=True, max_size=24))
SHALLOW_JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
).filter(lambda value: nesting(value) < MAX_FIELD_NESTING)


@st.composite
def buried(draw: DrawFn, value: Any, levels: int) -> Any:
    """``value`` inside ``levels`` objects and arrays (each one or the other, with a sibling or not)."""
    for _ in range(levels):
        sibling = draw(st.one_of(st.none(), SCALARS))
        if draw(st.booleans()):
            value = [value] if sibling is None else [sibling, value]
        else:
            key = draw(KEYS)
            value = {key: value} if sibling is None else {f"{key}~": sibling, key: value}
    return value


@st.composite
def json_objects(draw: DrawFn, max_nesting: int = MAX_FIELD_NESTING) -> JSON:
    """A JSON object (a payload, a human task) nesting at most ``max_nesting`` levels, often exactly."""
    fields = st.dictionaries(KEYS, SHALLOW_JSON.filter(lambda v: nesting(v) < max_nesting), max_size=5)
    value: JSON = draw(fields)
    if draw(st.booleans()):
        levels = draw(st.one_of(st.just(max_nesting - 1), st.integers(0, max_nesting - 1)))
        value[draw(KEYS)] = draw(buried(draw(SCALARS), levels))
    return value


# --- fields of a create ----------------------------------------------------------------------------

FIRST_SEGMENT = st.text(st.sampled_from("ab09AZ._-"), max_size=12).map(lambda tail: "a" + tail)
SEGMENT = st.text(st.sampled_from("ab09AZ._-@"), max_size=12).map(lambda tail: "Z" + tail)
ADDRESS_PATHS = st.one_of(
    st.builds(lambda first, rest: "/".join([first, *rest]), FIRST_SEGMENT, st.lists(SEGMENT, max_size=4)),
    st.just("a" * (383 - len(SCHEME))),  # the longest address, scheme included
    st.just("x"),
)


@st.composite
def addresses(draw: DrawFn) -> tuple[str, str]:
    """(as sent, as the API must normalise it): with or without ``agent://``, with slashes around."""
    path = draw(ADDRESS_PATHS)
    scheme = draw(st.sampled_from(["", SCHEME]))
    leading, trailing = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    sent = scheme + "/" * leading + path + "/" * trailing
    if len(sent) > 383:
        sent = SCHEME + path
    return sent, SCHEME + path


INTENT_TYPES = st.one_of(
    st.lists(st.text(st.sampled_from("az09_"), min_size=1, max_size=10), min_size=1, max_size=5).map(
        ".".join
    ),
    st.just("a" * 255),
)
CORRELATION_IDS = st.one_of(text(min_size=1, max_size=128), st.just("\U0010ffff" * 128), st.just(" "))
FIRST_US, LAST_US = micros(EARLIEST_TIME), micros(LATEST_TIME)
INSTANTS = st.one_of(
    st.integers(FIRST_US, LAST_US),
    st.sampled_from([FIRST_US, FIRST_US + 1, LAST_US - 1, LAST_US]),
    st.integers(micros(datetime(2020, 1, 1, tzinfo=UTC)), micros(datetime(2040, 1, 1, tzinfo=UTC))),
)
OFFSETS = st.one_of(st.integers(-1439, 1439), st.sampled_from([-1439, 0, 1439]))


def rfc3339(local: datetime, fraction: str, zone: str) -> str:
    return local.strftime("%Y-%m-%dT%H:%M:%S") + fraction + zone


@st.composite
def deadlines(draw: DrawFn) -> tuple[str, int]:
    """(as sent, the instant in microseconds): the instant written in the local time of an offset."""
    us, minutes = draw(INSTANTS), draw(OFFSETS)
    local = (EPOCH + us * US).astimezone(timezone(timedelta(minutes=minutes)))
    digits = f"{local.microsecond:06d}"
    fraction = draw(
        st.sampled_from(
            ["." + digits, "." + (digits.rstrip("0") or "0")] + ([""] if local.microsecond == 0 else [])
        )
    )
    sign, magnitude = "-" if minutes < 0 else "+", abs(minutes)
    zones = [f"{sign}{magnitude // 60:02d}:{magnitude % 60:02d}"] + (["Z", "-00:00"] if minutes == 0 else [])
    return rfc3339(local, fraction, draw(st.sampled_from(zones))), us


@dataclass(frozen=True)
class Create:
    """A create body the wire models accept, how it is sent, and what must read back."""

    body: JSON
    content: bytes
    idempotency_key: str | None
    to_agent: str
    reply_to: str | None
    from_agent: str | None
    escalate_to: str | None
    deadline_us: int | None


def encode(body: JSON, ascii_only: bool) -> bytes:
    """orjson's UTF-8, or the standard library's ASCII with ``\\u`` escapes (surrogate pairs too)."""
    return json.dumps(body, ensure_ascii=True).encode() if ascii_only else orjson.dumps(body)


EXTRA_KEYS = st.one_of(KEYS, st.sampled_from(["__class__", "__dict__", "model_config", "_raw", "ok"])).filter(
    lambda key: key not in CreateIntent.model_fields
)
OPTIONAL_ADDRESS = st.one_of(st.none(), addresses())


def human_tasks() -> SearchStrategy[JSON]:
    """AXP HumanTaskSpecs: every field optional, unknown fields kept (the SDK's README sends some)."""
    return st.fixed_dictionaries(
        {},
        optional={
            "title": text(min_size=1, max_size=40),
            "description": text(max_size=40),
            "task_type": st.sampled_from(wire.TASK_TYPES),
            "assignees": st.lists(text(min_size=1, max_size=20), max_size=3),
            "required_comment": st.booleans(),
            "notify_email": st.just("boss@acme.test"),
            "timeout_seconds": st.integers(1, TEN_YEARS),
        },
    )


@st.composite
def creates(draw: DrawFn) -> Create:
    to_agent, reply_to, from_agent, escalate_to = (
        draw(addresses()),
        *(draw(OPTIONAL_ADDRESS) for _ in "abc"),
    )
    deadline = draw(deadlines())
    optional: JSON = {
        "reply_to": reply_to[0] if reply_to else None,
        "from_agent": from_agent[0] if from_agent else None,
        "escalate_to": escalate_to[0] if escalate_to else None,
        "deadline_at": deadline[0],
        "max_delivery_attempts": draw(st.one_of(st.none(), st.integers(1, 100), st.sampled_from([1, 100]))),
        "parent_intent_id": draw(st.one_of(st.none(), text(min_size=1, max_size=255))),
        "human_task": draw(st.one_of(st.none(), human_tasks())),
        "remind_after_seconds": draw(st.one_of(st.none(), st.integers(1, TEN_YEARS))),
        "remind_interval_seconds": draw(st.one_of(st.none(), st.integers(1, TEN_YEARS))),
        "max_reminders": draw(st.one_of(st.none(), st.integers(0, 1000))),
    }
    # Each optional field absent or present (None is absent: a null is the default, not a value).
    present = draw(st.sets(st.sampled_from(sorted(optional))))
    body: JSON = {
        "intent_type": draw(INTENT_TYPES),
        "correlation_id": draw(CORRELATION_IDS),
        "to_agent": to_agent[0],
        "payload": draw(json_objects()),
        **{name: value for name, value in optional.items() if name in present and value is not None},
        **draw(st.dictionaries(EXTRA_KEYS, SHALLOW_JSON, max_size=2)),
    }
    key = draw(
        st.one_of(st.none(), st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40))
    )
    return Create(
        body=body,
        content=encode(body, draw(st.booleans())),
        idempotency_key=None if key is None else f"{key}/{uuid.uuid4().hex}",
        to_agent=to_agent[1],
        reply_to=reply_to[1] if reply_to and "reply_to" in body else None,
        from_agent=from_agent[1] if from_agent and "from_agent" in body else None,
        escalate_to=escalate_to[1] if escalate_to and "escalate_to" in body else None,
        deadline_us=deadline[1] if "deadline_at" in body else None,
    )


# --- reading it back ---------------------------------------------------------------------------------


async def post(api: AppClient, content: bytes, idempotency_key: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return await api.post("/v1/intents", content=content, headers=headers)


async def get_json(api: AppClient, path: str, model: type[BaseModel], **params: Any) -> JSON:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    answer: JSON = response.json()
    model.model_validate(answer)
    return answer


def assert_submitted_as_sent(intent: JSON, sent: Create) -> None:
    """The fields of the create answer against the body: byte-equal, or normalised as documented."""
    body = sent.body
    assert sorted_json(intent["payload"]) == sorted_json(body["payload"])
    assert intent["intent_type"] == body["intent_type"]
    assert intent["correlation_id"] == body["correlation_id"]
    assert intent["to_agent"] == sent.to_agent
    assert intent["reply_to"] == sent.reply_to
    if sent.from_agent is not None:
        assert intent["from_agent"] == sent.from_agent
    expected_deadline = None if sent.deadline_us is None else rendered(sent.deadline_us)
    assert intent["deadline_at"] == expected_deadline, f"sent {body.get('deadline_at')!r}"
    assert intent["max_delivery_attempts"] == body.get("max_delivery_attempts", 5)
    assert intent["parent_intent_id"] == body.get("parent_intent_id")
    assert intent["root_intent_id"] == body.get("parent_intent_id", intent["intent_id"])
    assert intent["idempotency_key"] == sent.idempotency_key
    asks = "human_task" in body  # a person decides before the agent gets it (docs/humans.md)
    expected = ("WAITING", 3, 0) if asks else ("SUBMITTED", 2, 0)
    assert (intent["status"], intent["last_seq"], intent["delivery_attempt"]) == expected
    for name in ("created_at", "updated_at"):
        assert RENDERED_TIME.match(intent[name]), intent[name]
    extras = {name: body[name] for name in wire.AXP_EXTRAS if name in body}
    controls = dict(intent["workflow_control_policy"]["controls"])
    if asks:  # kept as the task asked, AXP's top-level reminder and escalation fields folded in
        task, kept = extras.pop("human_task"), controls["human_task"]
        assert {k: kept[k] for k in task} == task
        assert {k: kept[k] for k in extras if k not in task} == {
            k: v for k, v in extras.items() if k not in task
        }
        return
    assert sorted_json(controls) == sorted_json(extras)


async def created(api: AppClient, sent: Create) -> JSON:
    """POST it (twice with an Idempotency-Key: the replay answers the same intent); the answer."""
    response = await post(api, sent.content, sent.idempotency_key)
    assert response.status_code == 200, response.text
    answer: JSON = response.json()
    wire.CreateAnswer.model_validate(answer)
    assert answer["idempotent_replay"] is False
    extra = sorted(set(sent.body) - set(CreateIntent.model_fields))
    assert answer.get("ignored_fields") == (extra or None)
    status = "WAITING" if "human_task" in sent.body else "SUBMITTED"
    assert (answer["intent_id"], answer["status"]) == (answer["intent"]["intent_id"], status)
    assert_submitted_as_sent(answer["intent"], sent)
    if sent.idempotency_key is not None:
        replay = (await post(api, sent.content, sent.idempotency_key)).json()
        assert replay["idempotent_replay"] is True, replay
        assert stable(replay["intent"]) == stable(answer["intent"])
    return answer


def stable(intent: JSON) -> bytes:
    return sorted_json({name: intent[name] for name in STABLE_FIELDS})


async def listed(api: AppClient, intent: JSON) -> JSON:
    """The intent as the list shows it, filtered by its correlation id and agent, page by page."""
    params: JSON = {"correlation_id": intent["correlation_id"], "to_agent": intent["to_agent"], "limit": 500}
    while True:
        page = await get_json(api, "/v1/intents", wire.IntentPage, **params)
        for item in page["intents"]:
            if item["intent_id"] == intent["intent_id"]:
                return dict(item)
        assert page["has_more"], f"{intent['intent_id']} is not in the list filtered by its own fields"
        params["cursor"] = page["next_cursor"]


def assert_events_as_sent(events: list[JSON], sent: Create) -> None:
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    kinds = [e["event_type"] for e in events]
    assert kinds[:2] == ["intent.created", "intent.submitted"]
    asked = ["intent.human_task_assigned"] if "human_task" in sent.body else []  # a person is asked
    assert kinds[2:] in (asked, [*asked, "intent.timed_out"]), kinds  # a deadline that has passed fires
    details = events[0]["details"]
    assert sorted_json(details["payload"]) == sorted_json(sent.body["payload"])
    assert (details["correlation_id"], details["intent_type"]) == (
        sent.body["correlation_id"],
        sent.body["intent_type"],
    )
    assert details["to_agent"] == sent.to_agent


# --- the event stream --------------------------------------------------------------------------------

SSE_LINE_END = re.compile(r"\r\n|\r|\n")  # the only line ends of text/event-stream (WHATWG HTML §9.2.5)


def sse_frames(raw: bytes) -> list[tuple[str, str | None, str]]:
    """(event, id, data) of each frame of an event stream, split by the SSE rules."""
    frames: list[tuple[str, str | None, str]] = []
    event, event_id, data = "", None, list[str]()
    for line in SSE_LINE_END.split(raw.decode()):
        if not line:
            if event or data:
                frames.append((event or "message", event_id, "\n".join(data)))
            event, event_id, data = "", None, list[str]()
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "id":
            event_id = value
        elif name == "data":
            data.append(value)
    return frames


async def assert_stream_replays(api: AppClient, intent_id: str, events: list[JSON]) -> None:
    """The stream from the start sends each event as the event log has it, byte for byte (it may
    have one more, should a deadline fire between the two reads), then ends: with ``stream.timeout``
    at once (``wait_seconds=0``), or with the terminal event."""
    response = await api.get(f"/v1/intents/{intent_id}/events/stream", params={"since": 0, "wait_seconds": 0})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = sse_frames(response.content)
    by_seq = {e["seq"]: e for e in events}
    streamed: list[JSON] = []
    for name, event_id, data in frames:
        if name == "stream.timeout":
            wire.StreamTimeout.model_validate(orjson.loads(data))
            continue
        event = orjson.loads(data)
        wire.Event.model_validate(event)
        streamed.append(event)
        assert (name, event_id) == (event["event_type"], str(event["seq"]))
        if event["seq"] in by_seq:
            assert sorted_json(event) == sorted_json(by_seq[event["seq"]])
    assert [e["seq"] for e in streamed] == list(range(1, len(streamed) + 1))
    assert len(streamed) >= len(events)
    last_name, _, last_data = frames[-1]
    assert last_name == "stream.timeout" or orjson.loads(last_data)["status"] == "TIMED_OUT", last_name


async def assert_sdk_observes(api: AppClient, intent_id: str, events: list[JSON]) -> None:
    """The SDK's ``observe`` reads the same events, byte for byte."""
    async with AsyncClient(BASE_URL, API_KEY, transport=api.to_app(), max_retries=0) as sdk:
        seen: list[JSON] = []
        observed = cast(AsyncGenerator[wire.Event, None], sdk.observe(intent_id, wait_seconds=0, timeout=10))
        async with aclosing(observed) as stream:
            async for event in stream:
                seen.append(event.raw)
                if len(seen) == 2:
                    break
    assert [sorted_json(e) for e in seen] == [sorted_json(e) for e in events[:2]]


# --- the properties ------------------------------------------------------------------------------------


def create_of(deadline_at: str | None = None, **fields: Any) -> Create:
    """A plain create with ``fields`` (for the examples a failure found, which run first every time)."""
    body: JSON = {"intent_type": "intent.demo.v1", "correlation_id": "c-1", "to_agent": "acme/prod/writer"}
    body |= {"payload": {}, **fields} | ({"deadline_at": deadline_at} if deadline_at else {})
    deadline_us = micros(datetime.fromisoformat(deadline_at)) if deadline_at else None
    return Create(body, orjson.dumps(body), None, "agent://acme/prod/writer", None, None, None, deadline_us)


# Found by this test: a deadline read back one microsecond off (parsed through a float timestamp).
DEADLINE_OF_THIS_ERA = create_of(deadline_at="2005-07-02T02:29:34.463307Z")
DEADLINE_FAR_AHEAD = create_of(deadline_at="2500-01-01T00:00:00.000001Z")
# Found by this test: the SDK split an event's JSON at U+2028 (SSE ends lines only at CR and LF).
LINE_SEPARATOR_IN_PAYLOAD = create_of(payload={"text": "one\u2028two\u2029three\x85four"})


@PROPERTY
@given(sent=creates())
@example(sent=DEADLINE_OF_THIS_ERA)
@example(sent=DEADLINE_FAR_AHEAD)
@example(sent=LINE_SEPARATOR_IN_PAYLOAD)
async def test_an_accepted_create_reads_back_as_sent(api: AppClient, sent: Create) -> None:
    # The arguments of an async property are not shown with its failure: the request is.
    note(f"POST /v1/intents Idempotency-Key={sent.idempotency_key!r}\n{sent.content!r}")
    answer = await created(api, sent)
    intent_id = answer["intent_id"]
    got = (await get_json(api, f"/v1/intents/{intent_id}", wire.IntentAnswer))["intent"]
    assert stable(got) == stable(answer["intent"])
    assert stable(await listed(api, got)) == stable(answer["intent"])
    events = (await get_json(api, f"/v1/intents/{intent_id}/events", wire.EventList))["events"]
    assert_events_as_sent(events, sent)
    await assert_stream_replays(api, intent_id, events)
    await assert_sdk_observes(api, intent_id, events)


# --- just past a limit -----------------------------------------------------------------------------

# A value replaced, after encoding, by raw JSON text no encoder writes (NaN, an integer past 64 bits).
PLACEHOLDER = "@@literal-7f3a@@"
Sent = tuple[bytes, dict[str, str]]  # the body and the headers of a request
Mutation = Callable[[DrawFn, JSON], Sent]


def with_literal(body: JSON, literal: bytes) -> bytes:
    content = orjson.dumps(body)
    assert content.count(PLACEHOLDER.encode()) == 1
    return content.replace(f'"{PLACEHOLDER}"'.encode(), literal)


def plain(body: JSON) -> Sent:
    return orjson.dumps(body), {}


def literal_in_payload(literals: list[bytes]) -> Mutation:
    """One of ``literals`` somewhere in the payload, as a value (or as a key, for a string)."""

    def mutate(draw: DrawFn, body: JSON) -> Sent:
        literal = draw(st.sampled_from(literals))
        if literal.startswith(b'"') and draw(st.booleans()):
            body["payload"][PLACEHOLDER] = draw(SCALARS)
        else:
            body["payload"][draw(KEYS)] = draw(
                buried(PLACEHOLDER, draw(st.integers(0, MAX_FIELD_NESTING - 1)))
            )
        return with_literal(body, literal), {}

    return mutate


def literal_in_field(fields: list[str], literals: list[bytes]) -> Mutation:
    def mutate(draw: DrawFn, body: JSON) -> Sent:
        body[draw(st.sampled_from(fields))] = PLACEHOLDER
        return with_literal(body, draw(st.sampled_from(literals))), {}

    return mutate


def one_level_too_deep(draw: DrawFn, body: JSON) -> Sent:
    """A payload, human task or unknown field one level deeper than the body may nest."""
    field = draw(st.sampled_from(["payload", "human_task", "unknown"]))
    value = body["payload"] if field == "payload" else {}
    value[draw(KEYS)] = draw(buried(draw(SCALARS), MAX_FIELD_NESTING))
    body[field] = value
    assert nesting(body) == MAX_JSON_DEPTH + 1
    return plain(body)


TEXT_FIELDS = ["correlation_id", "intent_type", "to_agent", "reply_to", "from_agent", "escalate_to"]


def nul_in_text(draw: DrawFn, body: JSON) -> Sent:
    """NUL in a field that is stored as text, or in the Idempotency-Key."""
    field = draw(st.sampled_from([*TEXT_FIELDS, "parent_intent_id", "Idempotency-Key"]))
    current = body.get(field)
    value = current if isinstance(current, str) and current else draw(addresses())[0]
    at = draw(st.integers(0, len(value)))
    value = value[:at] + "\x00" + value[at:]
    if field == "Idempotency-Key":
        return orjson.dumps(body), {field: value}
    body[field] = value
    return plain(body)


MAX_LOCAL = datetime(9999, 12, 31, 23, 59, 59, 999999)


@st.composite
def times_out_of_range(draw: DrawFn) -> str:
    """A wall time and offset whose instant is past 9999-12-30 or before 1970 in UTC; written in
    RFC 3339 (so within year 9999 locally: the instant may fall in year 10000)."""
    late = draw(st.booleans())
    lowest, highest = (
        (datetime(9999, 12, 29), MAX_LOCAL) if late else (datetime(1969, 12, 30), datetime(1970, 1, 2))
    )
    local = draw(st.datetimes(lowest, highest))
    minutes = draw(OFFSETS)
    instant = (local - EPOCH.replace(tzinfo=None)) // US - minutes * 60_000_000
    if not (instant > LAST_US if late else instant < FIRST_US):
        local, minutes = (MAX_LOCAL, -1439) if late else (datetime(1970, 1, 1), 1)
    sign, magnitude = "-" if minutes < 0 else "+", abs(minutes)
    zone = f"{sign}{magnitude // 60:02d}:{magnitude % 60:02d}"
    return rfc3339(local, f".{local.microsecond:06d}", zone)


def field_set_to(fields: list[str], values: SearchStrategy[Any]) -> Mutation:
    """One of ``fields`` set to one of ``values``."""

    def mutate(draw: DrawFn, body: JSON) -> Sent:
        body[draw(st.sampled_from(fields))] = draw(values)
        return plain(body)

    return mutate


def header_set_to(values: SearchStrategy[str]) -> Mutation:
    def mutate(draw: DrawFn, body: JSON) -> Sent:
        return orjson.dumps(body), {"Idempotency-Key": draw(values)}

    return mutate


def field_missing(draw: DrawFn, body: JSON) -> Sent:
    del body[draw(st.sampled_from(["intent_type", "correlation_id", "to_agent", "payload"]))]
    return plain(body)


def raw_body(bodies: list[bytes]) -> Mutation:
    return lambda draw, _: (draw(st.sampled_from(bodies)), {})


def too_many_bytes(draw: DrawFn, body: JSON) -> Sent:
    body["payload"][draw(KEYS)] = "x" * MAX_BODY_BYTES
    return plain(body)


ADDRESS_FIELDS = ["to_agent", "reply_to", "from_agent", "escalate_to"]
BAD_ADDRESSES = [
    "-a",
    "_a",
    ".a",
    "a//b",
    "a b",
    "agent:/a",
    "http://a/b",
    "agent://",
    "/",
    "a/b?c",
    "a/\u00e9",
]
BAD_ADDRESSES += ["agent://agent://a", " a", "a\n", "a/b\n", "\ta"]
TOO_LONG_ADDRESSES = ["a" * 384, SCHEME + "a" * 376, "/" + "a" * 383]
BAD_INTENT_TYPES = ["A", "a..b", ".a", "a.", "a b", "a-b", "\u00e4", "a\n"]
OUT_OF_RANGE_INTEGERS = [str(n).encode() for n in (2**63, 2**64 - 1, 2**64, 10**30, -(2**63) - 1, -(2**64))]
LONE_SURROGATES = [b'"\\ud800"', b'"a\\udfffb"', b'"\\ude00\\ud83d"', b'"\\udbff"']
NOT_TIMES = [True, [], {}, "", "tomorrow", "2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T25:00:00Z"]
NOT_TIMES += ["2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+01:00:30"]
NAIVE_TIMES = st.datetimes(datetime(1971, 1, 1), datetime(9999, 12, 28)).map(datetime.isoformat)
INTEGER_FIELDS = ["max_delivery_attempts", "remind_after_seconds", "max_reminders"]
BAD_REMINDERS = [0, TEN_YEARS + 1, 1.0, True, "1"]
# (what, how, the status it must get)
MUTATIONS: list[tuple[str, Mutation, int]] = [
    ("nests one level too deep", one_level_too_deep, 422),
    ("an integer past 64 bits", literal_in_payload(OUT_OF_RANGE_INTEGERS), 422),
    ("an integer field past 64 bits", literal_in_field(INTEGER_FIELDS, OUT_OF_RANGE_INTEGERS), 422),
    (
        "not a finite number",
        literal_in_payload([b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e999"]),
        400,
    ),
    ("a lone surrogate", literal_in_payload(LONE_SURROGATES), 400),
    ("a lone surrogate in stored text", literal_in_field(TEXT_FIELDS, LONE_SURROGATES), 400),
    ("NUL in stored text", nul_in_text, 422),
    ("a time outside 1970-9999 in UTC", field_set_to(["deadline_at"], times_out_of_range()), 422),
    ("a time without a zone", field_set_to(["deadline_at"], NAIVE_TIMES), 422),
    ("not a time", field_set_to(["deadline_at"], st.sampled_from(NOT_TIMES)), 422),
    ("a correlation id too long", field_set_to(["correlation_id"], text(min_size=129, max_size=129)), 422),
    ("a parent id too long", field_set_to(["parent_intent_id"], text(min_size=256, max_size=256)), 422),
    ("an intent type too long", field_set_to(["intent_type"], st.just("a" * 256)), 422),
    ("an address too long", field_set_to(ADDRESS_FIELDS, st.sampled_from(TOO_LONG_ADDRESSES)), 422),
    ("an empty text field", field_set_to([*TEXT_FIELDS, "parent_intent_id"], st.just("")), 422),
    ("an Idempotency-Key too long or empty", header_set_to(st.sampled_from(["k" * 256, ""])), 422),
    ("an intent type off its pattern", field_set_to(["intent_type"], st.sampled_from(BAD_INTENT_TYPES)), 422),
    # escalate_to is no address only: a person or ``role:<name>`` too (docs/humans.md)
    ("an address off its pattern", field_set_to(ADDRESS_FIELDS[:3], st.sampled_from(BAD_ADDRESSES)), 422),
    (
        "bad attempts",
        field_set_to(["max_delivery_attempts"], st.sampled_from([0, 101, -1, True, 1.0, "5", None])),
        422,
    ),
    (
        "bad reminders",
        field_set_to(["remind_after_seconds", "remind_interval_seconds"], st.sampled_from(BAD_REMINDERS)),
        422,
    ),
    ("bad max_reminders", field_set_to(["max_reminders"], st.sampled_from([-1, 1001, 1.5, False])), 422),
    (
        "a payload that is not an object",
        field_set_to(["payload"], st.sampled_from([None, [], "x", 1, True])),
        422,
    ),
    (
        "a human task that is not an object",
        field_set_to(["human_task"], st.sampled_from([[], "x", 1, True])),
        422,
    ),
    (
        "a text field that is not text",
        field_set_to(TEXT_FIELDS, st.sampled_from([1, True, [], {}, 1.5])),
        422,
    ),
    ("a required field missing", field_missing, 422),
    ("a body that is not an object", raw_body([b"[]", b'"x"', b"1", b"null", b"true", b""]), 422),
    (
        "a body that is not JSON",
        raw_body([b'{"a":', b"{'a': 1}", b'{"a":1,}', b"\xff\xfe", b'{"a":1}x']),
        400,
    ),
    ("a body too large", too_many_bytes, 413),
]


@dataclass(frozen=True)
class Refused:
    what: str
    content: bytes
    headers: dict[str, str]
    status: int


@st.composite
def refusals(draw: DrawFn) -> Refused:
    """An accepted body, then one thing in it just past a limit."""
    body = dict(draw(creates()).body)
    what, mutate, status = draw(st.sampled_from(MUTATIONS))
    content, headers = mutate(draw, body)
    return Refused(what, content, headers, status)


async def snapshot(api: AppClient) -> bytes:
    """What a refused request must leave as it was: every intent, and every agent."""
    intents: list[JSON] = []
    params: JSON = {"limit": 500}
    while True:
        page = await get_json(api, "/v1/intents", wire.IntentPage, **params)
        intents += page["intents"]
        if not page["has_more"]:
            break
        params["cursor"] = page["next_cursor"]
    agents = await get_json(api, "/v1/mesh/agents", wire.MeshAgentList)
    return sorted_json({"intents": intents, "agents": agents["agents"]})


@pytest.fixture
async def seeded_api(api: AppClient) -> AppClient:
    """The app with one intent in it, so that "nothing changed" compares a list that is not empty."""
    body = {"intent_type": "seed.v1", "correlation_id": "seed", "to_agent": "seed/test/agent", "payload": {}}
    response = await api.post("/v1/intents", json=body)
    assert response.status_code == 200, response.text
    return api


@PROPERTY
@given(refused=refusals())
async def test_a_create_past_a_limit_is_refused_and_changes_nothing(
    seeded_api: AppClient, refused: Refused
) -> None:
    api = seeded_api
    note(f"{refused.what}: POST /v1/intents {refused.headers!r}\n{refused.content[:4000]!r}")
    before = await snapshot(api)
    headers = {"content-type": "application/json", **refused.headers}
    response = await api.post("/v1/intents", content=refused.content, headers=headers)
    assert response.status_code == refused.status, (refused.what, response.text[:2000])
    answer = wire.ErrorAnswer.model_validate(response.json())
    assert answer.detail == answer.error.message and answer.error.code, answer
    if refused.status == 422:
        assert answer.error.details.get("field"), answer
    assert await snapshot(api) == before, f"{refused.what}: refused, yet something was stored"
