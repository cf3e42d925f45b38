"""Wire bodies into engine inputs: what the server does with a validated request before the engine
sees it (addresses normalised, times to microseconds)."""

from __future__ import annotations

from pydantic import BaseModel

from intentd.engine import SubmitIntent
from intentd.model import JSON, normalize_address, to_micros
from intentd.wire import AXP_EXTRAS, CreateIntent


def _controls(body: CreateIntent) -> dict[str, object]:
    """A create's ``human_task`` (AXP's top-level reminder and escalation fields folded in) is kept
    in its controls, where the engine finds it; without one, those fields are kept as sent."""
    task = body.task_spec()
    if task is not None:
        return {"human_task": task.model_dump(mode="json", exclude_none=True)}
    extras = {n: v for n in AXP_EXTRAS[1:] if (v := getattr(body, n)) is not None}
    if "escalate_to" in extras:  # JSON, as every control
        extras["escalate_to"] = _json(extras["escalate_to"])
    return extras


def _json(value: object) -> object:
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value.model_dump(exclude_none=True) if isinstance(value, BaseModel) else value


def submit_spec(body: CreateIntent, trace_context: JSON | None = None) -> SubmitIntent:
    """``trace_context``: the request's W3C trace context (``tracing.trace_context``), stored on the
    intent for its handler's span."""
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
        controls=_controls(body),
        synthetic=body.synthetic,
        trace_context=trace_context,
    )
