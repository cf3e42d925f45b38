"""Bridges to other agent protocols: an MCP server (``bridges.mcp``) and an A2A bridge
(``bridges.a2a``). Each is a server of its protocol in front of intentd's HTTP API, reached through
the SDK like any agent: it never imports the runtime (an import-linter contract in pyproject.toml),
so a bridge runs beside ``intentd serve`` or on a host of its own."""
