"""Serve an OpenAI Agents SDK ``Agent`` as an intentd agent.

The run is cut at its pauses into segments, each one ``ctx.step``: the step runs the agent
(``Runner.run``) until it ends or pauses and journals either the result or the paused ``RunState``
(``to_string()``), before anyone is asked anything. A pause's pending calls are then decided on
intentd's side: a call of an :func:`intent_tool` by its child intent, any other approval
(``needs_approval``) by a person (``ctx.ask_human``). Each time, the intent parks without a lease and
the handler runs again from the top, in whichever process takes the intent next: it reads the
journaled segments instead of running them, loads the last state (``RunState.from_string``),
applies the decisions and runs the next segment. So a model turn or a tool that ran before a pause
never runs again, for a real model as for a scripted one; only a crash in the middle of a segment
runs that segment again (at-least-once, as any handler).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agents import Agent, RunConfig, Runner, RunResult, RunState

from intentd.client import Intent
from intentd.model import JSON
from intentd.worker import AsyncContext, Worker

from ._pauses import pending_calls
from ._scope import KEY_PREFIX, ServedRun, journal_key, served_run
from ._values import InputMap, agent_input, json_safe, tokens, usage_since

OutputMap = Callable[[Any], Any]
ContextFactory = Callable[[Intent], Any]
AgentHandler = Callable[[AsyncContext, Intent], Awaitable[JSON]]


def serve_agent(
    worker: Worker,
    address: str,
    agent: Agent[Any],
    *,
    input: InputMap | None = None,  # noqa: A002 - the SDK's own word for it
    output: OutputMap | None = None,
    context: ContextFactory | None = None,
    max_turns: int | None = None,
    run_config: RunConfig | None = None,
    human_task: Mapping[str, Any] | None = None,
) -> AgentHandler:
    """Serve ``agent`` at ``address`` on ``worker``; returns the handler (the options are
    :func:`agent_handler`'s).

        agent = Agent(name="ops", instructions="...", tools=[lookup, deploy], model="gpt-5")
        serve_agent(worker, "agent://acme/prod/ops", agent, human_task={"assignees": ["role:sre"]})
        worker.run()
    """
    handler = agent_handler(
        agent,
        input=input,
        output=output,
        context=context,
        max_turns=max_turns,
        run_config=run_config,
        human_task=human_task,
    )
    worker.agent(address)(handler)
    return handler


def agent_handler(
    agent: Agent[Any],
    *,
    input: InputMap | None = None,  # noqa: A002
    output: OutputMap | None = None,
    context: ContextFactory | None = None,
    max_turns: int | None = None,
    run_config: RunConfig | None = None,
    human_task: Mapping[str, Any] | None = None,
) -> AgentHandler:
    """An async worker handler that runs ``agent`` for each intent.

    Its input is the payload's ``input`` text, or ``input(payload)`` (text or a list of input
    items); a payload without it fails the intent at once. The result is ``{"output": ..., "agent":
    <name of the agent that answered>}``, the final output as JSON (an ``output_type``'s pydantic
    model or dataclass dumped), or ``output(final_output)`` (a dict; anything else becomes
    ``{"output": value}``). The tokens of every model call are reported as ``tokens_in`` /
    ``tokens_out``. A tool call that needs approval becomes a human task of the intent (an
    ``approval`` titled with the tool and its arguments; ``human_task`` gives defaults such as
    ``{"assignees": ["role:sre"]}``); approved, the tool runs, rejected, the model is told who
    rejected it and why. ``context(intent)`` makes the run's context object (also when a paused run
    is loaded again); ``max_turns`` and ``run_config`` go to ``Runner.run``.
    """
    run = _AgentRun(agent, input, output, context, max_turns, run_config, dict(human_task or {}))
    return run.handle


@dataclass
class _AgentRun:
    agent: Agent[Any]
    input_map: InputMap | None
    output_map: OutputMap | None
    context: ContextFactory | None
    max_turns: int | None
    run_config: RunConfig | None
    task_defaults: dict[str, Any] = field(default_factory=dict)

    async def handle(self, ctx: AsyncContext, intent: Intent) -> JSON:
        if not isinstance(ctx, AsyncContext):
            raise TypeError("agent_handler returns an async handler: register it as it is")
        given: Any = agent_input(intent.payload, self.input_map)
        delegated: dict[str, str] = {}
        pause, spent = 0, (0, 0)
        while True:
            segment = self._segment(ctx, intent, given, delegated, spent)
            outcome = await ctx.step(f"{KEY_PREFIX}run/{pause}", segment)
            if "state" not in outcome:
                return dict(outcome["result"])
            state = await RunState.from_string(self.agent, outcome["state"], **self._context_override(intent))
            delegated = await self._decide(ctx, state, pause)
            given, pause, spent = state, pause + 1, (outcome["tokens"][0], outcome["tokens"][1])

    async def _segment(
        self, ctx: AsyncContext, intent: Intent, given: Any, delegated: dict[str, str], spent: tuple[int, int]
    ) -> JSON:
        """Run the agent until it ends (``{"result": ...}``) or pauses (``{"state": ..., "tokens":
        [in, out]}``, the run's tokens so far: the state carries them into the next segment, whose
        usage counts from there)."""
        scope = served_run.set(ServedRun(dict(delegated)))
        try:
            result = await Runner.run(self.agent, given, **self._options(intent, given))
        finally:
            served_run.reset(scope)
        usage = result.context_wrapper.usage
        ctx.report_usage(**usage_since(spent, usage))
        if result.interruptions:
            return {"state": result.to_state().to_string(), "tokens": list(tokens(usage))}
        return {"result": self._result(result)}

    async def _decide(self, ctx: AsyncContext, state: RunState[Any, Any], pause: int) -> dict[str, str]:
        """Decide each pending call into ``state``: children first (spawned together, awaited once),
        then people, one task at a time. Returns the delegated calls: call id -> child key."""
        calls = pending_calls(state)
        children = {call.call_id: child for call in calls if (child := call.child(ctx, pause)) is not None}
        if children:
            await ctx.gather(*children.values(), return_exceptions=True)  # the tool reads the outcome
        for call in calls:
            if call.intent_call is not None:
                state.approve(call.item)
                continue
            key = journal_key("approval", pause, call.call_id)
            call.apply(state, await ctx.ask_human(key, **call.human_task(self.task_defaults)))
        return {call_id: child.key for call_id, child in children.items()}

    def _options(self, intent: Intent, given: Any) -> dict[str, Any]:
        options: dict[str, Any] = {"run_config": self.run_config}
        if self.max_turns is not None:
            options["max_turns"] = self.max_turns
        if self.context is not None and not isinstance(given, RunState):
            options["context"] = self.context(intent)
        return options

    def _context_override(self, intent: Intent) -> dict[str, Any]:
        return {} if self.context is None else {"context_override": self.context(intent)}

    def _result(self, result: RunResult) -> JSON:
        value = json_safe(self.output_map(result.final_output) if self.output_map else result.final_output)
        if self.output_map is not None:
            return value if isinstance(value, dict) else {"output": value}
        return {"output": value, "agent": result.last_agent.name}
