"""An intent sent with ``reply_to`` tells that address its outcome: when it ends, the terminal event
becomes an entry in the ``reply_to`` agent's feed (and the intent its inbox thread's outcome)."""

from __future__ import annotations

from intentd.store import Tx

from .._change import Change


class ReplyToSender:
    async def apply(self, tx: Tx, change: Change) -> None:
        intent, last = change.intent, change.events[-1]
        if intent.is_terminal and intent.reply_to and not change.before.is_terminal:
            tx.queue_feed(intent.namespace, intent.reply_to, intent.intent_id, last.event_type.value, last.at)
