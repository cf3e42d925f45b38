"""Lean routes: the hot routes (create, claim, complete, fail, heartbeat) without FastAPI's per-request
machinery (issue 16).

A lean route is declared like any other, with a typed endpoint, and FastAPI builds its OpenAPI
operation from that declaration as before, so ``/openapi.json`` does not change. Only the handler
FastAPI builds from the signature is replaced, by one that takes the same steps directly:

1. the caller is authenticated first (``auth.authenticate``, as for every route, see parsing.py);
2. the body is read as FastAPI reads it (as JSON only with a JSON content type), through
   ``parsing.WireRequest`` (orjson, the wire's depth and integer limits);
3. path, query and header parameters are checked by their FastAPI fields and the body by the route's
   pydantic model, and every problem is raised in one ``RequestValidationError``, which errors.py
   answers for every route alike;
4. the endpoint is called with the caller, the engine and the request put in directly.

:func:`install` also puts the lean routes first in the app's routing: FastAPI otherwise walks every
included router before it (matching the chosen route twice, once to pick its router and once in it).

Skipped on every request: solving the dependency tree (a sub-solve, a cache lookup and a coroutine per
dependency, ``Caller`` and ``EngineDep``), the solver's response, background-task and cookie
bookkeeping, working out where and how each parameter is read, and the MIME parse of the content type.
tests/server/test_lean_routes.py holds each lean route's answers to bad requests equal to those of
FastAPI's own handler of the same endpoint.

A lean endpoint takes parameters, one required pydantic model as its body, ``Caller``, ``EngineDep``
and ``Request``, and returns a ``Response``; a route asking for more is refused when declared.
"""

from __future__ import annotations

import copy
import email.message
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

from fastapi import APIRouter, FastAPI, Request, Response, params
from fastapi._compat import ModelField
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, NoMatchFound, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from intentd.model import IntentdError

from .auth import app_engine, authenticate, engine_of
from .parsing import WireRequest

Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Response]])
Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_NO_BODY = object()


