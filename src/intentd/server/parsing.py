"""How a request is read, before FastAPI validates it against its route's models:

1. **The caller is authenticated first** (every ``/v1`` route): a request without a valid key gets 401
   whatever its body, and nobody learns what the body checks say without a key.
2. **The body is parsed by orjson**, which is faster than the standard library and strict where the
   standard library is not: it refuses ``NaN``, ``Infinity``, numbers that overflow a double and lone
   surrogates (a 400 ``bad_request``, nothing stored).
3. **The parsed value is held to the wire's limits** (``wire/limits.py``): nesting depth and 64-bit
   integers (a 422 naming the path).

FastAPI builds its handler around ``Request.json()``; :class:`IntentdRoute` hands it a request whose
``json()`` does 2 and 3, after doing 1.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute

from intentd.model import BadRequest, ValidationFailed
from intentd.wire.limits import LimitExceeded, check_json

from .auth import authenticate


class WireRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"the body is not valid JSON: {exc}", details={"field": "body"}) from None
            try:
                check_json(value, body)
            except LimitExceeded as exc:
                raise ValidationFailed(str(exc), details={"field": exc.path}) from None
            self._json = value
        return self._json


class IntentdRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        needs_key = self.path.startswith("/v1/")

        async def read_then_handle(request: Request) -> Response:
            wire_request = WireRequest(request.scope, request.receive)
            if needs_key:
                await authenticate(wire_request)
            return await handler(wire_request)

        return read_then_handle
