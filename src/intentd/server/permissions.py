"""The permission matrix: which roles may call each operation of the API, in one place.

``authenticate`` (auth.py) checks it on every request, the lean routes' included, right after the key:
a role not listed gets 403 ``role_not_allowed``. An operation missing here is refused to every role
but ``admin`` (fail closed), and tests/server/test_permissions.py fails until it has an entry; it also
walks every cell against a running server. docs/security.md prints this table
(``scripts/gen_permissions.py``, checked by the same test).

The roles (engine/keys.py): ``admin`` may do everything in its namespace; ``submitter`` submits work and
follows it; ``agent`` does the work of the agents its key is bound to (the engine checks whose work it
is: engine/access.py); ``approver`` is a person deciding the human tasks assigned to them; ``auditor``
reads. ``None`` marks the routes that take no API key (health, and signed links, which carry their own
proof).
"""

from __future__ import annotations

ADMIN, SUBMITTER, AGENT, APPROVER, AUDITOR = "admin", "submitter", "agent", "approver", "auditor"
Roles = frozenset[str]


def _roles(*names: str) -> Roles:
    return frozenset((ADMIN, *names))


EVERYONE = _roles(SUBMITTER, AGENT, APPROVER, AUDITOR)
READERS = _roles(SUBMITTER, AGENT, AUDITOR)  # the intents, runs and fleet of the namespace
SUBMITTERS = _roles(SUBMITTER, AGENT)  # an agent hands work on by submitting it too
WORKERS = _roles(AGENT)  # leases: only the agent doing the work
OWNERS = _roles(SUBMITTER)  # steering someone's intent from outside: cancel, controls, policy
DECIDERS = _roles(APPROVER, SUBMITTER)  # people answering, and the submitters AXP lets approve threads
TASK_READERS = _roles(APPROVER, SUBMITTER, AUDITOR)
ADMINS = _roles()
AUDITORS = _roles(AUDITOR)

