"""AXP delivery bindings, registered per agent (PROTOCOL.md §4.2; ``engine/bindings.py``):
``PUT /v1/agents/{address}/binding`` registers how the agent takes its work, ``GET`` reads it. An agent
registered with ``stream`` takes it from its AXP agent stream, leased and DELIVERED; ``poll`` (or no
registration) leaves that stream a feed. A ScenarioBundle's ``agents[].delivery_mode`` registers the
same binding when the bundle is applied."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from intentd.engine.bindings import BindAgent, Binding, FeedDelivery
from intentd.model import JSON, normalize_address, to_rfc3339
from intentd.wire import BindingAnswer, BindingBody

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ._params import v1_router

router = v1_router("/v1/agents", "agents")
AgentAddress = Annotated[str, Path(max_length=400, description="the agent's address, with its slashes")]


@router.put(
    "/{address:path}/binding",
    summary="Register the agent's delivery binding (stream: its agent stream leases what it sends)",
    response_model=BindingAnswer,
)
async def bind(
    address: AgentAddress, body: BindingBody, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    agent = normalize_address(address, "address")
    binding = await engine.bindings.bind(
        caller, BindAgent(agent, body.delivery_mode, body.lease_seconds, body.callback_url, body.secret)
    )
    return answer({"ok": True, "binding": binding_wire(binding)})


@router.get(
    "/{address:path}/binding",
    summary="The agent's delivery binding (delivery_mode null: never registered)",
    response_model=BindingAnswer,
)
async def binding(address: AgentAddress, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    agent = normalize_address(address, "address")
    return answer({"ok": True, "binding": binding_wire(await engine.bindings.binding(caller, agent))})


def binding_wire(binding: Binding) -> JSON:
    data: JSON = {
        "address": binding.address,
        "delivery_mode": binding.delivery_mode,
        "lease_seconds": binding.lease_seconds,
        "created_at": to_rfc3339(binding.created_at),
        "updated_at": to_rfc3339(binding.updated_at),
        "callback_url": binding.callback_url,
    }
    if binding.secret is not None:  # the http binding's generated secret: shown this once
        data["secret"] = binding.secret
    return data


def lease_data(delivery: FeedDelivery) -> JSON:
    """What a ``stream``-bound agent stream adds to the data of the listener's delivery: the lease
    (``resumed`` when it was taken before); nothing for any other entry."""
    lease = delivery.lease
    if lease is None:
        return {}
    data: JSON = {
        "lease_token": lease.token,
        "lease_expires_at": to_rfc3339(lease.expires_at),
        "delivery_attempt": lease.attempt,
    }
    if delivery.resumed:
        data["resumed"] = True
    return data
