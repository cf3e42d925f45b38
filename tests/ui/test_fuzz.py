"""The dashboard fuzzed with Schemathesis on both backends, as tests/server/test_fuzz.py fuzzes the API.

The dashboard's routes are out of ``/openapi.json``, so the run builds their schema from the app's own
routes: each page's path and query parameters, and each form as its route declares it
(``dashboard/_routing.form``). Every request is signed in with an admin's session and carries its CSRF
token, against an app holding intents in several states, a human task and an agent; path parameters and
a form's ``address`` take those ids and generated ones. Each answer must be:

- no 5xx;
- a page with the dashboard's security headers (its content security policy above all);
- free of server errors: no ``intentd`` log record at ERROR or above, no exception out of the app;
- for the live stream, a stream that ends by itself (the app caps it at ``fuzz.SHORT_WAIT``).

Schemathesis's conformance checks are left out: the answers are HTML pages, and a form ignores fields it
does not know, as browsers' forms expect. Signing out is left out too (it would end the session the run
uses; tests/ui/test_sessions.py covers it).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, CheckContext, HookContext, Response
from schemathesis.python import asgi

from intentd.server.dashboard._routing import SECURITY_HEADERS
from intentd.server.dashboard.pages import PAGES
from intentd.server.dashboard.session import COOKIE, CSRF_HEADER, csrf_token
from tests._support import fuzz
from tests._support.http_api import WRITER, intent_body
from tests._support.servers import API_KEY

EXAMPLES = 15  # generated cases per route, besides the coverage cases; ~20 routes on each backend
LEFT_OUT = frozenset({"/ui/logout"})
FORM_VALUES = {  # besides generated ones: the seeded agent (and a version of it), a valid route, outcomes
    "address": [WRITER, f"{WRITER}@v2"],
    "weights": ["v1=90, v2=10"],
    "outcome": ["approved", "rejected"],
}

schema = schemathesis.pytest.from_fixture("fuzzed_dashboard")


@pytest.fixture
def dashboard_watch(database_url: str) -> Iterator[fuzz.ServerWatch]:
    with fuzz.watched_app(database_url) as watch:
        yield watch


@pytest.fixture
def fuzzed_dashboard(
    dashboard_watch: fuzz.ServerWatch, request: pytest.FixtureRequest
) -> Iterator[schemathesis.BaseSchema]:
    request.node._nodeid = request.node.nodeid  # as in tests/server/test_fuzz.py
    print(f"fuzz seed {fuzz.SEED}, {EXAMPLES} generated cases per route")
    try:
        known = fuzz.seed_state(dashboard_watch)  # starts the app's lifespan, as Schemathesis runs it
        known["task_id"] = [_human_task_and_route(dashboard_watch)]
        session_id = _sign_in(dashboard_watch)
        headers = {"cookie": f"{COOKIE}={session_id}", CSRF_HEADER: csrf_token(session_id)}
        config = fuzz.fuzz_config(examples=EXAMPLES, headers=headers, checks={})
        loaded = schemathesis.openapi.from_dict(dashboard_schema(), config=config)
        loaded.app = dashboard_watch
        loaded.hook(fuzz.known_path_values(known))
        loaded.hook(known_form_values(FORM_VALUES))
        yield loaded
    finally:
        fuzz.stop()  # before the database is dropped


@pytest.mark.timeout(600)
@schema.parametrize()
def test_fuzz_dashboard(case: schemathesis.Case, dashboard_watch: fuzz.ServerWatch) -> None:
    case.call_and_validate(
        additional_checks=[dashboard_watch.server_logged_no_error, carries_the_security_headers, stream_ends]
    )


def dashboard_schema() -> dict[str, Any]:
    """An OpenAPI document of the dashboard's routes (but :data:`LEFT_OUT`), built as FastAPI builds
    ``/openapi.json`` from the routes it shows."""
    shown = []
    for route in (route for pages in PAGES for route in pages.router.routes):
        if isinstance(route, APIRoute) and route.path not in LEFT_OUT:
            route = copy.copy(route)
            route.include_in_schema = True
            shown.append(route)
    assert len(shown) > 10, f"only {len(shown)} dashboard routes found"
    return get_openapi(title="intentd dashboard", version="fuzz", routes=shown)


def known_form_values(known: Mapping[str, Sequence[str]]) -> Callable[..., SearchStrategy[Any]]:
    """A ``flatmap_body`` hook: a form's fields named in ``known`` keep their generated value or take a
    known one (so an action reaches an existing agent or task, not only a 4xx)."""

    def flatmap_body(ctx: HookContext, body: Any) -> SearchStrategy[Any]:
        if not isinstance(body, dict):
            return st.just(body)
        return st.fixed_dictionaries(
            {
                name: st.one_of(st.just(value), st.sampled_from(known[name]))
                if name in known
                else st.just(value)
                for name, value in body.items()
            }
        )

    return flatmap_body


def carries_the_security_headers(ctx: CheckContext, response: Response, case: Case[Any]) -> None:
    for name, value in SECURITY_HEADERS.items():
        sent = response.headers.get(name.lower()) or response.headers.get(name) or []
        if value not in sent:
            raise AssertionError(f"{case.method} {case.formatted_path} answered without {name}: {value}")


def stream_ends(ctx: CheckContext, response: Response, case: Case[Any]) -> None:
    if response.stream_cut_short:
        raise AssertionError(f"The live stream was cut: still open after {fuzz.REQUEST_TIMEOUT}s")


def _human_task_and_route(watch: fuzz.ServerWatch) -> str:
    """An intent gated on a person's approval (its task's id is returned), and a route for the seeded
    agent's versions (so a drain has a version to drain)."""
    with asgi.get_client(watch) as client:  # type: ignore[arg-type]  # ASGI's own app type
        client.headers["x-api-key"] = API_KEY
        form = {"type": "object", "properties": {"amount": {"type": "number"}}}
        task = {"title": "Refund order A-17?", "form_schema": form}
        made = client.post("/v1/intents", json=intent_body(WRITER, human_task=task))
        assert made.status_code == 200, made.text
        routed = client.put(
            f"/v1/mesh/routes/{WRITER.removeprefix('agent://')}", json={"weights": {"v1": 90, "v2": 10}}
        )
        assert routed.status_code == 200, routed.text
        listed = client.get("/v1/tasks")
        assert listed.status_code == 200, listed.text
        return quote(str(listed.json()["tasks"][0]["task_id"]), safe="")


def _sign_in(watch: fuzz.ServerWatch) -> str:
    with asgi.get_client(watch) as client:  # type: ignore[arg-type]
        answer = client.post("/ui/login", data={"api_key": API_KEY}, allow_redirects=False)
        assert answer.status_code == 303, answer.text
        return str(answer.cookies[COOKIE])
