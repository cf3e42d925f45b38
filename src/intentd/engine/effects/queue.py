"""An intent that enters SUBMITTED is queued for its agent: an entry in the agent's feed (the AXP
per-agent stream) and a place in the claim order (``queued_at``). Queued again after an expired or
released lease, a retry or a resume, it gets a new entry: delivery is at least once."""

from __future__ import annotations

from dataclasses import replace

from intentd.model import EventType, Status
from intentd.store import Tx

from .._change import Change


class QueueForDelivery:
    async def apply(self, tx: Tx, change: Change) -> None:
        intent = change.intent
        if intent.status is not Status.SUBMITTED:
            return
        at = change.events[-1].at
        tx.queue_feed(intent.namespace, intent.to_agent, intent.intent_id, EventType.SUBMITTED.value, at)
        change.intent = replace(intent, queued_at=at)