PERMISSIONS: dict[tuple[str, str], Roles | None] = {
    ("GET", "/health"): None,
    ("GET", "/v1/capabilities"): EVERYONE,
    # Prometheus: the namespace's fleet figures, by a key that can change nothing (an auditor's);
    # INTENTD_METRICS_PUBLIC serves them with no key (server/routes/metrics.py)
    ("GET", "/metrics"): AUDITORS,
    # intents
    ("POST", "/v1/intents"): SUBMITTERS,
    ("GET", "/v1/intents"): READERS,
    ("GET", "/v1/intents/{intent_id}"): READERS,
    ("GET", "/v1/intents/{intent_id}/tree"): READERS,
    ("GET", "/v1/intents/{intent_id}/events"): READERS,
    ("GET", "/v1/intents/{intent_id}/events/stream"): READERS,
    ("POST", "/v1/intents/{intent_id}/resolve"): _roles(SUBMITTER, AGENT),
    ("POST", "/v1/intents/{intent_id}/cancel"): OWNERS,
    ("POST", "/v1/intents/{intent_id}/resume"): _roles(SUBMITTER, AGENT),
    ("POST", "/v1/intents/{intent_id}/controls"): OWNERS,
    ("POST", "/v1/intents/{intent_id}/policy"): OWNERS,
    # leases: the agent holding the work
    ("POST", "/v1/intents/{intent_id}/lease/heartbeat"): WORKERS,
    ("POST", "/v1/intents/{intent_id}/complete"): WORKERS,
    ("POST", "/v1/intents/{intent_id}/fail"): WORKERS,
    ("POST", "/v1/intents/{intent_id}/release"): WORKERS,
    ("POST", "/v1/intents/{intent_id}/wait"): WORKERS,
    ("POST", "/v1/intents/{intent_id}/progress"): WORKERS,
    # code-first runs: the supervisor's handler, an agent
    ("GET", "/v1/intents/{intent_id}/journal"): READERS,
    ("POST", "/v1/intents/{intent_id}/children"): WORKERS,
    ("POST", "/v1/intents/{intent_id}/journal"): WORKERS,
    ("POST", "/v1/intents/{intent_id}/await"): WORKERS,
    # agents' delivery: the stream and claims lease work; a submitter follows its reply feed
    ("GET", "/v1/agents/{address:path}/intents/stream"): _roles(SUBMITTER, AGENT, AUDITOR),
    ("POST", "/v1/agents/{address:path}/claims"): WORKERS,
    ("PUT", "/v1/agents/{address:path}/binding"): WORKERS,
    ("GET", "/v1/agents/{address:path}/binding"): READERS,
    ("GET", "/v1/deliveries/stream"): WORKERS,
    # the AXP inbox: threads of replies, and their approvals
    ("GET", "/v1/inbox"): EVERYONE,
    ("GET", "/v1/inbox/changes"): EVERYONE,
    ("GET", "/v1/inbox/{thread_id}"): EVERYONE,
    ("POST", "/v1/inbox/{thread_id}/reply"): SUBMITTERS,
    ("POST", "/v1/inbox/{thread_id}/delegate"): SUBMITTERS,
    ("POST", "/v1/inbox/{thread_id}/approve"): DECIDERS,
    ("POST", "/v1/inbox/{thread_id}/reject"): DECIDERS,
    ("POST", "/v1/inbox/{thread_id}/messages/delete"): SUBMITTERS,
    ("POST", "/v1/approvals/{approval_id}/decision"): DECIDERS,
    # human tasks
    ("GET", "/v1/me/tasks"): _roles(APPROVER),
    ("GET", "/v1/tasks"): TASK_READERS,
    ("GET", "/v1/tasks/{task_id}"): TASK_READERS,
    ("POST", "/v1/tasks/{task_id}/decision"): DECIDERS,
    ("GET", "/v1/links/{token}"): None,
    ("POST", "/v1/links/{token}"): None,
    # the fleet
    ("POST", "/v1/mesh/heartbeat"): WORKERS,
    ("GET", "/v1/mesh/agents"): READERS,
    ("GET", "/v1/mesh/agents/{address_id:path}"): READERS,
    ("POST", "/v1/mesh/agents/{address_id:path}/kill"): ADMINS,
    ("POST", "/v1/mesh/agents/{address_id:path}/resume"): ADMINS,
    ("POST", "/v1/mesh/kill"): ADMINS,
    ("POST", "/v1/mesh/resume"): ADMINS,
    ("GET", "/v1/mesh/kills"): READERS,
    ("POST", "/v1/mesh/agents/{address_id:path}/drain"): ADMINS,
    ("GET", "/v1/mesh/policies"): READERS,
    ("POST", "/v1/mesh/dry-run"): ADMINS,
    ("PUT", "/v1/mesh/policies/{scope:path}"): ADMINS,
    ("DELETE", "/v1/mesh/policies/{scope:path}"): ADMINS,
    ("GET", "/v1/mesh/agents/{address_id:path}/policy"): READERS,
    ("GET", "/v1/mesh/routes"): READERS,
    ("GET", "/v1/mesh/routes/{address_id:path}"): READERS,
    ("PUT", "/v1/mesh/routes/{address_id:path}"): ADMINS,
    ("DELETE", "/v1/mesh/routes/{address_id:path}"): ADMINS,
    ("GET", "/v1/mesh/events"): READERS,
    # declared workflows
    ("POST", "/v1/scenarios/validate"): _roles(SUBMITTER),
    ("POST", "/v1/scenarios/apply"): _roles(SUBMITTER),
    # the caller's namespace (a tenant; whether it is a sandbox)
    ("GET", "/v1/namespaces/current"): EVERYONE,
    # the audit trail
    ("GET", "/v1/audit"): AUDITORS,
    ("GET", "/v1/audit/verify"): AUDITORS,
    ("POST", "/v1/audit/prune"): ADMINS,
    # API keys
    ("POST", "/v1/keys"): ADMINS,
    ("GET", "/v1/keys"): AUDITORS,
    ("GET", "/v1/keys/{key_id}"): AUDITORS,
    ("POST", "/v1/keys/{key_id}/revoke"): ADMINS,
    ("POST", "/v1/keys/{key_id}/rotate"): ADMINS,
    # webhooks (AXP family): admins manage subscriptions and replays, a submitter publishes events
    ("POST", "/v1/webhooks/subscriptions"): ADMINS,
    ("GET", "/v1/webhooks/subscriptions"): AUDITORS,
    ("DELETE", "/v1/webhooks/subscriptions/{subscription_id}"): ADMINS,
    ("POST", "/v1/webhooks/events"): _roles(SUBMITTER),
    ("POST", "/v1/webhooks/events/{event_id}/replay"): ADMINS,
    ("GET", "/v1/webhooks/deliveries"): AUDITORS,
    ("POST", "/v1/webhooks/deliveries/{delivery_id}/replay"): ADMINS,
}


def allowed(method: str, path: str) -> Roles:
    """The roles that may call ``method path`` (a route's path template); only admin if unlisted."""
    return PERMISSIONS.get((method, path)) or ADMINS
