"""Kept importable for the test packages that still import from here (tests/cli); new code
imports from ``tests._support.servers`` and ``tests._support.http_api``."""

from tests._support.http_api import (
    all_intents,
    events_of,
    intent_body,
    parse_rfc3339,
    rfc3339_in,
    sse_events,
    wait_terminal,
)
from tests._support.servers import (
    API_KEY,
    START_TIMEOUT,
    STOP_TIMEOUT,
    Server,
    Servers,
    child_environment,
    free_port,
    intentd_command,
)

TEST_KEY = API_KEY

__all__ = [
    "START_TIMEOUT",
    "STOP_TIMEOUT",
    "TEST_KEY",
    "Server",
    "Servers",
    "all_intents",
    "child_environment",
    "events_of",
    "free_port",
    "intent_body",
    "intentd_command",
    "parse_rfc3339",
    "rfc3339_in",
    "sse_events",
    "wait_terminal",
]
