"""One transaction, in domain terms. The same code serves both backends: each provides an ``Executor``
(four primitives) and its named queries; dialect differences live in the SQL, not here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from itertools import groupby
from typing import Any, TypeVar

from intentd.model import Event, HumanTask, Intent, JournalEntry, Micros, new_id

from ._audit import AuditRows
from ._codec import (
    dumps,
    entry_from_row,
    entry_to_params,
    event_from_row,
    event_to_params,
    intent_from_row,
    intent_to_params,
    loads,
    task_from_row,
    task_to_params,
)
from ._hub import agent_key, intent_key
from ._keys import KeyRows
from ._mesh import MeshRows
from ._metrics import MetricsRows
from ._namespaces import NamespaceRows
from ._sql import Query
from ._txbase import Executor, TxBase
from ._ui import UiRows
from ._webhooks import WebhookRows

# The hub key the scheduler listens on: every transaction that adds a timer wakes it (the writer
# publishes the key at commit, and NOTIFY carries it to the other replicas), so it sleeps until the
# earliest due time without missing a timer added meanwhile.
SCHEDULER_KEY = "scheduler"
Q = TypeVar("Q")  # an entry queued for the end of the transaction


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
    # The outcome, once the intent is terminal: a listener for replies needs no second request.
    result: Any = None
    error: Any = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class FeedEntry:
    namespace: str
    address: str
    intent_id: str
    event_type: str
    at: Micros


@dataclass(frozen=True, slots=True)
class InboxChange:
    namespace: str
    owner: str
    thread_id: str
    change_type: str
    at: Micros


@dataclass(frozen=True, slots=True)
class IntentPage:
    intents: list[Intent]
    next_cursor: tuple[Micros, str] | None


class Tx(KeyRows, NamespaceRows, WebhookRows, AuditRows, MeshRows, UiRows, MetricsRows, TxBase):
    """Reads and writes of one transaction, in domain terms. The runtime's core is here; each other
    area of the store is a mixin of its own module (``_keys.py``, …) on :class:`TxBase`."""

    def __init__(self, executor: Executor, queries: dict[str, Query]) -> None:
        super().__init__(executor, queries)
        self._feed: list[FeedEntry] = []
        self._inbox_changes: list[InboxChange] = []

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

    async def leases_of_worker(self, namespace: str, worker: str) -> list[Intent]:
        rows = await self._rows("leases_of_worker", namespace=namespace, worker=worker)
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
        """Write what units queued for the end of the transaction: agents' feed entries, then
        inbox changes, then usage counters, then audit records (their chain heads are the last locks
        taken). Every transaction takes these counters in this one order."""
        await self._flush_feed()
        await self._flush_inbox_changes()
        await self._flush_usage()
        await self._flush_audit()

    async def _flush_feed(self) -> None:
        """Write the queued feed entries, numbered per agent (:meth:`_numbered`)."""
        if not self._feed:
            return

        async def reserve(entries: list[FeedEntry]) -> int:
            first = entries[0]
            row = await self._one(
                "reserve_feed_seqs",
                namespace=first.namespace,
                address=first.address,
                count=len(entries),
                now=first.at,
            )
            assert row is not None
            return int(row["feed_seq"])

        numbered = await self._numbered(self._feed, lambda e: (e.namespace, e.address), reserve)
        rows = [
            {
                "namespace": e.namespace,
                "address": e.address,
                "seq": seq,
                "intent_id": e.intent_id,
                "event_type": e.event_type,
                "at": e.at,
            }
            for seq, e in numbered
        ]
        await self._ex.executemany(self._q["insert_feed"], rows)
        self._feed = []

    @staticmethod
    async def _numbered(
        queued: list[Q],
        counter: Callable[[Q], tuple[str, str]],
        reserve: Callable[[list[Q]], Awaitable[int]],
    ) -> list[tuple[int, Q]]:
        """``queued`` with their cursor values: one counter update per counter (``reserve`` takes as
        many values as entries and answers the last), counters in one global order and last in the
        transaction, so concurrent writers cannot deadlock on them and cursors grow in commit order."""
        numbered: list[tuple[int, Q]] = []
        for _, group in groupby(sorted(queued, key=counter), key=counter):
            entries = list(group)
            first = await reserve(entries) - len(entries) + 1
            numbered += [(first + i, entry) for i, entry in enumerate(entries)]
        return numbered

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
                loads(r["result"]),
                loads(r["error"]),
                r["reason"],
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

    # -- human tasks: written under their intent's row lock, so they need no lock of their own -----
    async def insert_human_task(self, task: HumanTask) -> None:
        await self._write("insert_human_task", **task_to_params(task))

    async def update_human_task(self, task: HumanTask) -> None:
        params = task_to_params(task)
        for fixed in ("namespace", "intent_id", "spec", "journal_key", "created_at"):
            del params[fixed]
        await self._write("update_human_task", **params)

    async def get_human_task(self, task_id: str) -> HumanTask | None:
        row = await self._one("get_human_task", task_id=task_id)
        return task_from_row(row) if row else None

    async def open_human_task(self, intent_id: str) -> HumanTask | None:
        """The intent's open task (an intent waits for at most one person's answer at a time)."""
        row = await self._one("open_human_task_of_intent", intent_id=intent_id)
        return task_from_row(row) if row else None

    async def list_human_tasks(
        self, namespace: str, *, state: str | None, intent_id: str | None, limit: int
    ) -> list[HumanTask]:
        rows = await self._rows(
            "list_human_tasks", namespace=namespace, state=state, intent_id=intent_id, limit=limit
        )
        return [task_from_row(r) for r in rows]

    async def use_link(self, nonce: str, task_id: str, now: Micros) -> bool:
        """Record a signed link's use; False if it was used before."""
        return await self._write("insert_link_use", nonce=nonce, task_id=task_id, used_at=now) == 1

    async def approvers(self, namespace: str) -> list[tuple[str, list[str]]]:
        """Every live approver key's person and task roles."""
        return [
            (r["name"], loads(r["task_roles"]) or [])
            for r in await self._rows("approvers", namespace=namespace)
        ]

    # -- inbox threads, approvals and the mesh registry (AXP compatibility) ----------------------
    async def list_inbox_threads(
        self, namespace: str, *, owner: str | None, thread_status: str | None, limit: int
    ) -> list[tuple[Intent, str]]:
        """Threads (intents with a ``reply_to``) and their owners, of ``owner`` if given, most
        recently changed first."""
        rows = await self._rows(
            "list_inbox_threads", namespace=namespace, owner=owner, thread_status=thread_status, limit=limit
        )
        return [(intent_from_row(r), r["thread_owner"]) for r in rows]

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

    # Inbox threads' own rows (engine/inbox.py), written under their intent's row lock.
    async def touch_inbox_thread(self, namespace: str, thread_id: str, reply_to: str, at: Micros) -> str:
        """Note that the thread changed at ``at`` (its row is made, owned by ``reply_to``, on the
        first change); returns the thread's owner."""
        self.writes += 1
        row = await self._one(
            "touch_inbox_thread", namespace=namespace, thread_id=thread_id, owner_agent=reply_to, at=at
        )
        assert row is not None
        return str(row["owner_agent"])

    async def set_inbox_thread_owner(self, thread_id: str, owner: str) -> None:
        await self._write("set_inbox_thread_owner", thread_id=thread_id, owner_agent=owner)

    async def inbox_thread_owner(self, thread_id: str) -> str | None:
        row = await self._one("get_inbox_thread", thread_id=thread_id)
        return str(row["owner_agent"]) if row else None

    async def list_inbox_items(self, thread_id: str, limit: int) -> list[dict[str, Any]]:
        """The thread's own entries in order, ``details`` decoded."""
        rows = await self._rows("list_inbox_items", thread_id=thread_id, limit=limit)
        return [{**dict(r), "details": loads(r["details"])} for r in rows]

    async def next_inbox_item_seq(self, thread_id: str) -> int:
        row = await self._one("next_inbox_item_seq", thread_id=thread_id)
        return int(row["seq"]) if row else 1

    async def inbox_item_by_key(self, thread_id: str, idempotency_key: str) -> dict[str, Any] | None:
        row = await self._one("inbox_item_by_key", thread_id=thread_id, idempotency_key=idempotency_key)
        return {**dict(row), "details": loads(row["details"])} if row else None

    async def insert_inbox_item(self, item: dict[str, Any]) -> None:
        """``item``: thread_id, seq, item_type, actor, at, details (a dict), idempotency_key."""
        await self._write("insert_inbox_item", **{**item, "details": dumps(item["details"])})

    async def update_inbox_item(self, thread_id: str, seq: int, details: dict[str, Any]) -> None:
        await self._write("update_inbox_item", thread_id=thread_id, seq=seq, details=dumps(details))

    def queue_inbox_change(
        self, namespace: str, owner: str, thread_id: str, change_type: str, at: Micros
    ) -> None:
        """Add a change to ``owner``'s feed of thread changes; written by :meth:`flush`, which
        numbers each owner's changes at the end of the transaction, in commit order."""
        self.writes += 1
        self._inbox_changes.append(InboxChange(namespace, owner, thread_id, change_type, at))

    async def _flush_inbox_changes(self) -> None:
        """Write the queued thread changes, numbered per owner (:meth:`_numbered`)."""
        if not self._inbox_changes:
            return

        async def reserve(changes: list[InboxChange]) -> int:
            first = changes[0]
            row = await self._one(
                "reserve_inbox_seqs", namespace=first.namespace, owner_agent=first.owner, count=len(changes)
            )
            assert row is not None
            return int(row["change_seq"])

        numbered = await self._numbered(self._inbox_changes, lambda c: (c.namespace, c.owner), reserve)
        rows = [
            {
                "namespace": c.namespace,
                "owner_agent": c.owner,
                "seq": seq,
                "thread_id": c.thread_id,
                "change_type": c.change_type,
                "at": c.at,
            }
            for seq, c in numbered
        ]
        await self._ex.executemany(self._q["insert_inbox_change"], rows)
        self._inbox_changes = []

    async def read_inbox_changes(
        self, namespace: str, owner: str, after: int, limit: int
    ) -> list[dict[str, Any]]:
        """``owner``'s changes with a cursor past ``after``, in cursor order."""
        rows = await self._rows(
            "read_inbox_changes", namespace=namespace, owner_agent=owner, after=after, limit=limit
        )
        return [dict(r) for r in rows]

    async def list_agents(self, namespace: str) -> list[dict[str, Any]]:
        """Agents known in ``namespace`` (fed or heartbeating); ``heartbeat`` decoded."""
        rows = await self._rows("list_agents", namespace=namespace)
        return [{**dict(r), "heartbeat": loads(r["heartbeat"])} for r in rows]

    async def get_agent(self, namespace: str, address: str) -> dict[str, Any] | None:
        row = await self._one("get_agent", namespace=namespace, address=address)
        return {**dict(row), "heartbeat": loads(row["heartbeat"])} if row else None

    # -- delivery bindings (engine/bindings.py) --------------------------------------------------
    async def put_agent_binding(
        self, namespace: str, address: str, delivery_mode: str, lease_micros: Micros, now: Micros
    ) -> None:
        await self._write(
            "put_agent_binding",
            namespace=namespace,
            address=address,
            delivery_mode=delivery_mode,
            lease_micros=lease_micros,
            now=now,
        )

    async def agent_binding(self, namespace: str, address: str) -> dict[str, Any] | None:
        """The agent's registered binding (``delivery_mode``, ``lease_micros``, ``created_at``,
        ``updated_at``), or None if it never registered one."""
        row = await self._one("get_agent_binding", namespace=namespace, address=address)
        return dict(row) if row else None

    # -- the notification outbox (engine/notify) and the runtime's own secrets -------------------
    async def insert_notifications(self, rows: list[dict[str, Any]]) -> None:
        """Queue outbox rows (``notice`` is JSON-encoded here); the caller wakes the sender."""
        if rows:
            self.writes += 1
            await self._ex.executemany(
                self._q["insert_notification"], [{**r, "notice": dumps(r["notice"])} for r in rows]
            )

    async def due_notifications(self, now: Micros, limit: int) -> list[dict[str, Any]]:
        """Pending rows due by ``now`` (on PostgreSQL locked, skipping rows another replica holds)."""
        rows = await self._rows("due_notifications", now=now, limit=limit)
        return [{**dict(r), "notice": loads(r["notice"])} for r in rows]

    async def claim_notification(self, notification_id: str, lease_until: Micros) -> None:
        await self._write("claim_notification", notification_id=notification_id, lease_until=lease_until)

    async def reschedule_notification(
        self, notification_id: str, attempts: int, due_at: Micros, error: str
    ) -> bool:
        return (
            await self._write(
                "reschedule_notification",
                notification_id=notification_id,
                attempts=attempts,
                due_at=due_at,
                last_error=error,
            )
            == 1
        )

    async def finish_notification(
        self, notification_id: str, attempts: int, status: str, error: str | None, now: Micros
    ) -> bool:
        return (
            await self._write(
                "finish_notification",
                notification_id=notification_id,
                attempts=attempts,
                status=status,
                last_error=error,
                now=now,
            )
            == 1
        )

    async def next_notification_due(self) -> Micros | None:
        row = await self._one("next_notification_due")
        return int(row["due_at"]) if row and row["due_at"] is not None else None

    async def list_notifications(self, limit: int) -> list[dict[str, Any]]:
        rows = await self._rows("list_notifications", limit=limit)
        return [{**dict(r), "notice": loads(r["notice"])} for r in rows]

    async def runtime_secret(self, name: str, candidate: str, now: Micros) -> str:
        """The secret stored under ``name``; ``candidate`` becomes it if there is none yet (the first
        replica to ask wins, and every replica then reads the same value)."""
        await self._write("insert_runtime_secret", name=name, value=candidate, created_at=now)
        secret = await self.stored_runtime_secret(name)
        assert secret is not None
        return secret

    async def stored_runtime_secret(self, name: str) -> str | None:
        row = await self._one("get_runtime_secret", name=name)
        return str(row["value"]) if row else None
