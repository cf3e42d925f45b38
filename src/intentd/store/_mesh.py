"""The Mesh in the store (queries in ``sql/mesh.sql``): kill switches, the workers serving each agent,
and the open work of each agent (what a kill sweeps, what the fleet view counts)."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Any

from intentd.model import Intent, Micros

from ._codec import dumps, intent_from_row, loads
from ._sql import Query
from ._txbase import Executor, TxBase

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
class PolicyRecord:
    """A Mesh policy as stored: ``scope`` is ``*`` (the namespace) or an address; ``body`` its JSON."""

    namespace: str
    scope: str
    generation: int
    body: dict[str, Any]
    actor: str
    updated_at: Micros


@dataclass(frozen=True, slots=True)
class Usage:
    """Usage added to one rollup counter (or read from several)."""

    cost_usd: float = 0.0
    tokens_in: float = 0.0
    tokens_out: float = 0.0
    intents: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.cost_usd + other.cost_usd,
            self.tokens_in + other.tokens_in,
            self.tokens_out + other.tokens_out,
            self.intents + other.intents,
        )


@dataclass(frozen=True, slots=True)
class UsageKey:
    namespace: str
    scope: str  # agent | namespace | tree
    subject: str  # an address, "" (the namespace) or a root intent id
    bucket: int  # the UTC hour; 0 for a tree


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
    def __init__(self, executor: Executor, queries: dict[str, Query]) -> None:
        super().__init__(executor, queries)
        self._usage: dict[UsageKey, Usage] = {}

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

    async def save_policy(self, policy: PolicyRecord, expected: int | None) -> bool:
        """Write ``policy`` (its generation already moved on); with ``expected``, only if the stored one
        is still at that generation. False: it was not (another writer came first)."""
        values = {
            "namespace": policy.namespace,
            "scope": policy.scope,
            "generation": policy.generation,
            "body": dumps(policy.body),
            "actor": policy.actor,
            "updated_at": policy.updated_at,
        }
        self.changes.add(MESH_KEY)
        if expected is None:
            return await self._write("insert_policy", **values) == 1
        return await self._write("update_policy", **values, expected=expected) == 1

    async def get_policy(self, namespace: str, scope: str) -> PolicyRecord | None:
        row = await self._one("get_policy", namespace=namespace, scope=scope)
        return _policy(row) if row else None

    async def delete_policy(self, namespace: str, scope: str) -> bool:
        self.changes.add(MESH_KEY)
        return await self._write("delete_policy", namespace=namespace, scope=scope) == 1

    async def all_policies(self) -> list[PolicyRecord]:
        return [_policy(r) for r in await self._rows("all_policies")]

    async def lock_policy(self, namespace: str, scope: str) -> None:
        """Hold the policy's row to the end of the transaction (PostgreSQL), so leases counted
        against its concurrency limit on two replicas happen one after the other."""
        await self._rows("lock_policy", namespace=namespace, scope=scope)

    def queue_usage(self, key: UsageKey, usage: Usage) -> None:
        """Add ``usage`` to a rollup counter at the end of the transaction (:meth:`_flush_usage`)."""
        self.writes += 1
        prior = self._usage.get(key)
        self._usage[key] = usage if prior is None else prior + usage

    async def _flush_usage(self) -> None:
        """Add the queued usage, counter by counter in key order: concurrent writers take the
        counters' row locks in one order, so they never deadlock on them."""
        if not self._usage:
            return
        queued, self._usage = sorted(self._usage.items(), key=lambda kv: astuple(kv[0])), {}
        rows = [
            {
                "namespace": k.namespace,
                "scope": k.scope,
                "subject": k.subject,
                "bucket": k.bucket,
                "cost_usd": u.cost_usd,
                "tokens_in": u.tokens_in,
                "tokens_out": u.tokens_out,
                "intents": u.intents,
            }
            for k, u in queued
        ]
        await self._ex.executemany(self._q["add_usage"], rows)

    async def usage(self, namespace: str, scope: str, subject: str, first: int, last: int) -> Usage:
        """The usage of one subject summed over buckets ``first``..``last``."""
        row = await self._one(
            "usage_between", namespace=namespace, scope=scope, subject=subject, first=first, last=last
        )
        return _usage(row)

    async def usage_by_subject(self, namespace: str, scope: str, first: int, last: int) -> dict[str, Usage]:
        rows = await self._rows("usage_by_subject", namespace=namespace, scope=scope, first=first, last=last)
        return {r["subject"]: _usage(r) for r in rows}

    async def leased_count(self, namespace: str, address: str | None, *, versions: bool) -> int:
        """Leased intents of ``address`` (and of its versions), or of the namespace (None)."""
        if address is None:
            row = await self._one("leased_count_namespace", namespace=namespace)
        else:
            prefix = address + "@"  # every version of it (a substring, whatever the collation)
            row = await self._one(
                "leased_count",
                namespace=namespace,
                address=address,
                versions=int(versions),
                prefix=prefix,
                prefix_length=len(prefix),
            )
        return int(row["n"]) if row else 0

    async def intents_created_between(
        self, namespace: str, since: Micros, until: Micros, limit: int
    ) -> list[Intent]:
        rows = await self._rows(
            "intents_created_between", namespace=namespace, since=since, until=until, limit=limit
        )
        return [intent_from_row(r) for r in rows]

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

    async def leases_of_unreachable_workers(self, cutoff: Micros, limit: int) -> list[Intent]:
        rows = await self._rows("leases_of_unreachable_workers", cutoff=cutoff, limit=limit)
        return [intent_from_row(r) for r in rows]

    async def seen_worker(
        self, namespace: str, address: str, worker_id: str, via: str | None, now: Micros
    ) -> None:
        await self._write(
            "seen_worker", namespace=namespace, address=address, worker_id=worker_id, via=via, now=now
        )

    async def bindings_of_namespace(self, namespace: str) -> dict[str, str]:
        """Each registered agent's delivery binding (stream, poll, http)."""
        rows = await self._rows("bindings_of_namespace", namespace=namespace)
        return {r["address"]: r["delivery_mode"] for r in rows}

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


def _policy(row: Any) -> PolicyRecord:
    return PolicyRecord(
        row["namespace"],
        row["scope"],
        int(row["generation"]),
        loads(row["body"]),
        row["actor"],
        row["updated_at"],
    )


def _usage(row: Any) -> Usage:
    if row is None:
        return Usage()
    return Usage(
        float(row["cost_usd"] or 0),
        float(row["tokens_in"] or 0),
        float(row["tokens_out"] or 0),
        int(row["intents"] or 0),
    )
