"""Time is stored as integer microseconds since the epoch on both backends (DBOS does the same with
milliseconds): one comparison semantics for SQLite and PostgreSQL, no time-zone surprises.
The wire format is RFC 3339 UTC."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

Micros = int


def now_us() -> Micros:
    return time.time_ns() // 1000


def to_rfc3339(us: Micros | None) -> str | None:
    if us is None:
        return None
    # Always six fraction digits, so the wire format is uniform and sorts as text.
    return (
        datetime.fromtimestamp(us / 1_000_000, tz=UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
    )


def from_rfc3339(text: str) -> Micros:
    """Parse an RFC 3339 timestamp; a naive one is taken as UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1_000_000)


def new_id() -> str:
    """A UUIDv7 (time-ordered, RFC 9562): valid wherever AXP wants a UUID, and kind to B-tree indexes."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(uuid.uuid4().bytes[6:], "big") & ((1 << 80) - 1)
    value = (ms << 80) | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))
