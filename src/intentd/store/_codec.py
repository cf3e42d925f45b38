"""Rows <-> domain objects. JSON columns are text on both backends; orjson does the work."""

from __future__ import annotations

from typing import Any

import orjson

from intentd.model import JSON, Event, EventType, Intent, Lease, Status, WaitingReason


def dumps(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def intent_to_params(intent: Intent) -> dict[str, Any]:
    lease = intent.lease
    return {
        "intent_id": intent.intent_id,
        "namespace": intent.namespace,
        "intent_type": intent.intent_type,
        "correlation_id": intent.correlation_id,
        "from_agent": intent.from_agent,
        "to_agent": intent.to_agent,
        "reply_to": intent.reply_to,
        "parent_intent_id": intent.parent_intent_id,
        "root_intent_id": intent.root_intent_id,
        "payload": dumps(intent.payload),
        "status": intent.status.value,
        "waiting_reason": intent.waiting_reason.value if intent.waiting_reason else None,
        "result": dumps(intent.result),
        "error": dumps(intent.error),
        "reason": intent.reason,
        "deadline_at": intent.deadline_at,
        "max_delivery_attempts": intent.max_delivery_attempts,
        "delivery_attempt": intent.delivery_attempt,
        "lease_token": lease.token if lease else None,
        "lease_owner": lease.owner if lease else None,
        "lease_expires_at": lease.expires_at if lease else None,
        "policy_generation": intent.policy_generation,
        "controls": dumps(intent.controls),
        "policy": dumps(intent.policy),
        "usage": dumps(intent.usage),
        "idempotency_key": intent.idempotency_key,
        "request_hash": intent.request_hash,
        "last_seq": intent.last_seq,
        "queued_at": intent.queued_at,
        "created_at": intent.created_at,
        "updated_at": intent.updated_at,
    }


def intent_from_row(row: Any) -> Intent:
    lease = None
    if row["lease_token"] is not None:
        lease = Lease(
            row["lease_token"], row["lease_owner"], row["lease_expires_at"], row["delivery_attempt"]
        )
    waiting = row["waiting_reason"]
    return Intent(
        intent_id=row["intent_id"],
        namespace=row["namespace"],
        intent_type=row["intent_type"],
        correlation_id=row["correlation_id"],
        from_agent=row["from_agent"],
        to_agent=row["to_agent"],
        payload=loads(row["payload"]),
        status=Status(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_seq=row["last_seq"],
        reply_to=row["reply_to"],
        parent_intent_id=row["parent_intent_id"],
        root_intent_id=row["root_intent_id"],
        deadline_at=row["deadline_at"],
        max_delivery_attempts=row["max_delivery_attempts"],
        delivery_attempt=row["delivery_attempt"],
        waiting_reason=WaitingReason(waiting) if waiting else None,
        result=loads(row["result"]),
        error=loads(row["error"]),
        reason=row["reason"],
        lease=lease,
        policy_generation=row["policy_generation"],
        controls=loads(row["controls"]),
        policy=loads(row["policy"]),
        usage=loads(row["usage"]),
        idempotency_key=row["idempotency_key"],
        request_hash=row["request_hash"],
        queued_at=row["queued_at"],
    )


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
