"""What ``/openapi.json`` says beyond the routes: the error answers every route can give (intentd's own
error shape, not FastAPI's validation error, which intentd never sends) and the API-key schemes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from intentd.wire import ErrorAnswer

_ERROR = {"model": ErrorAnswer}

# The statuses a route of the /v1 API may answer besides its success (each with the one error body).
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "malformed request (e.g. a cursor this server did not issue)"},
    401: {**_ERROR, "description": "missing, invalid, expired or revoked API key"},
    403: {
        **_ERROR,
        "description": "the key's role may not call this route, or an agent key acts for another agent "
        "(docs/security.md, the permission matrix)",
    },
    404: {**_ERROR, "description": "no such intent, thread or agent (in the caller's namespace)"},
    409: {**_ERROR, "description": "conflicts with the current state (terminal, stale lease, …)"},
    413: {**_ERROR, "description": "body larger than INTENTD_MAX_BODY_BYTES"},
    422: {**_ERROR, "description": "invalid request; error.details.field names the field"},
    429: {
        **_ERROR,
        "description": "the key's rate limit or open-stream limit is reached; Retry-After says when to retry",
    },
}

SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "BearerKey": {"type": "http", "scheme": "bearer", "description": "the API key as a bearer token"},
}


def install(app: FastAPI) -> None:
    """Build the document once, with the security schemes, and without FastAPI's unused validation
    error schemas."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            components = schema.setdefault("components", {})
            schemas = components.get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            components["securitySchemes"] = SECURITY_SCHEMES
            for path, operations in schema["paths"].items():
                if path.startswith("/v1/"):
                    for operation in operations.values():
                        # An operation that states its own (a signed link's: none) keeps it.
                        operation.setdefault("security", [{"ApiKeyHeader": []}, {"BearerKey": []}])
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


# The success answer of the SSE routes (what the frames are is in each route's description).
EVENT_STREAM: dict[str, Any] = {
    "description": "server-sent events: `id:`, `event:` and a JSON `data:` line per frame; an idle stream "
    "ends with `event: stream.timeout` (data `{ok, next_seq}`), an error after the stream started with "
    "`event: stream.error` (data: the error body)",
    # OpenAPI 3.2's way to describe a sequence: each item is one event (a `schema` here would describe
    # every event as the whole stream).
    "content": {
        "text/event-stream": {
            "itemSchema": {
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": {"type": "string"},
                    "id": {"type": "string"},
                    "data": {"type": "string", "contentMediaType": "application/json"},
                },
            }
        }
    },
}
