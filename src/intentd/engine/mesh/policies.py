"""Mesh policies (docs/mesh.md, "Policies"): spend caps, rate and concurrency limits, and which intent
types an agent may receive and send and which tools it may call, per namespace or per agent.

Where they are enforced (every check runs in the transaction of what it checks):

- **Admission** (:class:`PolicyAdmission`, an effect on every new intent, whichever path made it): the
  type rules refuse with 403 ``policy_denied``; a limit reached (spend per day, per run, intents per
  hour) refuses with 429 ``policy_limit_reached`` (``on_breach: block``) or parks the intent on an
  ``override`` human task (``on_breach: pause``): approved, it goes on; rejected, it is canceled.
- **Lease** (:class:`PolicyGate`, asked by the claim, the held stream, the direct handoff and the HTTP
  push before they lease): the concurrency limit (counted under a row lock of the policy, so two
  replicas cannot both take the last place), and with ``block`` the spend caps, so queued work waits
  while a cap is reached.
- **Usage** (:class:`UsageRollup`): every usage a worker reports (``cost_usd``, ``tokens_in``,
  ``tokens_out``) is added, in the same transaction, to its agent's, its namespace's and its intent
  tree's counters (``usage_rollups``, per UTC hour), which the limits read.

Policies are held in memory by each process (:class:`Policies`): a namespace without any costs the hot
path one dictionary lookup. The rules themselves are pure (``model/_policy.py``) and shared with the
dry-run (``dryrun.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from intentd.model import (
    JSON,
    Intent,
    Micros,
    PolicyDenied,
    PolicyLimitReached,
    StaleMeshPolicy,
    base_address,
)
from intentd.model import policy as rules
from intentd.store import PolicyRecord, Store, Tx, Usage, UsageKey, agent_key

from .. import audit
from .._change import Change
from ..dispatch import Dispatcher
from ..humans.answers import ask
from ..inputs import Principal
from .dryrun import Report, Trial, dry_run
from .mirror import Mirror

Clock = Callable[[], Micros]
DRY_RUN_LIMIT = 10_000  # intents a dry-run replays at most
POLICIES_KEY = "mesh:policies"  # published in this process after the policies changed
_PARSED_KEPT = 10_000


async def _all_policies(tx: Tx) -> list[PolicyRecord]:
    return await tx.all_policies()


class Policies(Mirror[PolicyRecord]):
    def __init__(self, store: Store) -> None:
        super().__init__(store, _all_policies, lambda p: (p.namespace, p.scope), POLICIES_KEY)
        # Each stored policy parsed once (by namespace, scope and generation), not on every lease.
        self._parsed: dict[tuple[str, str, int], rules.Policy] = {}

    def effective(self, namespace: str, address: str) -> rules.Effective | None:
        """The policy that applies to ``address``, or None when its namespace has none."""
        if not self.rows(namespace):  # the usual case, on every handoff
            return None
        return rules.applying(address, self.parsed(namespace))

    def parsed(self, namespace: str) -> dict[str, tuple[rules.Policy, int]]:
        """The namespace's policies by scope, parsed, with their generations."""
        return {p.scope: (self._policy(p), p.generation) for p in (self.rows(namespace) or {}).values()}

    def _policy(self, record: PolicyRecord) -> rules.Policy:
        key = (record.namespace, record.scope, record.generation)
        policy = self._parsed.get(key)
        if policy is None:
            if len(self._parsed) > _PARSED_KEPT:  # generations move on: forget the old ones
                self._parsed.clear()
            policy = self._parsed[key] = rules.Policy.from_json(record.body)
        return policy


async def leased(tx: Tx, namespace: str, rule: rules.Rule) -> int:
    """The leases open under a concurrency limit's scope: the namespace's, an address's and, for an
    address without a version, its versions'."""
    if rule.scope == rules.NAMESPACE:
        return await tx.leased_count(namespace, None, versions=False)
    return await tx.leased_count(namespace, rule.scope, versions=base_address(rule.scope) == rule.scope)


