"""What the bridge exposes: one :class:`ExposedAgent` per intentd agent, and its A2A agent card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)

# The A2A protocol version this bridge speaks; a card without it draws a "not spec-compliant"
# warning from the SDK on every use.
PROTOCOL_VERSION = "1.0"
BEARER = "bearer"


@dataclass(frozen=True)
class Skill:
    """One A2A skill of an exposed agent (what the card advertises; routing is by agent)."""

    id: str
    name: str
    description: str = ""
    tags: Sequence[str] = ()
    examples: Sequence[str] = ()


@dataclass(frozen=True)
class ExposedAgent:
    """An intentd agent served as an A2A agent at ``/<name>``: each A2A task sent there becomes an
    intent of ``intent_type`` for ``address``.

        ExposedAgent("writer", "agent://acme/prod/writer", description="Drafts articles",
                     skills=[Skill("draft", "Draft an article")])
    """

    name: str
    address: str
    description: str = ""
    intent_type: str = "intent.a2a.v1"
    version: str = "1.0.0"
    skills: Sequence[Skill] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ValueError(f"agent name {self.name!r}: one path segment, e.g. 'writer'")
        if not self.address.startswith("agent://"):
            raise ValueError(f"agent {self.name!r}: address {self.address!r} is not an agent:// address")

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any]) -> ExposedAgent:
        """From configuration: ``{name, address, description?, intent_type?, version?, skills?}``,
        each skill ``{id, name, description?, tags?, examples?}``."""
        try:
            skills = tuple(Skill(**skill) for skill in spec.get("skills") or ())
            rest = {k: v for k, v in spec.items() if k != "skills"}
            return cls(**rest, skills=skills)
        except TypeError as error:
            raise ValueError(f"agent configuration {dict(spec)!r}: {error}") from None


def agent_card(agent: ExposedAgent, url: str, *, secured: bool) -> AgentCard:
    """The card of ``agent`` served at ``url`` (its JSON-RPC endpoint). With ``secured`` the card
    says the endpoint wants ``Authorization: Bearer <key>``."""
    skills = agent.skills or (Skill(agent.name, agent.name, agent.description),)
    card = AgentCard(
        name=agent.name,
        description=agent.description or f"intentd agent {agent.address}",
        version=agent.version,
        supported_interfaces=[
            AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version=PROTOCOL_VERSION)
        ],
        capabilities=AgentCapabilities(streaming=True, push_notifications=False),
        default_input_modes=["text/plain", "application/json"],
        default_output_modes=["application/json", "text/plain"],
        skills=[
            AgentSkill(
                id=s.id,
                name=s.name,
                description=s.description or s.name,
                tags=list(s.tags) or [agent.name],
                examples=list(s.examples),
            )
            for s in skills
        ],
    )
    if secured:
        card.security_schemes[BEARER].CopyFrom(
            SecurityScheme(http_auth_security_scheme=HTTPAuthSecurityScheme(scheme="Bearer"))
        )
        card.security_requirements.append(SecurityRequirement(schemes={BEARER: StringList()}))
    return card
