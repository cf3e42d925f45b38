"""A run's values as intentd takes them: the task from a payload, the result and token usage as JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autogen_agentchat.base import TaskResult
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage
from pydantic_core import to_jsonable_python

from intentd.model import JSON
from intentd.worker import FatalError

Task = str | BaseChatMessage | Sequence[BaseChatMessage]
InputMap = Callable[[JSON], Task]
OutputMap = Callable[[TaskResult], Any]


def team_task(payload: Mapping[str, Any], input_map: InputMap | None) -> Task:
    """``input_map(payload)``, or the payload's ``task`` text; anything else fails the intent at once
    (FatalError: a retry would read the same payload)."""
    if input_map is not None:
        given = input_map(dict(payload))
        chat = isinstance(given, BaseChatMessage)
        messages = isinstance(given, Sequence) and not isinstance(given, str) and bool(given)
        if not (isinstance(given, str) and given.strip()) and not chat and not messages:
            raise FatalError(f"input= must return the team's task, text or chat messages, not {given!r:.80}")
        return given
    text = payload.get("task")
    if not isinstance(text, str) or not text.strip():
        raise FatalError(
            "the payload must hold the team's task as non-empty text under 'task' "
            f"(got the keys {sorted(payload)}); serve the team with input=... to map another payload"
        )
    return text


def text_of(message: BaseAgentEvent | BaseChatMessage) -> str:
    return message.to_text()


def chat_json(messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> list[JSON]:
    """The chat messages (events left out) as ``{"source", "type", "text"}``."""
    chat = [m for m in messages if isinstance(m, BaseChatMessage)]
    return [{"source": m.source, "type": type(m).__name__, "text": text_of(m)} for m in chat]


def result_of(result: TaskResult, output_map: OutputMap | None, earlier: Sequence[JSON] = ()) -> JSON:
    """``{"text", "source", "messages", "stop_reason"}``: the last chat message's text and sender, every
    chat message of the run as ``{"source", "type", "text"}`` (``earlier``: those of the segments
    before its last pause), and why it stopped (None for a lone agent). Or ``output_map(result)`` (the
    last segment's ``TaskResult``): a dict, anything else as ``{"output": ...}``."""
    if output_map is not None:
        value = to_jsonable_python(output_map(result), fallback=str)
        return value if isinstance(value, dict) else {"output": value}
    chat = [*earlier, *chat_json(result.messages)]
    last = chat[-1] if chat else None
    return {
        "text": last["text"] if last else "",
        "source": last["source"] if last else None,
        "messages": chat,
        "stop_reason": result.stop_reason,
    }


def usage_of(messages: Sequence[BaseAgentEvent | BaseChatMessage]) -> dict[str, float]:
    """The tokens of the model calls behind ``messages`` (their ``models_usage``), as intentd's
    ``tokens_in`` / ``tokens_out``; only non-zero amounts."""
    spent_in = sum(m.models_usage.prompt_tokens for m in messages if m.models_usage)
    spent_out = sum(m.models_usage.completion_tokens for m in messages if m.models_usage)
    return {name: float(n) for name, n in (("tokens_in", spent_in), ("tokens_out", spent_out)) if n > 0}


def result_text(result: JSON) -> str:
    """An intent's result as the text a model or a chat reads: its ``text`` (a served AutoGen team's
    answer) or ``output`` when it is text, else the result as JSON."""
    for name in ("text", "output"):
        if isinstance(result.get(name), str):
            return str(result[name])
    return json.dumps(to_jsonable_python(result, fallback=str), ensure_ascii=False)
