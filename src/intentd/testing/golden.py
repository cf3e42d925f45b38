"""Golden transition records: what happened in a finished run, written so that the same flow run twice
gives the same record, and compared with a file kept in the repository.

A run's record says, for each of its intents, who it was for, where it ended and every transition on
the way (who made it, the status after it, and the details that belong to the flow: a delivery attempt,
an error code, a person's outcome, a journal key), its human tasks and its journal. It leaves out what
differs from one run of the same flow to the next: ids, lease tokens, worker ids, times, results.
Intents are named ``intent-1``, ``intent-2``, … in an order that does not depend on timing, and an id
of an intent of the run is written as its name wherever it appears.

    record = record_of(client, run.root_intent_id)
    compare(record, Path("golden/refund_approved.yaml"), update=False)

The record is read through the SDK (HTTP only), so a run recorded in production makes a golden file
too: ``intentd intents transitions INTENT_ID --output golden/incident.yaml``. This module must not
import pytest: the CLI imports it.
"""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path

import yaml

from intentd.client import Client, Event, HumanTask, Intent, JournalEntry
from intentd.model import EventType

from .transitions import STEP_EVENT, Record, Refs, error_code, in_record_order, transitions

RECORD_HINT = "if the change is intended, re-record with `pytest --intentd-record`"
EVENTS_PAGE = 1000
TASKS_LIMIT = 200  # the API's largest page; an intent asks a person far fewer times than that
TREE_LIMIT = 10_000  # the API's largest run: a golden record of part of a run would mislead


# --- the record -------------------------------------------------------------------------------------


def record_of(client: Client, intent_id: str) -> Record:
    """The normalised transition record of the run ``intent_id`` belongs to (any intent of it). Take
    it once the run has finished (``Client.wait_for_run``): an open run's record is a snapshot."""
    run = client.tree(intent_id, limit=TREE_LIMIT)
    if run.truncated:
        raise ValueError(f"the run of {intent_id} has more than {TREE_LIMIT} intents: too many to record")
    ordered = in_record_order(run)
    refs = Refs(ordered)
    return {"intents": {refs.name(i): _intent_record(client, i, refs) for i in ordered}}


def _intent_record(client: Client, intent: Intent, refs: Refs) -> Record:
    events = _all_events(client, intent.intent_id)
    record: Record = {
        "agent": intent.to_agent,
        "from_agent": refs.text(intent.from_agent),
        "intent_type": intent.intent_type,
        "parent": refs.ref(intent.parent_intent_id),
    }
    if intent.step_key is not None:
        record["step_key"] = intent.step_key
    record["status"] = intent.status.value
    record["transitions"] = transitions(events, refs)
    types = {event.event_type for event in events}
    if EventType.HUMAN_TASK_ASSIGNED.value in types:
        tasks = client.tasks(state="any", intent_id=intent.intent_id, limit=TASKS_LIMIT)
        record["human_tasks"] = [_task_record(task, refs) for task in tasks]
    # Journal entries are written with a step event, or as the answer to an agent's question.
    if EventType.HUMAN_TASK_ASSIGNED.value in types or any(t.startswith(STEP_EVENT) for t in types):
        entries = client.journal(intent.intent_id)
        # By key, as siblings are named: entries made by parallel branches are made in a racy order.
        if entries:
            record["journal"] = [_entry_record(e, refs) for e in sorted(entries, key=lambda e: e.key)]
    return record


def _all_events(client: Client, intent_id: str) -> list[Event]:
    events: list[Event] = []
    while True:
        page = client.events(intent_id, since=events[-1].seq if events else 0, limit=EVENTS_PAGE)
        events += page
        if len(page) < EVENTS_PAGE:
            return events


def _task_record(task: HumanTask, refs: Refs) -> Record:
    """What a person was asked and what came of it; not the task id, times or the comment's text."""
    record: Record = {
        "title": refs.value(task.human_task.get("title")),
        "task_type": task.human_task.get("task_type"),
        "assignees": [refs.text(a) for a in task.assignees],
        "state": task.state,
        "escalation_level": task.escalation_level,
        "reminders_sent": task.reminders_sent,
    }
    if task.step_key is not None:
        record["journal_key"] = task.step_key
    if task.decision is not None:
        record["outcome"] = task.decision.outcome
        record["decided_by"] = refs.text(task.decision.decided_by)
    return record


def _entry_record(entry: JournalEntry, refs: Refs) -> Record:
    """A journal entry's key and where it stands; not its value, which may hold anything (a time),
    nor the delivery attempt that wrote it, which depends on whether the handler parked on a child
    before (a race: see ``child_parking_dropped``)."""
    record: Record = {"key": entry.key, "kind": entry.kind, "status": entry.status}
    child = refs.ref(entry.child_intent_id)
    if child is not None:
        record["child"] = child
    if entry.error is not None:
        record["error"] = error_code(entry.error, refs)
    return record


# --- golden files -----------------------------------------------------------------------------------


def to_yaml(record: Record) -> str:
    """The record as YAML, keys in the record's own order. Wide lines: a long title or reason stays on
    one line, so a diff shows it as one change."""
    return yaml.safe_dump(
        record, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1_000_000
    )


def load(path: Path) -> Record:
    """A golden file's record."""
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} holds no transition record (a YAML mapping with intents)")
    return loaded


def compare(record: Record, path: Path, *, update: bool) -> None:
    """``AssertionError`` with a diff unless ``record`` is the one in the golden file at ``path``;
    with ``update`` the file is written instead (left alone when it already says the same, so its
    comments stay). The file is compared as data: comments and layout there are not differences."""
    actual = to_yaml(record)
    if update:
        if not _says(path, actual):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(actual, encoding="utf-8")
        return
    if not path.exists():
        raise AssertionError(
            f"no golden transitions at {path}: run `pytest --intentd-record` to record this run there"
        )
    expected = load(path)
    if expected == yaml.safe_load(actual):
        return
    diff = difflib.unified_diff(
        to_yaml(expected).splitlines(keepends=True),
        actual.splitlines(keepends=True),
        fromfile=f"{path} (golden)",
        tofile="this run",
    )
    raise AssertionError(f"the run's transitions differ from {path}\n({RECORD_HINT})\n{''.join(diff)}")


def _says(path: Path, text: str) -> bool:
    """The golden file at ``path`` holds the record ``text`` is (a broken or missing one does not)."""
    try:
        return path.exists() and load(path) == yaml.safe_load(text)
    except (ValueError, yaml.YAMLError):  # YAMLError is no ValueError
        return False


def synthetic_intents(record: Record) -> list[Record]:
    """The record's intents as a dry-run replays them (``Client.dry_run(intents=...)``): each under
    one tree per record, named by its content, as a golden file has no ids."""
    tree = "golden-" + hashlib.sha256(to_yaml(record).encode()).hexdigest()[:16]
    replayed: list[Record] = []
    for intent in record.get("intents", {}).values():
        synthetic: Record = {"to_agent": intent["agent"], "intent_type": intent["intent_type"], "tree": tree}
        if str(intent.get("from_agent", "")).startswith("agent://"):  # not a key's or a person's name
            synthetic["from_agent"] = intent["from_agent"]
        replayed.append(synthetic)
    return replayed
