"""One :class:`~intentd.client._base.Call` per operation of the API, built before any I/O: method,
path, body (with the wire request models' field names, ``intentd.wire``), the parser of the answer
(the wire response models), and whether it is safe to send twice. Both clients send these."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from intentd.model import JSON, Status, WaitingReason
from intentd.wire import (
    AwaitAnswer,
    AwaitBody,
    BindingAnswer,
    BindingBody,
    CancelBody,
    ClaimBody,
    CompleteBody,
    ControlsBody,
    CreateIntent,
    DecisionBody,
    DryRunAnswer,
    DryRunBody,
    EffectivePolicy,
    FailBody,
    HeartbeatBody,
    HumanTask,
    JournalAnswer,
    JournalEntry,
    KillBody,
    LeaseAnswer,
    LeaseBody,
    MeshHeartbeatBody,
    MeshPolicy,
    MeshPolicyBody,
    MeshPolicyRemoved,
    PolicyBody,
    PolicySpec,
    ProgressBody,
    RecordAnswer,
    RecordBody,
    ResolveBody,
    Route,
    RouteAnswer,
    RouteBody,
    RouteRemoved,
    SpawnBody,
    SyntheticIntent,
    TaskAnswer,
    TaskAnswerResponse,
    TaskList,
    WaitBody,
    request_body,
)
from intentd.wire.webhooks import (
    DeliveriesAnswer,
    DeliveryAnswer,
    PublishBody,
    SubscriptionAnswer,
    SubscriptionBody,
    SubscriptionsAnswer,
)

from ._base import Call
from ._types import (
    AgentBinding,
    AgentHealth,
    Approval,
    Capabilities,
    ChildSpec,
    Completion,
    Delivery,
    Event,
    Health,
    Intent,
    IntentPage,
    IntentSpec,
    KillAnswer,
    KillSwitch,
    MeshAgent,
    MeshEvent,
    ResumeAnswer,
    RunTree,
    ScenarioApplied,
    ScenarioValid,
    Thread,
    WebhookDelivery,
    WebhookEventPublished,
    WebhookEventReplayed,
    WebhookSubscription,
    WebhookSubscriptionRevoked,
)


def intent_path(intent_id: str, suffix: str = "") -> str:
    return f"/v1/intents/{quote(intent_id, safe='')}{suffix}"


def agent_path(address: str, suffix: str) -> str:
    # The address goes into the path with its slashes (PROTOCOL.md §2.3).
    return f"/v1/agents/{quote(address.removeprefix('agent://'), safe='/')}{suffix}"


def _intent(body: JSON) -> Intent:
    return Intent.from_wire(body["intent"])


def _events(body: JSON) -> list[Event]:
    return [Event.from_wire(e) for e in body.get("events") or []]


def _deliveries(body: JSON) -> list[Delivery]:
    return [Delivery.from_wire(d) for d in body.get("deliveries") or []]


def _present(**values: Any) -> JSON:
    return {k: v for k, v in values.items() if v is not None}


def health() -> Call[Health]:
    return Call("GET", "/health", Health.from_wire, retry_safe=True)


def capabilities() -> Call[Capabilities]:
    return Call("GET", "/v1/capabilities", Capabilities.from_wire, retry_safe=True)


def _default_correlation(to_agent: str, intent_type: str, idempotency_key: str | None) -> str:
    """A fresh UUID; under an idempotency key, one derived from it, so that a repeated submit sends the
    same body and gets the first intent back (the server compares the whole request under a key)."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"intentd:{to_agent}:{intent_type}:{idempotency_key}"))


