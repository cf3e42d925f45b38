"""AXP mesh (PROTOCOL.md §5.2, docs/mesh.md): heartbeats, the fleet with its health, the kill switch
and resume, and the mesh events.

The agent a heartbeat is for is the owner scope (``owner_agent`` query / ``x-owner-agent`` header)
when given, else the API key's name as an address (``agent://<key name>``): the SDK sends neither,
so its identity is its key, as in AXME. ``address_id`` is the address without ``agent://``, usable
in the path, with or without ``@version``. ``POST /v1/mesh/kill`` and ``/v1/mesh/resume`` act on the
whole namespace. ``/v1/mesh/routes/{address_id}`` routes new work for an address to its versions, and
``POST /v1/mesh/agents/{address_id}@v1/drain`` gives one version no more. ``/v1/mesh/policies/{scope}``
(``*`` or an address) sets spend, rate, concurrency, type and tool policies; ``GET
/v1/mesh/agents/{address_id}/policy`` says which apply to an agent, from where, and what is used.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Body, Path, Query

from intentd.engine import Kill, Principal
from intentd.engine.mesh import (
    HEALTH_STATES,
    NAMESPACE,
    Explained,
    FleetAgent,
    KillRecord,
    MeshAgent,
    PolicyRecord,
    RouteRecord,
    RouteState,
    Swept,
    Trial,
)
from intentd.model import JSON, Intent, normalize_address, to_micros, to_rfc3339
from intentd.wire import (
    AgentHealth,
    DryRunAnswer,
    DryRunBody,
    EffectivePolicy,
    KillAnswer,
    KillBody,
    KillList,
    MeshAgentAnswer,
    MeshAgentList,
    MeshEventList,
    MeshHeartbeatBody,
    MeshPolicyAnswer,
    MeshPolicyBody,
    MeshPolicyList,
    MeshPolicyRemoved,
    ResumeAnswer,
    RouteAnswer,
    RouteBody,
    RouteList,
    RouteRemoved,
    SyntheticIntent,
)

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ._params import v1_router
from .inbox import Owner

router = v1_router("/v1/mesh", "mesh")
_NOT_IN_ADDRESS = re.compile(r"[^A-Za-z0-9._\-/]+")
AddressId = Annotated[str, Path(max_length=400, description="the address, without agent://")]
_US = 1_000_000


@router.post(
    "/heartbeat", summary="Record a heartbeat (and metrics) of the calling agent", response_model=AgentHealth
)
async def heartbeat(
    caller: Caller, engine: EngineDep, owner: Owner, body: Annotated[MeshHeartbeatBody | None, Body()] = None
) -> FastJSONResponse:
    metrics = body.metrics if body is not None else None
    metadata = body.metadata if body is not None else None
    agent = await engine.mesh.heartbeat(caller, owner or key_address(caller), metrics, metadata)
    kill = engine.switches.killed(caller.namespace, agent.address)
    health = "killed" if kill is not None else agent.health(engine.mesh.now())
    return answer(
        {
            "ok": True,
            "status": health,
            "health_status": health,
            **_identity(agent),
            "last_heartbeat_at": to_rfc3339(agent.last_heartbeat_at),
        }
    )


@router.get("/agents", summary="The fleet: agents with their health and work", response_model=MeshAgentList)
async def list_agents(
    caller: Caller,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    health: Annotated[str | None, Query(pattern="^(" + "|".join(HEALTH_STATES) + ")$")] = None,
) -> FastJSONResponse:
    fleet = await engine.mesh.fleet(caller)
    summary = {
        "total": len(fleet),
        **{state: sum(1 for a in fleet if a.health == state) for state in HEALTH_STATES},
    }
    listed = [_fleet_wire(a, engine.mesh.now()) for a in fleet if health in (None, a.health)][:limit]
    return answer({"ok": True, "agents": listed, "summary": summary})


# Before the agent's own GET, whose path would take /policy as part of the address.
@router.get(
    "/agents/{address_id:path}/policy",
    summary="The policy that applies to an agent: each rule, where it comes from, what is used",
    response_model=EffectivePolicy,
)
async def agent_policy(address_id: AddressId, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    return answer(
        _explained(await engine.policies.explain(caller, normalize_address(address_id, "address_id")))
    )


@router.get(
    "/agents/{address_id:path}",
    summary="One agent: health, workers, open work and its oldest open intents",
    response_model=MeshAgentAnswer,
)
async def get_agent(address_id: AddressId, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    address = normalize_address(address_id, "address_id")
    agent, oldest = await engine.mesh.fleet_agent(caller, address)
    now = engine.mesh.now()
    wire = _fleet_wire(agent, now) | {"oldest_open": [_stuck(i, now) for i in oldest]}
    return answer({"ok": True, "agent": wire})


@router.post(
    "/agents/{address_id:path}/kill",
    summary="Kill an agent (or one version of it): no new work, in-flight work held, canceled or reassigned",
    response_model=KillAnswer,
)
async def kill_agent(
    address_id: AddressId, caller: Caller, engine: EngineDep, body: Annotated[KillBody | None, Body()] = None
) -> FastJSONResponse:
    return await _kill(engine, caller, normalize_address(address_id, "address_id"), body)


@router.post(
    "/agents/{address_id:path}/resume",
    summary="Lift the kill of an agent (or of one version of it)",
    response_model=ResumeAnswer,
)
async def resume_agent(address_id: AddressId, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    return await _resume(engine, caller, normalize_address(address_id, "address_id"))


@router.post(
    "/agents/{address_id:path}/drain",
    summary="Give one version of an agent (…@v1) no new work; it finishes what it has",
    response_model=RouteAnswer,
)
async def drain_version(address_id: AddressId, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    state = await engine.routes.drain(caller, normalize_address(address_id, "address_id"))
    return answer(_route_state(state))


@router.get("/routes", summary="The versioned routes of the namespace", response_model=RouteList)
async def list_routes(caller: Caller, engine: EngineDep) -> FastJSONResponse:
    return answer({"ok": True, "routes": [_route(r) for r in engine.routes.list(caller)]})


@router.get(
    "/routes/{address_id:path}",
    summary="An address's route and each version's open work (drained or not)",
    response_model=RouteAnswer,
)
async def get_route(address_id: AddressId, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    state = await engine.routes.state(caller, normalize_address(address_id, "address_id"))
    return answer(_route_state(state))


@router.put(
    "/routes/{address_id:path}",
    summary="Route new work for an address to its versions by weight (sticky by correlation id)",
    response_model=RouteAnswer,
)
async def set_route(
    address_id: AddressId, body: RouteBody, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    state = await engine.routes.set(caller, normalize_address(address_id, "address_id"), body.weights)
    return answer(_route_state(state))


@router.delete(
    "/routes/{address_id:path}",
    summary="Remove a route: new work stays addressed as sent",
    response_model=RouteRemoved,
)
async def remove_route(address_id: AddressId, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    address = normalize_address(address_id, "address_id")
    return answer({"ok": True, "address": address, "removed": await engine.routes.remove(caller, address)})


@router.get("/policies", summary="The Mesh policies of the namespace", response_model=MeshPolicyList)
async def list_policies(caller: Caller, engine: EngineDep) -> FastJSONResponse:
    return answer({"ok": True, "policies": [_policy(p) for p in engine.policies.of(caller)]})


@router.put(
    "/policies/{scope:path}",
    summary="Set the policy of the namespace (*) or of an address: spend, rates, concurrency, types, tools",
    response_model=MeshPolicyAnswer,
)
async def set_policy(
    scope: Annotated[str, Path(max_length=400, description="* (the namespace) or an address")],
    body: MeshPolicyBody,
    caller: Caller,
    engine: EngineDep,
) -> FastJSONResponse:
    spec = body.policy.model_dump(exclude_none=True)
    policy = await engine.policies.set(caller, _scope(scope), spec, body.expected_generation)
    return answer({"ok": True, "policy": _policy(policy)})


@router.post(
    "/dry-run",
    summary="What a proposed policy would have done to recorded or synthetic intents (enforces nothing)",
    response_model=DryRunAnswer,
)
async def dry_run(body: DryRunBody, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    scope = _scope(body.scope)
    spec = body.policy.model_dump(exclude_none=True)
    synthetic = _trials(body.intents, engine.mesh.now()) if body.intents is not None else None
    report = await engine.policies.dry_run(
        caller,
        scope,
        spec,
        since=to_micros(body.since) if body.since else None,
        until=to_micros(body.until) if body.until else None,
        synthetic=synthetic,
    )
    return answer({"ok": True, "scope": scope, **report.to_json()})


@router.delete("/policies/{scope:path}", summary="Remove a policy", response_model=MeshPolicyRemoved)
async def remove_policy(
    scope: Annotated[str, Path(max_length=400)], caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    removed = await engine.policies.remove(caller, _scope(scope))
    return answer({"ok": True, "scope": _scope(scope), "removed": removed})


@router.post("/kill", summary="Kill every agent of the namespace", response_model=KillAnswer)
async def kill_namespace(
    caller: Caller, engine: EngineDep, body: Annotated[KillBody | None, Body()] = None
) -> FastJSONResponse:
    return await _kill(engine, caller, NAMESPACE, body)


@router.post("/resume", summary="Lift the namespace-wide kill", response_model=ResumeAnswer)
async def resume_namespace(caller: Caller, engine: EngineDep) -> FastJSONResponse:
    return await _resume(engine, caller, NAMESPACE)


@router.get("/kills", summary="The kill switches in force in the namespace", response_model=KillList)
async def list_kills(caller: Caller, engine: EngineDep) -> FastJSONResponse:
    return answer({"ok": True, "kills": [_kill_wire(k) for k in engine.kills.kills(caller)]})


@router.get(
    "/events", summary="Records about the namespace's agents, newest first", response_model=MeshEventList
)
async def list_events(
    caller: Caller,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    event_type: Annotated[str | None, Query(max_length=100, pattern=r"^agent\.[a-z_]+$")] = None,
) -> FastJSONResponse:
    records = await engine.mesh.events(caller, event_type, limit)
    events = [
        {
            "event_id": str(r.seq),
            "address": r.agent,
            "event_type": r.action,
            "details": r.details or {},
            "actor_id": r.key_id or r.principal,
            "created_at": to_rfc3339(r.at),
        }
        for r in records
    ]
    return answer({"ok": True, "events": events})


async def _kill(engine: EngineDep, caller: Principal, target: str, body: KillBody | None) -> FastJSONResponse:
    body = body or KillBody()
    reassign_to = normalize_address(body.reassign_to, "reassign_to") if body.reassign_to else None
    req = Kill(target, body.new_work, body.in_flight, reassign_to, body.reason)
    record, swept = await engine.kills.kill(caller, req)
    return answer({"ok": True, "status": "killed", "kill": _kill_wire(record), "swept": _swept(swept)})


async def _resume(engine: EngineDep, caller: Principal, target: str) -> FastJSONResponse:
    resumed = await engine.kills.resume(caller, target)
    still = resumed.still_killed_by
    return answer(
        {
            "ok": True,
            "status": "killed" if still is not None else "active",
            "target": target,
            "was_killed": resumed.was_killed,
            "killed_by": _kill_wire(still) if still is not None else None,
        }
    )


def key_address(caller: Principal) -> str:
    """The address an API key stands for when the request names none: ``agent://<key name>``."""
    name = _NOT_IN_ADDRESS.sub("-", caller.name).strip("-/._") or "key"
    return normalize_address(name, "owner_agent")


