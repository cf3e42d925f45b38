"""Runs: applying a declared workflow, and the journal a supervisor agent delegates through.

``apply`` creates the run (a parent intent, parked at once: no agent ever claims it) and starts its
first step in the same transaction. The journal operations (``spawn``, ``record``, ``await_entries``)
are a leased supervisor's: each is keyed, so a handler that runs again after a crash or a wake-up gets
the entries it already made back instead of making them twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import orjson

from intentd.model import (
    JSON,
    EntryKind,
    EntryStatus,
    EventType,
    Intent,
    JournalEntry,
    JournalKeyConflict,
    Micros,
    Status,
    ValidationFailed,
    WaitingReason,
)
from intentd.store import Store, Tx

from ._change import Change, check_lease, new_intent
from .access import act_on
from .bindings import BindAgent, register
from .inputs import Principal, SubmitIntent
from .intents import load, replayed_submit
from .recorder import Recorder
from .workflows import DeclaredRun, Plan, check_plan, child_entry, spawn

Clock = Callable[[], Micros]


@dataclass(frozen=True, slots=True)
class ApplyScenario:
    scenario_id: str
    plan: Plan
    run: SubmitIntent  # the run's own intent: its type, payload, deadline
    bindings: tuple[BindAgent, ...] = ()  # the delivery bindings its agents declare (bindings.py)


@dataclass(frozen=True, slots=True)
class SpawnChild:
    key: str
    spec: SubmitIntent


class RunService:
    def __init__(self, store: Store, clock: Clock, recorder: Recorder) -> None:
        self._store = store
        self._clock = clock
        self._recorder = recorder

    # -- declared workflows ----------------------------------------------------------------------
    def check(self, plan: Plan) -> None:
        """Raise one 422 listing every problem of ``plan`` (nothing runs with one)."""
        problems = check_plan(plan)
        if problems:
            first = problems[0]
            raise ValidationFailed(
                f"the scenario has {len(problems)} problem(s); first: {first.path}: {first.message}",
                details={
                    "field": first.path,
                    "problems": [{"path": p.path, "code": p.code, "message": p.message} for p in problems],
                },
            )

    async def apply(
        self, principal: Principal, req: ApplyScenario, idempotency_key: str | None = None
    ) -> tuple[Intent, bool]:
        """Start a run of ``req.plan``; returns the run's intent and whether it was created now
        (False: the idempotency key replayed an earlier apply of the same bundle)."""
        self.check(req.plan)
        plan_json = req.plan.to_json()
        digest = hashlib.sha256(orjson.dumps(plan_json, option=orjson.OPT_SORT_KEYS)).hexdigest()
        spec = replace(
            req.run, controls={**req.run.controls, "scenario_id": req.scenario_id, "plan_sha256": digest}
        )

        async def unit(tx: Tx) -> tuple[Intent, bool]:
            now = self._clock()
            # The run's correlation id is new on each request: what is compared is the bundle.
            fingerprint = (
                replace(spec, correlation_id="").fingerprint() if idempotency_key is not None else None
            )
            if idempotency_key is not None and fingerprint is not None:
                existing = await replayed_submit(tx, principal.namespace, idempotency_key, fingerprint)
                if existing is not None:
                    return existing, False
            for binding in req.bindings:  # registered with the run: its first step may be theirs
                await register(tx, principal.namespace, binding, now)
            change = new_intent(
                principal.namespace,
                spec,
                now,
                actor=principal.name,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
            )
            # Parked before anything can queue it: the runtime runs it, no agent claims it.
            change.step(
                EventType.WAITING, Status.WAITING, principal.name, now, waiting_reason=WaitingReason.AGENT
            )
            await tx.insert_workflow_run(
                change.intent.intent_id, principal.namespace, req.scenario_id, plan_json, now
            )
            run = DeclaredRun(tx, change, req.plan, [], now)
            await run.start()
            change.follow_ups += run.follow_ups
            return await self._recorder.record(tx, change), True

        return await self._store.write(unit)

    # -- the journal ---------------------------------------------------------------------------------
    async def journal(self, principal: Principal, intent_id: str) -> list[JournalEntry]:
        async def read(tx: Tx) -> list[JournalEntry]:
            await load(tx, principal, intent_id)
            return await tx.journal(intent_id)

        return await self._store.read(read)

    async def spawn(
        self, principal: Principal, intent_id: str, lease_token: str, children: Sequence[SpawnChild]
    ) -> list[JournalEntry]:
        """Spawn the children not journaled yet, atomically; one entry per child, in order."""

        async def unit(tx: Tx) -> list[JournalEntry]:
            parent, change, now = await self._leased(tx, principal, intent_id, lease_token)
            seq = await tx.next_journal_seq(intent_id)
            entries = []
            for child in children:
                entry = await _keyed(tx, intent_id, child.key, EntryKind.CHILD)
                if entry is None:
                    created = spawn(parent, child.key, child.spec, now)
                    change.follow_ups.append(created)
                    entry = child_entry(intent_id, child.key, seq, created.intent, now)
                    seq += 1
                    await tx.put_journal_entry(entry)
                    details = {
                        "key": child.key,
                        "child_intent_id": created.intent.intent_id,
                        "to": child.spec.to_agent,
                    }
                    change.step(EventType.STEP_STARTED, parent.status, parent.to_agent, now, details=details)
                entries.append(entry)
            await self._recorder.record(tx, change)
            return entries

        return await self._store.write(unit)

    async def record(
        self, principal: Principal, intent_id: str, lease_token: str, key: str, result: object
    ) -> tuple[JournalEntry, bool]:
        """Journal a step's result under ``key``; the first write wins (False: it was there)."""

        async def unit(tx: Tx) -> tuple[JournalEntry, bool]:
            parent, change, now = await self._leased(tx, principal, intent_id, lease_token)
            existing = await _keyed(tx, intent_id, key, EntryKind.VALUE)
            if existing is not None:
                return existing, False
            seq = await tx.next_journal_seq(intent_id)
            entry = JournalEntry(
                intent_id, key, seq, EntryKind.VALUE, EntryStatus.COMPLETED, now, result=result, ended_at=now
            )
            await tx.put_journal_entry(entry)
            change.step(EventType.STEP_COMPLETED, parent.status, parent.to_agent, now, details={"key": key})
            await self._recorder.record(tx, change)
            return entry, True

        return await self._store.write(unit)

    async def await_entries(
        self, principal: Principal, intent_id: str, lease_token: str, keys: Sequence[str]
    ) -> tuple[bool, list[JournalEntry]]:
        """Park the intent until every entry of ``keys`` has finished; if they all have, it is not
        parked and keeps its lease. Returns whether it parked, and the entries."""

        async def unit(tx: Tx) -> tuple[bool, list[JournalEntry]]:
            parent, change, now = await self._leased(tx, principal, intent_id, lease_token)
            journal = {e.key: e for e in await tx.journal(intent_id)}
            missing = [k for k in keys if k not in journal]
            if missing:
                raise ValidationFailed(
                    f"no journal entry under key {missing[0]!r}: spawn it first",
                    details={"field": "keys", "missing": missing[:20]},
                )
            entries = [journal[k] for k in keys]
            open_keys = sorted({e.key for e in entries if not e.finished})
            if not open_keys:
                return False, entries
            for key in open_keys:
                await tx.put_journal_entry(replace(journal[key], awaited=True))
            details: JSON = {"awaiting": open_keys[:100], "awaiting_count": len(open_keys)}
            change.step(
                EventType.WAITING,
                Status.WAITING,
                parent.to_agent,
                now,
                waiting_reason=WaitingReason.AGENT,
                details=details,
            )
            await self._recorder.record(tx, change)
            return True, [replace(e, awaited=e.key in open_keys) for e in entries]

        return await self._store.write(unit)

    async def _leased(
        self, tx: Tx, principal: Principal, intent_id: str, lease_token: str
    ) -> tuple[Intent, Change, Micros]:
        parent = await load(tx, principal, intent_id, for_update=True)
        act_on(principal, parent)
        check_lease(parent, lease_token)
        return parent, Change(parent), self._clock()


async def _keyed(tx: Tx, run_id: str, key: str, kind: EntryKind) -> JournalEntry | None:
    """The entry already journaled under ``key``; a key used for another kind is refused."""
    entry = await tx.journal_entry(run_id, key)
    if entry is not None and entry.kind is not kind:
        raise JournalKeyConflict(
            f"key {key!r} is journaled as a {entry.kind.value}, not a {kind.value}: keys are unique per run",
            details={"key": key, "kind": entry.kind.value},
        )
    return entry
