"""The run's audit trail, read back from the API: per agent, in the order the work was handed on,
what its intent's events say it did (delivered to which process, what it journaled, whom it asked,
whom it handed on to, when it parked and came back, what it answered)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from intentd.client import Client, Event, Intent, RunTree

from .process import AGENTS, FRAMEWORKS


@dataclass(frozen=True)
class Entry:
    seq: int
    event_type: str
    text: str


@dataclass(frozen=True)
class AgentTrail:
    agent: str  # researcher, writer, ...
    intent: Intent
    entries: list[Entry]

    @property
    def framework(self) -> str:
        return FRAMEWORKS.get(self.agent, "?")

    def before_handoff(self) -> list[Entry]:
        """What the agent did before it first handed the work on (all of it, for the last agent)."""
        for n, entry in enumerate(self.entries):
            if entry.event_type == "intent.step_started":
                return self.entries[:n]
        return self.entries


def chain(run: RunTree) -> list[Intent]:
    """The run's intents from the root down, each the child of the one before."""
    order, current = [], next(i for i in run.intents if i.intent_id == run.root_intent_id)
    while True:
        order.append(current)
        children = run.children(current.intent_id)
        if not children:
            return order
        current = children[0]


def agent_name(address: str) -> str:
    return AGENTS.get(address, address)


def audit_trail(client: Client, run: RunTree) -> list[AgentTrail]:
    trails = []
    for intent in chain(run):
        entries = [Entry(e.seq, e.event_type, describe(e)) for e in client.events(intent.intent_id)]
        trails.append(AgentTrail(agent_name(intent.to_agent), intent, entries))
    return trails


def describe(event: Event) -> str:
    """One event in words."""
    d: dict[str, Any] = event.details
    match event.event_type:
        case "intent.created":
            by = agent_name(str(d.get("from_agent")))
            return f"created by {by}" + (f" (journal key {d['step_key']})" if d.get("step_key") else "")
        case "intent.delivered":
            return f"delivered to {d.get('worker')} (attempt {d.get('delivery_attempt')})"
        case "intent.step_started":
            return f"handed on to {agent_name(str(d.get('to')))}: child intent {d.get('child_intent_id')}"
        case "intent.step_completed" if "child_intent_id" in d:
            return f"child intent {d['child_intent_id']} ended {d.get('status')}"
        case "intent.step_completed":
            return f"journaled {d.get('key')}"
        case "intent.waiting":
            return f"parked without a lease, waiting for {', '.join(d.get('awaiting', []))}"
        case "intent.human_task_assigned":
            task = d.get("human_task", {})
            who = ", ".join(d.get("assignees", []))
            return (
                f'asked {who}: "{task.get("title")}" (human task {d.get("task_id")}), parked without a lease'
            )
        case "intent.resumed" if "decision" in d:
            said = d["decision"]
            comment = f": {said['comment']!r}" if said.get("comment") else ""
            return f"{said.get('decided_by')} answered {said.get('outcome')}{comment}"
        case "intent.resumed":
            return "back in the queue: what it waited for has finished"
        case "intent.progress" if "usage" in d:
            return f"reported usage {_amounts(d['usage'])}"
        case "intent.progress":
            return str(d.get("message") or d.get("tool") or "progress")
        case "intent.completed":
            usage = f", usage {_amounts(d['usage'])}" if d.get("usage") else ""
            return f"completed: {_summary(d.get('result'))}{usage}"
        case "intent.failed":
            return f"failed: {_short(d.get('error'))}"
        case _:
            return event.event_type.removeprefix("intent.")


def _amounts(usage: dict[str, Any]) -> str:
    return ", ".join(f"{name} {amount:g}" for name, amount in usage.items())


def _summary(result: Any) -> str:
    """A result's answer when it has one in words (``text``, ``output``), else its fields."""
    if isinstance(result, dict):
        answer = result.get("text", result.get("output"))
        return _short(answer) if isinstance(answer, str) else "{" + ", ".join(result) + "}"
    return _short(result)


def _short(value: Any, width: int = 90) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def format_trail(trails: list[AgentTrail]) -> str:
    lines = []
    for trail in trails:
        lines.append(
            f"{trail.agent} ({trail.framework}), intent {trail.intent.intent_id}: {trail.intent.status}"
        )
        lines.extend(
            f"  #{entry.seq:<3} {entry.text}" for entry in trail.entries if entry.text != "submitted"
        )
    return "\n".join(lines)
