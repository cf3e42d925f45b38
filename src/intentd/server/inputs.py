"""Wire bodies into engine inputs: what the server does with a validated request before the engine
sees it (addresses normalised, times to microseconds)."""

from __future__ import annotations

from intentd.engine import SubmitIntent
from intentd.model import normalize_address, to_micros
from intentd.wire import CreateIntent


def _extras(body: CreateIntent) -> dict[str, object]:
    extras = body.axp_extras()
    if "escalate_to" in extras:  # an address like any other: one normal form
        extras["escalate_to"] = normalize_address(extras["escalate_to"], "escalate_to")
    return extras


def submit_spec(body: CreateIntent) -> SubmitIntent:
    return SubmitIntent(
        intent_type=body.intent_type,
        correlation_id=body.correlation_id,
        to_agent=normalize_address(body.to_agent),
        payload=body.payload,
        from_agent=normalize_address(body.from_agent, "from_agent") if body.from_agent else None,
        reply_to=normalize_address(body.reply_to, "reply_to") if body.reply_to else None,
        deadline_at=to_micros(body.deadline_at) if body.deadline_at else None,
        max_delivery_attempts=body.max_delivery_attempts,
        parent_intent_id=body.parent_intent_id,
        controls=_extras(body),
    )
