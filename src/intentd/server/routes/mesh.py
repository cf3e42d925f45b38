"""AXP mesh, the part the official SDK's ``client.mesh.heartbeat()`` needs (PROTOCOL.md §5.2).

The agent a heartbeat is for is the owner scope (``owner_agent`` query / ``x-owner-agent`` header)
when given, else the API key's name as an address (``agent://<key name>``): the SDK sends neither,
so its identity is its key, as in AXME. ``address_id`` is the address without ``agent://``, usable
in the path. Kill switch, cost policies and mesh events come with the fleet features.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import Body, Path, Query

from intentd.engine import Principal
from intentd.engine.mesh import HEALTH_STATES, MeshAgent
from intentd.model import JSON, normalize_address, to_rfc3339
from intentd.wire import AgentHealth, MeshAgentAnswer, MeshAgentList, MeshHeartbeatBody

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ._params import v1_router
from .inbox import Owner

router = v1_router("/v1/mesh", "mesh")
_NOT_IN_ADDRESS = re.compile(r"[^A-Za-z0-9._\-/]+")


@router.post(
    "/heartbeat", summary="Record a heartbeat (and metrics) of the calling agent", response_model=AgentHealth
)
async def heartbeat(
    caller: Caller, engine: EngineDep, owner: Owner, body: Annotated[MeshHeartbeatBody | None, Body()] = None
) -> FastJSONResponse:
    metrics = body.metrics if body is not None else None
    agent = await engine.mesh.heartbeat(caller, owner or key_address(caller), metrics)
    health = agent.health(engine.mesh.now())
    return answer(
        {
            "ok": True,
            "status": health,
            "health_status": health,
            **_identity(agent),
            "last_heartbeat_at": to_rfc3339(agent.last_heartbeat_at),
        }
    )


@router.get(
    "/agents", summary="Agents known here, with health from their heartbeats", response_model=MeshAgentList
)
async def list_agents(
    caller: Caller,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    health: Literal["healthy", "degraded", "unreachable", "unknown"] | None = None,
) -> FastJSONResponse:
    now = engine.mesh.now()
    agents = [(a, a.health(now)) for a in await engine.mesh.agents(caller)]
    summary = {
        "total": len(agents),
        "killed": 0,
        **{state: sum(1 for _, h in agents if h == state) for state in HEALTH_STATES},
    }
    listed = [_agent_wire(a, h) for a, h in agents if health in (None, h)][:limit]
    return answer({"ok": True, "agents": listed, "summary": summary})


@router.get(
    "/agents/{address_id:path}", summary="One agent with its last metrics", response_model=MeshAgentAnswer
)
async def get_agent(
    address_id: Annotated[str, Path(max_length=400)], caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    agent = await engine.mesh.agent(caller, normalize_address(address_id, "address_id"))
    return answer({"ok": True, "agent": _agent_wire(agent, agent.health(engine.mesh.now()))})


def key_address(caller: Principal) -> str:
    """The address an API key stands for when the request names none: ``agent://<key name>``."""
    name = _NOT_IN_ADDRESS.sub("-", caller.name).strip("-/._") or "key"
    return normalize_address(name, "owner_agent")


def _identity(agent: MeshAgent) -> JSON:
    return {"address": agent.address, "address_id": agent.address.removeprefix("agent://")}


def _agent_wire(agent: MeshAgent, health: str) -> JSON:
    return {
        **_identity(agent),
        "display_name": agent.address.rsplit("/", 1)[-1],
        "health_status": health,
        "last_heartbeat_at": to_rfc3339(agent.last_heartbeat_at),
        "created_at": to_rfc3339(agent.created_at),
        "metrics": agent.metrics,
        "metadata": {},
    }
