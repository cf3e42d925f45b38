"""Mesh policies as pure data and pure evaluation (ARCHITECTURE.md §14: shared by enforcement and the
dry-run, so a dry-run says exactly what enforcement would do; docs/mesh.md, "Policies").

A :class:`Policy` is set on a namespace (``*``) or on an address (with ``@version``: that version; without:
every version). For one agent, the policies that apply are the namespace's, its base address's and its
version's: :func:`effective` merges them, the most specific value of each field winning, and keeps where
each came from. Spend and intents are limited per scope: a namespace policy's caps count the whole
namespace, an address policy's count that agent.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from ._address import base_address
from ._errors import ValidationFailed

NAMESPACE = "*"
HOUR = 3_600_000_000  # microseconds: usage is counted per UTC hour
DAY_HOURS = 24
Breach = Literal["block", "pause"]
LIMITS = ("max_cost_per_day_usd", "max_cost_per_tree_usd", "max_intents_per_hour", "max_concurrency")
RULES = ("receive", "send", "tools")  # lists of patterns: allow (only these) and deny (never these)
MAX_PATTERNS = 100


@dataclass(frozen=True, slots=True)
class Patterns:
    """``allow``: only what matches one of them (empty: anything); ``deny``: never what matches.
    Patterns are shell-style (``billing.*``, ``*.refund.v?``)."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    def permits(self, value: str) -> str | None:
        """None if ``value`` is permitted, else why not (the pattern, or that none allowed it)."""
        for pattern in self.deny:
            if fnmatch.fnmatchcase(value, pattern):
                return f"deny {pattern}"
        if self.allow and not any(fnmatch.fnmatchcase(value, p) for p in self.allow):
            return "not in allow"
        return None

    def to_json(self) -> dict[str, list[str]]:
        return {"allow": list(self.allow), "deny": list(self.deny)}


@dataclass(frozen=True, slots=True)
class Policy:
    """What one scope's policy sets; None: not set here (a wider policy's value applies)."""

    max_cost_per_day_usd: float | None = None
    max_cost_per_tree_usd: float | None = None
    max_intents_per_hour: int | None = None
    max_concurrency: int | None = None
    receive: Patterns | None = None
    send: Patterns | None = None
    tools: Patterns | None = None
    on_breach: Breach | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Policy:
        """A policy from its JSON (as stored, and as checked on the wire)."""
        unknown = body.keys() - {f.name for f in fields(cls)}
        if unknown:
            raise ValidationFailed(
                f"unknown policy field {sorted(unknown)[0]}", details={"field": sorted(unknown)[0]}
            )
        values: dict[str, Any] = {}
        for name in LIMITS:
            value = body.get(name)
            if value is not None:
                values[name] = _limit(name, value)
        for name in RULES:
            value = body.get(name)
            if value is not None:
                values[name] = _patterns(name, value)
        breach = body.get("on_breach")
        if breach is not None:
            if breach not in ("block", "pause"):
                raise ValidationFailed("on_breach is block or pause", details={"field": "on_breach"})
            values["on_breach"] = breach
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The fields set, as JSON."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value.to_json() if isinstance(value, Patterns) else value
        return out


@dataclass(frozen=True, slots=True)
class Rule:
    """One field of the effective policy: its value and the policy it comes from (its scope and
    generation), which is also what its limit counts (``*``: the namespace's total)."""

    name: str
    value: Any
    scope: str
    generation: int


@dataclass(frozen=True, slots=True)
class Effective:
    """The policy that applies to one agent, field by field, each with where it comes from."""

    agent: str
    rules: dict[str, Rule] = field(default_factory=dict)

    def get(self, name: str) -> Rule | None:
        return self.rules.get(name)

    @property
    def on_breach(self) -> Breach:
        rule = self.rules.get("on_breach")
        return rule.value if rule is not None else "block"

    def limits(self) -> list[Rule]:
        """The limits that apply; a limit set on the namespace and on the agent both apply, each
        counting its own scope."""
        return [r for name, r in self.rules.items() if name in LIMITS or name.startswith("namespace:")]

    def permits(self, rule_name: str, value: str) -> tuple[Rule, str] | None:
        """None if the ``receive``/``send``/``tools`` rule permits ``value``, else the rule and why."""
        rule = self.rules.get(rule_name)
        if rule is None:
            return None
        why = rule.value.permits(value)
        return (rule, why) if why is not None else None


def scopes_of(address: str) -> tuple[str, ...]:
    """The scopes whose policies apply to ``address``, widest first."""
    base = base_address(address)
    return (NAMESPACE, base, address) if base != address else (NAMESPACE, address)


