"""The kill switch (docs/mesh.md): stop one agent, one version of it, or a whole namespace, without
redeploying anything, and undo it with resume.

A kill is a row (``agent_kills``) and an audit record, committed in one transaction; from then on
every server process refuses or holds new work for it and leases it nothing (:class:`KillSwitches`).
Then its queued and leased work is *swept* in batches, as the kill asked: canceled, released to wait
for resume, or rerouted to another address. The held delivery streams of its workers are told at
once (``agent.killed``), and the Worker stops those handlers.

Another replica learns of the kill a few milliseconds later (LISTEN/NOTIFY); a lease it granted in
between is caught by a second sweep a second later (PostgreSQL only: on SQLite one process does all
the leasing), and a lease that escapes both (a server stopped mid-sweep) gets the kill's treatment
when it expires, since its worker has stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from intentd.model import (
    AgentKilled,
    EventType,
    Intent,
    Micros,
    Status,
    ValidationFailed,
)
from intentd.store import KillRecord, Store, Tx, agent_key

from .. import audit
from .._change import Change
from ..inputs import Kill, Principal, SubmitIntent
from ..recorder import Recorder
from .switches import NAMESPACE, KillSwitches, covers

Clock = Callable[[], Micros]
log = logging.getLogger("intentd.mesh")
NEW_WORK = ("refuse", "hold")
IN_FLIGHT = ("hold", "cancel", "reassign")
_BATCH = 200  # intents moved per transaction of a sweep
_SECOND_SWEEP_SECONDS = 1.0  # after this, every replica has heard of the kill (NOTIFY)


@dataclass(frozen=True, slots=True)
class Swept:
    """What a kill did to the work it found."""

    canceled: int = 0
    held: int = 0
    reassigned: int = 0

    def __add__(self, other: Swept) -> Swept:
        return Swept(
            self.canceled + other.canceled, self.held + other.held, self.reassigned + other.reassigned
        )


@dataclass(frozen=True, slots=True)
class Resumed:
    target: str
    was_killed: bool
    still_killed_by: KillRecord | None  # a wider kill that still stops the target


class KillService:
    def __init__(self, store: Store, clock: Clock, recorder: Recorder, switches: KillSwitches) -> None:
        self._store = store
        self._clock = clock
        self._recorder = recorder
        self.switches = switches
        self._later: set[asyncio.Task[None]] = set()

    async def kill(self, principal: Principal, req: Kill) -> tuple[KillRecord, Swept]:
        """Kill ``req.target`` now and sweep its work; answers once the sweep is done."""
        _check(req)
        ns = principal.namespace
        record = KillRecord(
            ns,
            req.target,
            req.new_work,
            req.in_flight,
            req.reassign_to,
            req.reason,
            principal.name,
            self._clock(),
        )

        async def unit(tx: Tx) -> list[str]:
            await tx.upsert_kill(record)
            details = {k: v for k, v in _details(record).items() if v is not None}
            audit.record(
                tx, ns, record.killed_at, "agent.killed", agent=_agent(record.target), details=details
            )
            tx.after_commit.append(lambda: self.switches.put(record))
            return await _covered(tx, ns, record.target)

        addresses = await self._store.write(unit)
        swept = await self._sweep(record, addresses)
        if self._store.dialect == "postgres":
            self._sweep_later(record)
        return record, swept

    async def resume(self, principal: Principal, target: str) -> Resumed:
        """Lift the kill of ``target`` (exactly this target: a wider kill stays); idempotent."""
        ns, now = principal.namespace, self._clock()

        async def unit(tx: Tx) -> bool:
            deleted = await tx.delete_kill(ns, target)
            if deleted:
                audit.record(tx, ns, now, "agent.resumed", agent=_agent(target))
                # Claims waiting for its agents wake and take the work held meanwhile.
                tx.changes.update(agent_key(ns, a) for a in await _covered(tx, ns, target))
            tx.after_commit.append(lambda: self.switches.drop(ns, target))
            return deleted

        was_killed = await self._store.write(unit)
        still = None if target == NAMESPACE else self.switches.killed(ns, target)
        return Resumed(target, was_killed, still)

    def kills(self, principal: Principal) -> list[KillRecord]:
        return self.switches.of(principal.namespace)

    def admit(self, principal: Principal, spec: SubmitIntent) -> None:
        """Refuse a new intent to an agent killed with ``new_work: refuse``, or from a killed agent
        (a killed agent sends nothing). Work a killed agent's ``hold`` lets in waits in its queue."""
        ns = principal.namespace
        to = self.switches.killed(ns, spec.to_agent)
        if to is not None and to.new_work == "refuse":
            raise _killed(spec.to_agent, to, "to_agent")
        sender = spec.from_agent
        stopped = self.switches.killed(ns, sender) if sender else None
        if sender and stopped is not None:
            raise _killed(sender, stopped, "from_agent")

    def expired(self, intent: Intent, now: Micros) -> Change | None:
        """The change for a lease of a killed agent that expired (it escaped the sweeps), or None
        when the agent is not killed or its kill holds the work (the usual requeue does that)."""
        kill = self.switches.killed(intent.namespace, intent.to_agent)
        if kill is None or kill.in_flight == "hold":
            return None
        return _swept_change(intent, kill, now)

    async def stop(self) -> None:
        for task in list(self._later):
            task.cancel()
        await asyncio.gather(*self._later, return_exceptions=True)

    async def _sweep(self, kill: KillRecord, addresses: list[str]) -> Swept:
        total = Swept()
        for address in addresses:
            while True:
                moved = await self._store.write(partial(self._sweep_batch, kill=kill, address=address))
                total += moved
                if sum((moved.canceled, moved.held, moved.reassigned)) < _BATCH:
                    break
        return total

    async def _sweep_batch(self, tx: Tx, *, kill: KillRecord, address: str) -> Swept:
        if self.switches.get(kill.namespace, kill.target) != kill:  # the kill of exactly its target
            return Swept()  # resumed, or killed again with other choices, meanwhile
        now, counts = self._clock(), {"cancel": 0, "hold": 0, "reassign": 0}
        queued = kill.in_flight != "hold"
        work = await tx.open_work_of_agent(kill.namespace, address, queued=queued, limit=_BATCH)
        for intent in work:
            await self._recorder.record(tx, _swept_change(intent, kill, now))
            counts[kill.in_flight] += 1
        return Swept(counts["cancel"], counts["hold"], counts["reassign"])

    def _sweep_later(self, kill: KillRecord) -> None:
        async def again() -> None:
            await asyncio.sleep(_SECOND_SWEEP_SECONDS)
            addresses = await self._store.read(lambda tx: _covered(tx, kill.namespace, kill.target))
            await self._sweep(kill, addresses)

        task = asyncio.create_task(again(), name="intentd-kill-sweep")
        self._later.add(task)
        task.add_done_callback(self._swept_later)

    def _swept_later(self, task: asyncio.Task[None]) -> None:
        self._later.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("the second sweep of a kill failed", exc_info=task.exception())


