"""The lean hot routes (server/lean.py) answer every request as FastAPI's own handler of the same
endpoint does: each bad request here, and any body hypothesis makes up, gets the same status, headers
and body from the lean route as from its twin, the same endpoint declared as an ordinary route (its
dependencies solved by FastAPI) on the same engine. The routing in front of them sends each request to
the route FastAPI's own routing would, and ``/openapi.json`` describes them as ordinary routes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from hypothesis import given
from hypothesis import strategies as st
from starlette.routing import Match

from intentd.server import errors
from intentd.server._responses import FastJSONResponse
from intentd.server.lean import LeanFirst, LeanRoute
from intentd.server.middleware import RequestContext
from intentd.server.parsing import IntentdRoute
from intentd.settings import Settings
from intentd.wire.limits import MAX_JSON_DEPTH
from tests._support import databases, servers
from tests._support.http_api import WRITER
from tests._support.properties import against_one_database
from tests._support.servers import AppClient

JSON = dict[str, Any]
LONELY = "agent://acme/prod/lonely"  # no intent is ever sent to it: a claim for it gets nothing
# Each hot route: its path for these tests (an intent id that does not exist), and a body it takes.
ROUTES: dict[str, tuple[str, JSON]] = {
    "create": ("/v1/intents", {"intent_type": "intent.demo.v1", "correlation_id": "c", "to_agent": WRITER}),
    "claim": (f"/v1/agents/{LONELY}/claims", {"max_intents": 1, "lease_seconds": 5}),
    "heartbeat": ("/v1/intents/i-unknown/lease/heartbeat", {"lease_token": "t", "lease_seconds": 5}),
    "complete": ("/v1/intents/i-unknown/complete", {"lease_token": "t", "result": {}}),
    "fail": ("/v1/intents/i-unknown/fail", {"lease_token": "t", "error": "boom", "retry": True}),
}
# A value of the wrong type for one field of each.
WRONG_TYPE: dict[str, JSON] = {
    "create": {"intent_type": 5},
    "claim": {"max_intents": "1"},
    "heartbeat": {"lease_token": 5},
    "complete": {"result": []},
    "fail": {"retry": "yes"},
}
TOO_DEEP = b'{"x": ' + b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1) + b"}"
LIMIT = 64 * 1024  # the body limit of these tests' apps


@pytest.fixture
def backend() -> str:
    """SQLite only: what is compared happens before the engine, or is a 404 either backend gives."""
    return "sqlite"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return servers.app_settings(database_url, max_body_bytes=LIMIT)


@pytest.fixture
async def twin(api: AppClient) -> AsyncIterator[AppClient]:
    async with AppClient(fastapi_twin(api.app)) as client:
        yield client


def lean_routes(app: FastAPI) -> list[LeanRoute]:
    first = app.router.routes[0]
    assert isinstance(first, LeanFirst), "the lean routes are matched first"
    return first.routes


def fastapi_twin(app: FastAPI) -> FastAPI:
    """``app``'s lean endpoints as ordinary routes, answered as ``app`` answers (its error handlers and
    middleware, its engine and settings)."""
    twin = FastAPI(default_response_class=FastJSONResponse)
    errors.install(twin)
    router = APIRouter(route_class=IntentdRoute)
    for route in lean_routes(app):
        router.add_api_route(route.path, route.endpoint, methods=sorted(route.methods))
    twin.include_router(router)
    settings: Settings = app.state.settings
    twin.add_middleware(
        RequestContext, max_body_bytes=settings.max_body_bytes, max_header_bytes=settings.max_header_bytes
    )
    twin.state.settings, twin.state.engine = settings, app.state.engine
    twin.state.rate_limiter = app.state.rate_limiter
    return twin


def answer(response: httpx.Response) -> tuple[int, Any, list[tuple[str, str]]]:
    """What a client can tell of an answer, but for the request id each answer has its own of."""
    headers = sorted((k, v) for k, v in response.headers.items() if k != "x-request-id")
    try:
        body = response.json()
    except ValueError:
        body = response.content
    return response.status_code, body, headers


async def same_answer(api: AppClient, twin: AppClient, path: str, **request: Any) -> Any:
    lean = await api.post(path, **_sendable(request))
    solved = await twin.post(path, **_sendable(request))
    assert answer(lean) == answer(solved)
    return answer(lean)


def _sendable(request: JSON) -> JSON:
    """``chunked=data``: the body sent in chunks with no length, as a stream is (each send its own)."""
    if "chunked" not in request:
        return request
    data = request["chunked"]

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 8192):
            yield data[start : start + 8192]

    return {**{k: v for k, v in request.items() if k != "chunked"}, "content": chunks()}


def cases() -> Iterator[Any]:
    """(route, what is wrong, request) for every hot route."""
    for name, (path, body) in ROUTES.items():
        broken = {k: v for k, v in body.items() if k != next(iter(body))}  # without its first field
        json = {"content-type": "application/json"}
        requests: dict[str, JSON] = {
            "bad JSON": {"content": b'{"lease_token": ', "headers": json},
            "NaN": {"content": b'{"lease_token": NaN}', "headers": json},
            "lone surrogate": {"content": b'{"x": "\\ud800"}', "headers": json},
            "no body": {"content": b"", "headers": json},
            "not an object": {"json": [body]},
            "a string": {"json": "body"},
            "no content type": {"content": orjson.dumps(body)},
            "text/plain": {"content": orjson.dumps(body), "headers": {"content-type": "text/plain"}},
            "+json type": {"json": broken, "headers": {"content-type": "application/vnd.x+json; q=1"}},
            "JSON type in capitals": {"json": broken, "headers": {"content-type": "Application/JSON"}},
            "missing field": {"json": broken},
            "wrong type": {"json": {**body, **WRONG_TYPE[name]}},
            "unknown key": {"json": {**broken, "unknown_key": 1}},
            "two problems": {"json": {**broken, **WRONG_TYPE[name], "lease_seconds": -1}},
            "too deep": {"content": TOO_DEEP, "headers": json},
            "integer past 64 bits": {"content": b'{"x": 123456789012345678901234567890}', "headers": json},
            "too large": {"json": {**body, "x": "x" * LIMIT}},
            "too large, chunked": {"chunked": b" " * (LIMIT + 1), "headers": json},
            "wrong key, bad JSON": {"content": b"{", "headers": {**json, "x-api-key": "itd_wrong"}},
        }
        for problem, request in requests.items():
            yield pytest.param(path, request, id=f"{name}: {problem}")
    create = ROUTES["create"][1]
    for problem, params, headers in (
        ("wait_seconds negative", {"wait_seconds": "-1"}, {}),
        ("wait_seconds not a number", {"wait_seconds": "soon"}, {}),
        ("wait_seconds infinite", {"wait_seconds": "inf"}, {}),
        ("empty Idempotency-Key", {}, {"idempotency-key": ""}),
        ("long Idempotency-Key", {}, {"idempotency-key": "k" * 256}),
        ("query, header and body", {"wait_seconds": "-1"}, {"idempotency-key": ""}),
    ):
        request = {"json": {**create, "payload": 5}, "params": params, "headers": headers}
        yield pytest.param("/v1/intents", request, id=f"create: {problem}")
    for problem, intent_id in (("id too long", "i" * 256), ("id with NUL", "i%00d")):
        yield pytest.param(f"/v1/intents/{intent_id}/complete", {"json": {"lease_token": "t"}}, id=problem)


@pytest.mark.parametrize(("path", "request_"), list(cases()))
async def test_a_bad_request_gets_the_answer_fastapi_gives(
    api: AppClient, twin: AppClient, path: str, request_: JSON
) -> None:
    status, _, _ = await same_answer(api, twin, path, **request_)
    assert status < 500


async def test_the_error_answers_say_what_was_wrong(api: AppClient, twin: AppClient) -> None:
    """Not only the same as FastAPI's: the right answers (the cases above only compare)."""
    path, body = ROUTES["complete"]
    status, bad_json, _ = await same_answer(
        api, twin, path, content=b"{", headers={"content-type": "application/json"}
    )
    assert (status, bad_json["error"]["code"]) == (400, "bad_request")
    status, missing, _ = await same_answer(api, twin, path, json={"result": {}})
    assert (status, missing["error"]["details"]["field"]) == (422, "lease_token")
    status, wrong, _ = await same_answer(api, twin, path, json={"lease_token": 5})
    assert (status, wrong["error"]["details"]["errors"][0]["type"]) == (422, "string_type")
    status, unknown, _ = await same_answer(api, twin, path, json={**body, "unknown_key": 1})
    assert (status, unknown["error"]["code"]) == (404, "intent_not_found")
    status, large, _ = await same_answer(api, twin, path, json={**body, "x": "x" * LIMIT})
    assert (status, large["error"]["code"]) == (413, "payload_too_large")
    status, no_body, _ = await same_answer(api, twin, path, content=b"")
    assert (status, no_body["error"]["details"]["field"]) == (422, "body")
    status, text, _ = await same_answer(api, twin, path, content=b'{"lease_token": "t"}')
    assert (status, text["error"]["details"]["errors"][0]["type"]) == (422, "model_attributes_type")