def submit_intent(
    to_agent: str,
    intent_type: str,
    payload: JSON,
    *,
    correlation_id: str | None,
    idempotency_key: str | None,
    reply_to: str | None,
    deadline_at: datetime | None,
    max_delivery_attempts: int | None,
    parent_intent_id: str | None,
    wait_seconds: float | None = None,
) -> Call[Intent]:
    body = request_body(
        CreateIntent,
        to_agent=to_agent,
        intent_type=intent_type,
        payload=payload,
        correlation_id=correlation_id or _default_correlation(to_agent, intent_type, idempotency_key),
        reply_to=reply_to,
        deadline_at=deadline_at,
        max_delivery_attempts=max_delivery_attempts,
        parent_intent_id=parent_intent_id,
    )
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    # With a key the server answers a repeat with the first intent, so a retry cannot duplicate.
    return Call(
        "POST",
        "/v1/intents",
        _intent,
        params={"wait_seconds": wait_seconds} if wait_seconds else None,
        json=body,
        headers=headers,
        retry_safe=idempotency_key is not None,
        read_timeout=wait_seconds or None,  # the server holds the answer up to this long
    )


def get_intent(intent_id: str) -> Call[Intent]:
    return Call("GET", intent_path(intent_id), _intent, retry_safe=True)


def get_tree(intent_id: str, limit: int) -> Call[RunTree]:
    return Call(
        "GET", intent_path(intent_id, "/tree"), RunTree.from_wire, params={"limit": limit}, retry_safe=True
    )


def list_intents(
    *,
    status: Status | str | None,
    to_agent: str | None,
    correlation_id: str | None,
    limit: int,
    cursor: str | None,
) -> Call[IntentPage]:
    params = _present(
        status=getattr(status, "value", status),
        to_agent=to_agent,
        correlation_id=correlation_id,
        limit=limit,
        cursor=cursor,
    )
    return Call("GET", "/v1/intents", IntentPage.from_wire, params=params, retry_safe=True)


def list_events(intent_id: str, since: int, limit: int) -> Call[list[Event]]:
    return Call(
        "GET",
        intent_path(intent_id, "/events"),
        _events,
        params={"since": since, "limit": limit},
        retry_safe=True,
    )


def resolve_intent(
    intent_id: str,
    status: Status | str,
    *,
    result: JSON | None,
    error: Any,
    reason: str | None,
    actor: str | None,
    expected_policy_generation: int | None,
) -> Call[Intent]:
    body = request_body(
        ResolveBody,
        status=str(getattr(status, "value", status)).upper(),
        result=result,
        error=error,
        reason=reason,
        actor=actor,
        expected_policy_generation=expected_policy_generation,
    )
    return Call("POST", intent_path(intent_id, "/resolve"), _intent, json=body)


def cancel_intent(intent_id: str, *, reason: str | None, actor: str | None) -> Call[Intent]:
    return Call(
        "POST",
        intent_path(intent_id, "/cancel"),
        _intent,
        json=request_body(CancelBody, reason=reason, actor=actor),
    )


def resume_intent(intent_id: str, body: JSON | None) -> Call[Intent]:
    return Call("POST", intent_path(intent_id, "/resume"), _intent, json=body or {})


def update_controls(
    intent_id: str,
    patch: JSON,
    *,
    expected_policy_generation: int | None,
    actor: str | None,
    reason: str | None,
) -> Call[Intent]:
    body = request_body(
        ControlsBody,
        controls_patch=patch,
        expected_policy_generation=expected_policy_generation,
        actor=actor,
        reason=reason,
    )
    return Call("POST", intent_path(intent_id, "/controls"), _intent, json=body)


def update_policy(
    intent_id: str,
    *,
    grants: JSON | None,
    envelope: JSON | None,
    expected_policy_generation: int | None,
    actor: str | None,
    reason: str | None,
) -> Call[Intent]:
    body = request_body(
        PolicyBody,
        grants_patch=grants,
        envelope_patch=envelope,
        expected_policy_generation=expected_policy_generation,
        actor=actor,
        reason=reason,
    )
    return Call("POST", intent_path(intent_id, "/policy"), _intent, json=body)


def claim(
    agent: str, *, worker_id: str, max_intents: int, lease_seconds: float, wait_seconds: float
) -> Call[list[Delivery]]:
    # Not retried: a lost answer to a claim leaves leases nobody holds; they expire and the
    # intents are delivered again, which a retry could not do any better.
    body = request_body(
        ClaimBody,
        worker_id=worker_id,
        max_intents=max_intents,
        lease_seconds=lease_seconds,
        wait_seconds=wait_seconds,
    )
    return Call("POST", agent_path(agent, "/claims"), _deliveries, json=body, read_timeout=wait_seconds)


