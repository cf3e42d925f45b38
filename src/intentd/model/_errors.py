"""The one error tree. Every error the server returns is one of these, with a stable wire ``code``.

    IntentdError                      500 internal_error
    ├── ValidationFailed              422 validation_error   (details.field names the field)
    │   └── CallbackRefused           422 callback_url_refused
    ├── BadRequest                    400 bad_request
    │   └── OwnerMismatch             400 owner_mismatch
    ├── PayloadTooLarge               413 payload_too_large
    ├── HeadersTooLarge               431 headers_too_large
    ├── Unauthorized                  401 unauthorized
    │   ├── MissingApiKey             401 missing_api_key
    │   └── InvalidApiKey             401 invalid_api_key
    │       ├── ApiKeyExpired         401 api_key_expired
    │       └── ApiKeyRevoked         401 api_key_revoked
    ├── Forbidden                     403 forbidden
    │   ├── RoleNotAllowed            403 role_not_allowed
    │   ├── AgentNotAllowed           403 agent_not_allowed
    │   ├── AgentKilled               403 agent_killed
    │   ├── PolicyDenied              403 policy_denied
    │   ├── NotAssignee               403 not_assignee
    │   └── LinkInvalid               403 link_invalid
    ├── NotFound                      404 not_found
    │   ├── IntentNotFound            404 intent_not_found
    │   ├── ThreadNotFound            404 thread_not_found
    │   ├── AgentNotFound             404 agent_not_found
    │   ├── TaskNotFound              404 task_not_found
    │   ├── KeyNotFound               404 key_not_found
    │   ├── MessageNotFound           404 message_not_found
    │   ├── SubscriptionNotFound      404 subscription_not_found
    │   ├── WebhookEventNotFound      404 webhook_event_not_found
    │   └── OutboxDeliveryNotFound    404 delivery_not_found
    ├── MethodNotAllowed              405 method_not_allowed
    ├── LinkExpired                   410 link_expired
    ├── Conflict                      409 conflict
    │   ├── IntentTerminal            409 intent_terminal
    │   ├── IllegalTransition         409 illegal_transition
    │   ├── IdempotencyConflict       409 idempotency_key_reused
    │   ├── StaleLease                409 stale_lease
    │   ├── StalePolicyGeneration     409 stale_policy_generation
    │   ├── StaleMeshPolicy           409 stale_mesh_policy
    │   ├── IntentNotWaiting          409 intent_not_waiting
    │   ├── ApprovalDecided           409 approval_decided
    │   ├── MessageNotDeletable       409 message_not_deletable
    │   ├── ThreadFull                409 thread_full
    │   ├── TaskClosed                409 task_closed
    │   └── LinkUsed                  409 link_used
    ├── RateLimited                   429 rate_limited (retryable; Retry-After)
    │   ├── TooManyStreams            429 too_many_streams (retryable)
    │   └── PolicyLimitReached        429 policy_limit_reached (not retried: the limit holds)
    └── Unavailable                   503 unavailable (retryable)

Every wire code the server sends is one class here (a test holds the server's code to that), with the
message defaulting to the class docstring. The client rebuilds the same class from ``code``; only for a
code this version does not know (a newer server) does it keep the class the HTTP status implies and
pass the code through the ``code=`` argument.
"""

from __future__ import annotations

from typing import Any, ClassVar


class IntentdError(Exception):
    """Internal error."""

    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500
    retryable: ClassVar[bool] = True
    # Response context, set by the client (intentd.client) on errors it rebuilds from a response;
    # None on the server and for errors raised before any response arrived.
    status_code: int | None = None
    request_id: str | None = None
    trace_id: str | None = None
    retry_after: float | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message or (self.__doc__ or self.code).strip()
        self.details = details or {}
        if code is not None:
            self.code = code  # type: ignore[misc]  # a narrower code within the same class
        super().__init__(self.message)

    def to_wire(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "retryable": self.retryable,
        }


class ValidationFailed(IntentdError):
    """The request is invalid."""

    code = "validation_error"
    http_status = 422
    retryable = False


class BadRequest(IntentdError):
    """The request is malformed."""

    code = "bad_request"
    http_status = 400
    retryable = False


class OwnerMismatch(BadRequest):
    """owner_agent and x-owner-agent name different owners."""

    code = "owner_mismatch"


class PayloadTooLarge(IntentdError):
    """The request body is larger than the server accepts."""

    code = "payload_too_large"
    http_status = 413
    retryable = False


class HeadersTooLarge(IntentdError):
    """The request's headers are larger than the server accepts."""

    code = "headers_too_large"
    http_status = 431
    retryable = False


class Unauthorized(IntentdError):
    """A valid API key is required."""

    code = "unauthorized"
    http_status = 401
    retryable = False


class MissingApiKey(Unauthorized):
    """Missing API key: send it as 'x-api-key: <key>' or 'Authorization: Bearer <key>'."""

    code = "missing_api_key"


class InvalidApiKey(Unauthorized):
    """Invalid or revoked API key."""

    code = "invalid_api_key"


class ApiKeyExpired(InvalidApiKey):
    """The API key has expired."""

    code = "api_key_expired"


class ApiKeyRevoked(InvalidApiKey):
    """The API key was revoked."""

    code = "api_key_revoked"


class Forbidden(IntentdError):
    """The API key may not do this."""

    code = "forbidden"
    http_status = 403
    retryable = False


class RoleNotAllowed(Forbidden):
    """The API key's role may not call this operation (docs/security.md, the permission matrix)."""

    code = "role_not_allowed"