def post(router: APIRouter, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """``@router.post(path, **options)``, lean."""

    def declare(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=["POST"], route_class_override=LeanRoute, **options)
        return endpoint

    return declare


class LeanRoute(APIRoute):
    """An ``APIRoute`` (so its OpenAPI operation is FastAPI's, from the endpoint) with a lean handler."""

    def get_route_handler(self) -> Handler:
        return _Plan.of(self).handler()


def install(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Route requests for the lean routes of ``routers`` (all included in ``app``) before any other."""
    app.router.routes.insert(
        0, LeanFirst([r for rt in routers for r in rt.routes if isinstance(r, LeanRoute)])
    )


class LeanFirst(BaseRoute):
    """The app's first route: a request a lean route takes goes to it after one match of each lean
    route's path, not FastAPI's walk through the included routers. It sends a request to the route
    the walk would find: no route before a lean one takes its requests (tests/server/test_lean_routes.py).
    Anything it does not take whole (another method: a 405 to answer) goes on to the other routes."""

    def __init__(self, routes: list[LeanRoute]) -> None:
        self.routes = routes
        # Starlette's wrapper (the app's exception handlers), without FastAPI's per-request exit
        # stacks, which only dependencies with ``yield`` use.
        self.apps: dict[int, ASGIApp] = {id(r): request_response(r.get_route_handler()) for r in routes}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        for route in self.routes:
            match, child_scope = route.matches(scope)
            if match == Match.FULL:
                return match, child_scope  # its "route" says which
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.apps[id(scope["route"])](scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)  # the routes themselves answer, where they are


@dataclass(frozen=True)
class _Plan:
    """What a lean route's handler needs to know about its endpoint, worked out once."""

    route_path: str
    endpoint: Callable[..., Awaitable[Response]]
    path_params: tuple[_Param, ...]
    query_params: tuple[_Param, ...]
    header_params: tuple[_Param, ...]
    body_name: str
    body_model: type[BaseModel]
    caller_name: str | None  # the endpoint's names for what the handler puts in
    engine_name: str | None
    request_name: str | None
    json_without_content_type: bool

    @classmethod
    def of(cls, route: APIRoute) -> _Plan:
        dependant = route.dependant
        assert dependant.call is not None
        names = _injected(dependant)
        body_name, body_model = _body(dependant)
        strict = route.strict_content_type
        return cls(
            route_path=route.path,
            endpoint=dependant.call,
            path_params=tuple(_Param.of(f, route.path) for f in dependant.path_params),
            query_params=tuple(_Param.of(f, route.path) for f in dependant.query_params),
            header_params=tuple(_Param.of(f, route.path) for f in dependant.header_params),
            body_name=body_name,
            body_model=body_model,
            caller_name=names.get(authenticate),
            engine_name=names.get(engine_of),
            request_name=dependant.request_param_name,
            json_without_content_type=not (
                strict.value if isinstance(strict, DefaultPlaceholder) else strict
            ),
        )

    def handler(self) -> Handler:
        needs_key = self.route_path.startswith("/v1/")

        async def handle(request: Request) -> Response:
            request = WireRequest(request.scope, request.receive)
            values: dict[str, Any] = {}
            principal = await authenticate(request) if needs_key else None
            body = await _read_body(request, self.json_without_content_type)
            errors = self.check_params(request, values)
            values[self.body_name] = _check_body(self.body_model, body, errors)
            if errors:
                raise RequestValidationError(errors)
            if self.caller_name:
                values[self.caller_name] = principal
            if self.engine_name:
                values[self.engine_name] = app_engine(request)
            if self.request_name:
                values[self.request_name] = request
            return await self.endpoint(**values)

        return handle

    def check_params(self, request: Request, values: dict[str, Any]) -> list[Any]:
        """Path, query and header parameters into ``values``, their problems in FastAPI's order."""
        errors: list[Any] = []
        for param in self.path_params:
            param.check(request.path_params, values, errors)
        for param in self.query_params:
            param.check(request.query_params, values, errors)
        for param in self.header_params:
            param.check(request.headers, values, errors)
        return errors


def _injected(dependant: Dependant) -> dict[Callable[..., Any], str]:
    """The endpoint's dependencies (by function: their parameter names). One the handler does not
    put in itself would silently not run, so it is refused, as is what else a solver provides."""
    names = {}
    for sub in dependant.dependencies:
        if sub.call not in (authenticate, engine_of) or sub.name is None or sub.dependencies:
            raise TypeError(f"a lean route cannot depend on {sub.call!r} ({dependant.path})")
        names[sub.call] = sub.name
    unsupported = (
        dependant.cookie_params,
        dependant.websocket_param_name,
        dependant.http_connection_param_name,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
    )
    if any(unsupported):
        raise TypeError(
            f"a lean route takes parameters, a body, the caller and the engine ({dependant.path})"
        )
    return names


def _body(dependant: Dependant) -> tuple[str, type[BaseModel]]:
    fields = dependant.body_params
    model = fields[0].field_info.annotation if len(fields) == 1 else None
    if not (isinstance(model, type) and issubclass(model, BaseModel) and fields[0].field_info.is_required()):
        raise TypeError(f"a lean route takes one required pydantic model as its body ({dependant.path})")
    return fields[0].name, model


async def _read_body(request: Request, json_without_content_type: bool) -> Any:
    """The body as FastAPI reads it: parsed JSON when the content type says JSON, else the bytes (which
    no model takes), :data:`_NO_BODY` when empty. Reading errors are answered as FastAPI answers them:
    the intentd error that caused one (a chunked body past the limit: 413), else a 400."""
    try:
        raw = await request.body()
        if not raw:
            return _NO_BODY
        content_type = request.headers.get("content-type")
        if _is_json(content_type) if content_type else json_without_content_type:
            return await request.json()
        return raw
    except (IntentdError, HTTPException):
        raise
    except Exception as exc:  # e.g. the client gone before its body arrived
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


@lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    """``application/json`` or ``application/…+json``, by the standard library's MIME parser as FastAPI
    reads it (parameters, case, a malformed type), once per distinct header value."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


@dataclass(frozen=True)
class _Param:
    """A path, query or header parameter: where it is read, and its field (FastAPI's, so a problem with
    it reads as FastAPI's), worked out once. FastAPI works out both on every request, for every kind
    of parameter (lists, models, alias choices); a lean route's parameters are single values."""

    field: ModelField
    source: str  # path, query or header: the first part of a problem's location, as in FastAPI's
    key: str

    @classmethod
    def of(cls, field: ModelField, route_path: str) -> _Param:
        info = field.field_info
        assert isinstance(info, params.Param)
        single = _single_value(info.annotation) and info.validation_alias in (None, field.alias)
        if not single or info.validate_default:
            raise TypeError(f"a lean route's parameters are single values under one name ({route_path})")
        return cls(field, info.in_.value, field.alias)

    def check(self, received: Mapping[str, Any], values: dict[str, Any], errors: list[Any]) -> None:
        value = received.get(self.key)
        if value is None:
            if self.field.field_info.is_required():
                errors.append(_missing((self.source, self.key)))
            else:
                values[self.field.name] = copy.deepcopy(self.field.default)
            return
        checked, problems = self.field.validate(value, values, loc=(self.source, self.key))
        if problems:
            errors.extend(problems)
        else:
            values[self.field.name] = checked


def _single_value(annotation: Any) -> bool:
    """``str``, ``int``, ``float`` or ``bool``, or one of them or None."""
    kinds = {annotation} if get_origin(annotation) not in (Union, UnionType) else set(get_args(annotation))
    kinds.discard(type(None))
    return len(kinds) == 1 and kinds <= {str, int, float, bool}


def _missing(loc: tuple[str, ...]) -> dict[str, Any]:
    """FastAPI's problem for a required parameter or body that was not sent."""
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}


def _check_body(model: type[BaseModel], body: Any, errors: list[Any]) -> BaseModel | None:
    """The body validated by its model as FastAPI validates it (the parsed JSON, attributes allowed),
    each problem located under ``body`` as FastAPI locates it."""
    if body is _NO_BODY:
        errors.append(_missing(("body",)))
        return None
    try:
        return model.model_validate(body, from_attributes=True)
    except ValidationError as exc:
        errors.extend({**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False))
        return None
