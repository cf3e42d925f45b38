"""FastAPI (0.16x) builds a router's routes (their parameter models, pydantic adapters) on the first
request that reaches the router, not when the app starts: over 100 ms for this API's routers, paid by
whichever request comes first. The first kill of a server that has run for days is such a request, and
it must reach the workers in well under 100 ms (docs/mesh.md). So the app sends itself one request at
start-up for a path no route has: to find that nothing matches, the router walks, and builds, every
route once."""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message

_PATH = "/-/warm-up"


async def warm_routes(router: ASGIApp) -> None:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": _PATH,
        "raw_path": _PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": None,
        "server": None,
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass  # the 404 goes nowhere

    # Inside an app, a path no route has raises 404 for the app's handler: expected.
    with contextlib.suppress(HTTPException):
        await router(scope, receive, send)