def _swept_change(intent: Intent, kill: KillRecord, now: Micros) -> Change:
    """What a kill does to one intent of its agent: cancel it, give it back to the queue (held there
    until resume) or reroute it."""
    change = Change(intent)
    details = {"reason": "agent_killed", "kill": kill.target}
    if kill.in_flight == "cancel":
        change.step(EventType.CANCELED, Status.CANCELED, kill.actor, now, details=details)
    elif kill.in_flight == "reassign":
        assert kill.reassign_to is not None
        details |= {"to_agent": kill.reassign_to, "from_agent": intent.to_agent}
        change.step(EventType.REROUTED, Status.SUBMITTED, kill.actor, now, details=details)
    elif intent.lease is not None:
        details["lease_token"] = intent.lease.token
        change.step(EventType.RELEASED, Status.SUBMITTED, kill.actor, now, details=details)
    return change


async def _covered(tx: Tx, namespace: str, target: str) -> list[str]:
    """The addresses of the namespace that a kill of ``target`` stops."""
    return [a for a in await tx.agent_addresses(namespace) if covers(target, a)]


def _check(req: Kill) -> None:
    if req.new_work not in NEW_WORK:
        raise ValidationFailed(
            "new_work is refuse or hold", details={"field": "new_work", "allowed": NEW_WORK}
        )
    if req.in_flight not in IN_FLIGHT:
        raise ValidationFailed(
            "in_flight is hold, cancel or reassign", details={"field": "in_flight", "allowed": IN_FLIGHT}
        )
    if (req.in_flight == "reassign") != (req.reassign_to is not None):
        raise ValidationFailed(
            "reassign_to goes with in_flight: reassign, and only with it", details={"field": "reassign_to"}
        )
    if req.reassign_to is not None and covers(req.target, req.reassign_to):
        raise ValidationFailed(
            f"{req.reassign_to} is killed by this kill too; reassign to another version or agent",
            details={"field": "reassign_to"},
        )


def _killed(address: str, kill: KillRecord, field: str) -> AgentKilled:
    return AgentKilled(
        f"{address} is killed ({kill.target}); resume it to send it work",
        details={"field": field, "agent": address, "kill": _details(kill)},
    )


def _details(kill: KillRecord) -> dict[str, object]:
    return {
        "target": kill.target,
        "new_work": kill.new_work,
        "in_flight": kill.in_flight,
        "reassign_to": kill.reassign_to,
        "reason": kill.reason,
    }


def _agent(target: str) -> str | None:
    return None if target == NAMESPACE else target
