"""The limits of the wire: what a well-formed request is, beyond its fields' names. Each limit is here
once, as a constant and as the annotated type that carries it into the request models, so the server
enforces it, ``/openapi.json`` publishes it (a pattern, a length, a range) and a request the schema
allows is not refused. The table in docs/design.md ("Limits") lists them.

Why these: stored text goes to PostgreSQL, whose ``TEXT`` cannot hold a NUL character; integers are
stored and rendered as 64-bit (``orjson`` and ``BIGINT``); an event's ``seq`` is a 32-bit ``INTEGER``;
JSON deeper than ``orjson`` can write back (255 levels) could be stored but never read; a time outside
years 1970-9999 in UTC cannot be rendered in RFC 3339.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, Strict, StringConstraints

from intentd.model import ADDRESS_PATTERN

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
MAX_SEQ = 2**31 - 1  # intent_events.seq and everything compared with it (since, Last-Event-ID)
TEN_YEARS = 10 * 365 * 24 * 3600  # the longest reminder, escalation or timeout a human task may wait
MAX_JSON_DEPTH = 32  # levels of objects and arrays in a request body, the body itself the first
INBOX_PAGE_MAX = 200  # threads, or thread changes, per inbox page
# Message ids (and the limit) of one inbox delete: a thread holds at most 1000 entries.
INBOX_DELETE_MAX = 1000
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9999, 12, 30, tzinfo=UTC)  # a day short of the end: any offset still renders

# Text that is stored: anything but NUL.
NO_NUL = r"^[^\x00]*$"
# Intent types as AXP ScenarioBundles write them: dotted lower-case segments (``intent.demo.v1``,
# ``process_task``, ``human_approval.v1``).
INTENT_TYPE_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"
_RFC3339_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def _rfc3339_text(value: Any) -> Any:
    # Lax pydantic would also take a number, or text that is one (all a query string holds), as
    # seconds or milliseconds by its size: a year-10000 time in seconds would pass as a 1978 one in
    # milliseconds. RFC 3339 text starts with its date.
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339_DATE.match(value)):
        return value
    raise ValueError("must be an RFC 3339 time, e.g. 2026-01-01T12:00:00Z")


def _within_range(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a time zone, e.g. 2026-01-01T12:00:00Z")
    if not EARLIEST_TIME <= value <= LATEST_TIME:
        raise ValueError(f"must be between {EARLIEST_TIME.date()} and {LATEST_TIME.date()} (UTC)")
    return value


# Stored strings: a length and no NUL (each its own alias, so type checkers see a type).
Id = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=NO_NUL)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
CorrelationId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
# A follow-up may leave its correlation empty: it then joins its parent's.
FollowUpCorrelationId = Annotated[str, StringConstraints(max_length=128, pattern=NO_NUL)]
Actor = Annotated[str, StringConstraints(max_length=383, pattern=NO_NUL)]
Reason = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
Message = Annotated[str, StringConstraints(max_length=4000, pattern=NO_NUL)]
Comment = Annotated[str, StringConstraints(max_length=5000, pattern=NO_NUL)]
# A reply in an inbox thread (AXP: 1 to 5000 characters).
ReplyText = Annotated[str, StringConstraints(min_length=1, max_length=5000, pattern=NO_NUL)]
Address = Annotated[str, StringConstraints(min_length=1, max_length=383, pattern=ADDRESS_PATTERN)]
# Human tasks (PROTOCOL.md §4.1). An outcome is a short word (``approved``, ``changes_requested``);
# an assignee a person (an e-mail address or a key's name) or ``role:<name>`` (every approver key
# holding that role).
Outcome = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
Assignee = Annotated[str, StringConstraints(min_length=1, max_length=383, pattern=NO_NUL)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=NO_NUL)]
Description = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]
TaskSeconds = Annotated[int, Strict(), Field(ge=1, le=TEN_YEARS)]
IntentType = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=INTENT_TYPE_PATTERN)]
Time = Annotated[datetime, BeforeValidator(_rfc3339_text), AfterValidator(_within_range)]
Int64 = Annotated[int, Strict(), Field(ge=INT64_MIN, le=INT64_MAX)]
Generation = Annotated[int, Strict(), Field(ge=0, le=INT64_MAX)]
Seconds = Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)]
# A usage figure (tokens, cost): bounded so that no number of reports can sum past a float.
Count = Annotated[float, Strict(), Field(ge=0, le=1e15, allow_inf_nan=False)]


class LimitExceeded(ValueError):
    """A parsed body breaks a limit; ``path`` says where (``body.payload.n``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


class JsonTooDeep(LimitExceeded):
    pass


class IntegerOutOfRange(LimitExceeded):
    pass


def check_json(value: Any, raw: bytes | None = None, path: str = "body") -> None:
    """Raise if ``value`` (parsed JSON) nests deeper than :data:`MAX_JSON_DEPTH` or holds an integer
    outside 64 bits; the message names the path of the first offender. ``raw`` is the text it was
    parsed from: orjson reads an integer literal beyond 64 bits as a float, so when a float that large
    appears, the text is read again to tell ``1e30`` from ``1000000000000000000000000000000``."""
    if _walk(value, path, 0) and raw is not None:
        json.loads(raw, parse_int=_int64)


def _walk(value: Any, path: str, depth: int) -> bool:
    """Check ``value``; True if it holds a float as large as a 64-bit integer can be."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise IntegerOutOfRange(path, "integers must fit in 64 bits (signed)")
        return False
    else:
        return isinstance(value, float) and abs(value) >= _FLOAT_SUSPECT
    if depth >= MAX_JSON_DEPTH:
        where = ".".join(path.split(".")[:6])  # enough to find it; the rest is the same path deeper
        raise JsonTooDeep(f"{where}…", f"a request body may nest at most {MAX_JSON_DEPTH} levels")
    suspect = False
    for key, item in items:
        suspect = _walk(item, f"{path}.{key}", depth + 1) or suspect
    return suspect


_FLOAT_SUSPECT = float(2**63)


def _int64(literal: str) -> int:
    value = int(literal)
    if not INT64_MIN <= value <= INT64_MAX:
        raise IntegerOutOfRange("body", f"the integer {literal[:24]}… does not fit in 64 bits (signed)")
    return value