async def used(tx: Tx, namespace: str, rule: rules.Rule, now: Micros, tree: str | None = None) -> float:
    """What the scope of ``rule`` has used of its limit so far (``tree``: the intent tree's root, for
    a limit per run)."""
    if rule.name == "max_cost_per_tree_usd":
        return (await tx.usage(namespace, "tree", tree, 0, 0)).cost_usd if tree else 0.0
    scope, subject = rules.rule_subject(rule)
    if rule.name == "max_intents_per_hour":
        hour = rules.hour_of(now)
        return float((await tx.usage(namespace, scope, subject, hour, hour)).intents)
    first, last = rules.today(now)
    return (await tx.usage(namespace, scope, subject, first, last)).cost_usd


class PolicyAdmission:
    """The effect that admits (or not) every new intent; runs after routing, before queueing."""

    def __init__(self, policies: Policies) -> None:
        self._policies = policies

    async def apply(self, tx: Tx, change: Change) -> None:
        if not change.is_new:
            return
        intent = change.intent
        ns = intent.namespace
        receiver = self._policies.effective(ns, intent.to_agent)
        sender = self._policies.effective(ns, intent.from_agent) if intent.from_agent else None
        if receiver is None and sender is None:
            return
        now = change.events[-1].at
        spent: dict[rules.Rule, float] = {}
        for rule in receiver.limits() if receiver else []:
            if rule.name in rules.ADMISSION_LIMITS:
                spent[rule] = await used(tx, ns, rule, now, _root(intent))
        verdict = rules.admit(receiver, sender, intent.intent_type, lambda r: spent.get(r, 0.0))
        if verdict.outcome == "deny":
            raise PolicyDenied(verdict.why or "denied by policy", details=_details(verdict, "intent_type"))
        if verdict.outcome == "block":
            raise PolicyLimitReached(
                verdict.why or "policy limit reached", details=_details(verdict, "to_agent")
            )
        if verdict.outcome == "pause" and change.intent.waiting_reason is None:
            ask(change, _override_task(intent, verdict), "intentd", now)
        _count_admission(tx, intent, receiver, now)


def _count_admission(tx: Tx, intent: Intent, receiver: rules.Effective | None, now: Micros) -> None:
    """An admission counts against the intents-per-hour limits that apply (only where one does; a
    synthetic intent does not count)."""
    for rule in receiver.limits() if receiver and not intent.synthetic else []:
        if rule.name == "max_intents_per_hour":
            scope, subject = rules.rule_subject(rule)
            tx.queue_usage(UsageKey(intent.namespace, scope, subject, rules.hour_of(now)), Usage(intents=1))


def _override_task(intent: Intent, verdict: rules.Verdict) -> JSON:
    return {
        "task_type": "override",
        "title": f"Allow {intent.intent_type} to {intent.to_agent} over its policy?",
        "description": verdict.why,
    }


def _details(verdict: rules.Verdict, field: str) -> JSON:
    rule = verdict.rule
    details: JSON = {"field": field}
    if rule is not None:
        details |= {"policy": rule.scope, "rule": rule.name, "generation": rule.generation}
        if rule.name in rules.LIMITS:
            details |= {"limit": rule.value, "used": verdict.used}
    return details


class UsageRollup:
    """The effect that adds every reported usage to its agent's, namespace's and tree's counters."""

    async def apply(self, tx: Tx, change: Change) -> None:
        if change.intent.synthetic:
            return  # test traffic counts for nothing
        for event in change.events:
            reported = event.details.get("usage")
            if isinstance(reported, dict) and reported:
                add_usage(tx, change.intent, usage_of(reported), event.at)


def add_usage(tx: Tx, intent: Intent, usage: Usage, at: Micros) -> None:
    """An intent's reported usage: its agent's, its namespace's and its tree's."""
    add_agent_usage(tx, intent.namespace, intent.to_agent, usage, at)
    tx.queue_usage(UsageKey(intent.namespace, "tree", _root(intent), 0), usage)


