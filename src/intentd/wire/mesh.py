"""The Mesh on the wire (PROTOCOL.md §5, docs/mesh.md): AXP's ``client.mesh`` family — heartbeat,
agents, kill, resume, events — with intentd's fleet fields (workers, open work, error rate), kill
choices (what happens to new and in-flight work), namespace-wide kills and versioned routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from ._model import JSON, WireModel
from .limits import Address, Id, IntentType, Reason, Time

Health = Literal["healthy", "degraded", "unreachable", "killed", "unknown"]
NewWork = Literal["refuse", "hold"]
InFlight = Literal["hold", "cancel", "reassign"]


class MeshHeartbeatBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # AXP agents may send more; metrics and metadata are kept

    metrics: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = Field(
        None, description="what the agent says about itself (framework, model, host): shown in the fleet"
    )


class KillBody(BaseModel):
    """``POST /v1/mesh/agents/{address_id}/kill`` (or ``/v1/mesh/kill``, the whole namespace). No body
    (the official SDK sends none): refuse new work, hold in-flight work until resume."""

    model_config = ConfigDict(extra="forbid")

    new_work: NewWork = Field(
        "refuse", description="refuse: new intents to it answer 403 agent_killed; hold: accepted, queued"
    )
    in_flight: InFlight = Field(
        "hold",
        description="its queued and leased work: hold (leases revoked, waits for resume), cancel, "
        "or reassign (to reassign_to)",
    )
    reassign_to: Address | None = Field(None, description="with in_flight: reassign, e.g. the @v2 of it")
    reason: Reason | None = None


class AgentHealth(WireModel):
    """The answer to a mesh heartbeat: which address the beat was recorded for (the owner named, or
    ``agent://<key name>``) and its health now. ``address_id`` is the address without ``agent://``."""

    ok: bool = True
    status: Health
    health_status: Health
    address: str
    address_id: str
    last_heartbeat_at: datetime | None = None

    @property
    def health(self) -> str:
        return self.health_status


class KillSwitch(WireModel):
    """A kill in force: ``target`` is an address (with ``@version``: that version only; without:
    every version of it) or ``*`` (the namespace)."""

    target: str
    new_work: NewWork
    in_flight: InFlight
    reassign_to: str | None = None
    reason: str | None = None
    actor: str
    killed_at: datetime


class MeshWorker(WireModel):
    """A worker process serving the agent (it holds a delivery stream or claims)."""

    worker_id: str
    via: Literal["stream", "claim"]
    first_seen_at: datetime
    last_seen_at: datetime


class StuckIntent(WireModel):
    """One of the agent's oldest open intents: where its work is stuck."""

    intent_id: str
    intent_type: str
    status: str
    correlation_id: str
    since: datetime  # when it entered this status
    age_seconds: float
    delivery_attempt: int = 0


class MeshAgent(WireModel):
    """An agent of the fleet. Health: ``killed`` under a kill switch, else from the age of its last
    sign of life (a heartbeat, or a worker streaming or claiming for it; ``unknown`` if none yet) and
    ``degraded`` when at least half of the last hour's finished intents failed (docs/mesh.md).
    ``metrics`` and ``metadata`` are those of its last heartbeat."""

    address: str
    address_id: str
    display_name: str
    version: str | None = None
    binding: Literal["stream", "poll", "http"] | None = Field(
        None, description="its registered delivery binding"
    )
    health_status: Health
    last_heartbeat_at: datetime | None = None
    last_seen_at: datetime | None = None
    created_at: datetime
    metrics: JSON = Field(default_factory=dict)
    metadata: JSON = Field(default_factory=dict)
    kill: KillSwitch | None = None
    workers: list[MeshWorker] = Field(default_factory=list)
    open_work: dict[str, int] = Field(default_factory=dict, description="open intents by status")
    in_flight: int = 0
    oldest_open_at: datetime | None = None
    intents_period: int = Field(0, description="intents it finished in the last 24 hours")
    failed_period: int = 0
    error_rate: float | None = Field(None, description="failed / finished in the last hour; null: too few")
    cost_period: float = Field(0.0, description="cost_usd reported this UTC day (workers and heartbeats)")
    tokens_period: float = Field(0.0, description="tokens_in + tokens_out reported this UTC day")
    oldest_open: list[StuckIntent] = Field(
        default_factory=list, description="its oldest open intents (one agent's answer only)"
    )

    @property
    def health(self) -> str:
        return self.health_status


class MeshSummary(WireModel):
    total: int
    killed: int
    healthy: int
    degraded: int
    unreachable: int
    unknown: int


class MeshAgentList(WireModel):
    ok: bool = True
    agents: list[MeshAgent]
    summary: MeshSummary


class MeshAgentAnswer(WireModel):
    ok: bool = True
    agent: MeshAgent


class Swept(WireModel):
    """What a kill did to the work it found."""

    canceled: int = 0
    held: int = 0
    reassigned: int = 0


class KillAnswer(WireModel):
    ok: bool = True
    status: Literal["killed"] = "killed"
    kill: KillSwitch
    swept: Swept


class ResumeAnswer(WireModel):
    """``status``: ``active``, or ``killed`` when a wider kill (``killed_by``) still stops it."""

    ok: bool = True
    status: Literal["active", "killed"]
    target: str
    was_killed: bool
    killed_by: KillSwitch | None = None


class KillList(WireModel):
    ok: bool = True
    kills: list[KillSwitch]


class MeshEvent(WireModel):
    """A record about an agent (``agent.killed``, ``agent.resumed``, ``agent.binding_registered``):
    an entry of the audit trail, ``event_id`` its sequence number there."""

    event_id: str
    address: str | None = None
    event_type: str
    details: JSON = Field(default_factory=dict)
    actor_id: str
    created_at: datetime


class MeshEventList(WireModel):
    ok: bool = True
    events: list[MeshEvent]


class RouteBody(BaseModel):
    """``PUT /v1/mesh/routes/{address_id}``: new work for the address goes to its versions by weight."""

    model_config = ConfigDict(extra="forbid")

    weights: dict[
        Annotated[
            str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
        ],
        Annotated[int, Strict(), Field(ge=0, le=10_000)],
    ] = Field(min_length=1, max_length=20, description='version -> weight, e.g. {"v1": 90, "v2": 10}')


class Route(WireModel):
    address: str
    weights: dict[str, int]
    actor: str
    updated_at: datetime


class RouteVersion(WireModel):
    """One version of a routed address: ``drained`` once it has weight 0 and no open work."""

    version: str
    address: str
    weight: int
    share: float = Field(description="its part of new work, 0 to 1")
    open: int = Field(description="open intents pinned to it")
    drained: bool


class RouteAnswer(WireModel):
    ok: bool = True
    address: str
    route: Route | None = None
    versions: list[RouteVersion]


class RouteList(WireModel):
    ok: bool = True
    routes: list[Route]


class RouteRemoved(WireModel):
    ok: bool = True
    address: str
    removed: bool


Pattern = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00]+$")]


