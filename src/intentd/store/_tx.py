"""One transaction, in domain terms. The same code serves both backends: each provides an ``Executor``
(four primitives) and its named queries; dialect differences live in the SQL, not here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Protocol

from intentd.model import Event, Intent, JournalEntry, Micros, new_id

from ._codec import (
    dumps,
    entry_from_row,
    entry_to_params,
    event_from_row,
    event_to_params,
    intent_from_row,
    intent_to_params,
    loads,
)
from ._hub import agent_key, intent_key
from ._sql import Query

# The hub key the scheduler listens on: every transaction that adds a timer wakes it (the writer
# publishes the key at commit, and NOTIFY carries it to the other replicas), so it sleeps until the
# earliest due time without missing a timer added meanwhile.
SCHEDULER_KEY = "scheduler"


class Executor(Protocol):
    async def fetch(self, query: Query, values: dict[str, Any]) -> list[Any]: ...
    async def execute(self, query: Query, values: dict[str, Any]) -> int: ...
    async def executemany(self, query: Query, rows: list[dict[str, Any]]) -> None: ...


@dataclass(frozen=True, slots=True)
class Timer:
    timer_id: str
    intent_id: str
    kind: str
    due_at: Micros
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedItem:
    seq: int
    intent_id: str
    event_type: str
    at: Micros
    status: str
    correlation_id: str
    intent_type: str


@dataclass(frozen=True, slots=True)
class FeedEntry:
    namespace: str
    address: str
    intent_id: str
    event_type: str
    at: Micros


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    key_id: str
    namespace: str
    name: str
    role: str
    created_at: Micros
    revoked_at: Micros | None


@dataclass(frozen=True, slots=True)
class IntentPage:
    intents: list[Intent]
    next_cursor: tuple[Micros, str] | None


class Tx:
    """Reads and writes of one transaction. ``writes`` counts statements that changed data, so the
    writer can tell whether a failed unit left anything behind; ``changes`` are the hub keys to wake."""

    def __init__(self, executor: Executor, queries: dict[str, Query]) -> None:
        self._ex = executor
        self._q = queries
        self.writes = 0
        self.changes: set[str] = set()
        self._feed: list[FeedEntry] = []
        # Set by the writer for a transaction of several units: a row lock another transaction holds
        # then fails at once (PostgreSQL NOWAIT) instead of waiting, and the writer runs the units one
        # by one. Units of one batch lock rows in no global order (a step's end locks the step, then
        # its run), so two batches waiting on each other's rows would deadlock, and PostgreSQL would
        # take a second (deadlock_timeout) to say so.
        self.batched = False
        # Callbacks the writer runs once the outcome is known (e.g. hand a lease to a waiting claim).
        self.after_commit: list[Callable[[], None]] = []
        self.after_rollback: list[Callable[[], None]] = []

    async def _rows(self, name: str, /, **values: Any) -> list[Any]:
        return await self._ex.fetch(self._q[name], values)

    async def _one(self, name: str, /, **values: Any) -> Any | None:
        rows = await self._ex.fetch(self._q[name], values)
        return rows[0] if rows else None

    async def _write(self, name: str, /, **values: Any) -> int:
        self.writes += 1
        return await self._ex.execute(self._q[name], values)

    # -- intents and their events ------------------------------------------------------------
    async def get_intent(self, intent_id: str, *, for_update: bool = False) -> Intent | None:
        row = await self._one(
            ("get_intent_for_update_nowait" if self.batched else "get_intent_for_update")
            if for_update
            else "get_intent",
            intent_id=intent_id,
        )
        return intent_from_row(row) if row else None

    async def intent_by_idempotency_key(self, namespace: str, key: str) -> Intent | None:
        row = await self._one("get_intent_by_idempotency_key", namespace=namespace, idempotency_key=key)
        return intent_from_row(row) if row else None

    async def insert_intent(self, intent: Intent, events: list[Event]) -> None:
        await self._write("insert_intent", **intent_to_params(intent))
        await self._append(events)
        self.changes.add(intent_key(intent.intent_id))

    async def save_intent(self, intent: Intent, events: list[Event]) -> None:
        """Write the new projection and the events that produced it, in this transaction."""
        await self._write("update_intent", **intent_to_params(intent))
        await self._append(events)
        self.changes.add(intent_key(intent.intent_id))

    async def _append(self, events: list[Event]) -> None:
        self.writes += 1
        await self._ex.executemany(self._q["insert_event"], [event_to_params(e) for e in events])

    async def list_events(self, intent_id: str, since: int, limit: int) -> list[Event]:
        rows = await self._rows("list_events", intent_id=intent_id, since=since, limit=limit)
        return [event_from_row(r) for r in rows]

    async def list_intents(
        self,
        namespace: str,
        *,
        status: str | None,
        to_agent: str | None,
        correlation_id: str | None,
        before: tuple[Micros, str] | None,
        limit: int,
    ) -> IntentPage:
        rows = await self._rows(
            "list_intents",
            namespace=namespace,
            status=status,
            to_agent=to_agent,
            correlation_id=correlation_id,
            before_created_at=before[0] if before else None,
            before_intent_id=before[1] if before else None,
            limit=limit + 1,
        )
        intents = [intent_from_row(r) for r in rows[:limit]]
        more = len(rows) > limit
        cursor = (intents[-1].created_at, intents[-1].intent_id) if more and intents else None
        return IntentPage(intents, cursor)

    async def list_tree(self, namespace: str, root_intent_id: str, limit: int) -> list[Intent]:
        """The intents of the run that ``root_intent_id`` began (itself first), in creation order."""
        rows = await self._rows("list_tree", namespace=namespace, root_intent_id=root_intent_id, limit=limit)
        return [intent_from_row(r) for r in rows]

    # -- delivery ------------------------------------------------------------------------------
    async def claimable_intents(self, namespace: str, to_agent: str, limit: int) -> list[Intent]:
        rows = await self._rows("claimable_intents", namespace=namespace, to_agent=to_agent, limit=limit)
        return [intent_from_row(r) for r in rows]

    async def expired_leases(self, now: Micros, limit: int) -> list[Intent]:
        return [intent_from_row(r) for r in await self._rows("expired_leases", now=now, limit=limit)]

    async def extend_lease(self, intent_id: str, token: str, expires_at: Micros) -> bool:
        return (
            await self._write(
                "extend_lease", intent_id=intent_id, lease_token=token, lease_expires_at=expires_at
            )
            == 1
        )

    def queue_feed(self, namespace: str, address: str, intent_id: str, event_type: str, at: Micros) -> None:
        """Add an entry to an agent's stream. Entries are written by :meth:`flush`, at the end of
        the transaction."""
        self.writes += 1
        self._feed.append(FeedEntry(namespace, address, intent_id, event_type, at))
        self.changes.add(agent_key(namespace, address))

    async def flush(self) -> None:
        """Write the queued feed entries: one counter update per agent, taken in one global order
        of agents and last in the transaction, so concurrent writers cannot deadlock on them."""
        if not self._feed:
            return
        rows: list[dict[str, Any]] = []
        by_agent = sorted(self._feed, key=lambda e: (e.namespace, e.address))
        for (namespace, address), group in groupby(by_agent, key=lambda e: (e.namespace, e.address)):
            entries = list(group)
            row = await self._one(
                "reserve_feed_seqs",
                namespace=namespace,
                address=address,
                count=len(entries),
                now=entries[0].at,
            )
            assert row is not None
            first = int(row["feed_seq"]) - len(entries) + 1
            rows += [
                {
                    "namespace": namespace,
                    "address": address,
                    "seq": first + i,
                    "intent_id": e.intent_id,
                    "event_type": e.event_type,
                    "at": e.at,
                }
                for i, e in enumerate(entries)
            ]
        await self._ex.executemany(self._q["insert_feed"], rows)
        self._feed = []

    async def read_feed(self, namespace: str, address: str, since: int, limit: int) -> list[FeedItem]:
        rows = await self._rows("read_feed", namespace=namespace, address=address, since=since, limit=limit)
        return [
            FeedItem(
                r["seq"],
                r["intent_id"],
                r["event_type"],
                r["at"],
                r["status"],
                r["correlation_id"],
                r["intent_type"],
            )
            for r in rows
        ]

    async def record_heartbeat(
        self, namespace: str, address: str, now: Micros, heartbeat: dict[str, Any]
    ) -> None:
        await self._write(
            "record_agent_heartbeat",
            namespace=namespace,
            address=address,
            now=now,
            heartbeat=dumps(heartbeat),
        )

    # -- timers --------------------------------------------------------------------------------
    async def add_timer(
        self, intent_id: str, kind: str, due_at: Micros, payload: dict[str, Any] | None = None
    ) -> None:
        self.changes.add(SCHEDULER_KEY)
        await self._write(
            "insert_timer",
            timer_id=new_id(),
            intent_id=intent_id,
            kind=kind,
            due_at=due_at,
            payload=dumps(payload or {}),
        )

    async def delete_intent_timers(self, intent_id: str, kind: str) -> None:
        await self._write("delete_intent_timers", intent_id=intent_id, kind=kind)

    async def due_timers(self, now: Micros, limit: int) -> list[Timer]:
        rows = await self._rows("due_timers", now=now, limit=limit)
        return [
            Timer(r["timer_id"], r["intent_id"], r["kind"], r["due_at"], loads(r["payload"])) for r in rows
        ]

    async def delete_timer(self, timer_id: str) -> None:
        await self._write("delete_timer", timer_id=timer_id)

    async def next_wakeup(self) -> Micros | None:
        """The earliest timer or lease expiry, so the scheduler can sleep exactly until then."""
        timer = await self._one("next_timer_due")
        lease = await self._one("next_lease_expiry")
        dues = [r["due_at"] for r in (timer, lease) if r is not None and r["due_at"] is not None]
        return min(dues) if dues else None

    # -- runs: a parent's journal, a declared workflow's plan -----------------------------------
    async def insert_workflow_run(
        self, run_id: str, namespace: str, scenario_id: str, plan: dict[str, Any], now: Micros
    ) -> None:
        await self._write(
            "insert_workflow_run",
            run_id=run_id,
            namespace=namespace,
            scenario_id=scenario_id,
            plan=dumps(plan),
            created_at=now,
        )

    async def workflow_plan(self, run_id: str) -> dict[str, Any] | None:
        """The plan of a declared workflow run, or None for any other intent."""
        row = await self._one("get_workflow_run", run_id=run_id)
        return loads(row["plan"]) if row else None

    async def journal(self, run_id: str) -> list[JournalEntry]:
        """The run's entries in creation order."""
        return [entry_from_row(r) for r in await self._rows("journal", run_id=run_id)]

    async def journal_entry(self, run_id: str, key: str) -> JournalEntry | None:
        row = await self._one("journal_entry", run_id=run_id, key=key)
        return entry_from_row(row) if row else None

    async def put_journal_entry(self, entry: JournalEntry) -> None:
        """Insert the entry, or replace the state of the entry under its key."""
        await self._write("put_journal_entry", **entry_to_params(entry))

    async def next_journal_seq(self, run_id: str) -> int:
        row = await self._one("next_journal_seq", run_id=run_id)
        return int(row["seq"]) if row else 1

    async def awaited_unfinished(self, run_id: str) -> int:
        """How many entries the parked run still waits for."""
        row = await self._one("count_awaited_unfinished", run_id=run_id)
        return int(row["n"]) if row else 0

    # -- API keys ------------------------------------------------------------------------------
    async def insert_api_key(self, record: ApiKeyRecord, key_hash: str) -> None:
        await self._write(
            "insert_api_key",
            key_id=record.key_id,
            namespace=record.namespace,
            name=record.name,
            role=record.role,
            key_hash=key_hash,
            created_at=record.created_at,
        )

    async def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        row = await self._one("get_api_key_by_hash", key_hash=key_hash)
        return _key_from_row(row) if row else None

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        return [_key_from_row(r) for r in await self._rows("list_api_keys")]

    async def revoke_api_key(self, key_id: str, now: Micros) -> bool:
        return await self._write("revoke_api_key", key_id=key_id, now=now) == 1

    # -- inbox threads, approvals and the mesh registry (AXP compatibility) ----------------------
    async def list_inbox_threads(
        self, namespace: str, *, owner: str | None, thread_status: str | None, limit: int
    ) -> list[Intent]:
        """Intents with a ``reply_to`` (``owner`` = that address), most recently updated first."""
        rows = await self._rows(
            "list_inbox_threads", namespace=namespace, owner=owner, thread_status=thread_status, limit=limit
        )
        return [intent_from_row(r) for r in rows]

    async def get_approval(self, namespace: str, approval_id: str) -> dict[str, Any] | None:
        row = await self._one("get_approval", namespace=namespace, approval_id=approval_id)
        return dict(row) if row else None

    async def insert_approval(
        self,
        namespace: str,
        approval_id: str,
        decision: str,
        comment: str | None,
        decided_by: str,
        decided_at: Micros,
        intent_id: str | None,
    ) -> None:
        await self._write(
            "insert_approval",
            namespace=namespace,
            approval_id=approval_id,
            decision=decision,
            comment=comment,
            decided_by=decided_by,
            decided_at=decided_at,
            intent_id=intent_id,
        )

    async def list_agents(self, namespace: str) -> list[dict[str, Any]]:
        """Agents known in ``namespace`` (fed or heartbeating); ``heartbeat`` decoded."""
        rows = await self._rows("list_agents", namespace=namespace)
        return [{**dict(r), "heartbeat": loads(r["heartbeat"])} for r in rows]

    async def get_agent(self, namespace: str, address: str) -> dict[str, Any] | None:
        row = await self._one("get_agent", namespace=namespace, address=address)
        return {**dict(row), "heartbeat": loads(row["heartbeat"])} if row else None


def _key_from_row(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        row["key_id"], row["namespace"], row["name"], row["role"], row["created_at"], row["revoked_at"]
    )
