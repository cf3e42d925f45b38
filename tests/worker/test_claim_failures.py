"""A claim loop survives what it did not expect: an error that is not the SDK's (a bug, a broken
transport) is logged with its traceback and the agent goes on claiming, instead of ending its claims
silently until shutdown."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from intentd.client import AsyncClient
from intentd.worker import Worker


async def test_an_unexpected_claim_error_is_logged_and_claiming_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    claims = 0
    claimed_again = asyncio.Event()

    async def server(request: httpx.Request) -> httpx.Response:  # the edge: a transport with a bug
        nonlocal claims
        claims += 1
        if claims == 1:
            raise RuntimeError("a bug below the SDK")
        claimed_again.set()
        await asyncio.sleep(0.1)  # a long poll that finds no work
        return httpx.Response(200, json={"ok": True, "deliveries": []})

    client = AsyncClient("http://intentd.test", "k", transport=httpx.MockTransport(server))
    worker = Worker(client, concurrency=1, claim_wait_seconds=0.1)
    worker.agent("agent://test/local/a")(lambda ctx, intent: {})
    serving = asyncio.create_task(worker.serve())
    try:
        await asyncio.wait_for(claimed_again.wait(), timeout=10)
    finally:
        worker.stop()
        await asyncio.wait_for(serving, timeout=10)
        await client.aclose()
    failures = [r for r in caplog.records if r.name == "intentd.worker" and r.levelno == logging.ERROR]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert "a bug below the SDK" in str(failures[0].exc_info[1])