def add_agent_usage(tx: Tx, namespace: str, agent: str, usage: Usage, at: Micros) -> None:
    """Usage of ``agent`` at ``at``: its counter (and its base address's, for a version) and its
    namespace's, in the UTC hour of ``at``."""
    hour = rules.hour_of(at)
    tx.queue_usage(UsageKey(namespace, "agent", agent, hour), usage)
    if base_address(agent) != agent:  # a version counts for its base address too
        tx.queue_usage(UsageKey(namespace, "agent", base_address(agent), hour), usage)
    tx.queue_usage(UsageKey(namespace, "namespace", "", hour), usage)


def usage_of(reported: JSON) -> Usage:
    """A usage report's figures (``cost_usd``, ``tokens_in``, ``tokens_out``); what is not a number
    counts as none."""

    def figure(name: str) -> float:
        value = reported.get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0

    return Usage(figure("cost_usd"), figure("tokens_in"), figure("tokens_out"))


class PolicyGate:
    """Asked before a lease: whether a policy holds the intent back (it stays queued)."""

    def __init__(self, policies: Policies) -> None:
        self._policies = policies

    async def holds(self, tx: Tx, intent: Intent, now: Micros) -> bool:
        effective = self._policies.effective(intent.namespace, intent.to_agent)
        if effective is None:
            return False
        for rule in effective.limits():
            if rule.name == "max_concurrency":
                full = await self._full(tx, intent, rule)
            elif effective.on_breach == "block" and rule.name != "max_intents_per_hour":
                full = await used(tx, intent.namespace, rule, now, _root(intent)) >= rule.value
            else:
                full = False
            if full:
                return True
        return False

    def check_tool(self, namespace: str, agent: str, tool: str) -> None:
        """Refuse (403 ``policy_denied``) a tool the agent's policy does not allow."""
        effective = self._policies.effective(namespace, agent)
        denied = effective.permits("tools", tool) if effective is not None else None
        if denied is not None:
            rule, why = denied
            raise PolicyDenied(
                f"{agent} may not call the tool {tool} ({why})",
                details={
                    "field": "tool",
                    "policy": rule.scope,
                    "rule": "tools",
                    "generation": rule.generation,
                },
            )

    @staticmethod
    async def _full(tx: Tx, intent: Intent, rule: rules.Rule) -> bool:
        await tx.lock_policy(intent.namespace, rule.scope)  # leases under this limit, one at a time
        return bool(await leased(tx, intent.namespace, rule) >= rule.value)


class ReleaseHeldWork:
    """The effect that tells the takers of an agent under a concurrency limit when one of its leases
    ends: work the limit held back may be leased now (here, and on other replicas by NOTIFY)."""

    def __init__(self, policies: Policies, dispatcher: Dispatcher) -> None:
        self._policies = policies
        self._dispatcher = dispatcher

    async def apply(self, tx: Tx, change: Change) -> None:
        intent = change.intent
        if change.before.lease is None or intent.lease is not None:
            return
        effective = self._policies.effective(intent.namespace, intent.to_agent)
        if effective is None or not any(r.name == "max_concurrency" for r in effective.limits()):
            return
        tx.changes.add(agent_key(intent.namespace, intent.to_agent))
        tx.after_commit.append(partial(self._dispatcher.left_queued, intent.namespace, intent.to_agent))


@dataclass(frozen=True, slots=True)
class Explained:
    """The effective policy of an agent, rule by rule, with what each limit's scope has used."""

    agent: str
    effective: rules.Effective
    used: dict[str, float]


