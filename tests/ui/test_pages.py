"""The dashboard's pages in this process (the app behind httpx), on both backends: the intents search
and its filters, bad filters named, and what each role's key is shown and allowed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from intentd.engine.keys import ROLES
from tests._support.servers import API_KEY, AppClient

AGENT = "agent://ui/pages/writer"
OTHER = "agent://ui/pages/reviewer"


@asynccontextmanager
async def _signed_in(api: AppClient, key: str = API_KEY) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=api.to_app(), base_url="http://ui.test") as client:
        answer = await client.post("/ui/login", data={"api_key": key})
        assert answer.status_code == 303, answer.text
        yield client


@pytest.fixture
async def web(api: AppClient) -> AsyncIterator[httpx.AsyncClient]:
    async with _signed_in(api) as client:
        yield client


async def _submit(api: AppClient, to: str, kind: str, correlation_id: str) -> str:
    body = {"intent_type": kind, "to_agent": to, "payload": {}, "correlation_id": correlation_id}
    answer = await api.post("/v1/intents", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["intent_id"])


def _listed(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return re.findall(r'data-intent-id="([^"]+)"', page.text)


async def test_the_intents_search_filters(api: AppClient, web: httpx.AsyncClient) -> None:
    draft = await _submit(api, AGENT, "intent.draft.v1", "order-1")
    review = await _submit(api, OTHER, "intent.review.v1", "order-1")
    late = await _submit(api, AGENT, "intent.draft.v1", "order-2")
    await api.post(f"/v1/intents/{late}/cancel", json={"reason": "not needed"})

    assert _listed(await web.get("/ui/intents")) == [late, review, draft]  # newest first
    assert _listed(await web.get("/ui/intents/rows", params={"agent": "ui/pages/writer"})) == [late, draft]
    assert _listed(await web.get("/ui/intents/rows", params={"type": "intent.review.v1"})) == [review]
    assert _listed(await web.get("/ui/intents/rows", params={"status": "canceled"})) == [late]
    assert _listed(await web.get("/ui/intents/rows", params={"q": "order-1"})) == [review, draft]
    assert _listed(await web.get("/ui/intents/rows", params={"q": draft})) == [draft]
    assert _listed(await web.get("/ui/intents/rows", params={"until": "2000-01-01T00:00"})) == []
    assert _listed(await web.get("/ui/intents/rows", params={"since": "2000-01-01T00:00:00"})) == [
        late,
        review,
        draft,
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "DONE"}, "status"),
        ({"agent": "not an address"}, "agent"),
        ({"since": "yesterday"}, "since"),
    ],
)
async def test_a_bad_filter_is_named(web: httpx.AsyncClient, params: dict[str, str], field: str) -> None:
    page = await web.get("/ui/intents", params=params)
    assert page.status_code == 422 and field in page.text
    part = await web.get("/ui/intents/rows", params=params, headers={"hx-request": "true"})
    assert part.status_code == 422 and part.headers["hx-retarget"] == "#flash"


async def test_an_intent_of_another_namespace_is_not_found(api: AppClient) -> None:
    intent_id = await _submit(api, AGENT, "intent.draft.v1", "c-ns")
    _, secret = await api.engine.keys.create("elsewhere", "admin", "team-b")
    async with _signed_in(api, secret) as other:
        assert (await other.get(f"/ui/intents/{intent_id}")).status_code == 404
        assert _listed(await other.get("/ui/intents")) == []


# What each role's key may open (the API operations' roles, server/permissions.py).
PAGES = {
    "admin": {"/ui/intents", "/ui/humans", "/ui/fleet"},
    "submitter": {"/ui/intents", "/ui/humans", "/ui/fleet"},
    "agent": {"/ui/intents", "/ui/fleet"},
    "approver": {"/ui/humans"},
    "auditor": {"/ui/intents", "/ui/humans", "/ui/fleet"},
}


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_sees_the_pages_its_key_may_read(api: AppClient, role: str) -> None:
    agents = (AGENT,) if role == "agent" else ()
    _, secret = await api.engine.keys.create(f"{role}-person", role, agents=agents)
    async with _signed_in(api, secret) as web:
        opened = {
            path for path in ("/ui/intents", "/ui/humans", "/ui/fleet") if (await web.get(path)).is_success
        }
        fleet = await web.get("/ui/fleet")
    assert opened == PAGES[role]
    if fleet.is_success:  # the actions are offered to the role that may take them
        assert ('hx-post="/ui/fleet/kill"' in fleet.text) == (role == "admin")
    else:
        assert fleet.status_code == 403 and "role_not_allowed" in fleet.text


async def test_a_kill_by_a_key_that_may_not_is_refused(api: AppClient) -> None:
    _, secret = await api.engine.keys.create("watcher", "auditor")
    async with _signed_in(api, secret) as web:
        fleet = await web.get("/ui/fleet")
        token = re.search(r'"X-CSRF-Token": "([^"]+)"', fleet.text)
        assert token is not None
        refused = await web.post("/ui/fleet/kill", data={"address": AGENT, "csrf_token": token.group(1)})
    assert refused.status_code == 403 and "role_not_allowed" in refused.text
    assert api.engine.switches.killed("default", AGENT) is None


async def test_a_path_or_method_no_page_has_gets_the_dashboards_error_page(web: httpx.AsyncClient) -> None:
    """Not the API's JSON error: an HTML page with the dashboard's headers; a page's path with another
    method says which it takes."""
    missing = await web.get("/ui/nowhere")
    assert missing.status_code == 404 and "not_found" in missing.text
    wrong = await web.request("TRACE", "/ui/fleet/kill")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    for answer in (missing, wrong):
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    assert (await web.get("/ui/static/dashboard.css")).status_code == 200  # the static files come first
    assert (await web.get("/v1/nowhere")).json()["error"]["code"] == "not_found"  # the API's stay JSON
