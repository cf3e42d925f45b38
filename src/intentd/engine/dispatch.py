"""Direct handoff: push delivery without a second commit.

A claim that finds no work registers a :class:`Waiter`. When a transaction in this process makes an
intent SUBMITTED for that agent, :meth:`Dispatcher.offer` leases it to the waiter inside the same
transaction (``intent.submitted`` and ``intent.delivered`` commit together). The waiter sees the lease only
after that commit; if the transaction rolls back, the offer is withdrawn. A handoff between agents then
costs one commit and no claim query, and the waiting claim answers the moment the handoff commits.
Waiters on other replicas are woken by NOTIFY and claim from the database as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from intentd.model import Intent

from .inputs import Claim


@dataclass(eq=False)
class Waiter:
    namespace: str
    claim: Claim
    leased: list[Intent] = field(default_factory=list)
    pending: int = 0
    closed: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def room(self) -> int:
        return self.claim.max_intents - len(self.leased) - self.pending

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
        self._waiting: dict[tuple[str, str], list[Waiter]] = {}
        # Set whenever a claim starts waiting; only wait_for_waiter ever clears or awaits it.
        self._registered = asyncio.Event()

    @contextmanager
    def waiting(self, waiter: Waiter) -> Iterator[Waiter]:
        key = (waiter.namespace, waiter.claim.agent)
        self._waiting.setdefault(key, []).append(waiter)
        self._registered.set()
        try:
            yield waiter
        finally:
            waiter.closed = True
            queue = self._waiting.get(key, [])
            if waiter in queue:
                queue.remove(waiter)
            if not queue:
                self._waiting.pop(key, None)

    def take(self, namespace: str, agent: str) -> Waiter | None:
        """The first open waiter for ``agent`` with room for one more lease, reserved."""
        for waiter in self._waiting.get((namespace, agent), ()):
            if not waiter.closed and waiter.room > 0:
                waiter.pending += 1
                return waiter
        return None

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
