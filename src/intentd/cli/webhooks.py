"""``intentd webhooks``: the POSTs intentd sends, on a running server, through the SDK (docs/webhooks.md).

``deliveries`` lists them by status, the dead letters by default: intents pushed to agents registered
with the ``http`` binding (kind ``http``) and events sent to subscriptions (kind ``subscription``) that
ran out of attempts; ``replay`` sends a dead letter again from its first attempt. ``subscribe``,
``subscriptions`` and ``revoke`` manage AXP webhook subscriptions (the secret a new one is given is
shown once); ``replay-event`` queues an event again to the subscriptions that take it."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape

from intentd.client import WebhookDelivery, WebhookSubscription

from ._client import connect
from ._options import JsonOpt, settings_of
from ._output import console, emit_json, field_rows, table

app = typer.Typer(
    help="Webhooks and HTTP push: dead letters and their replay, AXP subscriptions.", no_args_is_help=True
)

DELIVERY_COLUMNS = ["delivery_id", "kind", "recipient", "subject", "status", "attempts", "last_error"]
SUBSCRIPTION_COLUMNS = [
    "subscription_id",
    "owner_agent",
    "callback_url",
    "event_types",
    "active",
    "description",
    "revoked_at",
]
SUBSCRIPTION_FIELDS = [*SUBSCRIPTION_COLUMNS, "secret_hint", "created_at", "updated_at"]
COUNTERS = ["queued_deliveries", "processed_deliveries", "delivered", "pending", "dead_lettered"]
STATUS_STYLE = {"dead": "red", "pending": "cyan", "sent": "green"}

OwnerOpt = Annotated[
    str | None, typer.Option("--owner", help="the owner agent (AXP owner scope); default: any owner")
]
SubscribeOwnerOpt = Annotated[
    str | None, typer.Option("--owner", help="the owner agent (AXP owner scope); default: the API key's name")
]


class DeliveryStatus(StrEnum):
    dead = "dead"
    pending = "pending"
    sent = "sent"


# --- deliveries and dead letters --------------------------------------------------------------------


@app.command("deliveries")
def webhooks_deliveries(
    ctx: typer.Context,
    status: Annotated[
        DeliveryStatus, typer.Option(help="dead: the dead letters; pending: queued or retrying; sent")
    ] = DeliveryStatus.dead,
    limit: Annotated[int, typer.Option(help="at most this many (up to 1000)", min=1, max=1000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List webhook and push deliveries, the dead letters by default, oldest first."""
    with connect(settings_of(ctx)) as client:
        deliveries = client.webhook_deliveries(status.value, limit)
    if as_json:
        emit_json({"ok": True, "deliveries": [d.raw for d in deliveries]})
    else:
        table(f"{status.value} deliveries", DELIVERY_COLUMNS, [_delivery_row(d) for d in deliveries])


@app.command("replay")
def webhooks_replay(
    ctx: typer.Context,
    delivery_id: Annotated[
        str, typer.Argument(help="a dead letter's id (intentd webhooks deliveries)", show_default=False)
    ],
    as_json: JsonOpt = False,
) -> None:
    """Send a dead letter again, from its first attempt."""
    with connect(settings_of(ctx)) as client:
        delivery = client.replay_delivery(delivery_id)
    if as_json:
        emit_json({"ok": True, "delivery": delivery.raw})
        return
    console.print(
        f"replayed {delivery.delivery_id} ({delivery.kind} to {delivery.recipient}): {delivery.status}",
        markup=False,
        soft_wrap=True,
    )


def _delivery_row(d: WebhookDelivery) -> list[Any]:
    style = STATUS_STYLE.get(d.status)
    status = f"[{style}]{d.status}[/{style}]" if style else d.status
    error = escape(d.last_error) if d.last_error else None  # a receiver's text: not Rich markup
    return [d.delivery_id, d.kind, escape(d.recipient), d.subject, status, d.attempts, error]


