"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request on the hot path).

- every response carries ``x-request-id``; an incoming ``X-Trace-Id`` is echoed back;
- requests whose headers pass the configured size get 431, and bodies above theirs 413, before the
  route runs;
- a signed link's token is cut from the request's path once the answer starts, before any access log
  reads it.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intentd import logs
from intentd.model import HeadersTooLarge, IntentdError, PayloadTooLarge

# Paths that hold a credential: a signed link's token (server/routes/links.py) is the path's last part.
SECRET_PATH_PREFIX = "/v1/links/"
REDACTED_LINK_PATH = "/v1/links/[redacted]"


class RequestContext:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_header_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        trace_id = None
        length = None
        header_bytes = 0
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value)
            if name == b"x-trace-id":
                trace_id = value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else None
        scope.setdefault("state", {})["request_id"] = request_id
        logs.name_request(request_id)  # JSON logs: the access log's context (access.py); else nothing
        extra: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
        if trace_id is not None:
            extra.append((b"x-trace-id", trace_id))

        secret_path = scope["path"].startswith(SECRET_PATH_PREFIX)

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
                if secret_path:
                    _redact_path(scope)
            await send(message)

        if header_bytes > self.max_header_bytes:
            await _refuse(_headers_too_large(self.max_header_bytes), send_with_ids)
            return
        if length is not None and length > self.max_body_bytes:
            await _refuse(_too_large_error(self.max_body_bytes), send_with_ids)
            return
        try:
            await self.app(scope, self._limited(receive), send_with_ids)
        finally:
            if secret_path:  # an error escaping the app is answered outside this middleware
                _redact_path(scope)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def receive_limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _too_large_error(self.max_body_bytes)
            return message

        return receive_limited


def _redact_path(scope: Scope) -> None:
    """Replace a signed link's token in the request's path. The route has read it by now (the answer
    is starting), and the access log line a server writes (uvicorn's, when enabled) reads the path
    from this scope as the answer starts, so the token never reaches a log."""
    scope["path"] = REDACTED_LINK_PATH
    scope["raw_path"] = REDACTED_LINK_PATH.encode()


def _too_large_error(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body exceeds {limit} bytes", details={"limit_bytes": limit})


def _headers_too_large(limit: int) -> HeadersTooLarge:
    return HeadersTooLarge(f"request headers exceed {limit} bytes", details={"limit_bytes": limit})


async def _refuse(err: IntentdError, send: Send) -> None:
    body: dict[str, Any] = {"ok": False, "error": err.to_wire(), "detail": err.message}
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": err.http_status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
