"""Effects of intent changes that concern delivery: each a small class with ``apply(tx, change)``,
run by the :class:`~intentd.engine.recorder.Recorder` in the order the composition root declares.
Timer kinds, which are effects too (they arm and disarm their timers), live in ``engine/timers``."""

from .handoff import DirectHandoff
from .queue import QueueForDelivery
from .reply import ReplyToSender

__all__ = ["DirectHandoff", "QueueForDelivery", "ReplyToSender"]
