"""Serve an AutoGen AgentChat team (or a lone agent) as an intentd agent.

The run is cut at its pauses into segments, each one ``ctx.step``: the step runs the team until it
ends or pauses and journals either the result or the team's state (``save_state()``, plain JSON)
with what it paused on, before anyone is asked anything. A pause is a handoff to the person (a
human task) or calls handed on to other agents by intent tools or intent agents (child intents).
Either way the intent parks without a lease and the handler runs again from the top, in whichever
process takes the intent next: it reads the journaled segments instead of running them, loads the
last state (``load_state``) and goes on with the answer (a ``HandoffMessage`` back to the agent that
handed off) or the children's results. So a model turn that ran before a pause never runs again;
only a crash in the middle of a segment runs that segment again (at-least-once, as any handler).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autogen_agentchat.base import ChatAgent, TaskResult, Team
from autogen_agentchat.messages import BaseAgentEvent, BaseChatMessage
from autogen_agentchat.teams import BaseGroupChat
from autogen_core import CancellationToken

from intentd.client import Intent
from intentd.model import JSON
from intentd.worker import AsyncContext, ChildFailed, FatalError, Worker

from ._pauses import calls_reply, handoff_json, handoff_to, human_reply, human_task
from ._scope import KEY_PREFIX, RunPaused, ServedRun, served_run, track_tasks
from ._values import InputMap, OutputMap, Task, chat_json, result_of, result_text, team_task, usage_of

Unit = Team | ChatAgent
UnitFactory = Callable[[], Unit]
TeamHandler = Callable[[AsyncContext, Intent], Awaitable[JSON]]
_SETTLE_SECONDS = 0.05  # lets the messages of a run stopped at a handed-on call reach its stream
_MAX_KEY_PART = 120


def serve_team(
    worker: Worker,
    address: str,
    team_or_agent: Unit | UnitFactory,
    *,
    input: InputMap | None = None,  # noqa: A002 - the payload's word for it
    output: OutputMap | None = None,
    human: str = "user",
    human_task: Mapping[str, Any] | None = None,
) -> TeamHandler:
    """Serve a team (``RoundRobinGroupChat``, ``Swarm`` …) or a lone agent at ``address`` on
    ``worker``; returns the handler (the options are :func:`team_handler`'s).

        team = Swarm([planner, deployer], termination_condition=HandoffTermination("user") | ...)
        serve_team(worker, "agent://acme/prod/ops", team, human_task={"assignees": ["role:sre"]})
        worker.run()
    """
    handler = team_handler(team_or_agent, input=input, output=output, human=human, human_task=human_task)
    worker.agent(address)(handler)
    return handler


def team_handler(
    team_or_agent: Unit | UnitFactory,
    *,
    input: InputMap | None = None,  # noqa: A002
    output: OutputMap | None = None,
    human: str = "user",
    human_task: Mapping[str, Any] | None = None,
) -> TeamHandler:
    """An async worker handler that runs a team (or a lone agent) for each intent.

    ``team_or_agent`` is the team, or a function making a new one: an AutoGen team holds one
    conversation at a time, so a team object serves one intent at a time, and a team whose members
    hand work on (:class:`IntentAgent`, :func:`intent_tool`) must be given as a function (AutoGen
    keeps in memory that a turn it did not finish is still going). The task is the payload's
    ``task`` text, or ``input(payload)`` (text or chat messages); a payload without it fails the
    intent at once. The result is ``{"text", "source", "messages", "stop_reason"}`` (the last chat
    message's text and sender, every chat message as ``{"source", "type", "text"}``, why the team
    stopped), or ``output(task_result)``. The tokens of every model call are reported as
    ``tokens_in`` / ``tokens_out``. A handoff to ``human`` (the team stopping on
    ``HandoffTermination(human)``, or a lone agent's last message) becomes a human task of the intent
    (``human_task`` gives defaults such as ``{"assignees": ["role:sre"]}``); the answer goes back to
    the agent that handed off as a ``HandoffMessage`` from ``human``.
    """
    if not isinstance(team_or_agent, Team | ChatAgent) and not callable(team_or_agent):
        raise TypeError(f"serve a team, an agent or a function making one, not {team_or_agent!r:.80}")
    if not human or not isinstance(human, str):
        raise ValueError("human= names who the team hands off to, e.g. 'user'")
    run = _TeamRun(team_or_agent, input, output, human, dict(human_task or {}))
    return run.handle


@dataclass
class _TeamRun:
    source: Unit | UnitFactory
    input_map: InputMap | None
    output_map: OutputMap | None
    human: str
    task_defaults: dict[str, Any] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def handle(self, ctx: AsyncContext, intent: Intent) -> JSON:
        if not isinstance(ctx, AsyncContext):
            raise TypeError("team_handler returns an async handler: register it as it is")
        task: Task = team_task(intent.payload, self.input_map)
        state: Mapping[str, Any] | None = None
        earlier: list[JSON] = []
        async with self._units() as unit:
            for pause in range(10_000):
                segment = self._segment(ctx, unit, task, state, earlier)  # journaled: closed unrun
                outcome = await ctx.step(f"{KEY_PREFIX}run/{pause}", segment)
                if "result" in outcome:
                    return dict(outcome["result"])
                earlier = list(outcome["messages"])
                if "human" in outcome:
                    task, state = await self._asked(ctx, outcome, pause), outcome["state"]
                    continue
                state, messages = await self._handed_on(ctx, outcome, pause)
                if outcome["lone"]:  # a lone agent's turn ends with its calls' results
                    return result_of(TaskResult(messages=messages), self.output_map, earlier)
                task = messages
        raise FatalError("the team paused 10000 times in one intent")

    @contextlib.asynccontextmanager
    async def _units(self) -> AsyncIterator[Callable[[], Unit]]:
        """What each segment runs: the team object (one intent at a time), or a new team from the
        factory (a team whose run was cut at a handed-on call cannot run again)."""
        source = self.source
        if isinstance(source, Team | ChatAgent):
            async with self._lock:
                yield lambda: source
            return
        yield lambda: _made(source)

    async def _segment(
        self,
        ctx: AsyncContext,
        make: Callable[[], Unit],
        task: Task,
        state: Mapping[str, Any] | None,
        earlier: list[JSON],
    ) -> JSON:
        """Run from ``state`` (None: from the start) with ``task`` until the run ends (``{"result":
        ...}``) or pauses (``{"state", "messages", "human"}`` or ``{"state", "messages", "calls"}``:
        the team's state, the chat so far, and the handoff or the calls handed on)."""
        unit = make()
        if state is None:
            await _reset(unit)
        else:
            await unit.load_state(state)
        served = ServedRun()
        result, seen = await _run_until_paused(unit, task, served)
        ctx.report_usage(**usage_of(seen))
        chat = [*earlier, *chat_json(seen)]
        if served.handed_on:
            if isinstance(unit, BaseGroupChat) and unit is self.source:
                raise FatalError(
                    "a team whose members hand work on must be served as a function making the team "
                    "(serve_team(worker, address, make_team)): AutoGen keeps an unfinished turn in memory"
                )
            calls = [c.as_json() for c in served.handed_on]
            lone = "" if isinstance(unit, Team) else unit.name
            return {"state": dict(await unit.save_state()), "messages": chat, "calls": calls, "lone": lone}
        assert result is not None
        handoff = handoff_to(result, self.human)
        if handoff is not None:
            human = handoff_json(result, handoff)
            return {"state": dict(await unit.save_state()), "messages": chat, "human": human}
        return {"result": result_of(result, self.output_map, earlier)}

    async def _asked(self, ctx: AsyncContext, outcome: JSON, pause: int) -> Task:
        task = human_task(outcome["human"], self.human, self.task_defaults)
        answer = await ctx.ask_human(f"{KEY_PREFIX}human/{pause}", **task)
        return human_reply(outcome["human"], self.human, answer)

    async def _handed_on(
        self, ctx: AsyncContext, outcome: JSON, pause: int
    ) -> tuple[Mapping[str, Any], list[BaseChatMessage]]:
        """Spawn the paused calls as children (together), and once all have finished, the state and
        messages the run goes on with."""
        calls: list[JSON] = list(outcome["calls"])
        children = [
            ctx.spawn(c["to_agent"], c["payload"], key=call_key(pause, c), intent_type=c["intent_type"])
            for c in calls
        ]
        results = await ctx.gather(*children, return_exceptions=True)
        texts = [_text(call, result) for call, result in zip(calls, results, strict=True)]
        return calls_reply(outcome["state"], calls, texts, str(outcome["lone"]))


def _made(factory: UnitFactory) -> Unit:
    made = factory()
    if not isinstance(made, Team | ChatAgent):
        raise TypeError(f"the team factory must return a team or an agent, not {made!r:.80}")
    return made


def call_key(pause: int, call: Mapping[str, Any]) -> str:
    """A child's journal key: per pause and call (the model's call id, or the intent agent's name),
    both read from the journaled segment, so stable across runs."""
    part = str(call["call_id"] if call["kind"] == "tool" else call["agent"])
    if len(part) > _MAX_KEY_PART:
        part = hashlib.sha256(part.encode()).hexdigest()[:40]
    return f"{KEY_PREFIX}{call['kind']}/{pause}/{part}"


def _text(call: Mapping[str, Any], result: Any) -> str:
    if isinstance(result, ChildFailed):
        return f"{call['to_agent']} did not complete the intent ({result.status}): {result}"
    return result_text(dict(result))


async def _reset(unit: Unit) -> None:
    if isinstance(unit, Team):
        await unit.reset()
    else:
        await unit.on_reset(CancellationToken())


async def _run_until_paused(
    unit: Unit, task: Task, served: ServedRun
) -> tuple[TaskResult | None, list[BaseAgentEvent | BaseChatMessage]]:
    """Run ``unit`` until it ends (its result) or a call inside it hands work on (None). Such a call
    raises :class:`RunPaused` inside AutoGen, which would then wait forever (for the other tool calls
    of the turn, or for the team to stop): the run's tasks are cancelled here once the messages said
    before the call have reached the stream."""
    seen: list[BaseAgentEvent | BaseChatMessage] = []
    track_tasks()
    scope = served_run.set(served)
    try:
        runner = asyncio.create_task(_consume(unit, task, seen))  # the task takes the served run along
    finally:
        served_run.reset(scope)
    paused = asyncio.create_task(served.paused.wait())
    await asyncio.wait({runner, paused}, return_when=asyncio.FIRST_COMPLETED)
    if not served.paused.is_set():
        paused.cancel()
        return runner.result(), seen
    if not runner.done():
        await asyncio.sleep(_SETTLE_SECONDS)
    await served.end_tasks()
    with contextlib.suppress(asyncio.CancelledError, RunPaused):
        await runner
    return None, seen


async def _consume(unit: Unit, task: Task, seen: list[BaseAgentEvent | BaseChatMessage]) -> TaskResult:
    given: Any = list(task) if isinstance(task, Sequence) and not isinstance(task, str) else task
    async for item in unit.run_stream(task=given):
        if isinstance(item, TaskResult):
            return item
        seen.append(item)
    raise RuntimeError("the team's run ended without a result")
