"""Rows <-> domain objects. JSON columns are text on both backends; orjson does the work."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson

from intentd.model import (
    JSON,
    EntryKind,
    EntryStatus,
    Event,
    EventType,
    HumanTask,
    Intent,
    JournalEntry,
    Lease,
    Status,
    TaskState,
    WaitingReason,
)


def dumps(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


# How an Intent maps to its row: every field is a column of the same name, except that JSON fields are
# text, enums their value, and the lease is three columns. A new field of Intent is then a column (a
# migration and the two statements in queries.sql) and nothing here.
_JSON_FIELDS = frozenset({"payload", "result", "error", "controls", "policy", "usage", "trace_context"})
_ENUM_FIELDS: dict[str, type[Status] | type[WaitingReason]] = {
    "status": Status,
    "waiting_reason": WaitingReason,
}
_BOOL_FIELDS = ("synthetic",)  # INTEGER 0/1 on both backends
_COLUMNS = tuple(f.name for f in fields(Intent) if f.name != "lease")
_LEASE_COLUMNS = ("lease_token", "lease_owner", "lease_expires_at")


def intent_to_params(intent: Intent) -> dict[str, Any]:
    params = {name: getattr(intent, name) for name in _COLUMNS}
    for name in _JSON_FIELDS:
        params[name] = dumps(params[name])
    for name in _ENUM_FIELDS:
        params[name] = params[name].value if params[name] is not None else None
    for name in _BOOL_FIELDS:
        params[name] = int(params[name])
    lease = intent.lease
    params.update(
        zip(
            _LEASE_COLUMNS,
            (lease.token, lease.owner, lease.expires_at) if lease else (None,) * 3,
            strict=True,
        )
    )
    return params


def intent_from_row(row: Any) -> Intent:
    values = {name: row[name] for name in _COLUMNS}
    for name in _JSON_FIELDS:
        values[name] = loads(values[name])
    for name, enum in _ENUM_FIELDS.items():
        values[name] = enum(values[name]) if values[name] else None
    for name in _BOOL_FIELDS:
        values[name] = bool(values[name])
    token = row["lease_token"]
    lease = (
        None
        if token is None
        else Lease(token, row["lease_owner"], row["lease_expires_at"], row["delivery_attempt"])
    )
    return Intent(**values, lease=lease)


def event_to_params(event: Event) -> dict[str, Any]:
    return {
        "intent_id": event.intent_id,
        "seq": event.seq,
        "event_type": event.event_type.value,
        "status": event.status.value,
        "at": event.at,
        "actor": event.actor,
        "waiting_reason": event.waiting_reason.value if event.waiting_reason else None,
        "details": dumps(event.details),
    }


def event_from_row(row: Any) -> Event:
    waiting = row["waiting_reason"]
    details: JSON = loads(row["details"])
    return Event(
        intent_id=row["intent_id"],
        seq=row["seq"],
        event_type=EventType(row["event_type"]),
        status=Status(row["status"]),
        at=row["at"],
        actor=row["actor"],
        waiting_reason=WaitingReason(waiting) if waiting else None,
        details=details,
    )


def entry_to_params(entry: JournalEntry) -> dict[str, Any]:
    return {
        "run_id": entry.run_id,
        "key": entry.key,
        "seq": entry.seq,
        "kind": entry.kind.value,
        "status": entry.status.value,
        "attempt": entry.attempt,
        "child_intent_id": entry.child_intent_id,
        "result": dumps(entry.result),
        "error": dumps(entry.error),
        "awaited": int(entry.awaited),
        "started_at": entry.started_at,
        "ended_at": entry.ended_at,
        "due_at": entry.due_at,
    }


def entry_from_row(row: Any) -> JournalEntry:
    return JournalEntry(
        run_id=row["run_id"],
        key=row["key"],
        seq=row["seq"],
        kind=EntryKind(row["kind"]),
        status=EntryStatus(row["status"]),
        started_at=row["started_at"],
        attempt=row["attempt"],
        child_intent_id=row["child_intent_id"],
        result=loads(row["result"]),
        error=loads(row["error"]),
        ended_at=row["ended_at"],
        due_at=row["due_at"],
        awaited=bool(row["awaited"]),
    )


def task_to_params(task: HumanTask) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "namespace": task.namespace,
        "intent_id": task.intent_id,
        "state": task.state.value,
        "spec": dumps(task.spec),
        "assignees": dumps(list(task.assignees)),
        "level": task.level,
        "level_started_at": task.level_started_at,
        "reminders_sent": task.reminders_sent,
        "journal_key": task.journal_key,
        "decision": dumps(task.decision) if task.decision is not None else None,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    }


def task_from_row(row: Any) -> HumanTask:
    return HumanTask(
        task_id=row["task_id"],
        namespace=row["namespace"],
        intent_id=row["intent_id"],
        spec=loads(row["spec"]) or {},
        assignees=tuple(loads(row["assignees"]) or ()),
        created_at=row["created_at"],
        level_started_at=row["level_started_at"],
        state=TaskState(row["state"]),
        level=row["level"],
        reminders_sent=row["reminders_sent"],
        journal_key=row["journal_key"],
        decision=loads(row["decision"]),
        updated_at=row["updated_at"],
    )
