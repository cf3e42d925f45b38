"""The client's connection pool is the caller's to size (``limits``): a pool far larger than the calls
in flight costs client CPU on every call (httpcore scans it), so benchmarks and busy agents size it
to their concurrency. Against a real server: one connection means a call waits for the one before."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from intentd.client import AsyncClient
from tests._support.servers import Servers

pytestmark = pytest.mark.slow


async def finishing_order(client: AsyncClient) -> list[str]:
    """A long-poll claim (0.5 s, nothing to claim) and, started just after it, a health check."""
    order: list[str] = []

    async def claim() -> None:
        await client.claim("agent://acme/prod/idle", wait_seconds=0.5)
        order.append("claim")

    async def health() -> None:
        await asyncio.sleep(0.1)  # the claim has its connection by now
        await client.health()
        order.append("health")

    await asyncio.gather(claim(), health())
    return order


async def test_a_client_keeps_to_the_connection_limit_it_is_given(database_url: str, tmp_path: Path) -> None:
    with Servers(tmp_path) as servers:
        server = servers.start(database_url)
        one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with AsyncClient(server.url, server.api_key, limits=one) as narrow:
            assert await finishing_order(narrow) == ["claim", "health"]  # it waited for the connection
        async with AsyncClient(server.url, server.api_key) as default:
            assert await finishing_order(default) == ["health", "claim"]
