"""The worker's ``concurrency`` slots, shared by its agents' claim loops.

A claim loop reserves slots *before* its long poll, because the server leases whatever the claim
returns; so an agent holds slots while it waits for work. Three rules keep one agent's waiting from
starving another:

- a reservation leaves one free slot for every other *idle* agent (nothing running, nothing reserved),
  so each agent can always poll as soon as it asks;
- idle agents are served before agents that already have work in flight, oldest request first; with
  fewer slots than agents they take turns, one long poll each;
- every slot given back (a finished handler, or a claim that brought less than it reserved) serves
  the waiting loops at once.

A slot counts from its reservation until the handler it went to has finished, so the number of
running handlers never exceeds the capacity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(eq=False)
class _Request:
    agent: str
    want: int
    granted: asyncio.Future[int]


class Slots:
    def __init__(self, capacity: int, agents: Iterable[str]) -> None:
        self.free = capacity
        self.held = dict.fromkeys(agents, 0)  # per agent: slots reserved plus handlers running
        self._waiting: list[_Request] = []

    async def reserve(self, agent: str, want: int) -> int:
        """Wait for, and take, between 1 and ``want`` slots for ``agent``; returns how many."""
        request = _Request(agent, want, asyncio.get_running_loop().create_future())
        self._waiting.append(request)
        self._serve()
        try:
            return await request.granted
        except asyncio.CancelledError:
            if request.granted.cancelled():
                self._waiting.remove(request)
            else:  # granted just before the cancellation reached us: give them back
                self.release(agent, request.granted.result())
            raise

    def release(self, agent: str, count: int) -> None:
        if count:
            self.held[agent] -= count
            self.free += count
            self._serve()

    def _serve(self) -> None:
        # Idle agents first; the sort is stable, so each group keeps the order of asking.
        for request in sorted(self._waiting, key=lambda r: self.held[r.agent] > 0):
            if self.free == 0:
                return
            count = self._share(request)
            if count > 0 and not request.granted.done():  # done = cancelled, its task removes it
                self._waiting.remove(request)
                self.free -= count
                self.held[request.agent] += count
                request.granted.set_result(count)

    def _share(self, request: _Request) -> int:
        others_idle = sum(1 for agent, held in self.held.items() if held == 0 and agent != request.agent)
        if self.held[request.agent] == 0:
            # An idle agent polls with at least one slot, even when fewer are free than idle agents.
            return max(1, min(request.want, self.free - others_idle))
        return min(request.want, self.free - others_idle)