def _binding(body: JSON) -> AgentBinding:
    return BindingAnswer.from_wire(body).binding


def bind_agent(
    agent: str,
    *,
    delivery_mode: str,
    lease_seconds: float,
    callback_url: str | None = None,
    secret: str | None = None,
) -> Call[AgentBinding]:
    # Registering the same binding twice leaves it as once: safe to retry. An http binding without a
    # secret gets a new one each time, and the answer carries the one in force: a retry loses none.
    body = request_body(
        BindingBody,
        delivery_mode=delivery_mode,
        lease_seconds=lease_seconds,
        callback_url=callback_url,
        secret=secret,
    )
    return Call("PUT", agent_path(agent, "/binding"), _binding, json=body, retry_safe=True)


def get_binding(agent: str) -> Call[AgentBinding]:
    return Call("GET", agent_path(agent, "/binding"), _binding, retry_safe=True)


def heartbeat(intent_id: str, lease_token: str, lease_seconds: float) -> Call[LeaseAnswer]:
    # Extending a lease twice is harmless, so a heartbeat may be retried.
    return Call(
        "POST",
        intent_path(intent_id, "/lease/heartbeat"),
        LeaseAnswer.from_wire,
        json=request_body(HeartbeatBody, lease_token=lease_token, lease_seconds=lease_seconds),
        retry_safe=True,
    )


def complete(
    intent_id: str,
    lease_token: str,
    result: JSON | None,
    *,
    then: Sequence[IntentSpec | JSON],
    usage: Mapping[str, float] | None,
) -> Call[Completion]:
    body = request_body(
        CompleteBody,
        lease_token=lease_token,
        result=result or {},
        then=[s.to_wire() if isinstance(s, IntentSpec) else dict(s) for s in then],
        usage=dict(usage) if usage else None,
    )
    # The server answers a repeated completion with the same token as a replay (replayed=True).
    return Call("POST", intent_path(intent_id, "/complete"), Completion.from_wire, json=body, retry_safe=True)


def fail(
    intent_id: str,
    lease_token: str,
    error: str | JSON,
    *,
    retry: bool,
    retry_after_seconds: float,
    usage: Mapping[str, float] | None,
) -> Call[Intent]:
    body = request_body(
        FailBody,
        lease_token=lease_token,
        error=error,
        retry=retry,
        usage=dict(usage) if usage else None,
        retry_after_seconds=retry_after_seconds if retry_after_seconds > 0 else None,
    )
    return Call("POST", intent_path(intent_id, "/fail"), _intent, json=body)


def release(intent_id: str, lease_token: str) -> Call[Intent]:
    return Call(
        "POST",
        intent_path(intent_id, "/release"),
        _intent,
        json=request_body(LeaseBody, lease_token=lease_token),
    )


def wait(
    intent_id: str,
    lease_token: str,
    reason: WaitingReason | str,
    *,
    wake_at: datetime | None,
    details: JSON | None,
    human_task: Mapping[str, Any] | None = None,
    key: str | None = None,
) -> Call[Intent]:
    body = request_body(
        WaitBody,
        lease_token=lease_token,
        reason=waiting_reason(reason),
        details=details or {},
        wake_at=wake_at,
        human_task=dict(human_task) if human_task is not None else None,
        key=key,
    )
    return Call("POST", intent_path(intent_id, "/wait"), _intent, json=body)


def ask_human(intent_id: str, lease_token: str, key: str, human_task: Mapping[str, Any]) -> Call[Intent]:
    # Not retried: the first request parks the intent and ends its lease, so a repeat is refused
    # (409 stale_lease); a lost answer is the same as a crash before the next line of the handler.
    return wait(
        intent_id,
        lease_token,
        WaitingReason.HUMAN,
        wake_at=None,
        details=None,
        human_task=human_task,
        key=key,
    )


