"""Testing multi-agent flows before production (``pip install intentd[testing]``): a pytest plugin with
an embedded server, scripted stand-in agents, a clock the test moves, people who answer from the test,
and golden records of a run's transitions (docs/testing.md).

- ``plugin``: the options and fixtures (``intentd``, ``intentd_client``, ``intentd_async_client``,
  ``intentd_worker``, ``intentd_server``), registered by entry point.
- ``harness``: :class:`Intentd`, what one test holds.
- ``embedded``: the embedded server (SQLite, real HTTP, a thread of the test process) or a live one.
- ``clock``: the embedded server's time.
- ``standins``: scripted agents. ``humans``: answering human tasks.
- ``golden``: normalised transition records, compared with files in the repository; ``transitions``:
  how a run's events become its lines (names, stable details, races left out).
"""

from __future__ import annotations

from .clock import TestClock
from .embedded import EmbeddedServer, LiveServer, TimeControlUnavailable
from .golden import compare, record_of, to_yaml
from .harness import Intentd
from .humans import Humans
from .standins import Call, StandIn

__all__ = [
    "Call",
    "EmbeddedServer",
    "Humans",
    "Intentd",
    "LiveServer",
    "StandIn",
    "TestClock",
    "TimeControlUnavailable",
    "compare",
    "record_of",
    "to_yaml",
]
