"""Every change of an intent sent with a ``reply_to`` is a change of its inbox thread: in the change's
transaction the thread's row notes it (the row names the thread's owner: the ``reply_to``, unless a
delegation moved the thread), and the change joins the owner's feed of thread changes and the
namespace's (``GET /v1/inbox/changes`` with and without an owner). The feeds' cursors are numbered at
the end of the transaction (``Tx.flush``), so they grow in commit order, never in clock order.

This runs on every change of every intent: an intent without a ``reply_to`` costs one attribute check.
"""

from __future__ import annotations

from intentd.model import Micros
from intentd.store import Tx

from .._change import Change

# The feed of every owner's changes in a namespace (addresses never take this form).
EVERY_OWNER = "*"


class InboxThreadChanges:
    async def apply(self, tx: Tx, change: Change) -> None:
        intent = change.intent
        if intent.reply_to is None or not change.events:
            return
        last = change.events[-1]
        await thread_changed(
            tx, intent.namespace, intent.intent_id, intent.reply_to, last.event_type.value, last.at
        )


async def thread_changed(
    tx: Tx, namespace: str, thread_id: str, reply_to: str, change_type: str, at: Micros
) -> str:
    """Record a change of the thread for its owner and its namespace; returns the owner."""
    owner = await tx.touch_inbox_thread(namespace, thread_id, reply_to, at)
    for scope in (owner, EVERY_OWNER):
        tx.queue_inbox_change(namespace, scope, thread_id, change_type, at)
    return owner
