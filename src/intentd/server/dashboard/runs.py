"""What one intent's page shows, read from the engine and shaped for the templates: its run's tree, the
attempts its events record, the cost of the run, and a stamp that changes whenever any intent of the
run does (the live stream sends a change only when its stamp moved)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from intentd.engine import Engine
from intentd.engine.humans import TaskView
from intentd.engine.mesh import Usage, usage_of
from intentd.model import Event, EventType, Intent, JournalEntry

from .access import READ_JOURNAL, READ_TASKS, Viewer

TREE_LIMIT = 200  # intents of a run shown (and followed live) at most
EVENT_LIMIT = 1000
SECRET_DETAILS = frozenset({"lease_token", "token", "secret", "api_key"})  # never shown
_ATTEMPT_ENDS = frozenset(
    {
        EventType.COMPLETED, EventType.FAILED, EventType.CANCELED, EventType.TIMED_OUT,
        EventType.LEASE_EXPIRED, EventType.RELEASED, EventType.WAITING, EventType.DELIVERY_FAILED,
        EventType.REROUTED,
    }
)  # fmt: skip


@dataclass(slots=True)
class Node:
    intent: Intent
    children: list[Node] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    worker: str
    started: Event
    ended: Event | None  # None: still leased


@dataclass(frozen=True, slots=True)
class RunView:
    intent: Intent
    tree: Node
    truncated: bool
    events: list[Event]
    attempts: list[Attempt]
    journal: list[JournalEntry]
    tasks: list[TaskView]
    cost: Usage  # this intent's
    run_cost: Usage  # the whole run's
    stamp: str


async def run_view(engine: Engine, viewer: Viewer, intent_id: str) -> RunView:
    principal = viewer.principal
    intent = await engine.intents.get(principal, intent_id)
    tree = await engine.intents.tree(principal, intent_id, TREE_LIMIT)
    events = await engine.intents.events(principal, intent_id, 0, EVENT_LIMIT)
    journal = await engine.runs.journal(principal, intent_id) if viewer.may(READ_JOURNAL) else []
    tasks = (
        await engine.tasks.list(principal, state=None, intent_id=intent_id, limit=50)
        if viewer.may(READ_TASKS)
        else []
    )
    return RunView(
        intent,
        nest(tree.intents, tree.root_intent_id),
        tree.truncated,
        events,
        attempts(events),
        journal,
        tasks,
        cost_of(intent),
        sum((cost_of(i) for i in tree.intents), Usage()),
        stamp(tree.intents),
    )


def nest(members: list[Intent], root_id: str) -> Node:
    """The run as a tree: each intent under its parent (one handed on without a parent in the run,
    under the run's first intent)."""
    nodes = {i.intent_id: Node(i) for i in members}
    root = nodes.get(root_id) or Node(members[0])
    for node in nodes.values():
        if node is root:
            continue
        parent = nodes.get(node.intent.parent_intent_id or "") or root
        parent.children.append(node)
    return root


def attempts(events: list[Event]) -> list[Attempt]:
    """Each delivery (a lease) and the event that ended it."""
    found: list[Attempt] = []
    for n, event in enumerate(events):
        if event.event_type is not EventType.DELIVERED:
            continue
        ended = next((e for e in events[n + 1 :] if e.event_type in _ATTEMPT_ENDS), None)
        number = int(event.details.get("delivery_attempt") or len(found) + 1)
        found.append(Attempt(number, str(event.details.get("worker") or event.actor), event, ended))
    return found


def cost_of(intent: Intent) -> Usage:
    return usage_of(intent.usage or {})


def stamp(members: Iterable[Intent]) -> str:
    """Changes whenever an intent of the run gets an event (or one joins the run)."""
    marks = sorted(f"{i.intent_id}:{i.last_seq}" for i in members)
    return hashlib.blake2b("\n".join(marks).encode(), digest_size=8).hexdigest()


def shown(details: Any) -> Any:
    """Event details as shown: credentials (a lease's token) left out."""
    if isinstance(details, dict):
        return {k: ("[redacted]" if k in SECRET_DETAILS else shown(v)) for k, v in details.items()}
    if isinstance(details, list):
        return [shown(v) for v in details]
    return details
