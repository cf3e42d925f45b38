"""Pure domain: statuses, transitions, intents, events, errors. No I/O, imports nothing of intentd."""

from ._address import normalize_address
from ._errors import (
    BadRequest,
    Conflict,
    Forbidden,
    IdempotencyConflict,
    IllegalTransition,
    IntentdError,
    IntentNotFound,
    IntentTerminal,
    NotFound,
    PayloadTooLarge,
    StaleLease,
    StalePolicyGeneration,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    error_class_for,
)
from ._intent import (
    JSON,
    TERMINAL_EVENT,
    Event,
    EventType,
    Intent,
    Lease,
    evolve,
    merge_patch,
    rebuild,
)
from ._status import NON_TERMINAL, TERMINAL, TRANSITIONS, Status, WaitingReason, check_transition
from ._time import Micros, from_rfc3339, new_id, now_us, to_rfc3339

__all__ = [
    "JSON", "NON_TERMINAL", "TERMINAL", "TERMINAL_EVENT", "TRANSITIONS",
    "BadRequest", "Conflict", "Event", "EventType", "Forbidden", "IdempotencyConflict",
    "IllegalTransition", "Intent", "IntentNotFound", "IntentTerminal", "IntentdError", "Lease",
    "Micros", "NotFound", "PayloadTooLarge", "StaleLease", "StalePolicyGeneration", "Status",
    "Unauthorized", "Unavailable", "ValidationFailed", "WaitingReason",
    "check_transition", "error_class_for", "evolve", "from_rfc3339", "merge_patch", "new_id",
    "normalize_address", "now_us", "rebuild", "to_rfc3339",
]
