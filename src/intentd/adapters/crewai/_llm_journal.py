"""A served crew's LLM calls, journaled on its intent so that a run of the handler again does not
redo them.

The worker runs a handler again from the top whenever its intent comes back: after an
:class:`~intentd.adapters.crewai.IntentTool` child has finished, or after a crash. A crew has no
resumable state of its own (its checkpoints and ``replay`` live in local files), so it runs again
too; with every LLM answer journaled under ``crewai.llm/<n>`` (the n-th call of this intent) it runs
again *from the journal*: each answer it already had is read back instead of asked for, the agents
take the same steps, and a journaled child returns its result. Only what the crew does between LLM
calls runs again: its tools (an IntentTool's child is journaled; make other side effects idempotent).

The wrapper is set on each LLM instance of the crew the handler runs (its own copy of the served
crew) and does its work only where the handler set :data:`_journal` (CrewAI copies the context
variables into the threads it runs agents and tools in): anywhere else it calls the LLM as is.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from intentd.worker import Context

from ._outputs import json_safe

log = logging.getLogger("intentd.adapters.crewai")
_MARK = "_intentd_journaled_call"
# The usage figures a CrewAI LLM counts, and what intentd calls them.
_USAGE_NAMES = {"prompt_tokens": "tokens_in", "completion_tokens": "tokens_out"}


class LLMJournal:
    """The LLM calls of one handler run: numbered in call order (so the crew's agents must call
    their LLMs one after another, as a sequential crew does), each journaled with what it used."""

    def __init__(self, ctx: Context | None) -> None:
        self._ctx = ctx  # None: count usage, journal nothing
        self._lock = threading.Lock()
        self._calls = 0
        self.usage: dict[str, float] = {name: 0.0 for name in _USAGE_NAMES.values()}

    def call(
        self, llm: Any, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        with self._lock:
            number = self._calls
            self._calls += 1
        digest = _digest(args[0] if args else kwargs.get("messages"))
        if self._ctx is None:
            entry = _asked(llm, original, args, kwargs, digest)
        else:
            entry = self._ctx.step(
                f"crewai.llm/{number}", lambda: _asked(llm, original, args, kwargs, digest)
            )
            if entry.get("messages") != digest:
                log.warning(
                    "LLM call %d of intent %s was asked other messages than when it was journaled: "
                    "the crew is not deterministic; its journaled answer is used",
                    number,
                    self._ctx.intent.intent_id,
                )
        with self._lock:
            for name, amount in entry.get("usage", {}).items():
                self.usage[name] = self.usage.get(name, 0.0) + float(amount)
        return _answer(entry["answer"], kwargs.get("response_model"))


_journal: contextvars.ContextVar[LLMJournal | None] = contextvars.ContextVar(
    "intentd_crewai_llm_journal", default=None
)


def journal_calls(llm: Any) -> None:
    """Route ``llm.call`` through the journal of the handler run it is called in (once per
    instance; an instance copied from a routed one is routed already)."""
    if llm is None or getattr(llm, _MARK, False):
        return
    original = llm.call

    def call(*args: Any, **kwargs: Any) -> Any:
        journal = _journal.get()
        if journal is None:
            return original(*args, **kwargs)
        return journal.call(llm, original, args, kwargs)

    # BaseLLM is a pydantic model: attributes that are not fields go in the instance's __dict__,
    # where they shadow the class's method for this instance only.
    object.__setattr__(llm, "call", call)
    object.__setattr__(llm, _MARK, True)


def _asked(
    llm: Any, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], digest: str
) -> dict[str, Any]:
    before = _counters(llm)
    answer = original(*args, **kwargs)
    after = _counters(llm)
    usage = {
        ours: after.get(theirs, 0) - before.get(theirs, 0)
        for theirs, ours in _USAGE_NAMES.items()
        if after.get(theirs, 0) != before.get(theirs, 0)
    }
    return {"answer": json_safe(answer), "usage": usage, "messages": digest}


def _counters(llm: Any) -> dict[str, int]:
    """The LLM instance's lifetime token counters (shared by its copies: read before and after)."""
    summary = llm.get_token_usage_summary()
    return {name: int(getattr(summary, name, 0) or 0) for name in _USAGE_NAMES}


def _answer(journaled: Any, response_model: Any) -> Any:
    """The answer as the agent expects it: a structured output is a model again."""
    if (
        isinstance(journaled, dict)
        and isinstance(response_model, type)
        and issubclass(response_model, BaseModel)
    ):
        return response_model.model_validate(journaled)
    return journaled


def _digest(messages: Any) -> str:
    text = json.dumps(json_safe(messages), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
