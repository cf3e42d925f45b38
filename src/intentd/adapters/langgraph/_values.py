"""A graph's state as JSON, and the tokens its model calls used, read from what its nodes returned."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from langchain_core.messages import AIMessage
from pydantic_core import to_jsonable_python


def json_safe(value: Any) -> Any:
    """``value`` as JSON: messages and other pydantic models dumped, dataclasses, tuples and times
    converted, anything else as its text (a state may hold objects JSON has no word for)."""
    return to_jsonable_python(value, fallback=str)


class UsageCount:
    """The tokens of the AI messages a run's nodes returned (``usage_metadata``), each message once
    (a node may return a message again, to replace it by id)."""

    def __init__(self) -> None:
        self.tokens_in = 0
        self.tokens_out = 0
        self._seen: set[str] = set()

    def add_update(self, update: Any) -> None:
        """One ``stream_mode="updates"`` chunk: ``{node: what it returned}``."""
        for message in _ai_messages(update):
            if message.id is not None:
                if message.id in self._seen:
                    continue
                self._seen.add(message.id)
            usage = message.usage_metadata
            if usage:
                self.tokens_in += int(usage.get("input_tokens", 0))
                self.tokens_out += int(usage.get("output_tokens", 0))

    def take(self) -> dict[str, float]:
        """What to report (``ctx.report_usage``) and was not yet: reported as it is counted, since
        a node that parks the intent (an ``intent_node``) stops the run before it returns."""
        amounts = {"tokens_in": float(self.tokens_in), "tokens_out": float(self.tokens_out)}
        self.tokens_in = self.tokens_out = 0
        return {name: amount for name, amount in amounts.items() if amount}


def _ai_messages(value: Any) -> Iterator[AIMessage]:
    """The AI messages anywhere in a node's update (a ``messages`` list, a dict of lists, one message)."""
    if isinstance(value, AIMessage):
        yield value
    elif isinstance(value, dict):
        yield from _each(value.values())
    elif isinstance(value, list | tuple):
        yield from _each(value)


def _each(values: Iterable[Any]) -> Iterator[AIMessage]:
    for value in values:
        yield from _ai_messages(value)
