"""Held delivery streams: push delivery with leases (ARCHITECTURE.md §5, the ``stream`` binding).

A worker process holds one stream for its agents, and the server pushes each delivery onto it, leased,
the moment it commits. A held :class:`Stream` is a standing claim: the direct handoff leases work queued
in this process to it inside the submitting transaction (``dispatch.py``), and when woken it leases
what waits in the database (work queued on another replica, or while it was full). It never holds
more than ``max_in_flight`` open leases; one is freed when its lease ends, whatever ends it (complete,
fail, release, wait, expiry, cancel: :class:`~intentd.engine.effects.leases.FreeStreamPlace` tells
:class:`HeldStreams` after the commit).

Leases belong to the worker, not to the connection: a dropped stream releases nothing (its leases
expire as claimed ones do), and a stream opened again by the same worker first sends the worker's
open leases again (``resumed``), so a delivery lost with the connection is not lost; the worker skips
the ones it is running. Leases ended on another replica are not seen here at once: a full stream
reads its worker's open leases again before it concludes it has no room.

A kill of one of its agents (``engine/mesh/``) is sent on the stream at once, as an
:class:`AgentSwitch`, and so is its resume: the stream wakes on every change of the kill switches in
this process (another replica's reach it by NOTIFY) and compares which of its agents are killed with
what it last told its worker. It leases a killed agent nothing.

The database is read only when work may wait there that the stream has not been offered (``behind``):
when it opens, when work that no taker took committed in this process (it was full, or it was still
opening when the handoff looked: ``Dispatcher.left_queued``), and when a change was made on another
replica. Work queued in this process while it has room reaches it through the handoff, so a
delivery costs no query of its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from intentd.model import Intent, Micros, ValidationFailed
from intentd.store import KillRecord, Store, Subscription, Tx, agent_key

from ._change import Change
from .access import act_for
from .dispatch import Dispatcher
from .inputs import OpenStream, Principal
from .mesh import SWITCHES_KEY, DeliveryGate, KillSwitches, MeshService
from .recorder import Recorder

Clock = Callable[[], Micros]
MAX_IN_FLIGHT = 1000
MAX_AGENTS = 100
IDLE_SECONDS = 15.0  # an idle stream yields an empty batch this often (the route sends a keep-alive)


@dataclass(frozen=True, slots=True)
class Pushed:
    """One delivery sent on a stream; ``resumed``: a lease the worker held before this stream."""

    intent: Intent
    resumed: bool = False


@dataclass(frozen=True, slots=True)
class AgentSwitch:
    """One of the stream's agents was killed (``kill``: stop its handlers) or resumed (None)."""

    agent: str
    kill: KillRecord | None


Sent = Pushed | AgentSwitch  # what a held stream sends


class Stream:
    """One held stream: the leases it may still take, and the deliveries waiting to be sent."""

    def __init__(self, namespace: str, req: OpenStream, wake: Subscription) -> None:
        self.namespace = namespace
        self.req = req
        self.held: dict[str, str] = {}  # intent id -> lease token: the worker's open leases
        self.ready: list[Intent] = []  # leased and committed, not sent yet
        self.pending = 0  # leases whose transaction has not committed yet
        self.closed = False
        self.behind = True  # work may wait in the database that it was not offered
        self.killed: set[str] = set()  # its agents that it told its worker are killed
        self.switches_seen = -1  # the generation of the kill switches it last compared
        self._wake = wake

    @property
    def worker(self) -> str:
        return self.req.worker

    @property
    def lease_seconds(self) -> float:
        return self.req.lease_seconds

    @property
    def room(self) -> int:
        return self.req.max_in_flight - len(self.held) - self.pending

    def reserve(self) -> None:
        self.pending += 1

    def settle(self, intent: Intent | None) -> None:
        self.pending -= 1
        if intent is not None and intent.lease is not None:
            self.held[intent.intent_id] = intent.lease.token
            self.ready.append(intent)
            self._wake.wake()

    def passed_over(self) -> None:
        self.behind = True
        self._wake.wake()

    def ended(self, intent_id: str, token: str) -> None:
        """A lease of this worker ended (committed): its place is free again."""
        if self.held.get(intent_id) != token:
            return  # not ours, or a newer lease of the same intent
        was_full = self.room <= 0
        del self.held[intent_id]
        if was_full and self.behind:
            self._wake.wake()  # work queued while it had no room can be taken now

    def take_ready(self) -> list[Sent]:
        ready, self.ready = self.ready, []
        return [Pushed(intent) for intent in ready]

    def switched(self, switches: KillSwitches) -> list[Sent]:
        """Its agents killed or resumed since it last looked (a resumed one may have work waiting)."""
        if switches.generation == self.switches_seen:
            return []
        self.switches_seen = switches.generation
        changes: list[Sent] = []
        for agent in self.req.agents:
            kill = switches.killed(self.namespace, agent)
            if (kill is not None) != (agent in self.killed):
                changes.append(AgentSwitch(agent, kill))
                if kill is None:
                    self.killed.discard(agent)
                    self.behind = True
                else:
                    self.killed.add(agent)
        return changes


