"""Work submitted while a delivery stream opens is delivered: the handoff may look for a stream just
before it registers and commit just after the stream's first read of the database; the commit still
tells it (``Dispatcher.left_queued``). Before that, a few in a hundred stayed SUBMITTED. A real server
process, so the stream's opening and the submit interleave inside it."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
import pytest

from tests._support.servers import API_KEY, Servers

pytestmark = pytest.mark.slow
TRIES, AT_ONCE = 200, 20  # concurrent openings load the server, which widens the window


async def race(http: httpx.AsyncClient, i: int) -> bool:
    agent = f"agent://acme/race/a{i}"
    body = {"intent_type": "demo.race.v1", "to_agent": agent, "payload": {}, "correlation_id": f"c{i}"}

    async def first_delivery() -> None:
        params = {"agent": agent, "worker_id": f"race-{i}"}
        async with http.stream("GET", "/v1/deliveries/stream", params=params) as response:
            async for line in response.aiter_lines():
                if line == "event: delivery":
                    return

    holding = asyncio.create_task(first_delivery())
    await asyncio.sleep(random.uniform(0, 0.01))
    assert (await http.post("/v1/intents", json=body)).status_code == 200
    try:
        await asyncio.wait_for(holding, 5)
    except TimeoutError:
        return False
    return True


def test_work_submitted_while_a_stream_opens_is_delivered(database_url: str, tmp_path: Path) -> None:
    async def main(url: str) -> list[bool]:
        limits = httpx.Limits(max_connections=2 * AT_ONCE)
        async with httpx.AsyncClient(base_url=url, headers={"x-api-key": API_KEY}, limits=limits) as http:
            results: list[bool] = []
            for start in range(0, TRIES, AT_ONCE):
                results += await asyncio.gather(*(race(http, i) for i in range(start, start + AT_ONCE)))
            return results

    with Servers(tmp_path) as servers:
        results = asyncio.run(main(servers.start(database_url).url))
    assert all(results), f"{results.count(False)} of {TRIES} never delivered"
