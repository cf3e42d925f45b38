"""Typed inputs of engine operations: one frozen dataclass per operation, so adding a field breaks no
caller (Temporal's interceptor-input style)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any

import orjson

from intentd.model import JSON, Micros


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an API key's identity."""

    key_id: str
    namespace: str
    name: str
    role: str
    task_roles: tuple[str, ...] = ()  # an approver's roles (assignees ``role:<name>``)
    agents: tuple[str, ...] = ()  # an agent key's addresses: the only ones it acts for


@dataclass(frozen=True, slots=True)
class SubmitIntent:
    intent_type: str
    correlation_id: str
    to_agent: str
    payload: JSON
    from_agent: str | None = None
    reply_to: str | None = None
    deadline_at: Micros | None = None
    max_delivery_attempts: int = 5
    parent_intent_id: str | None = None
    controls: JSON = field(default_factory=dict)
    policy: JSON = field(default_factory=dict)
    step_key: str | None = None  # set by the runtime for a run's children, never by an API caller
    synthetic: bool = False  # test traffic: only in a sandbox namespace; its run's children inherit it
    # The W3C trace context of the request that submitted it (``traceparent``, ``tracestate``); a
    # follow-up or child sent without one inherits its parent's.
    trace_context: JSON | None = None

    def fields(self) -> JSON:
        """The submitted fields by name (shallow: the payload is not copied). ``intent.created``
        records them, and ``model.evolve`` builds the intent from them, so a new field of a submit
        is a field here and on ``Intent``, nothing more."""
        return {name: getattr(self, name) for name in _SUBMIT_FIELDS}

    def fingerprint(self) -> str:
        """Identifies the request body for Idempotency-Key comparison. The trace context is left out:
        it says which span sent the request, not what was asked, and a retry from another span (or
        with tracing turned on since) is the same request."""
        body = asdict(self)
        del body["trace_context"]
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class Resolve:
    status: str  # COMPLETED | FAILED | CANCELED
    result: JSON | None = None
    error: Any = None
    reason: str | None = None
    actor: str | None = None
    expected_policy_generation: int | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    agent: str
    worker: str
    max_intents: int = 1
    lease_seconds: float = 30.0
    wait_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class OpenStream:
    """A held delivery stream of ``worker`` for ``agents`` (``streams.py``); it ends after
    ``hold_seconds`` (the server's cap on any stream; None: when the server shuts down)."""

    agents: tuple[str, ...]
    worker: str
    lease_seconds: float = 30.0
    max_in_flight: int = 8
    hold_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Complete:
    lease_token: str
    result: JSON | None = None
    then: tuple[SubmitIntent, ...] = ()
    usage: JSON | None = None


@dataclass(frozen=True, slots=True)
class Fail:
    lease_token: str
    error: JSON
    retry: bool = False
    retry_after_seconds: float = 0.0  # backoff: the retry waits (WAITING_FOR_TIME) this long
    usage: JSON | None = None


@dataclass(frozen=True, slots=True)
class Wait:
    lease_token: str
    reason: str  # a WaitingReason value
    wake_at: Micros | None = None
    details: JSON = field(default_factory=dict)
    human_task: JSON | None = None  # ask a person (reason WAITING_FOR_HUMAN) ...
    key: str | None = None  # ... and journal the answer under this key


_SUBMIT_FIELDS = tuple(f.name for f in dataclass_fields(SubmitIntent))


@dataclass(frozen=True, slots=True)
class Answer:
    """A person's answer to a human task. ``via`` says where it came from (api, link, cli, resume)."""

    outcome: str
    comment: str | None = None
    data: JSON | None = None
    via: str = "api"


@dataclass(frozen=True, slots=True)
class Kill:
    """Kill ``target`` (an address, every version of it without ``@version``, or ``*``: the
    namespace; docs/mesh.md). ``new_work``: ``refuse`` (403 ``agent_killed``) or ``hold`` (accepted,
    queued, delivered after resume). ``in_flight``, what happens to its queued and leased work:
    ``hold`` (leases revoked, the work waits for resume), ``cancel``, or ``reassign`` (to
    ``reassign_to``, e.g. another version)."""

    target: str
    new_work: str = "refuse"
    in_flight: str = "hold"
    reassign_to: str | None = None
    reason: str | None = None
