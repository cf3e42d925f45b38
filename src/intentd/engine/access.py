"""What an agent key may touch (docs/security.md). The permission matrix (``server/permissions.py``)
says which operations a role may call; for an ``agent`` key the engine also checks whose work it is: it
claims, streams, heartbeats, completes, fails, resolves and resumes only intents addressed to the agents
it is bound to, and what it submits or hands on comes from one of them. Other roles pass through."""

from __future__ import annotations

from dataclasses import replace

from intentd.model import AgentNotAllowed, Intent

from .inputs import Principal, SubmitIntent

AGENT_ROLE = "agent"


def act_for(principal: Principal, address: str) -> None:
    """Refuse an agent key acting for an address it is not bound to."""
    if principal.role == AGENT_ROLE and address not in principal.agents:
        raise AgentNotAllowed(
            f"this key acts for {', '.join(principal.agents)}, not {address}",
            details={"agent": address},
        )


def act_on(principal: Principal, intent: Intent) -> None:
    """Refuse an agent key acting on an intent addressed to another agent."""
    if principal.role == AGENT_ROLE:
        act_for(principal, intent.to_agent)


def as_sender(principal: Principal, spec: SubmitIntent) -> SubmitIntent:
    """The submission with its ``from_agent`` as the key says: an agent key's own address when the
    body names none, refused when it names another agent."""
    if principal.role != AGENT_ROLE:
        return spec
    if spec.from_agent is None:
        return replace(spec, from_agent=principal.agents[0])
    act_for(principal, spec.from_agent)
    return spec
