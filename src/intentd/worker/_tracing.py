"""The span a handler runs in (docs/operations.md, "Traces"), through the SDK's OpenTelemetry seam
(``intentd.client._tracing``, the one module on the agent side that imports OpenTelemetry).

With tracing on, each delivery is handled inside a CONSUMER span ``intentd.handle <agent>`` whose parent
is the span the intent was submitted from (its ``trace_context``). It is current for the handler, so the
spans the handler's own code and its frameworks make nest under it, and for the worker's calls about
the delivery (its spawns, heartbeats, the completion), which carry it to the server: children and
follow-ups continue the trace from this span. It ends once the outcome is reported; a failure sets
its status to error. With tracing off, a delivery is handled as it always was: one check, no span.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from intentd.client import Delivery
from intentd.client._tracing import active, consumer_span, mark_failed

__all__ = ["handled", "mark_failed"]


def handled(work: Coroutine[Any, Any, None], delivery: Delivery) -> Coroutine[Any, Any, None]:
    """``work`` (the handling of ``delivery``) as it should run: in its span when tracing is on."""
    return _in_span(work, delivery) if active() else work


async def _in_span(work: Coroutine[Any, Any, None], delivery: Delivery) -> None:
    intent = delivery.intent
    parent = intent.trace_context
    carrier = parent.model_dump(exclude_none=True) if parent is not None else None
    with consumer_span(f"intentd.handle {intent.to_agent}", carrier, _attributes(delivery)):
        await work


def _attributes(delivery: Delivery) -> dict[str, Any]:
    intent = delivery.intent
    attributes: dict[str, Any] = {
        "intentd.intent.id": intent.intent_id,
        "intentd.intent.type": intent.intent_type,
        "intentd.correlation_id": intent.correlation_id,
        "intentd.agent": intent.to_agent,
        "intentd.delivery.attempt": delivery.attempt,
        # The messaging conventions, so a tracing back end shows the span as a message processed.
        "messaging.system": "intentd",
        "messaging.operation.type": "process",
        "messaging.destination.name": intent.to_agent,
        "messaging.message.id": intent.intent_id,
    }
    if intent.root_intent_id and intent.root_intent_id != intent.intent_id:
        attributes["intentd.root_intent.id"] = intent.root_intent_id
    if intent.parent_intent_id:
        attributes["intentd.parent_intent.id"] = intent.parent_intent_id
    return attributes
