"""Per-key limits of a server process, on both backends: the request rate (429 ``rate_limited`` with a
``Retry-After``, on ordinary and lean routes alike, per key) and the number of open streams per key
(429 ``too_many_streams``; a slot comes back however its stream ends, the client's cut included)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi.routing import APIRoute

from intentd.model import RateLimited
from intentd.server.dashboard.pages import PAGES
from intentd.server.ratelimit import RateLimiter, StreamSlots
from intentd.settings import Settings
from tests._support.http_api import WRITER, intent_body
from tests._support.servers import API_KEY, AppClient, app_settings, build_app, listening, serving

ADDRESS = WRITER.removeprefix("agent://")


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_holds_a_burst_and_refills_at_the_rate() -> None:
    clock = Ticks()
    limiter = RateLimiter(per_second=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.check("k1")
    with pytest.raises(RateLimited) as refused:
        limiter.check("k1")
    assert refused.value.retry_after == pytest.approx(0.5)
    assert refused.value.details == {"retry_after_seconds": 0.5}
    limiter.check("k2")  # another key has its own bucket
    clock.now += 0.5  # one token back
    limiter.check("k1")
    with pytest.raises(RateLimited):
        limiter.check("k1")
    clock.now += 60  # never more than the burst
    for _ in range(3):
        limiter.check("k1")
    with pytest.raises(RateLimited):
        limiter.check("k1")


def test_a_stream_slot_is_given_back_once() -> None:
    slots = StreamSlots.of(2)
    first, second = slots.take("k"), slots.take("k")
    with pytest.raises(RateLimited) as refused:  # TooManyStreams is a RateLimited
        slots.take("k")
    assert refused.value.code == "too_many_streams"
    first()
    first()  # twice is once
    assert slots.held("k") == 1
    second()
    assert slots.held("k") == 0
    assert StreamSlots.of(0).take("k") is not None  # 0: no limit


@pytest.fixture
def settings(database_url: str) -> Settings:
    return app_settings(
        database_url,
        rate_limit_per_second=0.01,  # nothing refills during the test
        rate_limit_burst=3,
        max_streams_per_key=1,
        max_stream_wait_seconds=1.0,
    )


async def test_past_its_burst_a_key_is_refused_with_retry_after(api: AppClient) -> None:
    assert (await api.get("/v1/intents")).status_code == 200
    assert (await api.post("/v1/intents", json=intent_body(WRITER))).status_code == 200  # a lean route
    assert (await api.post(f"/v1/agents/{ADDRESS}/claims", json={"worker_id": "w"})).status_code == 200

    for refused in [await api.get("/v1/intents"), await api.post("/v1/intents", json=intent_body(WRITER))]:
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "rate_limited"
        assert refused.json()["error"]["retryable"] is True
        assert int(refused.headers["retry-after"]) >= 60  # a token is 100 s away at 0.01/s

    # Another key has its own bucket; a request without a valid key is refused before any bucket.
    _, other = await api.engine.keys.create("other")
    async with AppClient(api.app, api_key=other) as client:
        assert (await client.get("/v1/intents")).status_code == 200
    async with AppClient(api.app, api_key="itd_wrong") as stranger:
        assert (await stranger.get("/v1/intents")).json()["error"]["code"] == "invalid_api_key"


async def test_the_rate_limit_is_off_by_default(database_url: str) -> None:
    async with serving(build_app(app_settings(database_url))) as api:
        assert api.app.state.rate_limiter is None
        answers = await asyncio.gather(*[api.get("/v1/intents") for _ in range(50)])
        assert {a.status_code for a in answers} == {200}


async def held_slots(api: AppClient, count: int) -> None:
    slots: StreamSlots = api.app.state.stream_slots
    principal = await api.engine.keys.authenticate(API_KEY)
    async with asyncio.timeout(5):
        while slots.held(principal.key_id) != count:
            await asyncio.sleep(0.01)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/deliveries/stream?agent=agent://acme/prod/writer&worker_id=w",
        f"/v1/agents/{ADDRESS}/intents/stream?wait_seconds=5",
        "/v1/intents/{intent_id}/events/stream?wait_seconds=5",
    ],
)
async def test_a_key_holds_at_most_its_streams(database_url: str, path: str) -> None:
    settings = app_settings(database_url, max_streams_per_key=1, max_stream_wait_seconds=1.0)
    async with serving(build_app(settings)) as api:
        created = await api.post("/v1/intents", json=intent_body(WRITER))
        path = path.replace("{intent_id}", created.json()["intent_id"])
        first = asyncio.create_task(api.get(path))
        await held_slots(api, 1)

        refused = await api.get(path)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "too_many_streams"
        assert refused.headers["retry-after"] == "1"
        _, other = await api.engine.keys.create("other")
        async with AppClient(api.app, api_key=other) as client:  # another key's streams are its own
            assert (await client.get(path)).status_code == 200

        assert (await first).status_code == 200  # ended by itself: the slot is back
        await held_slots(api, 0)
        assert (await api.get(path)).status_code == 200


async def test_a_stream_cut_by_its_client_gives_its_slot_back(database_url: str) -> None:
    settings = app_settings(database_url, max_streams_per_key=1, max_stream_wait_seconds=60.0)
    app = build_app(settings)
    async with serving(app) as api, listening(app) as url:
        for _ in range(3):  # each time the slot is back for the next
            async with httpx.AsyncClient(base_url=url, headers={"x-api-key": API_KEY}) as client:
                lines = stream_lines(client, "/v1/deliveries/stream", {"agent": WRITER, "worker_id": "w"})
                assert "event: ready" in await anext(lines)
                await held_slots(api, 1)
                await lines.aclose()  # the client goes away mid-stream
            await held_slots(api, 0)


async def stream_lines(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> AsyncIterator[str]:
    async with client.stream("GET", path, params=params) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line:
                yield line


async def test_body_and_header_limits_hold_on_every_route(api: AppClient) -> None:
    """The size limits are the app's middleware, so every route has them, a route added later too:
    each route of the app, whatever its method, refuses a body past ``INTENTD_MAX_BODY_BYTES`` (413)
    and headers past ``INTENTD_MAX_HEADER_BYTES`` (431) before it runs (and before any key or rate
    limit is looked at)."""
    settings: Settings = api.app.state.settings
    big_body = b"x" * (settings.max_body_bytes + 1)
    big_header = {"x-padding": "h" * settings.max_header_bytes}
    paths = api.app.openapi()["paths"]  # every route the app serves, documented, and the dashboard's
    assert len(paths) > 40
    operations = [(template, method) for template, methods in paths.items() for method in methods]
    dashboard = [route for pages in PAGES for route in pages.router.routes if isinstance(route, APIRoute)]
    operations += [(route.path, method) for route in dashboard for method in route.methods]
    for template, method in operations:
        path = re.sub(r"\{[^}]+\}", "x", template)
        too_big = await api.request(method, path, content=big_body)
        assert (too_big.status_code, too_big.json()["error"]["code"]) == (413, "payload_too_large"), path
        too_long = await api.request(method, path, headers=big_header)
        assert (too_long.status_code, too_long.json()["error"]["code"]) == (431, "headers_too_large"), path


async def test_the_dashboard_counts_against_its_keys_rate_and_streams(api: AppClient) -> None:
    """A person at the dashboard is their key: its pages take from the key's request budget, and the
    live view of a run holds one of its stream slots (a page past either is refused, as HTML)."""
    intent_id = (await api.post("/v1/intents", json=intent_body(WRITER))).json()["intent_id"]  # 1 of 3
    async with httpx.AsyncClient(transport=api.to_app(), base_url="http://ui.test") as web:
        assert (await web.post("/ui/login", data={"api_key": API_KEY})).status_code == 303  # no budget
        live = asyncio.create_task(web.get(f"/ui/intents/{intent_id}/live"))  # 2 of 3, held 1 s
        await held_slots(api, 1)
        refused = await web.get(f"/ui/intents/{intent_id}/live")  # 3 of 3
        assert refused.status_code == 429 and "too_many_streams" in refused.text
        assert (await live).status_code == 200
        page = await web.get("/ui/intents")  # the fourth request
    assert page.status_code == 429 and "rate_limited" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert int(page.headers["retry-after"]) >= 60