# --- subscriptions ----------------------------------------------------------------------------------


@app.command("subscribe")
def webhooks_subscribe(
    ctx: typer.Context,
    callback_url: Annotated[
        str, typer.Argument(help="where the events are POSTed, e.g. https://hooks.example.com/intentd")
    ],
    event: Annotated[
        list[str],
        typer.Option(
            "--event", help="an event type it takes, e.g. intent.completed or intent.* (repeatable)"
        ),
    ],
    secret: Annotated[
        str | None,
        typer.Option(help="signs the POSTs (16 to 128 characters); default: generated, shown once"),
    ] = None,
    description: Annotated[str | None, typer.Option(help="what it is for")] = None,
    owner: SubscribeOwnerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Subscribe a callback URL to events, or change the owner's subscription for that URL."""
    with connect(settings_of(ctx)) as client:
        sub = client.subscribe_webhook(
            callback_url, event, secret=secret, description=description, owner_agent=owner
        )
    if as_json:
        emit_json({"ok": True, "subscription": sub.raw})
        return
    table(None, ["field", "value"], _listed(field_rows(sub.raw, SUBSCRIPTION_FIELDS)))
    if sub.secret is not None:
        console.print(f"secret: {sub.secret}", markup=False, soft_wrap=True)
        console.print(
            "Keep this secret: it signs the POSTs (intentd.webhooks.verify) and will not be shown again.",
            style="yellow",
            markup=False,
        )


@app.command("subscriptions")
def webhooks_subscriptions(
    ctx: typer.Context,
    everything: Annotated[bool, typer.Option("--all", help="inactive and revoked ones too")] = False,
    owner: OwnerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List webhook subscriptions, every owner's unless --owner (never their secrets)."""
    with connect(settings_of(ctx)) as client:
        subs = client.webhook_subscriptions(everything, owner_agent=owner)
    if as_json:
        emit_json({"ok": True, "subscriptions": [s.raw for s in subs]})
    else:
        table("webhook subscriptions", SUBSCRIPTION_COLUMNS, [_subscription_row(s) for s in subs])


@app.command("revoke")
def webhooks_revoke(
    ctx: typer.Context,
    subscription_id: Annotated[
        str, typer.Argument(help="the subscription's id (intentd webhooks subscriptions)", show_default=False)
    ],
    owner: OwnerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a subscription: it is sent nothing more, its queued deliveries are dropped."""
    with connect(settings_of(ctx)) as client:
        revoked = client.revoke_webhook_subscription(subscription_id, owner_agent=owner)
    if as_json:
        emit_json(revoked.raw)
    else:
        at = revoked.revoked_at.isoformat(timespec="seconds")
        console.print(f"revoked {revoked.subscription_id} at {at}", markup=False)


@app.command("replay-event")
def webhooks_replay_event(
    ctx: typer.Context,
    event_id: Annotated[
        str, typer.Argument(help="the event's id (a delivery's subject)", show_default=False)
    ],
    owner: OwnerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue an event again to every active subscription that takes it (same event id)."""
    with connect(settings_of(ctx)) as client:
        replayed = client.replay_webhook_event(event_id, owner_agent=owner)
    if as_json:
        emit_json(replayed.raw)
    else:
        table(None, ["field", "value"], field_rows(replayed.raw, ["event_id", "event_type", *COUNTERS]))


def _subscription_row(sub: WebhookSubscription) -> list[Any]:
    revoked = sub.revoked_at.isoformat(timespec="seconds") if sub.revoked_at else None
    return [
        sub.subscription_id,
        escape(sub.owner_agent),
        escape(sub.callback_url),
        escape(", ".join(sub.event_types)),
        sub.active,
        escape(sub.description) if sub.description else None,
        revoked,
    ]


def _listed(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows as text, lists joined, escaped: a URL or a description is not Rich markup."""
    return [[k, escape(", ".join(map(str, v)) if isinstance(v, list) else str(v))] for k, v in rows]
