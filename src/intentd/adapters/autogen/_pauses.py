"""Where a served run pauses and how it goes on: a handoff to the person (a human task, answered with
a ``HandoffMessage`` back to the agent that handed off) or calls handed on to other agents (child
intents, whose results come back as the turn that asked for them)."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import (
    BaseChatMessage,
    HandoffMessage,
    TextMessage,
    ToolCallSummaryMessage,
)
from autogen_core import FunctionCall
from autogen_core.models import FunctionExecutionResult, FunctionExecutionResultMessage

from intentd.model import JSON
from intentd.worker import HumanAnswer

from ._values import text_of

_TITLE_MAX, _DESCRIPTION_MAX = 255, 2000


def handoff_to(result: TaskResult, human: str) -> HandoffMessage | None:
    """The run's last message when it hands the conversation to ``human``."""
    last = result.messages[-1] if result.messages else None
    return last if isinstance(last, HandoffMessage) and last.target == human else None


def handoff_json(result: TaskResult, handoff: HandoffMessage) -> JSON:
    """What the human task shows: the handoff's message and the last thing said before it."""
    said = [m for m in result.messages[:-1] if isinstance(m, BaseChatMessage)]
    return {
        "source": handoff.source,
        "content": handoff.content,
        "said": text_of(said[-1]) if said else "",
        "said_by": said[-1].source if said else "",
    }


def human_task(handoff: Mapping[str, Any], human: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``ctx.ask_human``'s arguments (all but the key) for a handoff to ``human``."""
    source, content = handoff["source"], str(handoff["content"] or "")
    lines = [f"{source} handed the conversation to {human}."]
    if handoff["said"]:
        lines.append(f"{handoff['said_by']} said: {handoff['said']}")
    if content:
        lines.append(f"Handoff message: {content}")
    task: dict[str, Any] = {
        "title": _cut(content or f"{source} hands the conversation to {human}", _TITLE_MAX),
        "description": _cut("\n\n".join(lines), _DESCRIPTION_MAX),
        "task_type": "clarification",
    }
    return {**task, **defaults}


def answer_text(answer: HumanAnswer) -> str:
    """The person's reply as the text the agent reads: the form's ``answer``, else the comment; a
    refusal (an outcome that is not a yes) says its outcome first."""
    given = answer.data.get("answer")
    text = given if isinstance(given, str) and given else (answer.comment or "")
    if answer.approved:
        return text or answer.outcome
    return f"{answer.outcome}: {text}" if text else answer.outcome


def human_reply(handoff: Mapping[str, Any], human: str, answer: HumanAnswer) -> HandoffMessage:
    """The message the run goes on with: the person hands the conversation back."""
    return HandoffMessage(source=human, target=str(handoff["source"]), content=answer_text(answer))


def calls_reply(
    state: Mapping[str, Any], calls: Sequence[JSON], texts: Sequence[str], lone: str = ""
) -> tuple[Mapping[str, Any], list[BaseChatMessage]]:
    """The state to load and the messages to go on with once handed-on calls have their results
    (``texts``, in order): an intent agent's result is its turn's answer; intent tools' results end the
    turn of the agent that called them, as the tool results of its model context and a
    ``ToolCallSummaryMessage`` (what an agent that does not reflect on tool use says). ``lone`` names
    the agent when it was served alone (its state is its own, not a team's)."""
    messages: list[BaseChatMessage] = []
    tool_calls = [(call, text) for call, text in zip(calls, texts, strict=True) if call["kind"] == "tool"]
    if tool_calls:
        state, agent = _with_tool_results(state, tool_calls, lone)
        messages.append(
            ToolCallSummaryMessage(
                source=agent,
                content="\n".join(text for _, text in tool_calls),
                tool_calls=[
                    FunctionCall(id=call["call_id"], name=call["tool"], arguments=call["arguments"])
                    for call, _ in tool_calls
                ],
                results=[_tool_result(call, text) for call, text in tool_calls],
            )
        )
    agent_calls = [(call, text) for call, text in zip(calls, texts, strict=True) if call["kind"] == "agent"]
    if agent_calls:
        state = copy.deepcopy(dict(state))
        agents = state.get("agent_states")
        for call, text in agent_calls:
            if isinstance(agents, dict):
                _delivered(agents.get(call["agent"]))
            messages.append(TextMessage(source=call["agent"], content=text))
    return state, messages


def _tool_result(call: Mapping[str, Any], text: str) -> FunctionExecutionResult:
    return FunctionExecutionResult(content=text, call_id=call["call_id"], name=call["tool"], is_error=False)


def _with_tool_results(
    state: Mapping[str, Any], tool_calls: Sequence[tuple[JSON, str]], lone: str
) -> tuple[Mapping[str, Any], str]:
    """``state`` with the tools' results after the model's call of them, in the model context of the
    agent that made it (the one whose context ends with that call); and that agent's name."""
    patched = copy.deepcopy(dict(state))
    agents = patched.get("agent_states")
    candidates: dict[str, Any] = agents if isinstance(agents, dict) else {lone: patched}
    call_ids = {call["call_id"] for call, _ in tool_calls}
    for name, agent_state in candidates.items():
        messages = _context_messages(agent_state)
        if messages and _calls_in(messages[-1]) & call_ids:
            results = [_tool_result(call, text) for call, text in tool_calls]
            messages.append(FunctionExecutionResultMessage(content=results).model_dump(mode="json"))
            _delivered(agent_state)
            return patched, name
    raise RuntimeError(f"no agent of the saved state made the tool calls {sorted(call_ids)}")


def _inner(agent_state: Any) -> Any:
    """An agent's own state: a team keeps it in the agent's container state, with its buffer."""
    return agent_state.get("agent_state", agent_state) if isinstance(agent_state, dict) else None


def _context_messages(agent_state: Any) -> list[Any] | None:
    inner = _inner(agent_state)
    context = inner.get("llm_context") if isinstance(inner, dict) else None
    messages = context.get("messages") if isinstance(context, dict) else None
    return messages if isinstance(messages, list) else None


def _delivered(agent_state: Any) -> None:
    """Empty the buffer of an agent whose turn was cut short: the messages in it reached the agent
    at the start of that turn (the buffer is emptied when a turn ends)."""
    if isinstance(agent_state, dict) and isinstance(agent_state.get("message_buffer"), list):
        agent_state["message_buffer"] = []


def _calls_in(message: Any) -> set[str]:
    if not isinstance(message, dict) or message.get("type") != "AssistantMessage":
        return set()
    content = message.get("content")
    return {str(c.get("id")) for c in content if isinstance(c, dict)} if isinstance(content, list) else set()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
