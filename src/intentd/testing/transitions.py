"""How a run's events become lines that read the same each time the flow runs (``golden`` builds its
records with them): each intent of the run named ``intent-N`` in an order that does not depend on
timing, each event as its type, the status after it, who made it and only the details that belong to
the flow, and what is a race between processes (whether a parent parked on a child, the order in which
parallel branches committed) left out or put in one order."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import groupby
from typing import Any

from intentd.client import Event, Intent, RunTree
from intentd.model import EventType, Status, WaitingReason

WORKER = "worker"
RUNTIME = "runtime"  # the actor of what the runtime does on its own (a child's outcome, a resume)
# Ids the server makes are UUIDs; one that is not an intent of the run is left out of the record.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
STEP_EVENT = "intent.step_"

Record = dict[str, Any]

# --- names of the run's intents ---------------------------------------------------------------------


class Refs:
    """``intent-N`` for each intent of the run, and text with every id put in its place."""

    def __init__(self, ordered: Iterable[Intent]) -> None:
        self._names = {intent.intent_id: f"intent-{n}" for n, intent in enumerate(ordered, start=1)}

    def name(self, intent: Intent) -> str:
        return self._names[intent.intent_id]

    def ref(self, intent_id: Any) -> str | None:
        """The name of ``intent_id`` if it is an intent of the run (None for any other value)."""
        if not isinstance(intent_id, str):
            return None
        return self._names.get(intent_id)

    def text(self, value: str) -> str:
        """The string with each id of the run's intents named, and any other UUID elided."""

        def named(match: re.Match[str]) -> str:
            return self._names.get(match.group(0).lower(), "<id>")

        return _UUID.sub(named, value)

    def value(self, value: Any) -> Any:
        """A JSON value with every string passed through :meth:`text`."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {str(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        return value


def in_record_order(run: RunTree) -> list[Intent]:
    """The run's intents, the one that began it first, then each intent's children depth first.

    Siblings are ordered by what they are (journal key, agent, intent type), not by when they were
    made: the branches of a fan-out are created in whatever order their transactions commit, and
    would otherwise swap names between two runs of one flow. Creation order decides only between
    siblings alike in all three (a step's attempts, which are made one after the other)."""
    created = {intent.intent_id: n for n, intent in enumerate(run.intents)}
    children: dict[str | None, list[Intent]] = defaultdict(list)
    for intent in run.intents:
        children[intent.parent_intent_id].append(intent)

    def sibling_order(intent: Intent) -> tuple[str, str, str, int]:
        return (intent.step_key or "", intent.to_agent, intent.intent_type, created[intent.intent_id])

    # The run's first intent has no parent in the run; neither would one whose parent is elsewhere.
    tops = [i for i in run.intents if i.parent_intent_id not in created]
    ordered: list[Intent] = []
    stack = list(reversed(tops))  # a loop, not recursion: a chain of handoffs may be long
    while stack:
        intent = stack.pop()
        ordered.append(intent)
        stack += sorted(children[intent.intent_id], key=sibling_order, reverse=True)
    return ordered


# --- transitions ------------------------------------------------------------------------------------


def transitions(events: Iterable[Event], refs: Refs) -> list[Record]:
    """One entry per event: its type, the status after it, who made it and its stable details."""
    lines = [_transition(event, refs) for event in events]
    return _orderless_runs_sorted(child_parking_dropped(_repeated_progress_dropped(lines)))


def _transition(event: Event, refs: Refs) -> Record:
    line: Record = {"event": event.event_type, "status": event.status.value}
    if event.status is Status.WAITING and event.waiting_reason:
        line["waiting"] = event.waiting_reason
    line["by"] = actor_of(event, refs)
    line.update(stable_details(event, refs))
    return line


def actor_of(event: Event, refs: Refs) -> str:
    # A delivery's actor is the worker's id, which names a process (host, random suffix): which
    # worker took it is not the flow's business, that one did is.
    if event.event_type == EventType.DELIVERED.value:
        return WORKER
    return refs.text(event.actor or "")


def _orderless_runs_sorted(lines: list[Record]) -> list[Record]:
    """Consecutive step events of one type, sorted by their key. Children spawned in one call, or
    branches that end at about the same time, are reported on their parent in the order their
    transactions committed: a race, not part of the flow. What comes between them still orders them."""

    def run_of(line: Record) -> tuple[str, str] | None:
        event = str(line["event"])
        return (event, str(line.get("status"))) if event.startswith(STEP_EVENT) else None

    ordered: list[Record] = []
    for kind, run in groupby(lines, key=run_of):
        group = list(run)
        ordered += group if kind is None else sorted(group, key=lambda ln: str(_step_of(ln)))
    return ordered


def child_parking_dropped(lines: list[Record]) -> list[Record]:
    """Whether a handler parked on its children is a race: a child that ends before its parent asks
    for it is answered at once, and the handler goes on in the same delivery. So the parking (the
    parent's wait for an agent, the runtime's resume and the delivery after it) is left out, and so
    is the status of step events, which is the parent's at that moment (waiting or not). What the
    children did, and when the parent took up their outcome, stays."""
    kept: list[Record] = []
    parked = resumed = False
    for line in lines:
        event = line["event"]
        if event == EventType.WAITING.value and line.get("waiting") == WaitingReason.AGENT.value:
            parked = True
            continue
        if parked and event == EventType.RESUMED.value and line.get("by") == RUNTIME:
            parked, resumed = False, True
            continue
        if resumed and event == EventType.DELIVERED.value:
            resumed = False
            continue
        if str(event).startswith(STEP_EVENT):
            line = {k: v for k, v in line.items() if k not in ("status", "waiting")}
        kept.append(line)
    return kept


def _step_of(line: Record) -> Any:
    return line.get("key", line.get("step_id", ""))


def _repeated_progress_dropped(lines: list[Record]) -> list[Record]:
    """An agent that reports progress on a timer (``still working``) reports it as often as the work
    takes: a repeat of the line just before says nothing more, so it is dropped."""
    kept: list[Record] = []
    for line in lines:
        if line["event"] == EventType.PROGRESS.value and kept and kept[-1] == line:
            continue
        kept.append(line)
    return kept


# --- details ----------------------------------------------------------------------------------------

Normalise = Callable[[Any, Refs], Any]


def error_code(error: Any, refs: Refs) -> Any:
    """An error's code: its message may carry what differs between runs (ids, times, a model's text).
    An error sent as a bare string is the agent's own words, kept (with ids named)."""
    if isinstance(error, dict):
        code = error.get("code", error.get("error"))
        return refs.value(code) if code is not None else "error"
    return refs.value(error)


def _outcome(decision: Any, _: Refs) -> Any:
    return decision.get("outcome", decision.get("decision")) if isinstance(decision, dict) else None


def _title(human_task: Any, refs: Refs) -> Any:
    return refs.value(human_task.get("title")) if isinstance(human_task, dict) else None


def _ref(intent_id: Any, refs: Refs) -> Any:
    return refs.ref(intent_id)


def _refs(intent_ids: Any, refs: Refs) -> Any:
    # Follow-ups handed on in one completion: named in record order, which does not depend on
    # the order the handler listed them in.
    named = [refs.ref(i) for i in intent_ids] if isinstance(intent_ids, list) else []
    return sorted((n for n in named if n is not None), key=lambda n: int(n.rsplit("-", 1)[1])) or None


def _as_is(value: Any, refs: Refs) -> Any:
    return refs.value(value)


# A detail kept: its key in the event, its name in the record, and how its value is made stable.
# Every other detail is left out: lease tokens and worker ids (a process's), times (``wake_at``,
# ``due_at``, ``lease_expires_at``), task ids, results and inputs (an agent's output may differ run to
# run and is the test's to assert), usage (a model's token counts vary).
_DETAILS: dict[str, tuple[str, Normalise]] = {
    "delivery_attempt": ("attempt", _as_is),
    "attempt": ("attempt", _as_is),
    "retry": ("retry", _as_is),
    "reason": ("reason", _as_is),
    "message": ("message", _as_is),
    "tool": ("tool", _as_is),
    "error": ("error", error_code),
    "decision": ("outcome", _outcome),  # a person's answer; who gave it is the event's actor
    "approval": ("outcome", _outcome),  # an inbox approval: approve or reject
    "delegated": ("outcome", _outcome),  # a task handed to other people
    "then": ("then", _refs),
    "human_task": ("title", _title),
    "assignees": ("assignees", _as_is),
    "journal_key": ("journal_key", _as_is),
    "reminder": ("reminder", _as_is),
    "level": ("level", _as_is),
    "escalated_to": ("escalated_to", _as_is),
    "from_agent": ("from_agent", _as_is),
    "to_agent": ("to_agent", _as_is),
    "to": ("to", _as_is),
    "key": ("key", _as_is),
    "step_id": ("step_id", _as_is),
    "kind": ("kind", _as_is),
    "status": ("entry_status", _as_is),  # a child's end as its journal entry took it
    "child_intent_id": ("child", _ref),
    "compensation_intent_id": ("compensation", _ref),
    "escalation_intent_id": ("escalation", _ref),
    "by": ("by", _ref),  # the human step that skipped a failed step
    "branches": ("branches", _as_is),
    "tally": ("tally", _as_is),
    "delay_seconds": ("delay_seconds", _as_is),  # the plan's backoff, not a measured time
    "controls_patch": ("controls_patch", _as_is),
    "policy_patch": ("policy_patch", _as_is),
    "policy_generation": ("policy_generation", _as_is),
}

_STEP_DETAILS = (
    "key", "step_id", "kind", "attempt", "status", "child_intent_id", "to", "branches", "tally", "error",
    "compensation_intent_id", "escalation_intent_id", "by", "delay_seconds",
)  # fmt: skip

# Which details each event keeps (see _DETAILS for why the others go). An event type this version
# does not know keeps none: its type, status and actor still show.
_KEPT: dict[str, tuple[str, ...]] = {
    EventType.DELIVERED: ("delivery_attempt",),
    # Not ``awaiting``: which children are still open when their parent parks is a race.
    EventType.WAITING: ("retry",),
    EventType.PROGRESS: ("message", "tool"),
    EventType.LEASE_EXPIRED: ("delivery_attempt",),
    EventType.RELEASED: ("reason", "retry"),
    EventType.RESUMED: ("decision", "approval", "policy_generation"),
    EventType.CONTROLS_UPDATED: ("controls_patch", "policy_generation"),
    EventType.POLICY_UPDATED: ("policy_patch", "policy_generation"),
    EventType.COMPLETED: ("then", "decision"),
    EventType.FAILED: ("error", "decision", "approval"),
    EventType.CANCELED: ("reason", "decision"),
    EventType.TIMED_OUT: ("error",),
    EventType.DELIVERY_FAILED: ("delivery_attempt", "error"),
    EventType.REROUTED: ("from_agent", "to_agent", "reason"),
    EventType.HUMAN_TASK_ASSIGNED: ("human_task", "assignees", "journal_key", "delegated"),
    EventType.REMINDER: ("reminder",),
    EventType.ESCALATED: ("level", "escalated_to"),
    **{t: _STEP_DETAILS for t in EventType if t.value.startswith(STEP_EVENT)},
}


def stable_details(event: Event, refs: Refs) -> Record:
    """The event's details that say something about the flow, each made the same from run to run."""
    kept: Record = {}
    for key in _KEPT.get(event.event_type, ()):
        if key not in event.details:
            continue
        name, normalise = _DETAILS[key]
        value = normalise(event.details[key], refs)
        if value is not None:
            kept[name] = value
    return kept
