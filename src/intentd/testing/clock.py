"""Time for the embedded server: it starts at the real now and moves only when a test says, so a
reminder, a deadline, a backoff or an escalation is tested by moving time on, never by sleeping."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from intentd.model import Micros, now_us

US = 1_000_000  # microseconds per second: the engine's clock unit


class TestClock:
    """The engine's clock (``Engine(clock=...)``): read from the server's thread, moved from the test's."""

    __test__ = False  # not a test class, whatever pytest makes of its name

    def __init__(self, start: Micros | None = None) -> None:
        self._now = start if start is not None else now_us()
        self._lock = threading.Lock()

    def __call__(self) -> Micros:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time moves forward only")
        with self._lock:
            self._now += int(seconds * US)

    @property
    def now(self) -> datetime:
        return datetime.fromtimestamp(self._now / US, UTC)