def _identity(agent: MeshAgent) -> JSON:
    return {"address": agent.address, "address_id": agent.address.removeprefix("agent://")}


def _fleet_wire(fleet: FleetAgent, now: int) -> JSON:
    agent = fleet.agent
    return {
        **_identity(agent),
        "display_name": agent.address.rsplit("/", 1)[-1],
        "version": fleet.version,
        "binding": fleet.binding,
        "health_status": fleet.health,
        "last_heartbeat_at": to_rfc3339(agent.last_heartbeat_at),
        "last_seen_at": to_rfc3339(fleet.last_seen_at),
        "created_at": to_rfc3339(agent.created_at),
        "metrics": agent.metrics,
        "metadata": agent.metadata,
        "kill": _kill_wire(fleet.kill) if fleet.kill is not None else None,
        "workers": [
            {
                "worker_id": w.worker_id,
                "via": w.via,
                "first_seen_at": to_rfc3339(w.first_seen_at),
                "last_seen_at": to_rfc3339(w.last_seen_at),
            }
            for w in fleet.workers
        ],
        "open_work": fleet.open_work,
        "in_flight": fleet.in_flight,
        "oldest_open_at": to_rfc3339(fleet.oldest_open_at),
        "intents_period": sum(fleet.finished_day.values()),
        "failed_period": fleet.finished_day.get("FAILED", 0),
        "error_rate": fleet.error_rate,
        "cost_period": fleet.usage_today.cost_usd,
        "tokens_period": fleet.usage_today.tokens_in + fleet.usage_today.tokens_out,
    }


