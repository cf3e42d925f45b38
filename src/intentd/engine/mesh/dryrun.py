"""Policy dry-run (docs/mesh.md, "Dry-run"): what a proposed policy would have done to the intents of a
time window, or to a list of synthetic intents, without enforcing anything.

The intents are replayed in creation order through the same evaluation enforcement uses
(``model/_policy.py``'s ``admit``), with the namespace's policies as they are except the proposed one.
What the limits count is simulated from the replay itself: an admitted intent adds its reported
``cost_usd`` to its agent's, namespace's and tree's spend at its creation time and counts against
the intents-per-hour limits; a refused one adds nothing, which is what it would have saved. A
concurrency limit depends on timing the record does not keep, so it is not simulated (the report
says so).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import partial

from intentd.model import JSON, Micros, base_address, to_rfc3339
from intentd.model import policy as rules

SAMPLE = 100  # decisions listed in a report


@dataclass(frozen=True, slots=True)
class Trial:
    """One intent to replay: recorded, or synthetic (from a file)."""

    to_agent: str
    intent_type: str
    at: Micros
    cost_usd: float = 0.0
    from_agent: str | None = None
    tree: str | None = None  # the intent tree's root
    intent_id: str | None = None


@dataclass
class Report:
    evaluated: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    by_rule: Counter[str] = field(default_factory=Counter)
    saved_usd: float = 0.0  # the cost of what it would have refused
    paused_usd: float = 0.0  # the cost of what it would have parked for a person
    decisions: list[JSON] = field(default_factory=list)

    def to_json(self) -> JSON:
        return {
            "evaluated": self.evaluated,
            "allowed": self.outcomes["allow"],
            "denied": self.outcomes["deny"],
            "blocked": self.outcomes["block"],
            "paused": self.outcomes["pause"],
            "saved_usd": round(self.saved_usd, 6),
            "paused_usd": round(self.paused_usd, 6),
            "by_rule": dict(self.by_rule),
            "decisions": self.decisions,
            "not_simulated": ["max_concurrency"],
        }


class Simulation:
    """Spend and counts as the replay makes them, read by the limits as enforcement reads the rollups."""

    def __init__(self) -> None:
        self._cost: defaultdict[tuple[str, str, int], float] = defaultdict(float)  # (scope, subject, hour)
        self._intents: Counter[tuple[str, str, int]] = Counter()
        self._trees: defaultdict[str, float] = defaultdict(float)

    def used(self, rule: rules.Rule, *, trial: Trial) -> float:
        if rule.name == "max_cost_per_tree_usd":
            return self._trees[trial.tree] if trial.tree else 0.0
        scope, subject = rules.rule_subject(rule)
        hour = rules.hour_of(trial.at)
        if rule.name == "max_intents_per_hour":
            return float(self._intents[(scope, subject, hour)])
        first, _ = rules.today(trial.at)
        return sum(self._cost[(scope, subject, h)] for h in range(first, hour + 1))

    def admitted(self, trial: Trial, receiver: rules.Effective | None) -> None:
        hour = rules.hour_of(trial.at)
        for subject in {trial.to_agent, base_address(trial.to_agent)}:
            self._cost[("agent", subject, hour)] += trial.cost_usd
        self._cost[("namespace", "", hour)] += trial.cost_usd
        if trial.tree:
            self._trees[trial.tree] += trial.cost_usd
        for rule in receiver.limits() if receiver else []:
            if rule.name == "max_intents_per_hour":
                scope, subject = rules.rule_subject(rule)
                self._intents[(scope, subject, hour)] += 1


def dry_run(trials: list[Trial], policies: dict[str, tuple[rules.Policy, int]]) -> Report:
    """Replay ``trials`` (in creation order) against ``policies`` (scope -> (policy, generation))."""
    report, simulation = Report(), Simulation()
    for trial in trials:
        receiver = rules.applying(trial.to_agent, policies)
        sender = rules.applying(trial.from_agent, policies) if trial.from_agent else None
        verdict = rules.admit(receiver, sender, trial.intent_type, partial(simulation.used, trial=trial))
        report.evaluated += 1
        report.outcomes[verdict.outcome] += 1
        if verdict.outcome in ("allow", "pause"):
            simulation.admitted(trial, receiver)
        if verdict.outcome in ("deny", "block"):
            report.saved_usd += trial.cost_usd
        if verdict.outcome == "pause":
            report.paused_usd += trial.cost_usd
        if not verdict.allowed:
            assert verdict.rule is not None
            report.by_rule[verdict.rule.name] += 1
            if len(report.decisions) < SAMPLE:
                report.decisions.append(_decision(trial, verdict))
    return report


def _decision(trial: Trial, verdict: rules.Verdict) -> JSON:
    assert verdict.rule is not None
    return {
        "intent_id": trial.intent_id,
        "to_agent": trial.to_agent,
        "intent_type": trial.intent_type,
        "at": to_rfc3339(trial.at),
        "outcome": verdict.outcome,
        "rule": verdict.rule.name,
        "policy": verdict.rule.scope,
        "why": verdict.why,
        "cost_usd": trial.cost_usd,
    }
