"""The fleet registry (docs/mesh.md, "Registry and health"): every agent this namespace has sent
work to or heard from, with its health, the worker processes serving it and the work it has.

An agent registers on its first heartbeat (the AXP ``client.mesh.heartbeat()``), on the first
intent sent to it, and when a worker claims for it or holds a delivery stream for it; a worker is
recorded with the agent it serves, and refreshed while it keeps claiming or holding its stream.
Health follows from how long ago the agent was last seen (a heartbeat or a worker), from how many of
its recent intents failed, and from the kill switch; the thresholds are constants below.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from intentd.model import JSON, AgentNotFound, EventType, Intent, Micros, Status, policy
from intentd.store import AuditRecord, KillRecord, OpenWork, Store, Tx, Usage, WorkerSeen

from .._change import Change
from ..access import act_for
from ..inputs import Principal
from ..recorder import Recorder
from .policies import add_agent_usage
from .switches import KillSwitches

Clock = Callable[[], Micros]
T = TypeVar("T")

# Health from the last sign of life (PROTOCOL.md §5.3, the heartbeat-monitoring thresholds).
HEALTHY_WITHIN_SECONDS = 90
DEGRADED_WITHIN_SECONDS = 300
# ... and from failures: degraded when at least half of the last hour's finished intents failed,
# once there are enough of them to tell.
ERROR_WINDOW_SECONDS = 3600
DEGRADED_ERROR_RATE = 0.5
ERROR_RATE_MIN_FINISHED = 10
HEALTH_STATES = ("healthy", "degraded", "unreachable", "killed", "unknown")
WORKER_REFRESH_SECONDS = 30.0  # a worker's last_seen_at is written at most this often per process
_REFRESH = int(WORKER_REFRESH_SECONDS * 1_000_000)
_REMEMBERED = 10_000  # (agent, worker) pairs whose last write this process remembers
DAY = 86_400 * 1_000_000
_US = 1_000_000
_LEASED = frozenset({Status.DELIVERED.value, Status.ACKNOWLEDGED.value, Status.IN_PROGRESS.value})


@dataclass(frozen=True, slots=True)
class MeshAgent:
    address: str
    created_at: Micros
    last_heartbeat_at: Micros | None
    metrics: JSON
    metadata: JSON = field(default_factory=dict)

    def health(self, now: Micros) -> str:
        """Health from the heartbeat alone: ``unknown`` until the first (an address only sent work)."""
        return _by_age(self.last_heartbeat_at, now)


@dataclass(frozen=True, slots=True)
class FleetAgent:
    """One agent in the fleet view: health, who serves it, its work now and over the last day."""

    agent: MeshAgent
    health: str
    last_seen_at: Micros | None
    kill: KillRecord | None
    workers: list[WorkerSeen]
    open_work: dict[str, int]  # status -> count (SUBMITTED, DELIVERED, …, WAITING)
    oldest_open_at: Micros | None
    finished_day: dict[str, int]  # status -> count, intents finished in the last 24 h
    error_rate: float | None  # failed / finished over the last hour; None: too few to tell
    usage_today: Usage  # reported this UTC day (by its workers, and its heartbeats' cost)
    binding: str | None = None  # its registered delivery binding (stream, poll, http), if any

    @property
    def in_flight(self) -> int:
        return sum(n for status, n in self.open_work.items() if status in _LEASED)

    @property
    def version(self) -> str | None:
        last = self.agent.address.rsplit("/", 1)[-1]
        return last.split("@", 1)[1] if "@" in last else None


# Told after the commit of a beat that reported a cost: (namespace, agent, usage), as /metrics is.
UsageReported = Callable[[str, str, JSON], None]


class MeshService:
    def __init__(
        self, store: Store, clock: Clock, switches: KillSwitches, reported: UsageReported | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._switches = switches
        self._reported = reported
        self._workers_written: dict[tuple[str, str, str], Micros] = {}  # -> when last written

    def now(self) -> Micros:
        return self._clock()

    async def heartbeat(
        self, principal: Principal, address: str, metrics: JSON | None = None, metadata: JSON | None = None
    ) -> MeshAgent:
        """Record a beat from ``address`` (registering it on its first beat)."""
        act_for(principal, address)
        now = self._clock()
        beat = {"metrics": metrics or {}, "metadata": metadata or {}}

        async def unit(tx: Tx) -> MeshAgent:
            await tx.record_heartbeat(principal.namespace, address, now, beat)
            cost = (metrics or {}).get("cost_usd")
            if isinstance(cost, int | float) and not isinstance(cost, bool) and cost > 0:
                # AXP agents report their cost since the last beat: it counts like a worker's usage.
                add_agent_usage(tx, principal.namespace, address, Usage(cost_usd=float(cost)), now)
                if self._reported is not None:
                    tx.after_commit.append(
                        partial(self._reported, principal.namespace, address, {"cost_usd": cost})
                    )
            row = await tx.get_agent(principal.namespace, address)
            assert row is not None
            return _agent(row)

        return await self._store.write(unit)

    async def worker_seen(self, namespace: str, agents: Iterable[str], worker: str, via: str | None) -> None:
        """Record that ``worker`` serves ``agents`` (it holds a stream, claims, or with ``via`` None
        extends a lease): at most every ``WORKER_REFRESH_SECONDS`` per agent and worker in this
        process, so claims and lease heartbeats cost no write."""
        due, now = [], self._clock()
        if len(self._workers_written) > _REMEMBERED:  # workers come and go: forget, write again
            self._workers_written.clear()
        for agent in agents:
            key = (namespace, agent, worker)
            if now - self._workers_written.get(key, now - _REFRESH) >= _REFRESH:
                self._workers_written[key] = now
                due.append(agent)
        if not due:
            return

        async def unit(tx: Tx) -> None:
            for agent in due:
                await tx.seen_worker(namespace, agent, worker, via, now)

        await self._store.write(unit)

    async def agents(self, principal: Principal) -> list[MeshAgent]:
        rows = await self._store.read(lambda tx: tx.list_agents(principal.namespace))
        return [_agent(r) for r in rows]

    async def events(self, principal: Principal, event_type: str | None, limit: int) -> list[AuditRecord]:
        """The audit trail's records about the namespace's agents, newest first (AXP mesh events)."""
        ns = principal.namespace
        return await self._store.read(lambda tx: tx.agent_records(ns, action=event_type, limit=limit))

    async def fleet(self, principal: Principal) -> list[FleetAgent]:
        """Every agent of the namespace, with its health and work (the fleet view)."""
        ns, now = principal.namespace, self._clock()

        async def read(tx: Tx) -> list[FleetAgent]:
            rows = await tx.list_agents(ns)
            workers = _group(await tx.workers_of_namespace(ns), lambda w: w.address)
            open_work = _group(await tx.open_work_summary(ns), lambda w: w.agent)
            finished = _group(await tx.finished_summary(ns, now - DAY), lambda f: f[0])
            recent = _group(await tx.finished_summary(ns, now - ERROR_WINDOW_SECONDS * _US), lambda f: f[0])
            first, last = policy.today(now)
            spent = await tx.usage_by_subject(ns, "agent", first, last)
            bindings = await tx.bindings_of_namespace(ns)
            kills = {r["address"]: self._switches.killed(ns, r["address"]) for r in rows}
            return [
                replace(
                    _fleet_agent(
                        _agent(r), kills[r["address"]], workers, open_work, finished, recent, now, spent
                    ),
                    binding=bindings.get(r["address"]),
                )
                for r in rows
            ]

        return await self._store.read(read)

    async def fleet_agent(self, principal: Principal, address: str) -> tuple[FleetAgent, list[Intent]]:
        """One agent of the fleet view, and its oldest open intents (where work is stuck)."""
        fleet = {a.agent.address: a for a in await self.fleet(principal)}
        if address not in fleet:
            raise AgentNotFound(f"agent {address} not found", details={"address": address})
        oldest = await self._store.read(lambda tx: tx.oldest_open_of_agent(principal.namespace, address, 10))
        return fleet[address], oldest


def _fleet_agent(
    agent: MeshAgent,
    kill: KillRecord | None,
    workers: dict[str, list[WorkerSeen]],
    open_work: dict[str, list[OpenWork]],
    finished: dict[str, list[tuple[str, str, int]]],
    recent: dict[str, list[tuple[str, str, int]]],
    now: Micros,
    spent: dict[str, Usage],
) -> FleetAgent:
    address = agent.address
    serving = workers.get(address, [])
    seen = max([w.last_seen_at for w in serving] + [agent.last_heartbeat_at or 0]) or None
    opened = open_work.get(address, [])
    error_rate = _error_rate({status: n for _, status, n in recent.get(address, [])})
    if kill is not None:
        health = "killed"
    else:
        health = _by_age(seen, now)
        if health == "healthy" and error_rate is not None and error_rate >= DEGRADED_ERROR_RATE:
            health = "degraded"
    return FleetAgent(
        agent,
        health,
        seen,
        kill,
        serving,
        {w.status: w.count for w in opened},
        min((w.oldest_at for w in opened), default=None),
        {status: n for _, status, n in finished.get(address, [])},
        error_rate,
        spent.get(address, Usage()),
    )


def _by_age(seen: Micros | None, now: Micros) -> str:
    if seen is None:
        return "unknown"
    age = (now - seen) / _US
    if age < HEALTHY_WITHIN_SECONDS:
        return "healthy"
    return "degraded" if age < DEGRADED_WITHIN_SECONDS else "unreachable"


def _error_rate(counts: dict[str, int]) -> float | None:
    finished = sum(counts.values())
    if finished < ERROR_RATE_MIN_FINISHED:
        return None
    return counts.get(Status.FAILED.value, 0) / finished


def _group(items: Iterable[T], key: Callable[[T], str]) -> dict[str, list[T]]:
    grouped: dict[str, list[T]] = defaultdict(list)
    for item in items:
        grouped[key(item)].append(item)
    return grouped


def _agent(row: dict[str, Any]) -> MeshAgent:
    beat = row["heartbeat"] or {}
    return MeshAgent(
        row["address"],
        row["created_at"],
        row["last_seen_at"],
        beat.get("metrics") or {},
        beat.get("metadata") or {},
    )


class UnreachableWorkers:
    """The scheduler's sweep of workers gone silent: a lease held by a worker not seen for
    ``DEGRADED_WITHIN_SECONDS`` (no stream, no claim, no lease heartbeat) is released, so another
    worker takes the work now rather than when the lease would have expired (up to an hour)."""

    def __init__(self, recorder: Recorder, every_seconds: float = WORKER_REFRESH_SECONDS) -> None:
        self._recorder = recorder
        self._every = int(every_seconds * _US)
        self._last: Micros | None = None

    async def sweep(self, tx: Tx, now: Micros, limit: int) -> int:
        if self._last is not None and now - self._last < self._every:
            return 0
        self._last = now
        silent = await tx.leases_of_unreachable_workers(now - DEGRADED_WITHIN_SECONDS * _US, limit)
        for intent in silent:
            assert intent.lease is not None
            change = Change(intent)
            details = {
                "reason": "worker_unreachable",
                "worker": intent.lease.owner,
                "lease_token": intent.lease.token,
            }
            change.step(EventType.RELEASED, Status.SUBMITTED, "intentd", now, details=details)
            await self._recorder.record(tx, change)
        if len(silent) == limit:
            self._last = None  # more to release: sweep again on the next tick
        return len(silent)
