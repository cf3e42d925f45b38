"""Effects of intent changes that concern delivery: each a small class with ``apply(tx, change)``,
run by the :class:`~intentd.engine.recorder.Recorder` in the order the composition root declares.
Runs' effects (``join.py``, ``cascade.py``) move a parent when its child ends and stop a
subtree when its run ends. Timer kinds, which are effects too (they arm and disarm their timers),
live in ``engine/timers``."""

from .cascade import CancelChildren
from .handoff import DirectHandoff
from .join import JoinParent
from .leases import FreeStreamPlace
from .queue import QueueForDelivery
from .reply import ReplyToSender

__all__ = [
    "CancelChildren",
    "DirectHandoff",
    "FreeStreamPlace",
    "JoinParent",
    "QueueForDelivery",
    "ReplyToSender",
]
