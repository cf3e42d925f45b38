"""intentd as an MCP server (the official ``mcp`` SDK, 2.x): tools for an LLM client to submit work as
intents, follow them through a bounded wait on a durable handle, answer human tasks and see the
fleet's health. Served at ``/mcp`` of ``intentd serve`` (streamable HTTP, authenticated with the
caller's API key; AXP's ``POST /mcp`` JSON-RPC too) and over stdio by ``intentd mcp``.

    from intentd.bridges.mcp import mount_mcp
    mount_mcp(app)                      # the API's app: POST /mcp, acting as each request's key

    async with AsyncClient() as client:  # INTENTD_URL / INTENTD_API_KEY
        await serve_stdio(client)

docs/frameworks.md ("MCP") has the tools and their answers.
"""

from ._http import MCP_PATH, mount_mcp, transport_security
from ._stdio import serve_stdio
from ._tools import DEFAULT_MAX_WAIT_SECONDS, ClientFor, IntentTools, build_server
from ._views import (
    AgentView,
    EventList,
    EventView,
    FleetView,
    IntentView,
    TaskAnswerView,
    TaskList,
    TaskView,
    WaitAnswer,
)

__all__ = [
    "DEFAULT_MAX_WAIT_SECONDS",
    "MCP_PATH",
    "AgentView",
    "ClientFor",
    "EventList",
    "EventView",
    "FleetView",
    "IntentTools",
    "IntentView",
    "TaskAnswerView",
    "TaskList",
    "TaskView",
    "WaitAnswer",
    "build_server",
    "mount_mcp",
    "serve_stdio",
    "transport_security",
]
