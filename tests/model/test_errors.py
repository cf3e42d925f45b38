"""The one error tree: stable wire codes, HTTP statuses, and clients rebuilding the same class."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import intentd
from intentd.model import (
    AgentKilled,
    AgentNotAllowed,
    AgentNotFound,
    ApiKeyExpired,
    ApiKeyRevoked,
    ApprovalDecided,
    BadRequest,
    CallbackRefused,
    Conflict,
    Forbidden,
    HeadersTooLarge,
    IdempotencyConflict,
    IllegalTransition,
    IntentdError,
    IntentNotFound,
    IntentNotWaiting,
    IntentTerminal,
    InvalidApiKey,
    JournalKeyConflict,
    KeyNotFound,
    LinkExpired,
    LinkInvalid,
    LinkUsed,
    MessageNotDeletable,
    MessageNotFound,
    MethodNotAllowed,
    MissingApiKey,
    NotAssignee,
    NotFound,
    OutboxDeliveryNotFound,
    OwnerMismatch,
    PayloadTooLarge,
    PolicyDenied,
    PolicyLimitReached,
    RateLimited,
    RoleNotAllowed,
    StaleLease,
    StaleMeshPolicy,
    StalePolicyGeneration,
    SubscriptionNotFound,
    TaskClosed,
    TaskNotFound,
    ThreadFull,
    ThreadNotFound,
    TooManyStreams,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    WebhookEventNotFound,
    error_class_for,
)

# The wire contract: changing a code or status breaks clients, so it is spelled out here once more.
WIRE = [
    (IntentdError, "internal_error", 500, True),
    (ValidationFailed, "validation_error", 422, False),
    (BadRequest, "bad_request", 400, False),
    (OwnerMismatch, "owner_mismatch", 400, False),
    (PayloadTooLarge, "payload_too_large", 413, False),
    (HeadersTooLarge, "headers_too_large", 431, False),
    (Unauthorized, "unauthorized", 401, False),
    (MissingApiKey, "missing_api_key", 401, False),
    (InvalidApiKey, "invalid_api_key", 401, False),
    (Forbidden, "forbidden", 403, False),
    (NotFound, "not_found", 404, False),
    (IntentNotFound, "intent_not_found", 404, False),
    (ThreadNotFound, "thread_not_found", 404, False),
    (AgentNotFound, "agent_not_found", 404, False),
    (MethodNotAllowed, "method_not_allowed", 405, False),
    (Conflict, "conflict", 409, False),
    (IntentTerminal, "intent_terminal", 409, False),
    (IllegalTransition, "illegal_transition", 409, False),
    (IdempotencyConflict, "idempotency_key_reused", 409, False),
    (StaleLease, "stale_lease", 409, False),
    (StalePolicyGeneration, "stale_policy_generation", 409, False),
    (StaleMeshPolicy, "stale_mesh_policy", 409, False),
    (IntentNotWaiting, "intent_not_waiting", 409, False),
    (ApprovalDecided, "approval_decided", 409, False),
    (JournalKeyConflict, "journal_key_conflict", 409, False),
    (MessageNotFound, "message_not_found", 404, False),
    (MessageNotDeletable, "message_not_deletable", 409, False),
    (ThreadFull, "thread_full", 409, False),
    (TaskNotFound, "task_not_found", 404, False),
    (NotAssignee, "not_assignee", 403, False),
    (TaskClosed, "task_closed", 409, False),
    (LinkUsed, "link_used", 409, False),
    (LinkInvalid, "link_invalid", 403, False),
    (LinkExpired, "link_expired", 410, False),
    (Unavailable, "unavailable", 503, True),
    (ApiKeyExpired, "api_key_expired", 401, False),
    (ApiKeyRevoked, "api_key_revoked", 401, False),
    (RoleNotAllowed, "role_not_allowed", 403, False),
    (AgentNotAllowed, "agent_not_allowed", 403, False),
    (AgentKilled, "agent_killed", 403, False),
    (PolicyDenied, "policy_denied", 403, False),
    (KeyNotFound, "key_not_found", 404, False),
    (RateLimited, "rate_limited", 429, True),
    (TooManyStreams, "too_many_streams", 429, True),
    (PolicyLimitReached, "policy_limit_reached", 429, False),
    (CallbackRefused, "callback_url_refused", 422, False),
    (SubscriptionNotFound, "subscription_not_found", 404, False),
    (WebhookEventNotFound, "webhook_event_not_found", 404, False),
    (OutboxDeliveryNotFound, "delivery_not_found", 404, False),
]


def _tree(cls: type[IntentdError]) -> set[type[IntentdError]]:
    return {cls}.union(*(_tree(sub) for sub in cls.__subclasses__()))


def test_every_error_class_is_in_the_wire_contract() -> None:
    # Only the server's classes: the client adds its own (TransportError, …) that never go on the wire.
    server_side = {cls for cls in _tree(IntentdError) if cls.__module__.startswith("intentd.model")}
    assert server_side == {cls for cls, *_ in WIRE}
    codes = [code for _, code, *_ in WIRE]
    assert len(codes) == len(set(codes)), "two classes share a wire code"


@pytest.mark.parametrize(("cls", "code", "status", "retryable"), WIRE)
def test_wire_code_status_and_retryability(
    cls: type[IntentdError], code: str, status: int, retryable: bool
) -> None:
    err = cls()
    assert (err.code, err.http_status, err.retryable) == (code, status, retryable)
    wire = err.to_wire()
    assert wire == {"code": code, "message": err.message, "details": {}, "retryable": retryable}
    assert err.message and err.message == str(err)  # the docstring, when no message is given


@pytest.mark.parametrize(("cls", "code"), [(cls, code) for cls, code, *_ in WIRE])
def test_error_class_for_rebuilds_the_class_from_its_code(cls: type[IntentdError], code: str) -> None:
    assert error_class_for(code) is cls


def test_a_code_passed_through_stays_per_instance() -> None:
    # Only the client passes a code through: one from a newer server that this version has no class for.
    err = Unauthorized("no key", code="key_expired")
    assert err.code == "key_expired" and err.http_status == 401
    assert Unauthorized().code == "unauthorized"


def _code_overrides(package: Path) -> list[str]:
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and any(k.arg == "code" for k in node.keywords):
                found.append(f"{path.relative_to(package.parent)}:{node.lineno}")
    return found


def test_the_server_raises_classes_not_code_overrides() -> None:
    # Every wire code the server sends is a class of the tree (so clients can catch it by type):
    # no module on the server side passes ``code=`` to an error.
    root = Path(intentd.__file__).parent
    overrides = [
        hit for layer in ("model", "store", "engine", "server") for hit in _code_overrides(root / layer)
    ]
    assert overrides == []


def test_an_unknown_code_becomes_the_base_class() -> None:
    assert error_class_for("something_new_from_a_newer_server") is IntentdError


def test_conflicts_are_catchable_as_conflict_and_not_found_as_not_found() -> None:
    for cls in (IntentTerminal, IllegalTransition, IdempotencyConflict, StaleLease, StalePolicyGeneration):
        assert issubclass(cls, Conflict)
    assert issubclass(IntentNotFound, NotFound)


def test_message_and_details_travel_on_the_wire() -> None:
    err = ValidationFailed("to_agent is required", details={"field": "to_agent"})
    assert err.to_wire() == {
        "code": "validation_error",
        "message": "to_agent is required",
        "details": {"field": "to_agent"},
        "retryable": False,
    }
