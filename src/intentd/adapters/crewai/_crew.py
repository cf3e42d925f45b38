"""Serve a CrewAI ``Crew`` as an intentd agent: the intent's payload is the crew's inputs, its
output the intent's result, its tokens the intent's usage."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from intentd.client import Intent
from intentd.model import JSON
from intentd.worker import Context, FatalError, Worker

from ._llm_journal import LLMJournal, _journal, journal_calls
from ._outputs import crew_result

CrewHandler = Callable[[Context, Intent], JSON]
# A placeholder CrewAI fills from the inputs (crewai.utilities.string_utils.interpolate_only).
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_\-]*)\}")


def serve_crew(worker: Worker, address: str, crew: Any, *, journal_llm_calls: bool = True) -> CrewHandler:
    """Serve ``crew`` at ``address`` on ``worker``; returns the handler (see :func:`crew_handler`).

    worker = Worker(Client())
    serve_crew(worker, "agent://acme/prod/research-crew", crew)
    worker.run()
    """
    handler = crew_handler(crew, journal_llm_calls=journal_llm_calls)
    worker.agent(address)(handler)
    return handler


def crew_handler(crew: Any, *, journal_llm_calls: bool = True) -> CrewHandler:
    """A sync worker handler that runs a copy of ``crew`` (``crew.copy()``: intents run at once do
    not share task outputs or agent state) with ``kickoff(inputs=intent.payload)``.

    Its result: ``raw`` (the final answer), ``pydantic`` / ``json`` (the last task's structured
    output, else None), ``tasks`` (each task's ``name, description, agent, raw, pydantic, json``) and
    ``usage`` (``tokens_in``, ``tokens_out``), which is also reported as the intent's usage.
    A payload lacking a ``{placeholder}`` of the crew's tasks or agents fails the intent at once.
    With ``journal_llm_calls`` (the default) every LLM answer is journaled, so a run again (after an
    :class:`IntentTool` child, or a crash) replays the crew instead of redoing it (``_llm_journal``).
    """
    needed = sorted(_placeholders(crew))

    def handle(ctx: Context, intent: Intent) -> JSON:
        if not isinstance(ctx, Context):
            raise TypeError("crew_handler returns a sync handler: register it as it is")
        missing = [name for name in needed if name not in intent.payload]
        if missing:
            raise FatalError(
                f"the payload lacks {', '.join(map(repr, missing))}, which the crew's tasks and "
                f"agents use as placeholders (it has: {', '.join(sorted(intent.payload)) or 'nothing'})"
            )
        run = crew.copy()
        for llm in _llms(run):
            journal_calls(llm)
        journal = LLMJournal(ctx if journal_llm_calls else None)
        token = _journal.set(journal)
        try:
            output = run.kickoff(inputs=dict(intent.payload))
        finally:
            _journal.reset(token)
            if any(journal.usage.values()):
                ctx.report_usage(**journal.usage)
        return crew_result(output, journal.usage)

    return handle


def _llms(crew: Any) -> Iterable[Any]:
    """The LLM instances the crew's agents (and its manager) call."""
    for agent in [*crew.agents, crew.manager_agent]:
        if agent is not None:
            yield agent.llm  # (function_calling_llm is deprecated: not journaled)


def _placeholders(crew: Any) -> set[str]:
    texts: list[str] = []
    for task in crew.tasks:
        texts += [task.description or "", task.expected_output or ""]
    for agent in crew.agents:
        texts += [agent.role or "", agent.goal or "", agent.backstory or ""]
    return {name for text in texts for name in _PLACEHOLDER.findall(text)}
