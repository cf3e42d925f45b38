"""The request side of JSON logs (``INTENTD_LOG_FORMAT=json``, docs/operations.md "Logs"): a pure
ASGI middleware that ``run_server`` puts around the whole app, outside Starlette's error handling
(so the line an unhandled error is logged with carries the request's ids) and outside
:class:`~intentd.server.middleware.RequestContext` (so its refusals have their access lines).

Each request gets a log context: ``RequestContext`` names its request id in it (the one its answer
carries as ``x-request-id``), the engine the intent the request acts on once it has loaded it
(``intentd.logs.about``). Every line logged while the request is served carries them. When it ends,
``intentd.access`` writes the request's line: method, path, status and duration. The path is read
after ``RequestContext`` has cut a signed link's token from it, and the query string is left out.

With text logs this middleware is not there: the hot path makes no context and writes no line,
as uvicorn's access log stays off (a line per request costs about as much as serving it). With JSON
logs at ``INTENTD_LOG_LEVEL=warning`` the ids still stamp the warnings, and there are no access lines.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intentd import logs

access_log = logging.getLogger("intentd.access")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = logs.begin(logs.LogContext())
        started = time.perf_counter()
        status: int | None = None

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        except Exception:
            status = status or 500  # escaped before any answer: the server answers 500
            raise
        finally:
            try:
                _write_line(scope, status, time.perf_counter() - started)
            finally:
                logs.end(token)


def _write_line(scope: Scope, status: int | None, seconds: float) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    method, path = scope["method"], scope["path"]
    fields = {"method": method, "path": path, "status": status, "duration_ms": round(seconds * 1000, 3)}
    access_log.info("%s %s %s", method, path, status, extra={"fields": fields})
