"""An agent's delivery binding on the wire (AXP ``agents[].delivery_mode``, PROTOCOL.md §4.2):
``PUT /v1/agents/{address}/binding`` registers it, ``GET`` reads it. With ``stream`` the agent's AXP
stream (``listen()``) leases each intent it sends and sends it DELIVERED with its lease; with ``poll``,
or unregistered, the stream is a feed that leases nothing (docs/design.md, "Delivery bindings")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from ._model import WireModel
from .limits import Seconds

DeliveryBinding = Literal["stream", "poll", "http"]
BindingLeaseSeconds = Annotated[Seconds, Field(gt=0, le=3600)]


class BindingBody(BaseModel):
    """``PUT /v1/agents/{address}/binding``: how the agent takes its work from now on (streams
    already open apply it from the next page of the feed they read)."""

    delivery_mode: DeliveryBinding = Field(
        description="stream: the agent stream leases what it sends; poll: the stream is a feed"
    )
    lease_seconds: BindingLeaseSeconds = Field(
        30.0, description="how long a lease the stream takes lasts (heartbeat to extend it)"
    )
    callback_url: str | None = Field(
        None,
        min_length=8,
        max_length=2048,
        description="http: where each intent is POSTed (docs/webhooks.md, 'Callback URLs')",
    )
    secret: str | None = Field(
        None,
        min_length=16,
        max_length=128,
        description="http: signs the POSTs; default generated, shown once",
    )


class AgentBinding(WireModel):
    """An agent's registered binding; ``delivery_mode`` null: it never registered one (its stream
    is a feed)."""

    address: str
    delivery_mode: DeliveryBinding | None = None
    lease_seconds: float | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    callback_url: str | None = None
    secret: str | None = Field(
        None, description="http: the generated secret, in the registration's answer only"
    )

    @property
    def leases(self) -> bool:
        """The agent's stream leases what it sends."""
        return self.delivery_mode == "stream"


class BindingAnswer(WireModel):
    ok: bool = True
    binding: AgentBinding