def _stuck(intent: Intent, now: int) -> JSON:
    return {
        "intent_id": intent.intent_id,
        "intent_type": intent.intent_type,
        "status": intent.status.value,
        "correlation_id": intent.correlation_id,
        "since": to_rfc3339(intent.updated_at),
        "age_seconds": max(0, now - intent.updated_at) / _US,
        "delivery_attempt": intent.delivery_attempt,
    }


def _kill_wire(kill: KillRecord) -> JSON:
    return {
        "target": kill.target,
        "new_work": kill.new_work,
        "in_flight": kill.in_flight,
        "reassign_to": kill.reassign_to,
        "reason": kill.reason,
        "actor": kill.actor,
        "killed_at": to_rfc3339(kill.killed_at),
    }


def _swept(swept: Swept) -> JSON:
    return {"canceled": swept.canceled, "held": swept.held, "reassigned": swept.reassigned}


def _route(route: RouteRecord) -> JSON:
    return {
        "address": route.address,
        "weights": route.weights,
        "actor": route.actor,
        "updated_at": to_rfc3339(route.updated_at),
    }


def _route_state(state: RouteState) -> JSON:
    total = sum(v.weight for v in state.versions) or 1
    versions = [
        {
            "version": v.version,
            "address": v.address,
            "weight": v.weight,
            "share": v.weight / total,
            "open": v.open,
            "drained": v.drained,
        }
        for v in state.versions
    ]
    route = _route(state.route) if state.route is not None else None
    return {"ok": True, "address": state.address, "route": route, "versions": versions}


