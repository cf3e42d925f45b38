"""The Mesh in the store (queries in ``sql/mesh.sql``): kill switches, the workers serving each agent,
and the open work of each agent (what a kill sweeps, what the fleet view counts)."""

from __future__ import annotations

from dataclasses import dataclass

from intentd.model import Intent, Micros

from ._codec import dumps, intent_from_row, loads
from ._txbase import TxBase

MESH_KEY = "mesh"  # the hub key published after every change of a kill switch, on every replica


@dataclass(frozen=True, slots=True)
class KillRecord:
    """One kill switch: ``target`` is an address (with ``@version``: that version only), or ``*``."""

    namespace: str
    target: str
    new_work: str  # refuse | hold
    in_flight: str  # cancel | hold | reassign
    reassign_to: str | None
    reason: str | None
    actor: str
    killed_at: Micros


@dataclass(frozen=True, slots=True)
class RouteRecord:
    """Where new intents to ``address`` (a base address) go: each version's share of ``weights``."""

    namespace: str
    address: str
    weights: dict[str, int]  # version -> weight (a weight of 0: the version drains)
    actor: str
    updated_at: Micros


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    namespace: str
    address: str
    worker_id: str
    via: str  # stream | claim
    first_seen_at: Micros
    last_seen_at: Micros


@dataclass(frozen=True, slots=True)
class OpenWork:
    """How many open intents an agent has in one status, and since when the oldest sits there."""

    agent: str
    status: str
    count: int
    oldest_at: Micros


class MeshRows(TxBase):
    async def upsert_kill(self, kill: KillRecord) -> None:
        await self._write(
            "upsert_kill",
            namespace=kill.namespace,
            target=kill.target,
            new_work=kill.new_work,
            in_flight=kill.in_flight,
            reassign_to=kill.reassign_to,
            reason=kill.reason,
            actor=kill.actor,
            killed_at=kill.killed_at,
        )
        self.changes.add(MESH_KEY)

    async def delete_kill(self, namespace: str, target: str) -> bool:
        deleted = await self._write("delete_kill", namespace=namespace, target=target) == 1
        self.changes.add(MESH_KEY)
        return deleted

    async def all_kills(self) -> list[KillRecord]:
        return [KillRecord(**dict(row)) for row in await self._rows("all_kills")]

    async def upsert_route(self, route: RouteRecord) -> None:
        await self._write(
            "upsert_route",
            namespace=route.namespace,
            address=route.address,
            weights=dumps(route.weights),
            actor=route.actor,
            updated_at=route.updated_at,
        )
        self.changes.add(MESH_KEY)

    async def delete_route(self, namespace: str, address: str) -> bool:
        deleted = await self._write("delete_route", namespace=namespace, address=address) == 1
        self.changes.add(MESH_KEY)
        return deleted

    async def all_routes(self) -> list[RouteRecord]:
        return [
            RouteRecord(r["namespace"], r["address"], loads(r["weights"]), r["actor"], r["updated_at"])
            for r in await self._rows("all_routes")
        ]

    async def agent_addresses(self, namespace: str) -> list[str]:
        """Every address this namespace has sent work to or heard from."""
        return [row["address"] for row in await self._rows("agent_addresses", namespace=namespace)]

    async def open_work_of_agent(
        self, namespace: str, address: str, *, queued: bool, limit: int
    ) -> list[Intent]:
        """Leased intents of ``address``, and with ``queued`` its queued ones (locked on PostgreSQL:
        a kill moves them)."""
        rows = await self._rows(
            "open_work_of_agent", namespace=namespace, to_agent=address, queued=int(queued), limit=limit
        )
        return [intent_from_row(r) for r in rows]

    async def seen_worker(self, namespace: str, address: str, worker_id: str, via: str, now: Micros) -> None:
        await self._write(
            "seen_worker", namespace=namespace, address=address, worker_id=worker_id, via=via, now=now
        )

    async def workers_of_namespace(self, namespace: str) -> list[WorkerSeen]:
        rows = await self._rows("workers_of_namespace", namespace=namespace)
        return [WorkerSeen(**dict(row)) for row in rows]

    async def open_work_summary(self, namespace: str) -> list[OpenWork]:
        rows = await self._rows("open_work_summary", namespace=namespace)
        return [OpenWork(r["to_agent"], r["status"], int(r["count"]), int(r["oldest_at"])) for r in rows]

    async def finished_summary(self, namespace: str, since: Micros) -> list[tuple[str, str, int]]:
        rows = await self._rows("finished_summary", namespace=namespace, since=since)
        return [(r["to_agent"], r["status"], int(r["count"])) for r in rows]

    async def oldest_open_of_agent(self, namespace: str, address: str, limit: int) -> list[Intent]:
        rows = await self._rows("oldest_open_of_agent", namespace=namespace, to_agent=address, limit=limit)
        return [intent_from_row(r) for r in rows]
