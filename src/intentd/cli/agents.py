"""``intentd agents``: agents' AXP delivery bindings on a running server, through the SDK.

``bind`` registers how an agent takes its work: ``stream`` makes its AXP agent stream (what an
AXME-style agent's ``listen()`` reads) lease each intent it sends, which then arrives DELIVERED; ``poll``
makes the stream a feed again. ``binding`` shows what is registered."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from intentd.client import AgentBinding

from ._client import connect
from ._options import JsonOpt, settings_of
from ._output import console, emit_json, field_rows, table

app = typer.Typer(help="Agents' delivery bindings (AXP stream or poll).", no_args_is_help=True)
AddressArg = Annotated[
    str, typer.Argument(help="the agent, e.g. agent://acme/prod/writer", show_default=False)
]
BINDING_FIELDS = ["address", "delivery_mode", "lease_seconds", "created_at", "updated_at"]


class DeliveryMode(StrEnum):
    stream = "stream"
    poll = "poll"


@app.command("bind")
def agents_bind(
    ctx: typer.Context,
    address: AddressArg,
    delivery_mode: Annotated[
        DeliveryMode,
        typer.Option(help="stream: its agent stream leases what it sends; poll: the stream is a feed"),
    ] = DeliveryMode.stream,
    lease_seconds: Annotated[
        float, typer.Option(help="how long a lease taken by the stream lasts (up to 3600)")
    ] = 30.0,
    as_json: JsonOpt = False,
) -> None:
    """Register an agent's delivery binding (open streams apply it from their next page)."""
    with connect(settings_of(ctx)) as client:
        binding = client.bind(address, delivery_mode=delivery_mode.value, lease_seconds=lease_seconds)
    _show(binding, as_json)


@app.command("binding")
def agents_binding(ctx: typer.Context, address: AddressArg, as_json: JsonOpt = False) -> None:
    """Show an agent's delivery binding (none: its stream is a feed that leases nothing)."""
    with connect(settings_of(ctx)) as client:
        binding = client.binding(address)
    _show(binding, as_json)


def _show(binding: AgentBinding, as_json: bool) -> None:
    if as_json:
        emit_json({"ok": True, "binding": binding.raw})
    elif binding.delivery_mode is None:
        console.print(f"{binding.address}: no binding registered (its stream is a feed)", markup=False)
    else:
        table(None, ["field", "value"], field_rows(binding.raw, BINDING_FIELDS))
