"""A paused run's pending calls: who decides each and how the decision goes back into the state.

A call of an intent tool is decided by its child intent (spawned here, awaited by the handler); any
other call waiting for approval (``needs_approval``) is decided by a person, as an intentd human task
whose title names the tool and its arguments. An approval lets the call run when the run continues;
a rejection tells the model who rejected it and why, and the tool does not run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents import RunState, ToolApprovalItem

from intentd.worker import Child, HumanAnswer

from ._scope import journal_key
from ._tool import BadArguments, IntentCall, intent_call_of

_TITLE_MAX, _DESCRIPTION_MAX = 255, 2000


@dataclass(frozen=True)
class PendingCall:
    """One call the run paused on."""

    item: ToolApprovalItem
    tool: str
    call_id: str
    arguments: str
    agent: str
    intent_call: IntentCall | None

    @classmethod
    def of(cls, item: ToolApprovalItem) -> PendingCall:
        raw = item.raw_item
        field = raw.get if isinstance(raw, Mapping) else lambda name: getattr(raw, name, None)
        call_id = field("call_id") or field("id") or ""
        tool = item.tool_name or str(field("name") or "")
        arguments = field("arguments")
        agent = item.agent
        tools = getattr(agent, "tools", None) or []
        found = next((t for t in tools if getattr(t, "name", None) == tool), None)
        return cls(
            item=item,
            tool=tool,
            call_id=str(call_id),
            arguments=arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
            agent=str(getattr(agent, "name", "")),
            intent_call=intent_call_of(found),
        )

    def child(self, ctx: Any, pause: int) -> Child | None:
        """The child intent that decides this call (None for a person's call, or when the model's
        arguments do not fit: then the tool runs and tells the model so)."""
        if self.intent_call is None:
            return None
        try:
            payload = self.intent_call.payload(self.arguments)
        except BadArguments:
            return None
        call = self.intent_call
        child: Child = ctx.spawn(
            call.to_agent, payload, key=journal_key("tool", pause, self.call_id), intent_type=call.intent_type
        )
        return child

    def human_task(self, defaults: Mapping[str, Any]) -> dict[str, Any]:
        shown = _arguments(self.arguments)
        task: dict[str, Any] = {
            "title": _cut(f"Approve {self.tool}({shown})", _TITLE_MAX),
            "description": _cut(
                f"The agent {self.agent} asks to call {self.tool} with {shown}.", _DESCRIPTION_MAX
            ),
            "task_type": "approval",
        }
        return {**task, **defaults}

    def apply(self, state: RunState[Any, Any], answer: HumanAnswer) -> None:
        if answer.approved:
            state.approve(self.item)
            return
        who = answer.decided_by or "a person"
        because = f": {answer.comment}" if answer.comment else ""
        message = f"{who} rejected this call of {self.tool} ({answer.outcome}){because}"
        state.reject(self.item, rejection_message=message)


def pending_calls(state: RunState[Any, Any]) -> list[PendingCall]:
    return [PendingCall.of(item) for item in state.get_interruptions()]


def _arguments(arguments: str) -> str:
    """``a='x', b=2`` from the model's JSON arguments (as given when they are not an object)."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return arguments
    if not isinstance(value, dict):
        return arguments
    return ", ".join(f"{name}={json.dumps(v, ensure_ascii=False)}" for name, v in value.items())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
