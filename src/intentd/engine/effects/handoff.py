"""Direct handoff: an intent just queued is leased, in the same transaction, to a claim of this
process that is waiting for its agent, or to a delivery stream held for it (see
``engine/dispatch.py``), so a handoff between agents costs one commit. Runs after
:class:`~intentd.engine.effects.QueueForDelivery`. A killed agent is handed nothing: its work stays
queued, and so is work a policy holds back (``engine/mesh/gate.py``)."""

from __future__ import annotations

from functools import partial

from intentd.model import Status
from intentd.store import Tx

from .._change import Change
from ..dispatch import Dispatcher
from ..mesh import DeliveryGate


class DirectHandoff:
    def __init__(self, dispatcher: Dispatcher, gate: DeliveryGate) -> None:
        self._dispatcher = dispatcher
        self._gate = gate

    async def apply(self, tx: Tx, change: Change) -> None:
        intent = change.intent
        if intent.status is not Status.SUBMITTED:
            return
        held = await self._gate.holds(tx, intent, change.events[-1].at)
        taker = None if held else self._dispatcher.take(intent.namespace, intent.to_agent)
        if taker is None:
            tx.after_commit.append(partial(self._dispatcher.left_queued, intent.namespace, intent.to_agent))
            return
        leased = change.lease(taker.worker, taker.lease_seconds, change.events[-1].at)
        # The taker sees the lease only once it has committed; a rollback withdraws the offer.
        tx.after_commit.append(lambda: taker.settle(leased))
        tx.after_rollback.append(lambda: taker.settle(None))