def progress(
    intent_id: str,
    message: str | None,
    *,
    lease_token: str | None,
    usage: Mapping[str, float] | None,
    tool: str | None = None,
) -> Call[Intent]:
    body = request_body(
        ProgressBody,
        message=message,
        lease_token=lease_token,
        usage=dict(usage) if usage else None,
        tool=tool,
    )
    return Call("POST", intent_path(intent_id, "/progress"), _intent, json=body)


def waiting_reason(reason: WaitingReason | str) -> str:
    """``WaitingReason.HUMAN``, ``"WAITING_FOR_HUMAN"`` and ``"human"`` all mean the same."""
    if isinstance(reason, WaitingReason):
        return reason.value
    upper = reason.upper()
    return upper if upper.startswith("WAITING_FOR_") else f"WAITING_FOR_{upper}"


# --- a run's journal (a supervisor's durable delegation) ------------------------------------------


def _entries(body: JSON) -> list[JournalEntry]:
    return JournalAnswer.from_wire(body).entries


def get_journal(intent_id: str) -> Call[list[JournalEntry]]:
    return Call("GET", intent_path(intent_id, "/journal"), _entries, retry_safe=True)


def spawn_children(
    intent_id: str, lease_token: str, children: Sequence[ChildSpec | JSON]
) -> Call[list[JournalEntry]]:
    body = request_body(
        SpawnBody,
        lease_token=lease_token,
        children=[c.to_wire() if isinstance(c, ChildSpec) else dict(c) for c in children],
    )
    # Keyed: a key already journaled answers its entry and creates nothing, so a retry after a
    # lost answer cannot spawn a child twice.
    return Call("POST", intent_path(intent_id, "/children"), _entries, json=body, retry_safe=True)


def record_step(intent_id: str, lease_token: str, key: str, result: Any) -> Call[RecordAnswer]:
    # The first write of a key wins and a repeat answers it (recorded=False): safe to retry.
    return Call(
        "POST",
        intent_path(intent_id, "/journal"),
        RecordAnswer.from_wire,
        json=request_body(RecordBody, lease_token=lease_token, key=key, result=result),
        retry_safe=True,
    )


def await_entries(intent_id: str, lease_token: str, keys: Sequence[str]) -> Call[AwaitAnswer]:
    # Sent again, it answers the same when nothing was parked; when the first one parked the intent
    # its lease ended with it, and the repeat is refused (409 stale_lease): nothing applies twice.
    return Call(
        "POST",
        intent_path(intent_id, "/await"),
        AwaitAnswer.from_wire,
        json=request_body(AwaitBody, lease_token=lease_token, keys=list(keys)),
        retry_safe=True,
    )


# --- human tasks ------------------------------------------------------------------------------------


def task_path(task_id: str, suffix: str = "") -> str:
    return f"/v1/tasks/{quote(task_id, safe='')}{suffix}"


def _tasks(body: JSON) -> list[HumanTask]:
    return TaskList.from_wire(body).tasks


def _task(body: JSON) -> HumanTask:
    return HumanTask.from_wire(body["task"])


def list_my_tasks(*, state: str | None, limit: int) -> Call[list[HumanTask]]:
    return Call("GET", "/v1/me/tasks", _tasks, params=_present(state=state, limit=limit), retry_safe=True)


def list_tasks(*, state: str | None, intent_id: str | None, limit: int) -> Call[list[HumanTask]]:
    params = _present(state=state, intent_id=intent_id, limit=limit)
    return Call("GET", "/v1/tasks", _tasks, params=params, retry_safe=True)


def get_task(task_id: str) -> Call[HumanTask]:
    return Call("GET", task_path(task_id), _task, retry_safe=True)


def decide_task(
    task_id: str, outcome: str, *, comment: str | None, data: Mapping[str, Any] | None
) -> Call[TaskAnswerResponse]:
    body = request_body(
        TaskAnswer, outcome=outcome, comment=comment, data=dict(data) if data is not None else None
    )
    # A task is decided once: a repeat after a lost answer is refused (409 task_closed, details.state
    # "decided") and changes nothing, so retrying cannot decide twice; the caller reads the task then.
    return Call(
        "POST", task_path(task_id, "/decision"), TaskAnswerResponse.from_wire, json=body, retry_safe=True
    )


