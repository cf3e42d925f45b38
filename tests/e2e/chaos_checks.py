"""The checks of the workflow chaos test (``test_workflow_chaos.py``): what the server and the agents
say about each run after the chaos (:class:`Outcome`), and every way it differs from what its
template (``chaos_runs.py``) says must happen: the terminal status and error, the steps that
completed, one side effect per completed step, one compensation per completed step of a failed run,
newest first, and journals that agree with their intents.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson

from tests._support.http_api import parse_rfc3339
from tests.e2e.chaos_agents import DO, DOER, UNDO, UNDOER
from tests.e2e.chaos_runs import JSON, SUPERVISED_UNDO_ORDER, Run


@dataclass
class Outcome:
    """What the server and the agents say about one run."""

    run: Run
    intent: JSON
    journals: dict[str, list[JSON]]  # of each run in the tree (a subflow is one), innermost first
    tree: list[JSON]
    events: list[JSON]
    effects: list[JSON]  # this run's rows of the effects table, in the order they were recorded
    attempts: list[JSON]

    @property
    def seconds(self) -> float:
        """From the submission to the end of the run."""
        return parse_rfc3339(self.intent["updated_at"]) - parse_rfc3339(self.intent["created_at"])

    @property
    def journal(self) -> list[JSON]:
        """The journal of the run itself."""
        return self.journals[self.intent["intent_id"]]

    def effect_counts(self, kind: str) -> Counter[str]:
        return Counter(e["step"] for e in self.effects if e["kind"] == kind)

    def child(self, intent_id: str | None) -> JSON | None:
        return next((i for i in self.tree if i["intent_id"] == intent_id), None)


def check_outcome(o: Outcome) -> list[str]:
    """Every way ``o`` differs from what its template says must happen."""
    t = o.run.template
    status, error = o.intent["status"], o.intent.get("error") or {}
    if status != t.status:
        return [f"ended {status} ({error}), expected {t.status}"]
    problems = check_effects(o)
    problems += check_supervised(o) if t.supervised else check_declared(o)
    return problems


def completed_steps(o: Outcome) -> set[str]:
    """The steps with a side effect that completed, as the runtime says (in every run of the tree)."""
    steps = o.run.template.agent_steps
    return {
        e["key"] for j in o.journals.values() for e in j if e["status"] == "COMPLETED" and e["key"] in steps
    }


def undo_order(o: Outcome) -> list[str]:
    """The compensations that must have run, in the order they must have run: in each failed run
    (a subflow before the run around it), its completed steps, newest first."""
    if not o.run.template.compensates:
        return []
    if o.run.template.supervised:
        return SUPERVISED_UNDO_ORDER
    failed = {i["intent_id"] for i in o.tree if i["status"] == "FAILED"}
    return [
        step
        for run_id, journal in o.journals.items()
        if run_id in failed
        for step in journal_undo_order(o, journal)
    ]


def journal_undo_order(o: Outcome, journal: list[JSON]) -> list[str]:
    """One declared run's compensations: its completed steps, by when their entries ended, newest first."""
    if not o.run.template.compensates:
        return []
    steps = o.run.template.agent_steps
    ended = [
        (parse_rfc3339(e["ended_at"]), i, e["key"])
        for i, e in enumerate(journal)
        if e["status"] == "COMPLETED" and e["key"] in steps
    ]
    return [key for _, _, key in sorted(ended, reverse=True)]


def check_effects(o: Outcome) -> list[str]:
    """Each completed step's effect exactly once, none for a step that did not complete; each due
    compensation exactly once, in order, and no other."""
    t, problems = o.run.template, []
    done = completed_steps(o)
    if not t.done <= done <= t.done | t.maybe:
        problems.append(
            f"completed steps {sorted(done)}, expected {sorted(t.done)} (+ maybe {sorted(t.maybe)})"
        )
    for step, count in o.effect_counts(DO).items():
        if count > 1:
            problems.append(f"the effect of step {step} was recorded {count} times")
        if step not in done and step not in t.maybe:
            problems.append(f"step {step} has an effect but did not complete")
    problems += [f"step {s} completed without its effect" for s in done if o.effect_counts(DO)[s] != 1]
    recorded = {e["intent_id"] for e in o.effects}
    for child in o.tree:
        agent = child["to_agent"] in (DOER, UNDOER)
        if agent and child["status"] == "COMPLETED" and child["intent_id"] not in recorded:
            problems.append(f"intent {child['intent_id']} ({child['step_key']}) completed without its effect")
    expected = undo_order(o)
    undone = [e["step"] for e in o.effects if e["kind"] == UNDO]
    if undone != expected:
        problems.append(f"compensations recorded {undone}, expected exactly {expected} in this order")
    return problems


