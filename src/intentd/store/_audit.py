"""The audit trail in the store: records queued by a transaction's units and appended to their
namespace's hash chain at its end (:meth:`AuditRows._flush_audit`, called last by ``Tx.flush``), and
the reads that list and verify a chain (queries in ``sql/audit.sql``; docs/audit.md).

A record's ``hash`` is SHA-256 over a canonical encoding of its fields (:func:`record_hash`): the
namespace, its seq, when, who, what, the intent and agent, the hash of its details (not the details
themselves, so retention can drop them and the chain still verifies) and the previous record's hash.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import orjson

from intentd.model import JSON, Micros, to_rfc3339

from ._codec import loads
from ._sql import Query
from ._txbase import Executor, TxBase

GENESIS = ""  # the prev_hash of a namespace's first record


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A record to append: who did what, to which intent or agent, when."""

    namespace: str
    at: Micros
    principal: str
    action: str
    key_id: str | None = None
    role: str | None = None
    intent_id: str | None = None
    agent: str | None = None
    details: JSON | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A record as stored, with its place in the chain (``details`` None once pruned)."""

    namespace: str
    seq: int
    at: Micros
    key_id: str | None
    principal: str
    role: str | None
    action: str
    intent_id: str | None
    agent: str | None
    details: JSON | None
    details_hash: str
    prev_hash: str
    hash: str

    def to_json(self) -> JSON:
        """The record as ``GET /v1/audit`` and ``intentd audit export`` show it."""
        return {
            "seq": self.seq,
            "at": to_rfc3339(self.at),
            "key_id": self.key_id,
            "principal": self.principal,
            "role": self.role,
            "action": self.action,
            "intent_id": self.intent_id,
            "agent": self.agent,
            "details": self.details,
            "details_hash": self.details_hash,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which records of a namespace to list; every filter set must hold. ``correlation_id``: the
    records of the intents with it; ``actor``: a key id or a principal's name; ``since`` (inclusive)
    and ``until`` (exclusive) bound ``at``."""

    intent_id: str | None = None
    correlation_id: str | None = None
    action: str | None = None
    agent: str | None = None
    actor: str | None = None
    since: Micros | None = None
    until: Micros | None = None


def details_hash(details: JSON | None) -> str:
    return hashlib.sha256(orjson.dumps(details or {}, option=orjson.OPT_SORT_KEYS)).hexdigest()


def record_hash(
    namespace: str,
    seq: int,
    at: Micros,
    key_id: str | None,
    principal: str,
    role: str | None,
    action: str,
    intent_id: str | None,
    agent: str | None,
    details_digest: str,
    prev_hash: str,
) -> str:
    fields = [
        namespace,
        seq,
        at,
        key_id,
        principal,
        role,
        action,
        intent_id,
        agent,
        details_digest,
        prev_hash,
    ]
    return hashlib.sha256(orjson.dumps(fields)).hexdigest()


class AuditRows(TxBase):
    def __init__(self, executor: Executor, queries: dict[str, Query]) -> None:
        super().__init__(executor, queries)
        self._audit: list[AuditEntry] = []

    def queue_audit(self, entry: AuditEntry) -> None:
        """Add a record to its namespace's chain at the end of the transaction."""
        self.writes += 1
        self._audit.append(entry)

    async def _flush_audit(self) -> None:
        """Append the queued records, namespace by namespace in name order: lock the chain's head
        (the last lock a transaction takes), chain the records on it, write them and the new head."""
        if not self._audit:
            return
        entries, self._audit = sorted(self._audit, key=lambda e: e.namespace), []
        for namespace, group in groupby(entries, key=lambda e: e.namespace):
            head = await self._one("lock_audit_head", namespace=namespace)
            assert head is not None
            seq, prev = int(head["seq"]), str(head["hash"])
            rows = []
            for entry in group:
                seq += 1
                row = _row(entry, seq, prev)
                rows.append(row)
                prev = row["hash"]
            await self._ex.executemany(self._q["insert_audit_record"], rows)
            await self._write("set_audit_head", namespace=namespace, seq=seq, hash=prev)

    async def audit_head(self, namespace: str) -> tuple[int, str]:
        row = await self._one("audit_head", namespace=namespace)
        return (int(row["seq"]), str(row["hash"])) if row else (0, GENESIS)

    async def list_audit(
        self, namespace: str, *, after: int, limit: int, query: AuditQuery | None = None
    ) -> list[AuditRecord]:
        query = query or AuditQuery()
        rows = await self._rows(
            "list_audit_records",
            namespace=namespace,
            after=after,
            limit=limit,
            intent_id=query.intent_id,
            correlation_id=query.correlation_id,
            action=query.action,
            agent=query.agent,
            actor=query.actor,
            since=query.since,
            until=query.until,
        )
        return [_record(r) for r in rows]

    async def agent_records(self, namespace: str, *, action: str | None, limit: int) -> list[AuditRecord]:
        """The records about the namespace's agents (``agent.*``: kills, resumes, bindings), newest
        first: the AXP mesh events."""
        rows = await self._rows("mesh_events", namespace=namespace, action=action, limit=limit)
        return [_record(r) for r in rows]

    async def chain_page(self, namespace: str, after: int, limit: int) -> list[AuditRecord]:
        return [
            _record(r) for r in await self._rows("chain_page", namespace=namespace, after=after, limit=limit)
        ]

    async def prune_audit_details(self, namespace: str, before: Micros) -> int:
        return await self._write("prune_audit_details", namespace=namespace, before=before)

    async def audit_namespaces(self) -> list[str]:
        return [str(r["namespace"]) for r in await self._rows("audit_namespaces")]


def _row(entry: AuditEntry, seq: int, prev: str) -> dict[str, Any]:
    digest = details_hash(entry.details)
    return {
        "namespace": entry.namespace,
        "seq": seq,
        "at": entry.at,
        "key_id": entry.key_id,
        "principal": entry.principal,
        "role": entry.role,
        "action": entry.action,
        "intent_id": entry.intent_id,
        "agent": entry.agent,
        "details": orjson.dumps(entry.details or {}).decode(),
        "details_hash": digest,
        "prev_hash": prev,
        "hash": record_hash(
            entry.namespace,
            seq,
            entry.at,
            entry.key_id,
            entry.principal,
            entry.role,
            entry.action,
            entry.intent_id,
            entry.agent,
            digest,
            prev,
        ),
    }


def _record(row: Any) -> AuditRecord:
    details = row["details"]
    return AuditRecord(
        row["namespace"],
        int(row["seq"]),
        row["at"],
        row["key_id"],
        row["principal"],
        row["role"],
        row["action"],
        row["intent_id"],
        row["agent"],
        None if details is None else loads(details),
        row["details_hash"],
        row["prev_hash"],
        row["hash"],
    )