class PolicyService:
    def __init__(self, store: Store, clock: Clock, policies: Policies) -> None:
        self._store = store
        self._clock = clock
        self._policies = policies

    async def set(
        self, principal: Principal, scope: str, body: JSON, expected_generation: int | None = None
    ) -> PolicyRecord:
        """Set the policy of ``scope`` (``*`` or an address), replacing the one there. With
        ``expected_generation`` only if it is still that generation (409 ``stale_mesh_policy``)."""
        rules.Policy.from_json(body)  # checked: the field that is wrong is named
        ns, now = principal.namespace, self._clock()

        async def unit(tx: Tx) -> PolicyRecord:
            current = await tx.get_policy(ns, scope)
            generation = current.generation if current else 0  # 0: none yet
            if expected_generation is not None and generation != expected_generation:
                raise StaleMeshPolicy(
                    f"the policy of {scope} is at generation {generation}",
                    details={"field": "expected_generation", "generation": generation},
                )
            policy = PolicyRecord(ns, scope, generation + 1, body, principal.name, now)
            if not await tx.save_policy(policy, generation if current else None):
                raise StaleMeshPolicy(f"the policy of {scope} changed meanwhile", details={"field": "scope"})
            details = {"scope": scope, "generation": policy.generation, "policy": body}
            audit.record(tx, ns, now, "agent.policy_set", agent=_agent(scope), details=details)
            tx.after_commit.append(lambda: self._policies.put(policy))
            return policy

        return await self._store.write(unit)

    async def remove(self, principal: Principal, scope: str) -> bool:
        ns, now = principal.namespace, self._clock()

        async def unit(tx: Tx) -> bool:
            removed = await tx.delete_policy(ns, scope)
            if removed:
                audit.record(
                    tx, ns, now, "agent.policy_removed", agent=_agent(scope), details={"scope": scope}
                )
            tx.after_commit.append(lambda: self._policies.drop(ns, scope))
            return removed

        return await self._store.write(unit)

    def of(self, principal: Principal) -> list[PolicyRecord]:
        """The policies of the caller's namespace."""
        return self._policies.of(principal.namespace)

    async def dry_run(
        self,
        principal: Principal,
        scope: str,
        body: JSON,
        *,
        since: Micros | None = None,
        until: Micros | None = None,
        synthetic: list[Trial] | None = None,
        limit: int = DRY_RUN_LIMIT,
    ) -> Report:
        """What ``body`` as the policy of ``scope`` would have done to the intents created in
        [``since``, ``until``) (default: the last 24 hours), or to ``synthetic`` intents; enforces
        nothing. At most ``limit`` recorded intents are replayed (the report says how many were)."""
        proposed = rules.Policy.from_json(body)
        ns = principal.namespace
        policies = self._policies.parsed(ns)
        current = policies.get(scope)
        policies[scope] = (proposed, (current[1] if current else 0) + 1)
        if synthetic is None:
            until = until if until is not None else self._clock() + 1  # up to now, inclusive
            since = since if since is not None else until - rules.DAY_HOURS * rules.HOUR
            recorded = await self._store.read(lambda tx: tx.intents_created_between(ns, since, until, limit))
            synthetic = [_trial(i) for i in recorded]
        return dry_run(synthetic, policies)

    async def explain(self, principal: Principal, address: str) -> Explained:
        """The policy that applies to ``address``, where each rule comes from, and what each limit's
        scope has used now (this day, this hour; a concurrency limit: leases open)."""
        ns, now = principal.namespace, self._clock()
        effective = self._policies.effective(ns, address) or rules.Effective(address)

        async def read(tx: Tx) -> dict[str, float]:
            usage: dict[str, float] = {}
            for key, rule in effective.rules.items():
                if rule.name == "max_cost_per_tree_usd" or rule.name not in rules.LIMITS:
                    continue
                if rule.name == "max_concurrency":
                    usage[key] = float(await leased(tx, ns, rule))
                else:
                    usage[key] = await used(tx, ns, rule, now)
            return usage

        return Explained(address, effective, await self._store.read(read))


def _trial(intent: Intent) -> Trial:
    cost = intent.usage.get("cost_usd")
    return Trial(
        intent.to_agent,
        intent.intent_type,
        intent.created_at,
        float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else 0.0,
        intent.from_agent,
        _root(intent),
        intent.intent_id,
    )


def _agent(scope: str) -> str | None:
    return None if scope == rules.NAMESPACE else scope


def _root(intent: Intent) -> str:
    return intent.root_intent_id or intent.intent_id
