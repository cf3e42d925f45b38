"""Errors the client raises. Server errors come back as the server's own classes (the tree in
``intentd.model``), rebuilt from the wire ``error.code``; this module adds the ones that happen on the
client's side of the wire:

    IntentdError                      (intentd.model; every class below the root, as on the server)
    ├── TransportError                the server could not be reached or the connection broke
    │   └── ClientTimeout             no answer in time (also a TimeoutError)
    ├── UnexpectedResponse            a success answer that is not the API's (e.g. a web page at a
    │                                 wrong URL)
    └── WaitTimeout                   observe / wait_for / listen gave up (also a TimeoutError)

Every error rebuilt from a response carries ``status_code``, ``request_id`` (``x-request-id``),
``trace_id`` (``X-Trace-Id``), ``details`` and, when the server sent one, ``retry_after``.
"""

from __future__ import annotations

from typing import Any

import httpx

from intentd.model import IntentdError, error_class_for


class TransportError(IntentdError):
    """The server could not be reached, or the connection broke before the response was complete."""

    code = "transport_error"
    http_status = 0  # no response arrived
    retryable = True


class ClientTimeout(TransportError, TimeoutError):
    """The server did not answer within the client's timeout."""

    code = "client_timeout"


class UnexpectedResponse(IntentdError):
    """The server answered with something that is not an intentd API answer (is the URL right?)."""

    code = "unexpected_response"
    http_status = 0
    retryable = False


class WaitTimeout(IntentdError, TimeoutError):
    """The intent did not reach a terminal status (or the stream produced nothing) in time."""

    code = "wait_timeout"
    http_status = 0
    retryable = True


def transport_error(exc: httpx.TransportError, trace_id: str) -> TransportError:
    cls = ClientTimeout if isinstance(exc, httpx.TimeoutException) else TransportError
    err = cls(f"{(cls.__doc__ or '').strip()} ({type(exc).__name__}: {exc})")
    err.trace_id = trace_id
    err.__cause__ = exc  # raised later, away from the ``except`` that caught ``exc``
    return err


def unexpected_response(response: httpx.Response, trace_id: str, problem: Exception) -> UnexpectedResponse:
    content_type = response.headers.get("content-type") or "no content type"
    what = f"HTTP {response.status_code}, {content_type}: {type(problem).__name__}"
    err = UnexpectedResponse(f"{(UnexpectedResponse.__doc__ or '').strip()} ({what})")
    err.status_code = response.status_code
    err.request_id = response.headers.get("x-request-id")
    err.trace_id = trace_id
    err.__cause__ = problem
    return err


def error_from_response(response: httpx.Response, trace_id: str) -> IntentdError:
    """The server's error class for ``error.code``, with the response context attached. A body that
    is not intentd's error shape (a proxy's HTML page, a bare 502) still gives an IntentdError."""
    error = _error_object(response)
    code = str(error.get("code") or _code_for_status(response.status_code))
    cls = error_class_for(code)
    if cls is IntentdError:
        # A narrower code within a class (``NotFound(code="thread_not_found")``, ``Conflict(code=
        # "approval_decided")``) has no class of its own: the HTTP status names the class.
        cls = error_class_for(_code_for_status(response.status_code))
    message = error.get("message") or f"HTTP {response.status_code} {response.reason_phrase}"
    details = error.get("details") if isinstance(error.get("details"), dict) else None
    err = cls(str(message), details=details, code=code if code != cls.code else None)
    err.status_code = response.status_code
    err.request_id = response.headers.get("x-request-id")
    err.trace_id = response.headers.get("x-trace-id") or trace_id
    err.retry_after = retry_after(response)
    return err


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (the delta form; intentd never sends the date form)."""
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _error_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    error = body.get("error")
    if isinstance(error, dict):
        return error
    if isinstance(error, str):  # other AXP servers send {"error": "not_found"}
        return {"code": error, "message": body.get("detail") or error}
    return {"message": body.get("detail")} if isinstance(body.get("detail"), str) else {}


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    503: "unavailable",
}


def _code_for_status(status: int) -> str:
    return _STATUS_CODES.get(status, "internal_error" if status >= 500 else "http_error")