# --- inbox, approvals, mesh (docs/axp-compat.md) ---------------------------------------------------


# -- declared workflows ------------------------------------------------------------------------------


def validate_scenario(bundle: Mapping[str, Any]) -> Call[ScenarioValid]:
    return Call("POST", "/v1/scenarios/validate", ScenarioValid.from_wire, json=dict(bundle), retry_safe=True)


def apply_scenario(bundle: Mapping[str, Any], idempotency_key: str | None) -> Call[ScenarioApplied]:
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    # With a key a repeat answers the first run, so a retry cannot start a second one.
    return Call(
        "POST",
        "/v1/scenarios/apply",
        ScenarioApplied.from_wire,
        json=dict(bundle),
        headers=headers,
        retry_safe=idempotency_key is not None,
    )


def _threads(body: JSON) -> list[Thread]:
    return [Thread.from_wire(t) for t in body.get("threads") or []]


def _thread(body: JSON) -> Thread:
    return Thread.from_wire(body["thread"])


def _mesh_agents(body: JSON) -> list[MeshAgent]:
    return [MeshAgent.from_wire(a) for a in body.get("agents") or []]


def _mesh_agent(body: JSON) -> MeshAgent:
    return MeshAgent.from_wire(body["agent"])


def list_inbox(*, owner_agent: str | None, status: str | None, limit: int) -> Call[list[Thread]]:
    params = _present(owner_agent=owner_agent, status=status, limit=limit)
    return Call("GET", "/v1/inbox", _threads, params=params, retry_safe=True)


def get_inbox_thread(thread_id: str, *, owner_agent: str | None) -> Call[Thread]:
    return Call(
        "GET",
        f"/v1/inbox/{quote(thread_id, safe='')}",
        _thread,
        params=_present(owner_agent=owner_agent),
        retry_safe=True,
    )


def decide_approval(approval_id: str, decision: str, comment: str | None) -> Call[Approval]:
    # The server records one decision per id and answers the same decision (and comment) again
    # with the recorded one (replayed=True), so a retry after a lost answer cannot decide twice.
    return Call(
        "POST",
        f"/v1/approvals/{quote(approval_id, safe='')}/decision",
        Approval.from_wire,
        json=request_body(DecisionBody, decision=decision, comment=comment),
        retry_safe=True,
    )


def mesh_heartbeat(
    metrics: Mapping[str, Any] | None, *, owner_agent: str | None, metadata: Mapping[str, Any] | None = None
) -> Call[AgentHealth]:
    # A second beat only moves "last seen" again: safe to retry.
    body = request_body(
        MeshHeartbeatBody,
        metrics=dict(metrics) if metrics is not None else None,
        metadata=dict(metadata) if metadata is not None else None,
    )
    return Call(
        "POST",
        "/v1/mesh/heartbeat",
        AgentHealth.from_wire,
        params=_present(owner_agent=owner_agent),
        json=body,
        retry_safe=True,
    )


def list_mesh_agents(*, health: str | None, limit: int) -> Call[list[MeshAgent]]:
    return Call(
        "GET", "/v1/mesh/agents", _mesh_agents, params=_present(health=health, limit=limit), retry_safe=True
    )


def get_mesh_agent(address: str) -> Call[MeshAgent]:
    return Call("GET", f"/v1/mesh/agents/{_address_id(address)}", _mesh_agent, retry_safe=True)


def _address_id(address: str) -> str:
    """The address id (the address without agent://), for the path with its slashes."""
    return quote(address.removeprefix("agent://"), safe="/@")


def kill(
    address: str, *, new_work: str, in_flight: str, reassign_to: str | None, reason: str | None
) -> Call[KillAnswer]:
    # Killing again with the same choices changes nothing (the kill is a row per target) and the
    # sweep finds nothing more: safe to retry.
    path = "/v1/mesh/kill" if address == "*" else f"/v1/mesh/agents/{_address_id(address)}/kill"
    body = request_body(
        KillBody, new_work=new_work, in_flight=in_flight, reassign_to=reassign_to, reason=reason
    )
    return Call("POST", path, KillAnswer.from_wire, json=body, retry_safe=True)


