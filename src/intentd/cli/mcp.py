"""``intentd mcp``: intentd's MCP tools over stdio, for an MCP client that starts the server itself
(a desktop assistant, OpenAI Agents' ``MCPServerStdio``). The tools act as the configured key
(``--url``/``--api-key`` or ``INTENTD_URL``/``INTENTD_API_KEY``, as for every command). ``intentd
serve`` also serves them over HTTP at /mcp, as the key of each request."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from intentd.client import AsyncClient
from intentd.settings import Settings

from ._options import settings_of
from ._output import install_log_handler

MaxWaitOpt = Annotated[
    float,
    typer.Option(
        "--max-wait",
        min=0.1,
        help="longest wait_for_intent call, in seconds: keep it under your MCP client's read timeout "
        "(OpenAI Agents: 5 s by default)",
    ),
]


def mcp(ctx: typer.Context, max_wait: MaxWaitOpt = 3.0) -> None:
    """Serve intentd's MCP tools on stdin/stdout (logs on stderr) until the client closes them."""
    try:
        import mcp as _sdk  # noqa: F401 - only to say what is missing before anything starts
    except ImportError:
        raise typer.BadParameter("the MCP server needs intentd[mcp] (the mcp package is missing)") from None
    settings = settings_of(ctx)
    install_log_handler(settings)  # on stderr: stdout carries the protocol alone
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per tool call
    asyncio.run(_serve(settings, max_wait))


async def _serve(settings: Settings, max_wait: float) -> None:
    from intentd.bridges.mcp import serve_stdio

    # An empty key rather than None: the SDK would otherwise read the environment itself, and the
    # CLI's flags must win over it (cli/_client.py does the same).
    async with AsyncClient(settings.url, settings.resolved_api_key() or "") as client:
        await serve_stdio(client, max_wait_seconds=max_wait)
