"""Declared runs' plans, read and validated once per process: a run's plan never changes after the
apply that stored it, and a run moves once per step, so each move would otherwise read its JSON and
validate it again (the fan-out benchmark's profile)."""

from __future__ import annotations

from collections import OrderedDict

from intentd.store import Tx

from .plan import Plan


class Plans:
    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._known: OrderedDict[str, Plan | None] = OrderedDict()

    async def of(self, tx: Tx, intent_id: str) -> Plan | None:
        """The plan of the declared run ``intent_id``, or None for any other intent (which never
        becomes one: a run's plan is stored in the transaction that creates it)."""
        if intent_id in self._known:
            self._known.move_to_end(intent_id)
            return self._known[intent_id]
        raw = await tx.workflow_plan(intent_id)
        plan = Plan.from_json(raw) if raw is not None else None
        self._known[intent_id] = plan
        if len(self._known) > self._size:
            self._known.popitem(last=False)
        return plan