def resume(address: str) -> Call[ResumeAnswer]:
    path = "/v1/mesh/resume" if address == "*" else f"/v1/mesh/agents/{_address_id(address)}/resume"
    return Call("POST", path, ResumeAnswer.from_wire, retry_safe=True)  # idempotent


def set_route(address: str, weights: Mapping[str, int]) -> Call[RouteAnswer]:
    # A route is set whole: sending it again sets the same route.
    body = request_body(RouteBody, weights=dict(weights))
    return Call(
        "PUT", f"/v1/mesh/routes/{_address_id(address)}", RouteAnswer.from_wire, json=body, retry_safe=True
    )


def get_route(address: str) -> Call[RouteAnswer]:
    return Call("GET", f"/v1/mesh/routes/{_address_id(address)}", RouteAnswer.from_wire, retry_safe=True)


def list_routes() -> Call[list[Route]]:
    return Call(
        "GET", "/v1/mesh/routes", lambda b: [Route.from_wire(r) for r in b["routes"]], retry_safe=True
    )


def remove_route(address: str) -> Call[RouteRemoved]:
    path = f"/v1/mesh/routes/{_address_id(address)}"
    return Call("DELETE", path, RouteRemoved.from_wire, retry_safe=True)  # a second removal removes nothing


def drain(address: str) -> Call[RouteAnswer]:
    # Weight 0 for the version, again: the same route.
    return Call(
        "POST", f"/v1/mesh/agents/{_address_id(address)}/drain", RouteAnswer.from_wire, retry_safe=True
    )


def _policy_path(scope: str) -> str:
    return f"/v1/mesh/policies/{'*' if scope == '*' else _address_id(scope)}"


def set_policy(scope: str, policy: Mapping[str, Any], expected_generation: int | None) -> Call[MeshPolicy]:
    # Setting the same policy again only moves its generation on (a retry without
    # expected_generation); with it, a retried set after a lost answer gets 409: read it again.
    body = request_body(
        MeshPolicyBody, policy=request_body(PolicySpec, **policy), expected_generation=expected_generation
    )
    return Call(
        "PUT",
        _policy_path(scope),
        lambda b: MeshPolicy.from_wire(b["policy"]),
        json=body,
        retry_safe=expected_generation is None,
    )


def list_policies() -> Call[list[MeshPolicy]]:
    return Call(
        "GET",
        "/v1/mesh/policies",
        lambda b: [MeshPolicy.from_wire(p) for p in b["policies"]],
        retry_safe=True,
    )


def remove_policy(scope: str) -> Call[MeshPolicyRemoved]:
    return Call("DELETE", _policy_path(scope), MeshPolicyRemoved.from_wire, retry_safe=True)


def agent_policy(address: str) -> Call[EffectivePolicy]:
    path = f"/v1/mesh/agents/{_address_id(address)}/policy"
    return Call("GET", path, EffectivePolicy.from_wire, retry_safe=True)


def dry_run(
    scope: str,
    policy: Mapping[str, Any],
    *,
    since: datetime | None,
    until: datetime | None,
    intents: Sequence[Mapping[str, Any]] | None,
) -> Call[DryRunAnswer]:
    body = request_body(
        DryRunBody,
        scope=scope,
        policy=request_body(PolicySpec, **policy),
        since=since,
        until=until,
        intents=[request_body(SyntheticIntent, **i) for i in intents] if intents is not None else None,
    )
    return Call("POST", "/v1/mesh/dry-run", DryRunAnswer.from_wire, json=body, retry_safe=True)  # reads only


def list_kills() -> Call[list[KillSwitch]]:
    return Call(
        "GET", "/v1/mesh/kills", lambda b: [KillSwitch.from_wire(k) for k in b["kills"]], retry_safe=True
    )


