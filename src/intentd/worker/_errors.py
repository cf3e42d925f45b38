"""How a handler says what went wrong. Any other exception counts as retryable."""

from __future__ import annotations

from intentd.model import JSON


class RetryableError(Exception):
    """Try again later (per the intent's retry policy); ``retry_after`` overrides the backoff."""

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(Exception):
    """Do not retry: the intent fails with this error recorded."""


class ChildFailed(FatalError):
    """A child spawned with ``ctx.spawn`` ended FAILED (a timeout is a failure) or CANCELED.

    ``key`` is the child's key, ``status`` its journal entry's status and ``error`` the child's error
    object (``{"code", "message", ...}``). Uncaught, it fails the parent for good: a retry would read
    the same journaled outcome. ``ctx.gather(..., return_exceptions=True)`` returns it instead::

        try:
            draft = await ctx.spawn("agent://acme/prod/writer", {"topic": t}, key=f"draft-{t}")
        except ChildFailed as failed:
            draft = {"missing": failed.key, "why": failed.error.get("message")}
    """

    def __init__(self, key: str, status: str, error: JSON | None) -> None:
        self.key, self.status, self.error = key, status, dict(error or {})
        reason = self.error.get("message") or self.error.get("code") or status.lower()
        super().__init__(f"child {key!r} ended {status}: {reason}")


class ReportedFailure(FatalError):
    """A final failure whose error object is given whole (internal): the one an earlier delivery
    journaled under ``$failed``, or a failure with the outcome of its compensations."""

    def __init__(self, error: JSON) -> None:
        self.error = error
        super().__init__(str(error.get("message") or error.get("code") or "failed"))


def error_object(exc: BaseException) -> JSON:
    """The ``error`` an intent fails with when its handler raised ``exc``."""
    if isinstance(exc, ReportedFailure):
        return exc.error
    error: JSON = {"code": type(exc).__name__, "message": str(exc) or type(exc).__name__}
    if isinstance(exc, ChildFailed):
        error["details"] = {"key": exc.key, "status": exc.status, "error": exc.error}
    return error
