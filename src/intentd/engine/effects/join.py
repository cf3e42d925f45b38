"""A run's step ended: its parent moves on in the same transaction. When a child held in its
parent's journal (``step_key``) reaches a terminal status, its entry takes the outcome and the parent
reacts: a declared workflow takes its next move (``workflows/declared.py``), a supervisor agent is
woken if that was the last entry it awaited (``workflows/supervised.py``). A child that ends again
(a redelivery answered twice) or an attempt that was superseded finds nothing to do.

Intents outside runs (``step_key`` unset: plain submits, ``then`` handoffs) cost one attribute check."""

from __future__ import annotations

from intentd.store import Tx

from .._change import Change
from ..workflows import DeclaredRun, Plans, entry_ended, outcome


class JoinParent:
    def __init__(self, plans: Plans) -> None:
        self._plans = plans

    async def apply(self, tx: Tx, change: Change) -> None:
        child = change.intent
        if child.step_key is None or child.parent_intent_id is None:
            return
        if not child.is_terminal or change.before.is_terminal:
            return
        parent = await tx.get_intent(child.parent_intent_id, for_update=True)
        entry = await tx.journal_entry(child.parent_intent_id, child.step_key)
        if parent is None or entry is None or entry.finished or entry.child_intent_id != child.intent_id:
            return
        now = change.events[-1].at
        if parent.is_terminal:  # the run ended first (canceled, timed out): only the entry moves
            await tx.put_journal_entry(outcome(entry, child, now))
            return
        plan = await self._plans.of(tx, parent.intent_id)
        parent_change = Change(parent)
        if plan is None:
            ended = outcome(entry, child, now)
            await tx.put_journal_entry(ended)
            await entry_ended(tx, parent_change, entry, ended, now)
        else:
            run = DeclaredRun(tx, parent_change, plan, await tx.journal(parent.intent_id), now)
            await run.child_ended(entry, child)
            parent_change.follow_ups += run.follow_ups
        change.follow_ups.append(parent_change)