def mesh_events(*, event_type: str | None, limit: int) -> Call[list[MeshEvent]]:
    return Call(
        "GET",
        "/v1/mesh/events",
        lambda b: [MeshEvent.from_wire(e) for e in b["events"]],
        params=_present(event_type=event_type, limit=limit),
        retry_safe=True,
    )


# --- webhooks and HTTP push (docs/webhooks.md) -----------------------------------------------------

SUBSCRIPTIONS = "/v1/webhooks/subscriptions"


def _webhook_deliveries(body: JSON) -> list[WebhookDelivery]:
    return DeliveriesAnswer.from_wire(body).deliveries


def _webhook_delivery(body: JSON) -> WebhookDelivery:
    return DeliveryAnswer.from_wire(body).delivery


def _subscription(body: JSON) -> WebhookSubscription:
    return SubscriptionAnswer.from_wire(body).subscription


def _subscriptions(body: JSON) -> list[WebhookSubscription]:
    return SubscriptionsAnswer.from_wire(body).subscriptions


def list_webhook_deliveries(*, status: str, limit: int) -> Call[list[WebhookDelivery]]:
    params = {"status": status, "limit": limit}
    return Call("GET", "/v1/webhooks/deliveries", _webhook_deliveries, params=params, retry_safe=True)


def replay_delivery(delivery_id: str) -> Call[WebhookDelivery]:
    # Only a dead letter is replayed: a repeat after a lost answer is refused (409 conflict, details
    # .status "pending" or "sent") and queues nothing, so retrying cannot send it twice.
    return Call(
        "POST",
        f"/v1/webhooks/deliveries/{quote(delivery_id, safe='')}/replay",
        _webhook_delivery,
        retry_safe=True,
    )


def subscribe_webhook(
    callback_url: str,
    event_types: Sequence[str],
    *,
    secret: str | None,
    description: str | None,
    active: bool,
    owner_agent: str | None,
) -> Call[WebhookSubscription]:
    body = request_body(
        SubscriptionBody,
        callback_url=callback_url,
        event_types=list(event_types),
        secret=secret,
        active=active,
        description=description,
    )
    # An upsert by owner and URL, so a repeat changes nothing more; but a secret the server generated
    # is in the first answer only, and a retry after losing it would answer without it: retried only
    # when the caller gave the secret.
    return Call(
        "POST",
        SUBSCRIPTIONS,
        _subscription,
        params=_present(owner_agent=owner_agent),
        json=body,
        retry_safe=secret is not None,
    )


def list_webhook_subscriptions(
    *, include_inactive: bool, owner_agent: str | None
) -> Call[list[WebhookSubscription]]:
    params = _present(include_inactive="true" if include_inactive else None, owner_agent=owner_agent)
    return Call("GET", SUBSCRIPTIONS, _subscriptions, params=params, retry_safe=True)


def revoke_webhook_subscription(
    subscription_id: str, *, owner_agent: str | None
) -> Call[WebhookSubscriptionRevoked]:
    # Revoking twice answers the first revocation again: safe to retry.
    return Call(
        "DELETE",
        f"{SUBSCRIPTIONS}/{quote(subscription_id, safe='')}",
        WebhookSubscriptionRevoked.from_wire,
        params=_present(owner_agent=owner_agent),
        retry_safe=True,
    )


def publish_webhook_event(
    event_type: str, source: str, payload: Mapping[str, Any], *, owner_agent: str | None
) -> Call[WebhookEventPublished]:
    # Not retried: each publish is a new event (a new event_id), so a repeat would send it twice.
    return Call(
        "POST",
        "/v1/webhooks/events",
        WebhookEventPublished.from_wire,
        params=_present(owner_agent=owner_agent),
        json=request_body(PublishBody, event_type=event_type, source=source, payload=dict(payload)),
    )


def replay_webhook_event(event_id: str, *, owner_agent: str | None) -> Call[WebhookEventReplayed]:
    # Not retried: each replay queues the event to its subscriptions again.
    return Call(
        "POST",
        f"/v1/webhooks/events/{quote(event_id, safe='')}/replay",
        WebhookEventReplayed.from_wire,
        params=_present(owner_agent=owner_agent),
    )
