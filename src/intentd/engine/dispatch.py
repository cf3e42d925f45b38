"""Direct handoff: push delivery without a second commit.

A claim that finds no work registers a :class:`Waiter`; a held delivery stream (``streams.py``)
registers itself for as long as it is held. When a transaction in this process makes an intent
SUBMITTED for one of their agents, :class:`~intentd.engine.effects.DirectHandoff` leases it to the first
with room inside the same transaction (``intent.submitted`` and ``intent.delivered`` commit
together). The taker sees the lease only after that commit; if the transaction rolls back, the offer
is withdrawn. A handoff between agents then
costs one commit and no claim query, and the waiting claim answers the moment the handoff commits.
Waiters on other replicas are woken by NOTIFY and claim from the database as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from intentd.model import Intent

from .inputs import Claim


class Taker(Protocol):
    """What the direct handoff leases to: a waiting claim or a held delivery stream."""

    @property
    def worker(self) -> str: ...
    @property
    def lease_seconds(self) -> float: ...
    @property
    def room(self) -> int: ...
    @property
    def closed(self) -> bool: ...

    def reserve(self) -> None:
        """Count one offer in flight (its transaction has not committed yet)."""

    def settle(self, intent: Intent | None) -> None:
        """The offer's transaction committed (``intent``, leased to this taker) or rolled back."""

    def passed_over(self) -> None:
        """Work for one of its agents was committed that no taker took: it waits in the database."""


@dataclass(eq=False)
class Waiter:
    namespace: str
    claim: Claim
    leased: list[Intent] = field(default_factory=list)
    pending: int = 0
    closed: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def worker(self) -> str:
        return self.claim.worker

    @property
    def lease_seconds(self) -> float:
        return self.claim.lease_seconds

    @property
    def room(self) -> int:
        return self.claim.max_intents - len(self.leased) - self.pending

    def reserve(self) -> None:
        self.pending += 1

    def passed_over(self) -> None:
        pass  # a waiting claim reads the database on every wake-up

    def settle(self, intent: Intent | None) -> None:
        """The transaction that reserved a slot committed (``intent``) or rolled back (None)."""
        self.pending -= 1
        if intent is not None:
            self.leased.append(intent)
        self.changed.set()

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for offers reserved before the waiter closed to commit or roll back."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.pending > 0 and loop.time() < end:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), end - loop.time())
            except TimeoutError:
                return


class Dispatcher:
    def __init__(self) -> None:
        self._waiting: dict[tuple[str, str], list[Taker]] = {}
        # Set whenever a claim starts waiting; only wait_for_waiter ever clears or awaits it.
        self._registered = asyncio.Event()

    @contextmanager
    def waiting(self, waiter: Waiter) -> Iterator[Waiter]:
        try:
            with self.taking(waiter, waiter.namespace, (waiter.claim.agent,)):
                yield waiter
        finally:
            waiter.closed = True

    @contextmanager
    def taking(self, taker: Taker, namespace: str, agents: Iterable[str]) -> Iterator[None]:
        """Offer ``taker`` the work queued for ``agents`` in this process while the block runs."""
        keys = [(namespace, agent) for agent in agents]
        for key in keys:
            self._waiting.setdefault(key, []).append(taker)
        self._registered.set()
        try:
            yield
        finally:
            for key in keys:
                queue = self._waiting.get(key, [])
                if taker in queue:
                    queue.remove(taker)
                if not queue:
                    self._waiting.pop(key, None)

    def take(self, namespace: str, agent: str) -> Taker | None:
        """The first open taker for ``agent`` with room for one more lease, reserved."""
        for taker in self._waiting.get((namespace, agent), ()):
            if not taker.closed and taker.room > 0:
                taker.reserve()
                return taker
        return None

    def left_queued(self, namespace: str, agent: str) -> None:
        """Work for ``agent`` that no taker took has committed: tell the takers registered now. Called
        after the commit, so a taker that registered while the transaction ran (after its handoff
        looked for one) learns of it, and one registering later finds it in the database."""
        for taker in self._waiting.get((namespace, agent), ()):
            taker.passed_over()

    async def wait_for_waiter(self, namespace: str, agent: str, count: int = 1, timeout: float = 5.0) -> None:
        """Return once ``count`` claims for ``agent`` are waiting in this process; ``TimeoutError``
        after ``timeout`` seconds. A waiting claim has already subscribed to its wake-ups, so from
        then on work submitted here is handed to it and work submitted on another replica wakes it.
        For tests (and diagnostics) that need a long poll parked before they submit, instead of
        sleeping and hoping::

            claim = asyncio.create_task(engine.delivery.claim(principal, Claim(agent, "w1", wait_seconds=30)))
            await engine.dispatcher.wait_for_waiter(principal.namespace, agent)
            await engine.intents.submit(principal, work)  # handed to the waiting claim
        """
        async with asyncio.timeout(timeout):
            while len(self._waiting.get((namespace, agent), ())) < count:
                self._registered.clear()
                await self._registered.wait()
