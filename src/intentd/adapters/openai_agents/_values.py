"""The run's values as intentd takes them: the agent's input from a payload, its final output and
token usage as JSON."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agents import Usage
from pydantic_core import to_jsonable_python

from intentd.model import JSON
from intentd.worker import FatalError

InputMap = Callable[[JSON], Any]


def agent_input(payload: Mapping[str, Any], input_map: InputMap | None) -> Any:
    """``input_map(payload)``, or the payload's ``input`` text; a payload without it fails clearly
    (FatalError: a retry would read the same payload)."""
    if input_map is not None:
        given = input_map(dict(payload))
        if not isinstance(given, str | list) or not given:
            raise FatalError(
                f"input= must return the agent's input, text or a list of input items, not {given!r:.80}"
            )
        return given
    text = payload.get("input")
    if not isinstance(text, str) or not text.strip():
        raise FatalError(
            "the payload must hold the agent's input as non-empty text under 'input' "
            f"(got the keys {sorted(payload)}); serve the agent with input=... to map another payload"
        )
    return text


def json_safe(value: Any) -> Any:
    """``value`` as JSON: pydantic models and dataclasses (an agent's ``output_type``) dumped."""
    return to_jsonable_python(value, fallback=str)


def tokens(usage: Usage) -> tuple[int, int]:
    return usage.input_tokens, usage.output_tokens


def usage_since(before: tuple[int, int], usage: Usage) -> dict[str, float]:
    """What the run used since ``before`` (a resumed state carries the usage of the runs before it),
    as intentd's ``tokens_in`` / ``tokens_out``; only non-zero amounts."""
    spent_in, spent_out = usage.input_tokens - before[0], usage.output_tokens - before[1]
    return {name: float(n) for name, n in (("tokens_in", spent_in), ("tokens_out", spent_out)) if n > 0}
