"""AXP's webhooks family (PROTOCOL.md §6): subscriptions (upsert, list, revoke), events published for
them with their delivery counters, replay; and intentd's dead letters of webhook and push deliveries
(``engine/webhooks``, docs/webhooks.md). The owner scope is AXP's: ``owner_agent`` (query) or
``x-owner-agent``; without one, the caller's key name owns what it makes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path, Query

from intentd.engine.webhooks import EventReport, PublishEvent, SubscriptionAnswer, UpsertSubscription
from intentd.model import JSON, now_us, to_rfc3339
from intentd.wire.limits import NO_NUL
from intentd.wire.webhooks import (
    DeliveriesAnswer,
    DeliveryAnswer,
    PublishBody,
    PublishedAnswer,
    ReplayedAnswer,
    RevokedAnswer,
    SubscriptionBody,
    SubscriptionsAnswer,
)
from intentd.wire.webhooks import SubscriptionAnswer as SubscriptionWire

from .._responses import FastJSONResponse, answer
from ..auth import Caller, EngineDep
from ._params import v1_router
from .inbox import Owner

router = v1_router("/v1/webhooks", "webhooks")
Id = Annotated[str, Path(min_length=1, max_length=255, pattern=NO_NUL)]


@router.post(
    "/subscriptions",
    summary="Create or change (by owner and callback URL) a webhook subscription",
    response_model=SubscriptionWire,
)
async def upsert_subscription(
    body: SubscriptionBody, owner: Owner, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    req = UpsertSubscription(
        body.callback_url,
        tuple(body.event_types),
        owner,
        body.secret,
        body.active,
        body.description,
    )
    return answer({"ok": True, "subscription": subscription_wire(await engine.webhooks.upsert(caller, req))})


@router.get("/subscriptions", summary="The owner's webhook subscriptions", response_model=SubscriptionsAnswer)
async def list_subscriptions(
    owner: Owner,
    caller: Caller,
    engine: EngineDep,
    include_inactive: Annotated[bool, Query(description="revoked and inactive ones too")] = False,
) -> FastJSONResponse:
    subs = await engine.webhooks.subscriptions(caller, owner, include_inactive)
    return answer({"ok": True, "subscriptions": [subscription_wire(SubscriptionAnswer(s)) for s in subs]})


@router.delete(
    "/subscriptions/{subscription_id}",
    summary="Revoke a webhook subscription (kept, with revoked_at; its queued deliveries are dropped)",
    response_model=RevokedAnswer,
)
async def revoke_subscription(
    subscription_id: Id, owner: Owner, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    sub = await engine.webhooks.revoke(caller, subscription_id, owner)
    return answer(
        {"ok": True, "subscription_id": sub.subscription_id, "revoked_at": to_rfc3339(sub.revoked_at)}
    )


@router.post(
    "/events",
    summary="Publish an event to the owner's subscriptions that take its type",
    response_model=PublishedAnswer,
)
async def publish_event(
    body: PublishBody, owner: Owner, caller: Caller, engine: EngineDep
) -> FastJSONResponse:
    report = await engine.webhooks.publish(
        caller, PublishEvent(body.event_type, body.source, body.payload, owner)
    )
    return answer(
        {
            "ok": True,
            "accepted_at": to_rfc3339(report.event.accepted_at),
            "source": report.event.source,
            **counters(report),
        }
    )


@router.post(
    "/events/{event_id}/replay",
    summary="Queue an event again to every active subscription that takes it (same event_id)",
    response_model=ReplayedAnswer,
)
async def replay_event(event_id: Id, owner: Owner, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    report = await engine.webhooks.replay(caller, event_id, owner)
    return answer({"ok": True, "replayed_at": to_rfc3339(now_us()), **counters(report)})


@router.get(
    "/deliveries",
    summary="Webhook and push deliveries by status (dead: the dead letters)",
    response_model=DeliveriesAnswer,
)
async def list_deliveries(
    caller: Caller,
    engine: EngineDep,
    status: Annotated[Literal["dead", "pending", "sent"], Query()] = "dead",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FastJSONResponse:
    rows = await engine.webhooks.deliveries(caller, status, limit)
    return answer({"ok": True, "deliveries": [delivery_wire(r) for r in rows]})


@router.post(
    "/deliveries/{delivery_id}/replay",
    summary="Send a dead letter again, from its first attempt",
    response_model=DeliveryAnswer,
)
async def replay_delivery(delivery_id: Id, caller: Caller, engine: EngineDep) -> FastJSONResponse:
    row = await engine.webhooks.replay_delivery(caller, delivery_id)
    return answer({"ok": True, "delivery": delivery_wire(row)})


def subscription_wire(found: SubscriptionAnswer) -> JSON:
    sub = found.subscription
    data: JSON = {
        "subscription_id": sub.subscription_id,
        "owner_agent": sub.owner_agent,
        "callback_url": sub.callback_url,
        "event_types": list(sub.event_types),
        "active": sub.active,
        "description": sub.description,
        "created_at": to_rfc3339(sub.created_at),
        "updated_at": to_rfc3339(sub.updated_at),
        "revoked_at": to_rfc3339(sub.revoked_at),
        "secret_hint": f"****{sub.secret[-4:]}",
    }
    if found.secret is not None:
        data["secret"] = found.secret
    return data


def counters(report: EventReport) -> JSON:
    return {
        "event_id": report.event.event_id,
        "owner_agent": report.event.owner_agent,
        "event_type": report.event.event_type,
        "queued_deliveries": report.queued_deliveries,
        "processed_deliveries": report.processed_deliveries,
        "delivered": report.delivered,
        "pending": report.pending,
        "dead_lettered": report.dead_lettered,
    }


def delivery_wire(row: JSON) -> JSON:
    return {
        "delivery_id": row["notification_id"],
        "kind": row["channel"],
        "recipient": row["recipient"],
        "subject": row.get("subject"),
        "status": row["status"],
        "attempts": row["attempts"],
        "last_error": row.get("last_error"),
        "created_at": to_rfc3339(row["created_at"]),
        "finished_at": to_rfc3339(row.get("finished_at")),
        "body": row["notice"],
    }