class HeldStreams:
    """The streams held in this process, by worker: where an ended lease frees a place."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], set[Stream]] = {}  # (namespace, worker) -> its streams

    def holds(self, namespace: str, worker: str) -> bool:
        return (namespace, worker) in self._held

    def lease_ended(self, namespace: str, worker: str, intent_id: str, token: str) -> None:
        for stream in self._held.get((namespace, worker), ()):
            stream.ended(intent_id, token)

    @contextmanager
    def holding(self, stream: Stream) -> Iterator[None]:
        key = (stream.namespace, stream.worker)
        self._held.setdefault(key, set()).add(stream)
        try:
            yield
        finally:
            streams = self._held.get(key, set())
            streams.discard(stream)
            if not streams:
                self._held.pop(key, None)


class StreamService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        recorder: Recorder,
        dispatcher: Dispatcher,
        held: HeldStreams,
        gate: DeliveryGate,
        mesh: MeshService,
    ) -> None:
        self._store = store
        self._clock = clock
        self._recorder = recorder
        self._dispatcher = dispatcher
        self._held = held
        self._gate = gate
        self._mesh = mesh

    def deliveries(self, principal: Principal, req: OpenStream) -> AsyncIterator[list[Sent]]:
        """The deliveries of a held stream (:meth:`_deliveries`); a caller who may not serve one of
        its agents is refused now, before the stream opens."""
        check(req)
        for agent in req.agents:
            act_for(principal, agent)
        return self._deliveries(principal, req)

    async def _deliveries(self, principal: Principal, req: OpenStream) -> AsyncIterator[list[Sent]]:
        """The deliveries of a held stream, batch by batch, until it has been held ``hold_seconds``,
        the server shuts down or the caller stops reading; an empty batch after ``IDLE_SECONDS``
        without one. Ending a stream ends none of its leases: the worker opens it again (on any
        replica: a bounded hold also spreads long-lived streams over new replicas) and is sent them
        as ``resumed``."""
        until = None if req.hold_seconds is None else time.monotonic() + req.hold_seconds
        ns = principal.namespace
        keys = (SWITCHES_KEY, *(agent_key(ns, agent) for agent in req.agents))
        with self._store.hub.subscribe(*keys) as wake:
            stream = Stream(ns, req, wake)
            with self._held.holding(stream), self._dispatcher.taking(stream, ns, req.agents):
                try:
                    resumed: list[Sent] = [Pushed(i, resumed=True) for i in await self._reread_leases(stream)]
                    if resumed:
                        yield resumed
                    while not wake.closed and (left := _left(until)) > 0:
                        # Alive and serving: a write every 30 s at most (the unreachable sweep).
                        await self._mesh.worker_seen(ns, req.agents, req.worker, "stream")
                        stream.behind = stream.behind or wake.changed_elsewhere()
                        batch = stream.switched(self._gate.switches) + stream.take_ready()
                        if not batch and stream.behind:
                            batch = await self._lease_queued(stream)
                        if batch:
                            yield batch
                            continue
                        if not await wake.wait(min(IDLE_SECONDS, left)) and not wake.closed:
                            yield []
                finally:
                    stream.closed = True

    async def _lease_queued(self, stream: Stream) -> list[Sent]:
        """Lease what waits in the database for the stream's agents, as far as it has room."""
        if stream.room <= 0:
            await self._reread_leases(stream)  # leases may have ended on another replica
            if stream.room <= 0:
                return []  # still behind: read again when a place frees
        stream.behind = False  # from here on, what is queued is offered to it or marks it again
        ns = stream.namespace
        agents = tuple(a for a in stream.req.agents if not self._gate.killed(ns, a))
        waiting = await self._store.read(lambda tx: _agents_with_work(tx, ns, agents))
        if not waiting:
            return []
        if await self._store.write(lambda tx: self._lease(tx, stream, waiting)):
            stream.behind = True  # it took all it had room for: more may be waiting
        return stream.take_ready()

    async def _lease(self, tx: Tx, stream: Stream, agents: list[str]) -> bool:
        """Lease queued work of ``agents`` to the stream while it has room; True if it ran out of
        room before it ran out of work."""
        now = self._clock()
        for agent in agents:
            room = stream.room
            if room <= 0:
                return True
            queued = await tx.claimable_intents(stream.namespace, agent, room)
            for intent in queued:
                if await self._gate.holds(tx, intent, now):
                    stream.behind = True  # held back (killed meanwhile, a policy): read again later
                    break
                change = Change(intent)
                stream.reserve()
                leased = change.lease(stream.worker, stream.lease_seconds, now)
                await self._recorder.record(tx, change)
                tx.after_commit.append(partial(stream.settle, leased))
                tx.after_rollback.append(lambda: stream.settle(None))
            if len(queued) == room:
                return True
        return False

    async def _reread_leases(self, stream: Stream) -> list[Intent]:
        """Read the worker's open leases for the stream's agents into ``stream.held``; returns them."""
        before = dict(stream.held)
        leases = await self._store.read(lambda tx: tx.leases_of_worker(stream.namespace, stream.worker))
        mine = [i for i in leases if i.to_agent in stream.req.agents and i.lease is not None]
        held = {i.intent_id: i.lease.token for i in mine if i.lease is not None}
        # Leases that committed while the read ran are the stream's too.
        held.update((k, v) for k, v in stream.held.items() if k not in before)
        stream.held = held
        return mine


def check(req: OpenStream) -> None:
    if not 1 <= len(req.agents) <= MAX_AGENTS:
        raise ValidationFailed(f"a stream serves 1..{MAX_AGENTS} agents", details={"field": "agent"})
    if not 1 <= req.max_in_flight <= MAX_IN_FLIGHT:
        raise ValidationFailed(
            f"max_in_flight must be 1..{MAX_IN_FLIGHT}", details={"field": "max_in_flight"}
        )
    if req.lease_seconds <= 0:
        raise ValidationFailed("lease_seconds must be positive", details={"field": "lease_seconds"})


async def _agents_with_work(tx: Tx, namespace: str, agents: tuple[str, ...]) -> list[str]:
    return [agent for agent in agents if await tx.claimable_intents(namespace, agent, 1)]


def _left(until: float | None) -> float:
    """Seconds a stream may still be held."""
    return math.inf if until is None else until - time.monotonic()
