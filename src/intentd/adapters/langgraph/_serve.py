"""Serve a compiled LangGraph graph as an intentd agent.

One intent is one thread of the graph: its ``thread_id`` is the intent id, so the graph's
checkpointer holds the run. Each run of the handler reads the thread's last checkpoint and goes on
from there: it starts the graph from the payload, continues it (after a park on an ``intent_node``
child, or a crash), resumes it with a person's answers, or, when the thread has already ended (a
crash after the graph ended, before the completion was reported), returns its final state without
running anything. A pause (``interrupt(value)``) becomes a human task of the intent
(``ctx.ask_human``), so the intent waits without a lease; the answer comes back as the value of
``interrupt`` through ``Command(resume=...)``, from the checkpoint, in whichever process takes the
intent next. Nodes that finished before the pause never run again; the interrupted node runs again
from its first line, as LangGraph always does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from langgraph.types import Command

from intentd.client import Intent
from intentd.model import JSON
from intentd.worker import AsyncContext, Context, FatalError, Worker

from ._graph import NextMove, Pause, check_input, durable, next_move
from ._interrupts import answer_value, human_task, task_key
from ._values import UsageCount, json_safe

InputMap = Callable[[JSON], Any]
OutputMap = Callable[[Any], Any]
GraphHandler = Callable[[Context, Intent], JSON]
AsyncGraphHandler = Callable[[AsyncContext, Intent], Awaitable[JSON]]
_MODES = ["updates", "values"]


def serve_graph(
    worker: Worker,
    address: str,
    graph: Any,
    *,
    input: InputMap | None = None,  # noqa: A002 - the graph's own word for it
    output: OutputMap | None = None,
    config: Mapping[str, Any] | None = None,
    human_task: Mapping[str, Any] | None = None,
    asynchronous: bool = False,
) -> GraphHandler | AsyncGraphHandler:
    """Serve the compiled ``graph`` at ``address`` on ``worker``; returns the handler (see
    :func:`graph_handler` for the options).

        connection = sqlite3.connect("graphs.db", check_same_thread=False)
        graph = builder.compile(checkpointer=SqliteSaver(connection))
        serve_graph(worker, "agent://acme/prod/support", graph)
        worker.run()
    """
    handler = graph_handler(
        graph, input=input, output=output, config=config, human_task=human_task, asynchronous=asynchronous
    )
    worker.agent(address)(handler)
    return handler


def graph_handler(
    graph: Any,
    *,
    input: InputMap | None = None,  # noqa: A002
    output: OutputMap | None = None,
    config: Mapping[str, Any] | None = None,
    human_task: Mapping[str, Any] | None = None,
    asynchronous: bool = False,
) -> GraphHandler | AsyncGraphHandler:
    """A worker handler that runs ``graph`` for each intent (``graph.stream``; ``graph.astream`` in an
    async handler with ``asynchronous=True``, for graphs with async nodes and an async checkpointer).

    The graph's input is the payload, or ``input(payload)``; a payload with keys the graph's input
    schema lacks (or that its pydantic state refuses) fails the intent at once. The result is the
    final state as JSON (messages dumped), or ``output(final_state)``. The tokens of the AI messages
    the run's nodes returned (``usage_metadata``) are reported as ``tokens_in`` / ``tokens_out``.
    ``config`` is merged into each run's config (``recursion_limit``, callbacks …; the
    ``thread_id`` is the intent id). ``human_task`` gives every pause's task defaults (say
    ``{"assignees": ["role:support"]}``), which the interrupt's value overrides.

    Pausing needs a checkpointer that outlives the process (``SqliteSaver`` on a file for one host,
    ``PostgresSaver`` for several): a graph without one that interrupts fails the intent.
    """
    run = _GraphRun(graph, input, output, dict(config or {}), dict(human_task or {}))
    if asynchronous:
        return run.handle_async
    return run.handle


@dataclass
class _GraphRun:
    """The graph and its options; ``handle`` / ``handle_async`` are the handler."""

    graph: Any
    input_map: InputMap | None
    output_map: OutputMap | None
    config: dict[str, Any]
    task_defaults: dict[str, Any]
    durable: bool = field(init=False)

    def __post_init__(self) -> None:
        self.durable = durable(self.graph)

    def handle(self, ctx: Context, intent: Intent) -> JSON:
        if not isinstance(ctx, Context):
            raise TypeError("graph_handler returns a sync handler (asynchronous=True for an async one)")
        config, ran = self._config(intent), False
        while True:
            snapshot = self.graph.get_state(config) if self.durable else None
            move = self._next(snapshot, ran)
            if move.finished:
                return self._result(move.values)
            answers: JSON = {}
            for pause in move.pauses:
                key, task = self._task(pause)
                answers[pause.interrupt_id] = answer_value(ctx.ask_human(key, **task))
            outcome = _Outcome(ctx)
            for mode, chunk in self.graph.stream(
                self._given(move, intent, answers), config, stream_mode=_MODES
            ):
                outcome.add(mode, chunk)
            if not self.durable:
                return self._result(outcome.ended())
            ran = True

    async def handle_async(self, ctx: AsyncContext, intent: Intent) -> JSON:
        if not isinstance(ctx, AsyncContext):
            raise TypeError("graph_handler(asynchronous=True) returns an async handler")
        config, ran = self._config(intent), False
        while True:
            snapshot = await self.graph.aget_state(config) if self.durable else None
            move = self._next(snapshot, ran)
            if move.finished:
                return self._result(move.values)
            answers: JSON = {}
            for pause in move.pauses:
                key, task = self._task(pause)
                answers[pause.interrupt_id] = answer_value(await ctx.ask_human(key, **task))
            outcome = _Outcome(ctx)
            given = self._given(move, intent, answers)
            async for mode, chunk in self.graph.astream(given, config, stream_mode=_MODES):
                outcome.add(mode, chunk)
            if not self.durable:
                return self._result(outcome.ended())
            ran = True

    @staticmethod
    def _next(snapshot: Any, ran: bool) -> NextMove:
        """The next move; after a run of this handler, the graph has ended or paused on an
        ``interrupt``: a run that stopped with nodes still to go stopped at a static breakpoint."""
        move = next_move(snapshot)
        if ran and not (move.finished or move.pauses):
            raise FatalError(
                f"the graph stopped before {', '.join(snapshot.next)} without an interrupt(): static "
                "breakpoints (interrupt_before / interrupt_after) are not served; call interrupt() in "
                "the node"
            )
        return move

    def _config(self, intent: Intent) -> dict[str, Any]:
        configurable = {**self.config.get("configurable", {}), "thread_id": intent.intent_id}
        return {**self.config, "configurable": configurable}

    def _task(self, pause: Pause) -> tuple[str, dict[str, Any]]:
        return task_key(pause.interrupt_id), human_task(pause.value, pause.node, self.task_defaults)

    def _given(self, move: NextMove, intent: Intent, answers: JSON) -> Any:
        """What ``stream`` is given: the input, the answers to resume with, or None to continue."""
        if move.pauses:
            return Command(resume=answers)
        if not move.start:
            return None
        given = self.input_map(dict(intent.payload)) if self.input_map else dict(intent.payload)
        check_input(self.graph, given)
        return given

    def _result(self, values: Any) -> JSON:
        result = json_safe(self.output_map(values) if self.output_map else values)
        return result if isinstance(result, dict) else {"value": result}


class _Outcome:
    """What one ``stream`` of the graph gave: its usage (reported as it comes), its last values and
    its interrupts."""

    def __init__(self, ctx: Context | AsyncContext) -> None:
        self._ctx = ctx
        self._usage = UsageCount()
        self.values: dict[str, Any] = {}
        self.interrupts: list[Any] = []

    def add(self, mode: str, chunk: Any) -> None:
        if mode == "values":
            self.values = {k: v for k, v in chunk.items() if k != "__interrupt__"}
            return
        self.interrupts.extend(chunk.get("__interrupt__", ()))
        self._usage.add_update({node: update for node, update in chunk.items() if node != "__interrupt__"})
        amounts = self._usage.take()
        if amounts:
            self._ctx.report_usage(**amounts)

    def ended(self) -> dict[str, Any]:
        """The final state of a graph without a checkpointer, which cannot pause."""
        if self.interrupts:
            raise FatalError(
                f"the graph interrupted ({_shown(self.interrupts)}) but has no checkpointer, so it could "
                "not resume after the answer: compile it with a durable one (SqliteSaver on a file, "
                "PostgresSaver for several hosts)"
            )
        return self.values


def _shown(interrupts: list[Any]) -> str:
    return ", ".join(repr(getattr(i, "value", i))[:80] for i in interrupts)
