"""``intentd a2a serve``: the A2A bridge (``intentd[a2a]``) in front of an intentd server.

The bridge reaches intentd with the global ``--url``/``--api-key`` (``INTENTD_URL``,
``INTENTD_API_KEY``): give it a key of its own. A2A clients authenticate to the bridge with
``--a2a-key`` (``INTENTD_A2A_API_KEY``) as ``Authorization: Bearer <key>``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ._options import settings_of
from ._output import install_log_handler

app = typer.Typer(help="The A2A bridge: intentd agents as A2A agents.", no_args_is_help=True)


@app.command("serve")
def a2a_serve(
    ctx: typer.Context,
    agent: Annotated[
        list[str] | None, typer.Option("--agent", help="name=agent://… to expose (repeatable)")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="JSON or YAML: {agents: [{name, address, description, intent_type, skills}]}"),
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8400,
    public_url: Annotated[
        str | None, typer.Option(help="the bridge's URL as A2A clients reach it (cards name it)")
    ] = None,
    a2a_key: Annotated[
        str | None,
        typer.Option(envvar="INTENTD_A2A_API_KEY", help="key A2A clients must send; none: open"),
    ] = None,
) -> None:
    """Serve intentd agents as A2A agents, each at <public-url>/<name>."""
    try:
        import uvicorn

        from intentd.bridges.a2a import ExposedAgent, create_a2a_app
        from intentd.client import AsyncClient
    except ImportError as error:
        raise typer.BadParameter(f"the A2A bridge needs intentd[a2a] ({error.name} is missing)") from None
    specs = [_named(item) for item in agent or []] + _configured(config)
    try:
        agents = [ExposedAgent.from_mapping(spec) for spec in specs]
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    if not agents:
        raise typer.BadParameter("no agents: give --agent name=agent://… or --config")
    settings = settings_of(ctx)
    install_log_handler(settings)
    client = AsyncClient(settings.url, settings.resolved_api_key())
    bridge = create_a2a_app(client, agents, public_url=public_url or f"http://{host}:{port}", api_key=a2a_key)
    uvicorn.run(bridge, host=host, port=port, log_level=settings.log_level)


def _named(item: str) -> dict[str, Any]:
    name, sep, address = item.partition("=")
    if not sep:
        raise typer.BadParameter(f"--agent {item!r}: write name=agent://org/env/agent")
    return {"name": name.strip(), "address": address.strip()}


def _configured(path: Path | None) -> list[dict[str, Any]]:
    if path is None:
        return []
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    agents = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(agents, list) or not all(isinstance(a, dict) for a in agents):
        raise typer.BadParameter(f"{path}: expected {{agents: [{{name, address, ...}}]}}")
    return agents