async def test_a_wrong_method_on_a_lean_path_is_405_naming_post(api: AppClient) -> None:
    response = await api.get(ROUTES["complete"][0])
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_a_claim_through_the_lean_routes(api: AppClient) -> None:
    """The happy path, through the routing in front: create, claim, heartbeat, complete."""
    path, body = ROUTES["create"]
    created = (await api.post(path, json={**body, "to_agent": "agent://acme/lean/one", "payload": {}})).json()
    claimed = (await api.post("/v1/agents/agent://acme/lean/one/claims", json={})).json()
    (delivery,) = claimed["deliveries"]
    assert delivery["intent"]["intent_id"] == created["intent_id"]
    lease = f"/v1/intents/{created['intent_id']}"
    token = delivery["lease"]["token"]
    beat = await api.post(f"{lease}/lease/heartbeat", json={"lease_token": token, "lease_seconds": 60})
    assert beat.status_code == 200 and beat.json()["lease"]["token"] == token
    done = await api.post(f"{lease}/complete", json={"lease_token": token, "result": {"n": 1}})
    assert done.json()["intent"]["status"] == "COMPLETED"


def test_the_hot_routes_are_lean(tmp_path: Path) -> None:
    app = servers.build_app(servers.app_settings(databases.sqlite_url(tmp_path)))
    assert {(route.path, *route.methods) for route in lean_routes(app)} == {
        ("/v1/intents", "POST"),
        ("/v1/agents/{address:path}/claims", "POST"),
        ("/v1/intents/{intent_id}/lease/heartbeat", "POST"),
        ("/v1/intents/{intent_id}/complete", "POST"),
        ("/v1/intents/{intent_id}/fail", "POST"),
    }