def _scope(raw: str) -> str:
    return NAMESPACE if raw == NAMESPACE else normalize_address(raw, "scope")


def _policy(policy: PolicyRecord) -> JSON:
    return {
        "scope": policy.scope,
        "generation": policy.generation,
        "policy": policy.body,
        "actor": policy.actor,
        "updated_at": to_rfc3339(policy.updated_at),
    }


def _explained(explained: Explained) -> JSON:
    effective = explained.effective
    rules = [
        {
            "rule": rule.name,
            "value": rule.value.to_json() if hasattr(rule.value, "to_json") else rule.value,
            "scope": rule.scope,
            "generation": rule.generation,
            "used": explained.used.get(key),
        }
        for key, rule in effective.rules.items()
        if rule.name != "on_breach"
    ]
    return {"ok": True, "agent": explained.agent, "on_breach": effective.on_breach, "rules": rules}


def _trials(intents: list[SyntheticIntent], now: int) -> list[Trial]:
    """Synthetic intents in the order given, at their ``at`` or a microsecond apart from now."""
    return [
        Trial(
            normalize_address(i.to_agent),
            i.intent_type,
            to_micros(i.at) if i.at else now + n,
            i.cost_usd,
            normalize_address(i.from_agent, "from_agent") if i.from_agent else None,
            i.tree,
        )
        for n, i in enumerate(intents)
    ]
