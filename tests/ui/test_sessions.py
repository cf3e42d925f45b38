"""The dashboard's session and its protections over real HTTP (httpx, no browser), against ``intentd
serve`` on both backends: a form post without the session's CSRF token is refused and changes nothing,
a cross-site post is refused, the cookie is HttpOnly, SameSite=Strict and scoped to /ui, and neither
the key nor the session id reaches a URL or the server's log."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests._support.servers import API_KEY, Server
from tests.ui.conftest import an_agent

pytestmark = pytest.mark.slow


@pytest.fixture
def browser_like(live: Server) -> Iterator[httpx.Client]:
    """An HTTP client that keeps cookies, as a browser does, signed in with the test key."""
    with httpx.Client(base_url=live.url, timeout=30) as client:
        signed_in = client.post("/ui/login", data={"api_key": API_KEY})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ui/intents"
        yield client


def _token(client: httpx.Client) -> str:
    page = client.get("/ui/fleet")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def _killed(live: Server, agent: str) -> bool:
    with live.client() as api:
        return any(k["target"] == agent for k in api.get("/v1/mesh/kills").json()["kills"])


def test_a_post_without_the_csrf_token_is_refused(live: Server, browser_like: httpx.Client) -> None:
    agent = an_agent("target")
    with live.client() as api:
        api.post("/v1/mesh/heartbeat", params={"owner_agent": agent})

    bare = browser_like.post("/ui/fleet/kill", data={"address": agent})
    wrong = browser_like.post("/ui/fleet/kill", data={"address": agent, "csrf_token": "forged"})
    forged_header = browser_like.post(
        "/ui/fleet/kill", data={"address": agent}, headers={"x-csrf-token": "x"}
    )
    signed_out = browser_like.post("/ui/logout")

    for refused in (bare, wrong, forged_header, signed_out):
        assert refused.status_code == 403, refused.text
        assert "CSRF token" in refused.text
    assert not _killed(live, agent)
    assert browser_like.get("/ui/fleet").status_code == 200  # still signed in

    token = _token(browser_like)
    done = browser_like.post("/ui/fleet/kill", data={"address": agent, "csrf_token": token})
    assert done.status_code == 303 and _killed(live, agent)
    by_htmx = browser_like.post(
        "/ui/fleet/resume", data={"address": agent}, headers={"x-csrf-token": token, "hx-request": "true"}
    )
    assert by_htmx.status_code == 200 and f"Resumed {agent}." in by_htmx.text
    assert not _killed(live, agent)


def test_a_cross_site_post_is_refused(live: Server, browser_like: httpx.Client) -> None:
    cross = {"sec-fetch-site": "cross-site"}
    assert browser_like.post("/ui/login", data={"api_key": API_KEY}, headers=cross).status_code == 403
    token = _token(browser_like)
    refused = browser_like.post("/ui/logout", data={"csrf_token": token}, headers=cross)
    assert refused.status_code == 403


def test_the_cookie_is_kept_from_scripts_other_sites_and_the_api(live: Server) -> None:
    with httpx.Client(base_url=live.url) as client:
        signed_in = client.post("/ui/login", data={"api_key": API_KEY})
        [cookie] = signed_in.headers.get_list("set-cookie")
        session_id = client.cookies["intentd_ui"]
        page = client.get("/ui/intents")

    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "Path=/ui" in cookie and "SameSite=strict" in cookie
    assert "secure" not in attributes  # plain http here: a Secure cookie would never come back
    assert page.headers["content-security-policy"].startswith("default-src 'self'; script-src 'self'")
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert session_id not in page.text and API_KEY not in page.text
    log = live.log_path.read_text(errors="replace")
    assert API_KEY not in log and session_id not in log


def test_the_session_is_no_api_key(live: Server, browser_like: httpx.Client) -> None:
    # The cookie is scoped to /ui; sent to the API anyway, it authenticates nothing there.
    session_id = browser_like.cookies["intentd_ui"]
    answer = httpx.get(f"{live.url}/v1/intents", cookies={"intentd_ui": session_id})
    assert answer.status_code == 401


def test_a_wrong_key_gets_the_form_again(live: Server) -> None:
    with httpx.Client(base_url=live.url) as client:
        refused = client.post("/ui/login", data={"api_key": "itd_wrong"})
        assert refused.status_code == 401 and "That key was not accepted." in refused.text
        assert "itd_wrong" not in refused.text and "intentd_ui" not in client.cookies
        assert client.get("/ui/intents").headers["location"] == "/ui/login"
