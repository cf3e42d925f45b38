"""How a handler says what went wrong. Any other exception counts as retryable."""

from __future__ import annotations


class RetryableError(Exception):
    """Try again later (per the intent's retry policy); ``retry_after`` overrides the backoff."""

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(Exception):
    """Do not retry: the intent fails with this error recorded."""
