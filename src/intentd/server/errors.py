"""One error shape everywhere (PROTOCOL.md §8):
``{"ok": false, "error": {"code", "message", "details", "retryable"}, "detail": message}``.
The official SDK reads ``error.message``, the AXME CLI reads ``detail``. No stack trace reaches a client.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from intentd.model import BadRequest, IntentdError, MethodNotAllowed, NotFound, ValidationFailed

from ._responses import FastJSONResponse

log = logging.getLogger("intentd.server")

# Starlette's own errors (an unknown path, a wrong method, a body it cannot read) in the error tree;
# any other status it raises is answered as a bad request, which is what a 4xx from it means.
_HTTP_ERRORS: dict[int, type[IntentdError]] = {404: NotFound, 405: MethodNotAllowed}


def error_response(
    err: IntentdError, status: int | None = None, headers: Mapping[str, str] | None = None
) -> FastJSONResponse:
    headers = {**retry_after(err), **(headers or {})}
    return FastJSONResponse(
        {"ok": False, "error": err.to_wire(), "detail": err.message},
        status_code=status or err.http_status,
        headers=headers or None,
    )


def retry_after(err: IntentdError) -> dict[str, str]:
    """The ``Retry-After`` header of a 429 or 503: a rate limit says when a token is back
    (server/ratelimit.py); whole seconds, at least 1."""
    if err.http_status in (429, 503):
        return {"Retry-After": str(max(1, math.ceil(err.retry_after or 1)))}
    return {}


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(IntentdError)
    async def domain_error(_: Request, err: IntentdError) -> FastJSONResponse:
        return error_response(err)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, err: RequestValidationError) -> FastJSONResponse:
        problems = [
            {"field": _field(tuple(e["loc"])), "message": e["msg"], "type": e["type"]} for e in err.errors()
        ]
        first = problems[0] if problems else {"field": "body", "message": "invalid"}
        return error_response(
            ValidationFailed(
                f"{first['field']}: {first['message']}", details={"field": first["field"], "errors": problems}
            )
        )

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> FastJSONResponse:
        if isinstance(exc.__cause__, IntentdError):
            # FastAPI wraps errors raised while it reads the body (our 413 on a chunked body that
            # passes the limit) in a generic 400; answer with the original error.
            return error_response(exc.__cause__)
        fallback = IntentdError if exc.status_code >= 500 else BadRequest
        err = _HTTP_ERRORS.get(exc.status_code, fallback)(str(exc.detail))
        return error_response(err, exc.status_code, exc.headers)  # keeps 405's Allow

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> FastJSONResponse:
        request_id = request.scope.get("state", {}).get("request_id")
        log.error("unhandled error (request %s)", request_id, exc_info=exc)
        response = error_response(
            IntentdError(f"internal error; the server log has the details (request id {request_id})")
        )
        # Starlette answers from its outermost middleware, outside RequestContext, so the
        # correlation headers every response carries are added here.
        response.headers["x-request-id"] = str(request_id)
        if "x-trace-id" in request.headers:
            response.headers["x-trace-id"] = request.headers["x-trace-id"]
        return response
