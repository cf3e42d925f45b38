"""What the client returns: frozen dataclasses parsed from the wire, each with the JSON it came from
in ``.raw`` (so a field this version does not know about is still reachable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from intentd.model import JSON, TERMINAL, Status


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _required_time(value: Any) -> datetime:
    parsed = _time(value)
    if parsed is None:
        raise ValueError(f"expected an RFC 3339 time, got {value!r}")
    return parsed


@dataclass(frozen=True, slots=True)
class Intent:
    """An intent as the server last reported it (``GET /v1/intents/{id}``)."""

    intent_id: str
    intent_type: str
    status: Status
    correlation_id: str
    from_agent: str
    to_agent: str
    payload: JSON
    created_at: datetime
    updated_at: datetime
    last_seq: int
    reply_to: str | None = None
    parent_intent_id: str | None = None
    root_intent_id: str | None = None
    deadline_at: datetime | None = None
    waiting_reason: str | None = None
    result: JSON | None = None
    error: Any = None
    reason: str | None = None
    max_delivery_attempts: int = 5
    delivery_attempt: int = 0
    policy_generation: int = 0
    controls: JSON = field(default_factory=dict)
    usage: JSON = field(default_factory=dict)
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_wire(cls, data: JSON) -> Intent:
        policy = data.get("workflow_control_policy") or {}
        return cls(
            intent_id=data["intent_id"],
            intent_type=data["intent_type"],
            status=Status(data["status"]),
            correlation_id=data["correlation_id"],
            from_agent=data["from_agent"],
            to_agent=data["to_agent"],
            payload=data.get("payload") or {},
            created_at=_required_time(data["created_at"]),
            updated_at=_required_time(data.get("updated_at") or data["created_at"]),
            last_seq=int(data.get("last_seq") or 0),
            reply_to=data.get("reply_to"),
            parent_intent_id=data.get("parent_intent_id"),
            root_intent_id=data.get("root_intent_id"),
            deadline_at=_time(data.get("deadline_at")),
            waiting_reason=data.get("waiting_reason"),
            result=data.get("result"),
            error=data.get("error"),
            reason=data.get("reason"),
            max_delivery_attempts=int(data.get("max_delivery_attempts") or 5),
            delivery_attempt=int(data.get("delivery_attempt") or 0),
            policy_generation=int(data.get("policy_generation") or 0),
            controls=policy.get("controls") or {},
            usage=data.get("usage") or {},
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of an intent's event log; ``seq`` counts from 1 without gaps."""

    intent_id: str
    seq: int
    event_type: str
    status: Status
    at: datetime
    actor: str | None = None
    waiting_reason: str | None = None
    details: JSON = field(default_factory=dict)
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_wire(cls, data: JSON) -> Event:
        return cls(
            intent_id=data["intent_id"],
            seq=int(data["seq"]),
            event_type=data["event_type"],
            status=Status(data["status"]),
            at=_required_time(data["at"]),
            actor=data.get("actor"),
            waiting_reason=data.get("waiting_reason"),
            details=data.get("details") or {},
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """A leased intent: present ``lease_token`` to heartbeat, complete, fail, release or wait."""

    intent: Intent
    lease_token: str
    lease_expires_at: datetime
    attempt: int
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSON) -> Delivery:
        lease = data["lease"]
        return cls(
            intent=Intent.from_wire(data["intent"]),
            lease_token=lease["token"],
            lease_expires_at=_required_time(lease["expires_at"]),
            attempt=int(lease["delivery_attempt"]),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Completion:
    """The completed intent, the follow-ups submitted in the same transaction, and whether this
    answer replays an earlier completion with the same lease token (a retried request)."""

    intent: Intent
    then: list[Intent]
    replayed: bool
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSON) -> Completion:
        return cls(
            intent=Intent.from_wire(data["intent"]),
            then=[Intent.from_wire(child) for child in data.get("then") or []],
            replayed=bool(data.get("replayed")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class IntentPage:
    """One page of ``list``; pass ``next_cursor`` back for the next (None on the last page)."""

    intents: list[Intent]
    next_cursor: str | None
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSON) -> IntentPage:
        return cls(
            intents=[Intent.from_wire(i) for i in data.get("intents") or []],
            next_cursor=data.get("next_cursor"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class FeedItem:
    """An entry of an agent's feed (``listen``): an intent submitted to the agent, or a terminal reply
    to its ``reply_to`` address. ``seq`` is the per-agent cursor, not the intent's event seq."""

    intent_id: str
    seq: int
    event_type: str
    status: Status
    at: datetime
    intent_type: str | None = None
    correlation_id: str | None = None
    to_agent: str | None = None
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSON) -> FeedItem:
        return cls(
            intent_id=data["intent_id"],
            seq=int(data["seq"]),
            event_type=data["event_type"],
            status=Status(data["status"]),
            at=_required_time(data["at"]),
            intent_type=data.get("intent_type"),
            correlation_id=data.get("correlation_id"),
            to_agent=data.get("to_agent"),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    version: str | None
    database: str | None
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSON) -> Health:
        return cls(
            ok=bool(data.get("ok")), version=data.get("version"), database=data.get("database"), raw=data
        )


@dataclass(frozen=True, slots=True)
class Capabilities:
    capabilities: list[str]
    supported_intent_types: list[str]
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSON) -> Capabilities:
        return cls(
            capabilities=list(data.get("capabilities") or []),
            supported_intent_types=list(data.get("supported_intent_types") or []),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class IntentSpec:
    """A follow-up intent for ``complete(..., then=[...])``. Without ``correlation_id`` it joins its
    parent's correlation (the server fills it in), which is what a chain of agents wants."""

    to_agent: str
    intent_type: str
    payload: JSON = field(default_factory=dict)
    correlation_id: str | None = None
    reply_to: str | None = None
    deadline_at: datetime | None = None
    max_delivery_attempts: int | None = None

    def to_wire(self) -> JSON:
        body: JSON = {"to_agent": self.to_agent, "intent_type": self.intent_type, "payload": self.payload}
        optional = {
            "correlation_id": self.correlation_id,
            "reply_to": self.reply_to,
            "deadline_at": self.deadline_at.isoformat() if self.deadline_at else None,
            "max_delivery_attempts": self.max_delivery_attempts,
        }
        return body | {k: v for k, v in optional.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Thread:
    """An inbox thread: the completion thread of an intent sent with a ``reply_to``, owned by that
    address. ``thread_id`` is the intent's id; ``status`` is ``pending`` (no agent has it yet),
    ``active`` or ``done`` (terminal). ``messages`` are the request and, once there is one, the
    outcome (``role == "agent"``); ``timeline`` has one item per intent event."""

    thread_id: str
    status: str
    owner_agent: str
    from_agent: str
    to_agent: str
    intent_type: str
    intent_status: Status
    correlation_id: str
    created_at: datetime
    updated_at: datetime
    timeline: list[JSON] = field(default_factory=list)
    messages: list[JSON] = field(default_factory=list)
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSON) -> Thread:
        return cls(
            thread_id=data["thread_id"],
            status=data["status"],
            owner_agent=data["owner_agent"],
            from_agent=data["from_agent"],
            to_agent=data["to_agent"],
            intent_type=data.get("intent_type") or data.get("subject") or "",
            intent_status=Status(data["intent_status"]),
            correlation_id=data["correlation_id"],
            created_at=_required_time(data["created_at"]),
            updated_at=_required_time(data.get("updated_at") or data["created_at"]),
            timeline=list(data.get("timeline") or []),
            messages=list(data.get("messages") or []),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Approval:
    """A recorded approval decision. When ``approval_id`` named a WAITING intent, ``intent`` is that
    intent after the decision moved it (SUBMITTED on approve, FAILED on reject); ``replayed`` means
    the same decision had already been recorded and nothing changed now."""

    approval_id: str
    decision: str
    comment: str | None
    decided_by: str
    decided_at: datetime
    intent_id: str | None = None
    intent: Intent | None = None
    replayed: bool = False
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSON) -> Approval:
        approval, intent = data["approval"], data.get("intent")
        return cls(
            approval_id=approval["approval_id"],
            decision=approval["decision"],
            comment=approval.get("comment"),
            decided_by=approval["decided_by"],
            decided_at=_required_time(approval["decided_at"]),
            intent_id=approval.get("intent_id"),
            intent=Intent.from_wire(intent) if intent else None,
            replayed=bool(data.get("replayed")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class AgentHealth:
    """The answer to a mesh heartbeat: which address the beat was recorded for (the owner named, or
    ``agent://<key name>``) and its health now. ``address_id`` is the address without ``agent://``."""

    address: str
    address_id: str
    health: str  # healthy | degraded | unreachable | unknown
    last_heartbeat_at: datetime | None
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSON) -> AgentHealth:
        return cls(
            address=data["address"],
            address_id=data["address_id"],
            health=data.get("health_status") or data["status"],
            last_heartbeat_at=_time(data.get("last_heartbeat_at")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class MeshAgent:
    """An agent of the mesh: its health follows from the age of its last heartbeat (``unknown`` for
    an address that was only sent work), ``metrics`` are those of that beat."""

    address: str
    address_id: str
    display_name: str
    health: str  # healthy | degraded | unreachable | unknown
    created_at: datetime
    last_heartbeat_at: datetime | None = None
    metrics: JSON = field(default_factory=dict)
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_wire(cls, data: JSON) -> MeshAgent:
        return cls(
            address=data["address"],
            address_id=data["address_id"],
            display_name=data.get("display_name") or data["address_id"],
            health=data["health_status"],
            created_at=_required_time(data["created_at"]),
            last_heartbeat_at=_time(data.get("last_heartbeat_at")),
            metrics=data.get("metrics") or {},
            raw=data,
        )
