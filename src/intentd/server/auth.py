"""API-key authentication: ``x-api-key: <key>`` or ``Authorization: Bearer <key>``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from intentd.engine import Engine, Principal
from intentd.engine.audit import acting_as
from intentd.model import RoleNotAllowed

from . import permissions


def app_engine(request: Request) -> Engine:
    """The engine of the app serving ``request`` (set by its lifespan)."""
    engine: Engine = request.app.state.engine
    return engine


async def engine_of(request: Request) -> Engine:
    # async on purpose: FastAPI runs a sync dependency in a thread pool, a hop on every request.
    return app_engine(request)


async def authenticate(request: Request) -> Principal:
    """The caller, from its key, if its role may call the route (permissions.py); once per request
    (the route authenticates before it reads the body, see parsing.py, and the ``Caller`` dependency
    then finds the principal in the request's state)."""
    state = request.scope.setdefault("state", {})
    principal: Principal | None = state.get("principal")
    if principal is None:
        principal = await app_engine(request).keys.authenticate(_key(request))
        _check_role(request, principal.role)
        acting_as(principal)  # the audit trail's "who" for what this request writes
        state["principal"] = principal
        # The per-key rate limit (ratelimit.py), once per request; None when off.
        if (limiter := request.app.state.rate_limiter) is not None:
            limiter.check(principal.key_id)
    return principal


def _check_role(request: Request, role: str) -> None:
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    if role not in permissions.allowed(request.method, path):
        operation = f"{request.method} {path}"
        raise RoleNotAllowed(
            f"a {role} key may not call {operation}", details={"operation": operation, "role": role}
        )


def _key(request: Request) -> str | None:
    headers = request.headers
    key = headers.get("x-api-key")
    if not key:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            key = token.strip()
    return key


Caller = Annotated[Principal, Depends(authenticate)]
EngineDep = Annotated[Engine, Depends(engine_of)]