def check_declared(o: Outcome) -> list[str]:
    """The run's error or result, and each journal against its steps' intents."""
    t, problems = o.run.template, []
    for run_id, journal in o.journals.items():
        problems += check_journal(o, journal, o.child(run_id))
    if t.status == "FAILED":
        error = o.intent["error"]
        want = {
            "code": "step_failed",
            "step_id": t.failed_step,
            "compensated": journal_undo_order(o, o.journal),
        }
        got = {k: error.get(k) for k in want}
        if got != want:
            problems.append(f"error {got}, expected {want}")
    else:
        steps = set(o.intent["result"]["steps"])
        completed = {e["key"] for e in o.journal if e["status"] == "COMPLETED" and ":" not in e["key"]}
        if steps != completed:
            problems.append(f"the result lists steps {sorted(steps)}, the journal {sorted(completed)}")
    return problems


def check_journal(o: Outcome, journal: list[JSON], run: JSON | None) -> list[str]:
    """Entries agree with their intents; the compensations are the completed steps, newest first."""
    problems = []
    for entry in journal:
        child = o.child(entry.get("child_intent_id"))
        if child is not None and (entry["status"] == "COMPLETED") != (child["status"] == "COMPLETED"):
            problems.append(
                f"journal entry {entry['key']} is {entry['status']}, its intent {child['status']}"
            )
    undone = [e["key"].removeprefix("compensate:") for e in journal if e["key"].startswith("compensate:")]
    expected = journal_undo_order(o, journal) if run is not None and run["status"] == "FAILED" else []
    if undone != expected:
        problems.append(f"run {run and run['intent_id']} compensated {undone}, expected {expected}")
    return problems


def check_supervised(o: Outcome) -> list[str]:
    t, problems = o.run.template, []
    keys = [e["key"] for e in o.journal]
    if len(keys) != len(set(keys)):
        problems.append(f"journal keys repeat: {keys}")
    children = [i for i in o.tree if i.get("parent_intent_id") == o.intent["intent_id"]]
    if sorted(c["step_key"] for c in children) != sorted(t.order["children"]):
        problems.append(f"children {[c['step_key'] for c in children]}, expected {t.order['children']}")
    if t.status == "FAILED":
        details = (o.intent["error"] or {}).get("details") or {}
        if details.get("compensated") != SUPERVISED_UNDO_ORDER:
            problems.append(f"error details {details}, expected compensated {SUPERVISED_UNDO_ORDER}")
        journaled = [k.removeprefix("compensate:") for k in keys if k.startswith("compensate:")]
        if journaled != SUPERVISED_UNDO_ORDER:
            problems.append(f"the journal compensated {journaled}, expected {SUPERVISED_UNDO_ORDER}")
    return problems


def reruns_by_chaos(outcomes: list[Outcome]) -> int:
    """How many handler starts the crashes caused: starts beyond what the runs asked for (a flaky
    step's second delivery, a supervisor's run after its children)."""
    reruns = 0
    for o in outcomes:
        order = o.run.template.order
        asked = {(DO, s) for s in order.get("flaky", ())} | {(UNDO, s) for s in order.get("flaky_undo", ())}
        starts = Counter((a["intent_id"], a["kind"], a["step"]) for a in o.attempts)
        for (_, kind, step), count in starts.items():
            planned = 2 if (kind, step) in asked or step == "$supervisor" else 1
            reruns += max(0, count - planned)
    return reruns


def describe(o: Outcome, problems: list[str]) -> str:
    """Everything about a run that went wrong, for the failure report."""

    def dump(value: Any) -> str:
        return orjson.dumps(value).decode()[:600]

    lines = [
        f"---- {o.run.name} ({o.intent['intent_id']}): {o.intent['status']}",
        *[f"  ! {p}" for p in problems],
    ]
    lines.append(f"  error {dump(o.intent.get('error'))} result {dump(o.intent.get('result'))}")
    lines += [f"  journal of {run_id}: {dump(e)}" for run_id, journal in o.journals.items() for e in journal]
    lines += [
        f"  intent {i['intent_id']} {i.get('step_key')} {i['to_agent']} {i['status']}"
        f" attempt {i['delivery_attempt']}"
        for i in o.tree
    ]
    lines += [f"  event {e['seq']} {e['event_type']} {dump(e.get('details'))[:200]}" for e in o.events]
    lines += [f"  effect {dump(e)}" for e in o.effects]
    lines += [f"  attempt {dump(a)}" for a in o.attempts]
    return "\n".join(lines)
