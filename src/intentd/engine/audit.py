"""The audit trail (docs/audit.md): who did what, to which intent or agent, when, as records
hash-chained per namespace, written in the transaction of what they record.

- **State changes** are recorded by :class:`AuditTrail`, the recorder's last effect: one record per
  event of every change, the follow-ups of other intents included, so nothing that moves an intent
  escapes it (human decisions and policy changes are events of their intent too).
- **Other operations** (key creation, revocation and rotation; the Mesh's kills and policies) call
  :func:`record` in their transaction.
- **Who** is the API key that asked (its id, name and role), which the server names once per request
  (:func:`acting_as`); work the runtime does on its own (a timer, an expired lease) is ``intentd``.

:class:`AuditService` lists records, verifies a chain (the first broken record, and why) and prunes old
records' details: a record's hash covers its details' hash, not the details, so a pruned chain still
verifies, and still catches an edit of what remains.
"""

from __future__ import annotations

import builtins  # AuditService.list shadows the builtin inside the class
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from intentd.model import JSON, Micros, Status, ValidationFailed
from intentd.store import (
    GENESIS,
    WRITE_ORIGIN,
    AuditEntry,
    AuditQuery,
    AuditRecord,
    Store,
    Tx,
    details_hash,
    record_hash,
)

from ._change import Change
from .inputs import Principal

Clock = Callable[[], Micros]
RUNTIME = "intentd"  # the principal of the runtime's own work
_PAGE = 500  # records read per query while verifying


def acting_as(principal: Principal) -> None:
    """Name the caller of what this task writes next (the server calls it once per request)."""
    WRITE_ORIGIN.set(principal)


def acting_as_operator(tool: str) -> None:
    """Name the operator's tool (``intentd keys``, …) as the caller of what this task writes next:
    it acts on the database, with no key."""
    WRITE_ORIGIN.set(Principal("", "", f"operator:{tool}", "operator"))


def record(
    tx: Tx,
    namespace: str,
    at: Micros,
    action: str,
    *,
    intent_id: str | None = None,
    agent: str | None = None,
    details: JSON | None = None,
) -> None:
    """Append a record of ``action`` to ``namespace``'s chain at the end of ``tx``; who did it is the
    unit's caller."""
    principal = tx.origin if isinstance(tx.origin, Principal) else None
    tx.queue_audit(
        AuditEntry(
            namespace,
            at,
            principal.name if principal else RUNTIME,
            action,
            key_id=(principal.key_id or None) if principal else None,
            role=principal.role if principal else None,
            intent_id=intent_id,
            agent=agent,
            details=details,
        )
    )


class AuditTrail:
    """The recorder's last effect: a record per event of the change, with the status it left."""

    async def apply(self, tx: Tx, change: Change) -> None:
        intent = change.intent
        before: Status | None = None if change.is_new else change.before.status
        for event in change.events:
            details: JSON = {"seq": event.seq, "status": event.status.value, "actor": event.actor}
            if before is not None and before is not event.status:
                details["from"] = before.value
            before = event.status
            record(
                tx,
                intent.namespace,
                event.at,
                event.event_type.value,
                intent_id=intent.intent_id,
                agent=intent.to_agent,
                details=details,
            )


@dataclass(frozen=True, slots=True)
class Verdict:
    """What verifying a namespace's chain found: ``broken_at`` is the seq of the first record that
    does not hold (None: the chain holds), ``problem`` says why."""

    namespace: str
    records: int
    head_seq: int
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


class AuditService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def list(
        self, principal: Principal, *, after: int = 0, limit: int = 100, query: AuditQuery | None = None
    ) -> builtins.list[AuditRecord]:
        """The caller's namespace's records after seq ``after``, in chain order, that ``query`` takes."""
        return await self.records(principal.namespace, after=after, limit=limit, query=query)

    async def records(
        self, namespace: str, *, after: int = 0, limit: int = 100, query: AuditQuery | None = None
    ) -> builtins.list[AuditRecord]:
        """As :meth:`list`, of any namespace (the operator's ``intentd audit export``)."""
        return await self._store.read(
            lambda tx: tx.list_audit(namespace, after=after, limit=limit, query=query)
        )

    async def verify(self, namespace: str) -> Verdict:
        """Walk ``namespace``'s chain from its first record and report the first that does not hold."""
        head_seq, head_hash = await self._store.read(lambda tx: tx.audit_head(namespace))
        expected, prev, count = 1, GENESIS, 0
        while True:
            page = await self._store.read(partial(_chain_page, namespace=namespace, after=expected - 1))
            if not page and count == 0 and expected == 1:
                # Nothing from the start: if the chain has records, the first is gone.
                break
            for rec in page:
                problem = _problem(rec, expected, prev)
                if problem is not None:
                    return Verdict(namespace, count, head_seq, expected, problem)
                prev, expected, count = rec.hash, expected + 1, count + 1
            if len(page) < _PAGE:
                break
        if count != head_seq or (count and prev != head_hash):
            missing = count + 1
            return Verdict(
                namespace,
                count,
                head_seq,
                missing,
                f"record {missing} is missing: the chain's head is at {head_seq}",
            )
        return Verdict(namespace, count, head_seq)

    async def verify_all(self) -> builtins.list[Verdict]:
        """Every namespace's chain (the operator's check, on the database)."""
        namespaces = await self._store.read(lambda tx: tx.audit_namespaces())
        return [await self.verify(ns) for ns in namespaces]

    async def prune(self, namespace: str, before: Micros) -> int:
        """Drop the details of ``namespace``'s records older than ``before``; the chain still verifies
        (a record's hash covers its details' hash). Returns how many records were pruned."""
        if before > self._clock():
            raise ValidationFailed("before must not be in the future", details={"field": "before"})
        return await self._store.write(lambda tx: tx.prune_audit_details(namespace, before))


async def _chain_page(tx: Tx, *, namespace: str, after: int) -> list[AuditRecord]:
    return await tx.chain_page(namespace, after, _PAGE)


def _problem(rec: AuditRecord, expected: int, prev: str) -> str | None:
    """Why ``rec``, found where record ``expected`` should be, does not hold (None if it does)."""
    if rec.seq != expected:
        return f"record {expected} is missing (the next record is {rec.seq})"
    if rec.prev_hash != prev:
        return f"record {expected} does not follow record {expected - 1} (its prev_hash differs)"
    if rec.details is not None and details_hash(rec.details) != rec.details_hash:
        return f"record {expected}'s details were changed"
    recomputed = record_hash(
        rec.namespace,
        rec.seq,
        rec.at,
        rec.key_id,
        rec.principal,
        rec.role,
        rec.action,
        rec.intent_id,
        rec.agent,
        rec.details_hash,
        rec.prev_hash,
    )
    if recomputed != rec.hash:
        return f"record {expected} was changed (its hash does not match its fields)"
    return None
