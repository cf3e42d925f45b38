"""Time is stored as integer microseconds since the epoch on both backends (DBOS does the same with
milliseconds): one comparison semantics for SQLite and PostgreSQL, no time-zone surprises.
The wire format is RFC 3339 UTC."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

Micros = int
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_US = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_LAST_US = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_EXACT_AS_FLOAT = 2**31 * 1_000_000  # until 2038 a double divides to within half a microsecond


def now_us() -> Micros:
    return time.time_ns() // 1000


def to_rfc3339(us: Micros | None) -> str | None:
    """RFC 3339 in UTC, always six fraction digits (so the wire format is uniform and sorts as text).
    Total: a time outside what RFC 3339 can say (the API refuses to store one; an older row may hold
    it) is rendered at the nearest end of the range rather than failing the read."""
    if us is None:
        return None
    if 0 <= us < _EXACT_AS_FLOAT:  # every time of this era: the quicker conversion, exact here
        at = datetime.fromtimestamp(us / 1_000_000, tz=UTC)
    else:
        at = _EPOCH + timedelta(microseconds=min(max(us, _FIRST_US), _LAST_US))
    return at.isoformat(timespec="microseconds").replace("+00:00", "Z")


def from_rfc3339(text: str) -> Micros:
    """Parse an RFC 3339 timestamp; a naive one is taken as UTC."""
    return to_micros(datetime.fromisoformat(text.replace("Z", "+00:00")))


def to_micros(at: datetime) -> Micros:
    """``at`` as microseconds since the epoch; a naive time is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    # In whole microseconds: through a float, one instant in a hundred came back a microsecond early.
    return (at - _EPOCH) // timedelta(microseconds=1)


def new_id() -> str:
    """A UUIDv7 (time-ordered, RFC 9562): valid wherever AXP wants a UUID, and kind to B-tree indexes.
    Ids made in one process also increase within a millisecond (RFC 9562 §6.2, method 3), so intents
    created in one transaction sort in the order they were made: a run before its first steps."""
    global _last_stamp
    with _stamp_lock:
        stamp = (time.time_ns() // 1_000_000) << 74 | secrets.randbits(74)
        _last_stamp = stamp if stamp > _last_stamp else _last_stamp + 1
        stamp = _last_stamp
    ms, rand = stamp >> 74, stamp & ((1 << 74) - 1)
    value = ms << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0x2 << 62 | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


_last_stamp = 0  # milliseconds << 74 | 74 random bits, of the last id made in this process
_stamp_lock = threading.Lock()