@pytest.mark.parametrize("address", ["acme/prod/writer", "agent://acme/prod/writer", "a/b/claims"])
def test_the_routing_in_front_sends_a_request_where_fastapi_would(tmp_path: Path, address: str) -> None:
    """No route FastAPI tries before a lean one takes that route's requests."""
    app = servers.build_app(servers.app_settings(databases.sqlite_url(tmp_path)))
    walked = app.router.routes[1:]  # FastAPI's own routing, without the lean routes in front
    for route in lean_routes(app):
        path = route.path.replace("{intent_id}", "i-1").replace("{address:path}", address)
        scope = {"type": "http", "method": "POST", "path": path, "root_path": "", "headers": []}
        chosen = next(c for c in iter_route_contexts(walked) if c.matches(scope)[0] == Match.FULL)
        assert chosen.original_route is route, path


def test_the_schema_describes_the_lean_routes(tmp_path: Path) -> None:
    """Each lean route is in /openapi.json with its body model, its answer model, its parameters and
    the API key, as an ordinary route is (the document is what FastAPI makes of the declarations)."""
    app = servers.build_app(servers.app_settings(databases.sqlite_url(tmp_path)))
    schema = app.openapi()
    for route in lean_routes(app):
        operation = schema["paths"][route.path.replace(":path", "")]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{route.body_field.field_info.annotation.__name__}"}
        answered = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert answered == {"$ref": f"#/components/schemas/{route.response_model.__name__}"}
        assert {"401", "404", "413", "422"} <= set(operation["responses"])
        params = {p.alias for p in (*route.dependant.path_params, *route.dependant.query_params)}
        params |= {p.alias for p in route.dependant.header_params}
        assert {p["name"] for p in operation.get("parameters", [])} == params
        assert operation["security"] == [{"ApiKeyHeader": []}, {"BearerKey": []}]


# --- any body -------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
# Bodies near each route's model: some of its fields (any value) and, now and then, another key. A
# create never names its agent (so none is created twice, under two ids) and a claim never waits.
FIELDS = {
    "create": ["intent_type", "correlation_id", "payload", "deadline_at", "human_task", "max_reminders"],
    "claim": ["worker_id", "max_intents", "lease_seconds"],
    "heartbeat": ["lease_token", "lease_seconds"],
    "complete": ["lease_token", "result", "then", "usage"],
    "fail": ["lease_token", "error", "retry", "retry_after_seconds", "usage"],
}


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, JSON]:
    name = draw(st.sampled_from(sorted(ROUTES)))
    fields = {f: json_values | st.just(ROUTES[name][1].get(f, "t")) for f in FIELDS[name]}
    body = draw(st.fixed_dictionaries({}, optional={**fields, "other": json_values}) | json_values)
    content_type = draw(st.sampled_from(["application/json", "text/plain", "application/x+json", None]))
    headers = {"content-type": content_type} if content_type else {}
    # The standard library writes integers of any size, which the wire refuses past 64 bits.
    return ROUTES[name][0], {"content": json.dumps(body).encode(), "headers": headers}


def test_any_body_gets_the_answer_fastapi_gives(tmp_path: Path) -> None:
    settings = servers.app_settings(databases.sqlite_url(tmp_path), max_body_bytes=LIMIT)
    with asyncio.Runner() as runner:
        stack = AsyncExitStack()
        api = runner.run(stack.enter_async_context(servers.serving(servers.build_app(settings))))
        twin = runner.run(stack.enter_async_context(AppClient(fastapi_twin(api.app))))

        @against_one_database(300)
        @given(requests())
        def same(request: tuple[str, JSON]) -> None:
            runner.run(same_answer(api, twin, request[0], **request[1]))

        try:
            same()
        finally:
            runner.run(stack.aclose())
