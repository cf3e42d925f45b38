"""The held delivery stream over real HTTP, on both backends: frames, acknowledgement by completion,
heartbeats, backpressure (max_in_flight bounds what is leased, however slowly the agent reads), a
silent agent's lease expiring and the intent pushed again, a reconnect that loses and duplicates
nothing, a stream the server ends after its longest hold, and bad parameters refused before the
stream starts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest

from tests._support import servers
from tests._support.servers import API_KEY, AppClient, listening

AGENT = "agent://acme/test/streamed"
STREAM = "/v1/deliveries/stream"


@pytest.fixture
async def http(api: AppClient) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        listening(api.app) as url,
        httpx.AsyncClient(base_url=url, headers={"x-api-key": API_KEY}) as c,
    ):
        yield c


class Frames:
    """The SSE frames of one held stream, read one at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next(self, timeout: float = 10.0) -> tuple[str, dict[str, Any]]:
        event, data = "", b""
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:].encode()
                elif not line and event:
                    return event, orjson.loads(data)
        raise AssertionError("the stream ended")

    async def delivery(self, timeout: float = 10.0) -> dict[str, Any]:
        event, data = await self.next(timeout)
        assert event == "delivery", (event, data)
        return data


@asynccontextmanager
async def held(http: httpx.AsyncClient, worker: str = "w1", **params: Any) -> AsyncIterator[Frames]:
    query = {"agent": AGENT, "worker_id": worker, **params}
    async with http.stream("GET", STREAM, params=query, timeout=30) as response:
        assert response.status_code == 200, await response.aread()
        frames = Frames(response)
        event, ready = await frames.next()
        assert event == "ready" and ready["worker_id"] == worker and ready["agents"] == [AGENT]
        yield frames


async def submit(http: httpx.AsyncClient, n: int = 0) -> str:
    body = {
        "intent_type": "demo.task.v1",
        "to_agent": AGENT,
        "payload": {"n": n},
        "correlation_id": str(uuid.uuid4()),
    }
    answer = await http.post("/v1/intents", json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["intent_id"])


async def statuses(http: httpx.AsyncClient, ids: list[str]) -> list[str]:
    return [(await http.get(f"/v1/intents/{i}")).json()["intent"]["status"] for i in ids]


async def complete(http: httpx.AsyncClient, delivery: dict[str, Any]) -> httpx.Response:
    intent_id, token = delivery["intent"]["intent_id"], delivery["lease"]["token"]
    return await http.post(f"/v1/intents/{intent_id}/complete", json={"lease_token": token, "result": {}})


async def test_a_delivery_is_pushed_leased_and_acknowledged_by_its_completion(
    http: httpx.AsyncClient,
) -> None:
    async with held(http) as frames:
        intent_id = await submit(http)
        delivery = await frames.delivery()
        assert delivery["intent"]["intent_id"] == intent_id
        assert delivery["intent"]["status"] == "DELIVERED" and delivery["lease"]["delivery_attempt"] == 1
        assert "resumed" not in delivery

        token = delivery["lease"]["token"]
        beat = await http.post(f"/v1/intents/{intent_id}/lease/heartbeat", json={"lease_token": token})
        assert beat.status_code == 200, beat.text
        assert (await complete(http, delivery)).status_code == 200
    assert await statuses(http, [intent_id]) == ["COMPLETED"]


async def test_max_in_flight_bounds_the_leases_however_slowly_the_agent_reads(
    http: httpx.AsyncClient,
) -> None:
    ids = [await submit(http, n) for n in range(20)]
    async with held(http, max_in_flight=3) as frames:
        await asyncio.sleep(0.5)  # the agent reads nothing meanwhile
        assert sorted(await statuses(http, ids)).count("DELIVERED") == 3
        first = [await frames.delivery() for _ in range(3)]
        assert [d["intent"]["intent_id"] for d in first] == ids[:3]

        for delivery in first:
            assert (await complete(http, delivery)).status_code == 200
        more = [await frames.delivery() for _ in range(3)]
        assert [d["intent"]["intent_id"] for d in more] == ids[3:6]
        assert (await statuses(http, ids)).count("DELIVERED") == 3


async def test_a_silent_agent_s_lease_expires_and_the_intent_is_pushed_again(http: httpx.AsyncClient) -> None:
    async with held(http, lease_seconds=0.5, max_in_flight=1) as frames:
        intent_id = await submit(http)
        first = await frames.delivery()
        again = await frames.delivery(timeout=15)  # no heartbeat, no completion: the lease lapses
        assert again["intent"]["intent_id"] == intent_id
        assert again["lease"]["delivery_attempt"] == 2 and again["lease"]["token"] != first["lease"]["token"]
        stale = await complete(http, first)
        assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_lease"
        assert (await complete(http, again)).status_code == 200


async def test_a_reconnect_loses_and_duplicates_nothing(http: httpx.AsyncClient) -> None:
    async with held(http) as frames:
        first_id = await submit(http, 1)
        first = await frames.delivery()
    # The connection dropped with the lease open: the next stream of the worker sends it first.
    second_id = await submit(http, 2)
    async with held(http) as frames:
        got = [await frames.delivery(), await frames.delivery()]
        by_id = {d["intent"]["intent_id"]: d for d in got}
        assert set(by_id) == {first_id, second_id}
        assert by_id[first_id]["resumed"] is True and by_id[first_id]["lease"] == first["lease"]
        assert "resumed" not in by_id[second_id]
        for delivery in got:
            assert (await complete(http, delivery)).status_code == 200
        with pytest.raises(TimeoutError):
            await frames.next(timeout=0.5)  # nothing more: neither was sent twice
    assert await statuses(http, [first_id, second_id]) == ["COMPLETED", "COMPLETED"]


async def test_a_stream_held_its_longest_ends_whole_and_its_leases_stay_the_worker_s(
    database_url: str,
) -> None:
    capped = servers.build_app(servers.app_settings(database_url, max_stream_wait_seconds=1.0))
    async with (
        servers.serving(capped) as api,
        listening(api.app) as url,
        httpx.AsyncClient(base_url=url, headers={"x-api-key": API_KEY}) as http,
    ):
        async with held(http) as frames:
            intent_id = await submit(http)
            first = await frames.delivery()
            event, data = await frames.next(timeout=5)  # the server ends it after a second
            assert (event, data) == ("stream.timeout", {"ok": True, "next_seq": 2})
            with pytest.raises(AssertionError, match="ended"):
                await frames.next(timeout=5)
        async with held(http) as frames:
            again = await frames.delivery()
            assert again["resumed"] is True and again["lease"] == first["lease"]
            assert (await complete(http, again)).status_code == 200
        assert await statuses(http, [intent_id]) == ["COMPLETED"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"worker_id": "w"}, "agent"),
        ({"agent": AGENT}, "worker_id"),
        ({"agent": AGENT, "worker_id": "w", "max_in_flight": 0}, "max_in_flight"),
        ({"agent": AGENT, "worker_id": "w", "lease_seconds": -1}, "lease_seconds"),
        ({"agent": "not an address", "worker_id": "w"}, "agent"),
    ],
)
async def test_bad_parameters_are_refused_before_the_stream_starts(
    api: AppClient, params: dict[str, Any], field: str
) -> None:
    answer = await api.get(STREAM, params=params)
    assert answer.status_code in (400, 422), answer.text
    assert field in answer.text
