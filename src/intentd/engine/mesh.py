"""The mesh registry as far as the official SDK's ``client.mesh.heartbeat()`` needs it
(PROTOCOL.md §5.2): a heartbeat stores the agent's last beat and metrics on its ``agents`` row, and
health follows from how long ago that was. Kill switch, cost policies and mesh events come with the
fleet features."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from intentd.model import JSON, AgentNotFound, Micros
from intentd.store import Store, Tx

from .access import act_for
from .inputs import Principal

Clock = Callable[[], Micros]

# Health from heartbeat recency (PROTOCOL.md §5.3, the heartbeat-monitoring thresholds).
HEALTHY_WITHIN_SECONDS = 90
DEGRADED_WITHIN_SECONDS = 300
HEALTH_STATES = ("healthy", "degraded", "unreachable", "unknown")


@dataclass(frozen=True, slots=True)
class MeshAgent:
    address: str
    created_at: Micros
    last_heartbeat_at: Micros | None
    metrics: JSON

    def health(self, now: Micros) -> str:
        """``unknown`` until the first heartbeat (an address that was only sent work)."""
        if self.last_heartbeat_at is None:
            return "unknown"
        age = (now - self.last_heartbeat_at) / 1_000_000
        if age < HEALTHY_WITHIN_SECONDS:
            return "healthy"
        return "degraded" if age < DEGRADED_WITHIN_SECONDS else "unreachable"


class MeshService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def now(self) -> Micros:
        return self._clock()

    async def heartbeat(self, principal: Principal, address: str, metrics: JSON | None = None) -> MeshAgent:
        """Record a beat from ``address`` (registering it on its first beat)."""
        act_for(principal, address)
        now = self._clock()

        async def unit(tx: Tx) -> MeshAgent:
            await tx.record_heartbeat(principal.namespace, address, now, {"metrics": metrics or {}})
            row = await tx.get_agent(principal.namespace, address)
            assert row is not None
            return _agent(row)

        return await self._store.write(unit)

    async def agents(self, principal: Principal) -> list[MeshAgent]:
        rows = await self._store.read(lambda tx: tx.list_agents(principal.namespace))
        return [_agent(r) for r in rows]

    async def agent(self, principal: Principal, address: str) -> MeshAgent:
        row = await self._store.read(lambda tx: tx.get_agent(principal.namespace, address))
        if row is None:
            raise AgentNotFound(f"agent {address} not found", details={"address": address})
        return _agent(row)


def _agent(row: dict[str, Any]) -> MeshAgent:
    beat = row["heartbeat"] or {}
    return MeshAgent(row["address"], row["created_at"], row["last_seen_at"], beat.get("metrics") or {})