class AgentNotAllowed(Forbidden):
    """An agent key acts only for the agent addresses it is bound to."""

    code = "agent_not_allowed"


class AgentKilled(Forbidden):
    """The agent is killed (docs/mesh.md): it is sent no new work and sends none until resumed."""

    code = "agent_killed"


class PolicyDenied(Forbidden):
    """A Mesh policy does not allow this (an intent type the agent may not receive or send, a tool it
    may not call); ``details`` name the policy and the rule."""

    code = "policy_denied"


class NotFound(IntentdError):
    """Not found."""

    code = "not_found"
    http_status = 404
    retryable = False


class IntentNotFound(NotFound):
    """No intent with this ID."""

    code = "intent_not_found"


class ThreadNotFound(NotFound):
    """No inbox thread with this ID for this owner."""

    code = "thread_not_found"


class TaskNotFound(NotFound):
    """No human task with this ID."""

    code = "task_not_found"


class NotAssignee(Forbidden):
    """Only the task's assignees (at any escalation level reached) or an admin may decide it."""

    code = "not_assignee"


class KeyNotFound(NotFound):
    """No API key with this id in the caller's namespace."""

    code = "key_not_found"


class AgentNotFound(NotFound):
    """No agent with this address."""

    code = "agent_not_found"


class MethodNotAllowed(IntentdError):
    """This path does not accept this HTTP method."""

    code = "method_not_allowed"
    http_status = 405
    retryable = False


class Conflict(IntentdError):
    """The request conflicts with the current state."""

    code = "conflict"
    http_status = 409
    retryable = False


class IntentTerminal(Conflict):
    """The intent is terminal and can no longer change."""

    code = "intent_terminal"

    @classmethod
    def of(cls, status: str) -> IntentTerminal:
        return cls(f"intent is {status} (terminal) and can no longer change", details={"status": status})


class IllegalTransition(Conflict):
    """The lifecycle does not allow this transition."""

    code = "illegal_transition"


class IdempotencyConflict(Conflict):
    """This Idempotency-Key was already used with a different request body."""

    code = "idempotency_key_reused"


class StaleLease(Conflict):
    """The lease token is not the intent's current lease (expired, released or superseded)."""

    code = "stale_lease"


class StalePolicyGeneration(Conflict):
    """expected_policy_generation does not match the intent's policy_generation."""

    code = "stale_policy_generation"


class StaleMeshPolicy(Conflict):
    """expected_generation does not match the Mesh policy's generation: it changed since it was read."""

    code = "stale_mesh_policy"


class IntentNotWaiting(Conflict):
    """The intent is not WAITING: there is no pending approval to decide."""

    code = "intent_not_waiting"


class JournalKeyConflict(Conflict):
    """A run's journal key was used for another kind of entry (a spawn's key for a step's result)."""

    code = "journal_key_conflict"


class ApprovalDecided(Conflict):
    """This approval was already decided."""

    code = "approval_decided"


class TaskClosed(Conflict):
    """The human task was already decided, timed out or canceled: a decision changes nothing now."""

    code = "task_closed"


class LinkUsed(Conflict):
    """This signed link was used already: each link decides once."""

    code = "link_used"


class LinkInvalid(Forbidden):
    """This link is not valid: it was not signed by this server, or it was changed."""

    code = "link_invalid"


class LinkExpired(IntentdError):
    """This link has expired: answer the task in the app or the CLI, or ask for a new notification."""

    code = "link_expired"
    http_status = 410
    retryable = False


class Unavailable(IntentdError):
    """The service is temporarily unavailable; retry."""

    code = "unavailable"
    http_status = 503
    retryable = True


class RateLimited(IntentdError):
    """This API key sent more requests than its rate limit allows; retry after Retry-After seconds."""

    code = "rate_limited"
    http_status = 429
    retryable = True


class PolicyLimitReached(RateLimited):
    """A Mesh policy's limit is reached (spend per day or per run, intents per hour); ``details``
    name the policy, the limit and what was used. Not retried: the limit holds until its window
    turns over or the policy changes."""

    code = "policy_limit_reached"
    retryable = False


class TooManyStreams(RateLimited):
    """This API key already holds as many open streams as one key may; close one first."""

    code = "too_many_streams"


class MessageNotFound(NotFound):
    """No reply with this ID in the inbox thread."""

    code = "message_not_found"


class MessageNotDeletable(Conflict):
    """Only replies can be deleted: a thread's request and outcome are its intent's own record."""

    code = "message_not_deletable"


class ThreadFull(Conflict):
    """The inbox thread holds as many replies and delegations as a thread takes."""

    code = "thread_full"


class CallbackRefused(ValidationFailed):
    """The callback URL is not one intentd will POST to (docs/webhooks.md, "Callback URLs")."""

    code = "callback_url_refused"


class SubscriptionNotFound(NotFound):
    """No webhook subscription with this ID."""

    code = "subscription_not_found"


class WebhookEventNotFound(NotFound):
    """No webhook event with this ID."""

    code = "webhook_event_not_found"


class OutboxDeliveryNotFound(NotFound):
    """No webhook or push delivery with this ID."""

    code = "delivery_not_found"


def error_class_for(code: str) -> type[IntentdError]:
    """The most specific class for a wire code (used by clients to rebuild errors)."""
    return _BY_CODE.get(code, IntentdError)


def _all_subclasses(cls: type[IntentdError]) -> list[type[IntentdError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


_BY_CODE: dict[str, type[IntentdError]] = {c.code: c for c in _all_subclasses(IntentdError)}