def effective(address: str, policies: dict[str, tuple[Policy, int]]) -> Effective:
    """Merge the policies of ``address``'s scopes (scope -> (policy, generation)): the most specific
    value of each field wins. A limit set on the namespace counts the namespace, so it is kept beside
    the agent's own as ``namespace:<name>`` when both are set."""
    rules: dict[str, Rule] = {}
    for scope in scopes_of(address):
        if scope not in policies:
            continue
        policy, generation = policies[scope]
        for f in fields(policy):
            value = getattr(policy, f.name)
            if value is None:
                continue
            if f.name in LIMITS and scope == NAMESPACE:
                rules[f"namespace:{f.name}"] = Rule(f.name, value, scope, generation)
                continue
            rules[f.name] = Rule(f.name, value, scope, generation)
    return Effective(address, rules)


def applying(address: str, policies: dict[str, tuple[Policy, int]]) -> Effective | None:
    """The policy that applies to ``address`` among ``policies`` (scope -> (policy, generation)),
    or None when none of its scopes has one."""
    merged = {scope: policies[scope] for scope in scopes_of(address) if scope in policies}
    return effective(address, merged) if merged else None


def _limit(name: str, value: Any) -> float | int:
    integer = name in ("max_intents_per_hour", "max_concurrency")
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type or not 0 <= value <= 1e12 or value != value:
        kind = "an integer" if integer else "a number"
        raise ValidationFailed(f"{name} is {kind} from 0", details={"field": name})
    return int(value) if integer else float(value)


def _patterns(name: str, value: Any) -> Patterns:
    if not isinstance(value, dict) or value.keys() - {"allow", "deny"}:
        raise ValidationFailed(f"{name} is {{allow: [...], deny: [...]}}", details={"field": name})
    lists = {}
    for key in ("allow", "deny"):
        items = value.get(key) or []
        if (
            not isinstance(items, list)
            or len(items) > MAX_PATTERNS
            or not all(isinstance(p, str) and 0 < len(p) <= 255 and "\x00" not in p for p in items)
        ):
            raise ValidationFailed(
                f"{name}.{key} is a list of up to {MAX_PATTERNS} patterns", details={"field": f"{name}.{key}"}
            )
        lists[key] = tuple(items)
    return Patterns(lists["allow"], lists["deny"])


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a policy says about admitting one intent: ``allow``, ``deny`` (a type rule: 403),
    ``block`` (a limit, on_breach block: 429) or ``pause`` (a limit, on_breach pause: a person
    decides). ``rule`` and ``used`` say which rule and how much of its limit was used."""

    outcome: Literal["allow", "deny", "block", "pause"]
    rule: Rule | None = None
    why: str | None = None
    used: float | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == "allow"


ALLOW = Verdict("allow")
ADMISSION_LIMITS = ("max_cost_per_day_usd", "max_cost_per_tree_usd", "max_intents_per_hour")


def admit(
    receiver: Effective | None,
    sender: Effective | None,
    intent_type: str,
    used: Callable[[Rule], float],
) -> Verdict:
    """Whether a new intent of ``intent_type`` may go to ``receiver``'s agent from ``sender``'s:
    the type rules first (``deny``), then each admission limit against what ``used`` says its scope
    has used (``block`` or ``pause``, as the receiver's policy says). The one evaluation behind
    enforcement (``used`` reads the rollups) and the dry-run (``used`` reads its simulation)."""
    if receiver is not None:
        denied = receiver.permits("receive", intent_type)
        if denied is not None:
            return Verdict("deny", denied[0], f"{receiver.agent} may not receive {intent_type} ({denied[1]})")
    if sender is not None:
        denied = sender.permits("send", intent_type)
        if denied is not None:
            return Verdict("deny", denied[0], f"{sender.agent} may not send {intent_type} ({denied[1]})")
    if receiver is None:
        return ALLOW
    for rule in receiver.limits():
        if rule.name not in ADMISSION_LIMITS:
            continue
        spent = used(rule)
        if spent >= rule.value:
            why = f"{rule.name} {rule.value} reached ({spent:g} used) on {rule.scope}"
            return Verdict(receiver.on_breach, rule, why, spent)
    return ALLOW


def hour_of(at: int) -> int:
    """The UTC hour (since 1970) of a time in microseconds: the bucket usage is counted in."""
    return at // HOUR


def today(at: int) -> tuple[int, int]:
    """The first and last hour buckets of ``at``'s UTC day."""
    first = hour_of(at) - hour_of(at) % DAY_HOURS
    return first, first + DAY_HOURS - 1


def rule_subject(rule: Rule) -> tuple[str, str]:
    """The counter a limit reads: the namespace's (``*``), or its scope's address's."""
    return ("namespace", "") if rule.scope == NAMESPACE else ("agent", rule.scope)