class PatternsSpec(BaseModel):
    """``allow``: only what matches one (empty: anything); ``deny``: never what matches. Shell-style
    patterns: ``billing.*``, ``*.refund.v?``."""

    model_config = ConfigDict(extra="forbid")

    allow: list[Pattern] = Field(default_factory=list, max_length=100)
    deny: list[Pattern] = Field(default_factory=list, max_length=100)


Limit = Annotated[float, Strict(), Field(ge=0, le=1e12, allow_inf_nan=False)]
CountLimit = Annotated[int, Strict(), Field(ge=0, le=1_000_000_000)]


class PolicySpec(BaseModel):
    """A Mesh policy (docs/mesh.md, "Policies"). On the namespace (``*``) its limits count the
    namespace; on an address, that agent (without a version: every version of it)."""

    model_config = ConfigDict(extra="forbid")

    max_cost_per_day_usd: Limit | None = Field(None, description="reported cost_usd per UTC day")
    max_cost_per_tree_usd: Limit | None = Field(None, description="cost_usd of one intent tree (a run)")
    max_intents_per_hour: CountLimit | None = Field(None, description="intents admitted per UTC hour")
    max_concurrency: CountLimit | None = Field(None, description="leases open at once")
    receive: PatternsSpec | None = Field(None, description="intent types it may be sent")
    send: PatternsSpec | None = Field(None, description="intent types it may send")
    tools: PatternsSpec | None = Field(None, description="tools it may call")
    on_breach: Literal["block", "pause"] | None = Field(
        None, description="block: 429 (and queued work waits); pause: an override human task (default block)"
    )


