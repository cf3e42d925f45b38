"""The one path by which the engine writes a change of an intent.

A service decides a :class:`~intentd.engine._change.Change` (events checked against the model's
transition table); :meth:`Recorder.record` then applies the *effects* of that change in their declared
order and writes the projection and its events, all in the unit's transaction. An effect is one
consequence of a status change that must commit with it: an agent's feed entry, the direct handoff to a
waiting claim, a reply in the ``reply_to`` feed, a timer armed or disarmed. Each lives in its own module
(``effects/``, ``timers/``); the composition root (:class:`~intentd.engine.runtime.Engine`) declares
which effects run and in what order, so a new capability (a workflow join, an audit outbox, a spend
roll-up) adds an effect instead of a branch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from intentd import logs
from intentd.model import Intent
from intentd.store import Tx

from ._change import Change


class Effect(Protocol):
    """One consequence of a change, written in the change's transaction before its rows. An effect
    may add events to the change (the direct handoff leases the intent it just queued) and changes of
    other intents to ``change.follow_ups`` (a run moving on when its step ends)."""

    async def apply(self, tx: Tx, change: Change) -> None: ...


class Recorder:
    def __init__(self, effects: Sequence[Effect]) -> None:
        self.effects = tuple(effects)

    async def record(self, tx: Tx, change: Change) -> Intent:
        """Apply the change's effects in order, write the projection and its events, then record the
        changes of other intents it caused (its effects' ``follow_ups``), each with its own effects."""
        logs.about(change.intent)  # the caller's log lines name the intent (a no-op with text logs)
        for effect in self.effects:
            await effect.apply(tx, change)
        if change.is_new:
            await tx.insert_intent(change.intent, change.events)
        else:
            await tx.save_intent(change.intent, change.events)
        for follow_up in change.follow_ups:
            await self.record(tx, follow_up)
        return change.intent
