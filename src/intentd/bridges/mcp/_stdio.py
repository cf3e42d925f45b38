"""The MCP server over stdio (``intentd mcp``): a client starts it as a subprocess and talks
JSON-RPC on its stdin and stdout. Every tool acts through one SDK client, the one the command was
configured with (``INTENTD_URL`` and ``INTENTD_API_KEY``, or the CLI's flags), so that key's role and
namespace apply. Nothing may be written to stdout but the protocol: logs go to stderr."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context

from intentd.client import AsyncClient

from ._tools import DEFAULT_MAX_WAIT_SECONDS, build_server


async def serve_stdio(client: AsyncClient, *, max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS) -> None:
    """Serve intentd's MCP tools on this process's stdin/stdout until the client closes them.

    async with AsyncClient(url, api_key) as client:
        await serve_stdio(client)
    """

    def the_client(_: Context[Any, Any]) -> AsyncClient:
        return client

    await build_server(the_client, max_wait_seconds=max_wait_seconds).run_stdio_async()