class MeshPolicyBody(BaseModel):
    """``PUT /v1/mesh/policies/{scope}``: the whole policy of the scope, replacing the one there;
    ``expected_generation`` (0: none yet) makes it a compare-and-set (409 ``stale_mesh_policy``)."""

    model_config = ConfigDict(extra="forbid")

    policy: PolicySpec
    expected_generation: Annotated[int, Strict(), Field(ge=0)] | None = None


class MeshPolicy(WireModel):
    scope: str
    generation: int
    policy: JSON
    actor: str
    updated_at: datetime


class MeshPolicyAnswer(WireModel):
    ok: bool = True
    policy: MeshPolicy


class MeshPolicyList(WireModel):
    ok: bool = True
    policies: list[MeshPolicy]


class MeshPolicyRemoved(WireModel):
    ok: bool = True
    scope: str
    removed: bool


class PolicyRule(WireModel):
    """One rule that applies to the agent, the policy it comes from (``scope``, ``generation``) and,
    for a limit, what that scope has used (this UTC day, this hour, leases open now)."""

    rule: str
    value: Any
    scope: str
    generation: int
    used: float | None = None


class EffectivePolicy(WireModel):
    ok: bool = True
    agent: str
    on_breach: Literal["block", "pause"]
    rules: list[PolicyRule]


class SyntheticIntent(BaseModel):
    """An intent for a dry-run to replay, as if it had been submitted at ``at``."""

    model_config = ConfigDict(extra="forbid")

    to_agent: Address
    intent_type: IntentType
    from_agent: Address | None = None
    at: Time | None = Field(None, description="when it is submitted; default: now, one microsecond apart")
    cost_usd: Limit = 0.0
    tree: Id | None = Field(None, description="the run it belongs to (its root intent id)")


class DryRunBody(BaseModel):
    """``POST /v1/mesh/dry-run``: what ``policy``, set on ``scope``, would have done to the intents
    created in [``since``, ``until``) (default: the last 24 hours) or to ``intents``."""

    model_config = ConfigDict(extra="forbid")

    scope: Annotated[str, StringConstraints(min_length=1, max_length=400)] = Field(
        description="* (the namespace) or an address"
    )
    policy: PolicySpec
    since: Time | None = None
    until: Time | None = None
    intents: list[SyntheticIntent] | None = Field(None, max_length=10_000)


class DryRunDecision(WireModel):
    intent_id: str | None = None
    to_agent: str
    intent_type: str
    at: datetime
    outcome: Literal["deny", "block", "pause"]
    rule: str
    policy: str
    why: str | None = None
    cost_usd: float


class DryRunAnswer(WireModel):
    """How many intents the policy would have allowed, denied (a type rule), blocked or paused (a
    limit), what that would have saved (``saved_usd``: cost refused; ``paused_usd``: cost a person
    would have had to approve), and the first decisions that were not ``allow``."""

    ok: bool = True
    scope: str
    evaluated: int
    allowed: int
    denied: int
    blocked: int
    paused: int
    saved_usd: float
    paused_usd: float
    by_rule: dict[str, int]
    decisions: list[DryRunDecision]
    not_simulated: list[str]
