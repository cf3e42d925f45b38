"""The MCP tools: submit and follow intents, answer human tasks, read the fleet's health.

Every tool calls intentd's API through the SDK as the caller (``ClientFor`` gives the client of the
request being served), so the caller's key decides what it may do: a refusal (403
``role_not_allowed``, 404, 409 ...) comes back as a tool error naming the code, for the model to read.

Waiting is a durable handle, not a held call: ``submit_intent`` answers at once with the intent's id,
and ``wait_for_intent`` waits at most ``max_wait_seconds`` (a few seconds, under the read timeout of
common MCP clients: OpenAI Agents' is 5 s) and then answers the current state. A model that gets
``done: false`` calls it again; the intent runs on whatever happens to the MCP connection.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from intentd import __version__
from intentd.client import AsyncClient, IntentdError, WaitTimeout

from ._views import (
    EventList,
    EventView,
    FleetView,
    IntentView,
    TaskAnswerView,
    TaskList,
    TaskView,
    WaitAnswer,
)

# The client acting for the caller of the request a tool serves (the HTTP mount: the request's key;
# stdio: the one configured client).
ClientFor = Callable[[Context[Any, Any]], AsyncClient]

DEFAULT_MAX_WAIT_SECONDS = 3.0
DEFAULT_INTENT_TYPE = "intent.task.v1"
WAITING_FOR_HUMAN = "WAITING_FOR_HUMAN"
_CORRELATION_NAMESPACE = uuid.UUID("8f6b1c1e-3c55-4f7e-9a55-6d2b0e6a3c11")  # correlation ids of keyed submits

INSTRUCTIONS = """\
intentd runs work as durable intents: submit_intent hands work to an agent and answers at once with an
intent_id. Follow it with wait_for_intent (it waits a few seconds, then answers the current state; call
it again while done is false: the id stays valid across calls, restarts and reconnects), get_intent and
list_intent_events (its audit trail). An intent WAITING_FOR_HUMAN has an open human task:
list_human_tasks shows it, answer_human_task answers it (approve, reject, or one of its
allowed_outcomes, with a comment). fleet_health shows the agents and their health."""

P = ParamSpec("P")
R = TypeVar("R")

_READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
_END = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)


def refusals_as_tool_errors(tool: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """intentd's refusals as MCP tool errors (``is_error`` with ``<code>: <message>``), which the
    model reads; anything else stays a crash that the SDK logs and hides."""

    @functools.wraps(tool)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await tool(*args, **kwargs)
        except IntentdError as exc:
            raise ToolError(f"{exc.code}: {exc.message}") from exc

    return call


class IntentTools:
    """The tools, as methods: each one short call of the SDK and a view of its answer."""

    def __init__(self, client_for: ClientFor, max_wait_seconds: float) -> None:
        self.client_for = client_for
        self.max_wait_seconds = max_wait_seconds

    async def submit_intent(
        self,
        to_agent: str,
        ctx: Context[Any, Any],
        payload: dict[str, Any] | None = None,
        intent_type: str = DEFAULT_INTENT_TYPE,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        parent_intent_id: str | None = None,
    ) -> IntentView:
        """Hand work to an agent (``to_agent``, e.g. agent://acme/prod/writer) as a durable intent;
        answers at once. Pass an idempotency_key to make a retried call return the first intent."""
        if idempotency_key and not correlation_id:
            # The SDK would draw a fresh correlation id, making a retry a different request body,
            # which the API refuses as a reused key (409): derive it from the key instead.
            correlation_id = str(uuid.uuid5(_CORRELATION_NAMESPACE, idempotency_key))
        intent = await self.client_for(ctx).submit(
            to_agent,
            intent_type,
            payload or {},
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            parent_intent_id=parent_intent_id,
        )
        return IntentView.of(intent)

    async def get_intent(self, intent_id: str, ctx: Context[Any, Any]) -> IntentView:
        """One intent: its status, and its result, error or reason once it is done."""
        return IntentView.of(await self.client_for(ctx).get(intent_id))

    async def wait_for_intent(
        self, intent_id: str, ctx: Context[Any, Any], wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS
    ) -> WaitAnswer:
        """Wait a few seconds (at most the server's cap) for an intent to finish, then answer its
        state. done=false is no failure: call again with the same intent_id."""
        bound = min(max(wait_seconds, 0.0), self.max_wait_seconds)
        client = self.client_for(ctx)
        started = time.monotonic()
        intent = await client.get(intent_id)
        # Waiting for a person is not a matter of seconds: say so at once.
        if not intent.is_terminal and intent.waiting_reason != WAITING_FOR_HUMAN and bound > 0:
            try:
                intent = await client.wait_for(intent_id, timeout=bound, wait_seconds=bound)
            except WaitTimeout:
                intent = await client.get(intent_id)
        view = IntentView.of(intent)
        waited = round(time.monotonic() - started, 2)
        return WaitAnswer(intent=view, done=view.done, waited_seconds=waited, next=_next_step(view))

    async def list_intent_events(
        self, intent_id: str, ctx: Context[Any, Any], since: int = 0, limit: int = 100
    ) -> EventList:
        """An intent's events after seq ``since``, in order: who did what, when."""
        events = await self.client_for(ctx).events(intent_id, since=since, limit=limit)
        return EventList(intent_id=intent_id, events=[EventView.of(e) for e in events])

    async def cancel_intent(
        self, intent_id: str, ctx: Context[Any, Any], reason: str | None = None
    ) -> IntentView:
        """Cancel an intent that is not done yet (and stop its agent's work on it)."""
        return IntentView.of(await self.client_for(ctx).cancel(intent_id, reason=reason))

    async def list_human_tasks(
        self,
        ctx: Context[Any, Any],
        state: str = "open",
        intent_id: str | None = None,
        limit: int = 50,
    ) -> TaskList:
        """Human tasks (approvals, reviews, forms) waiting for an answer; state is open, decided,
        timed_out, canceled or any; intent_id keeps one intent's."""
        tasks = await self.client_for(ctx).tasks(state=state, intent_id=intent_id, limit=limit)
        return TaskList(tasks=[TaskView.of(task) for task in tasks])

    async def answer_human_task(
        self,
        task_id: str,
        outcome: str,
        ctx: Context[Any, Any],
        comment: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> TaskAnswerView:
        """Answer an open human task: outcome is approve, reject or one of its allowed_outcomes;
        data must match its form_schema when it has one. The intent then moves on."""
        answer = await self.client_for(ctx).decide_task(task_id, outcome, comment=comment, data=data)
        return TaskAnswerView.of(answer)

    async def fleet_health(
        self, ctx: Context[Any, Any], health: str | None = None, limit: int = 100
    ) -> FleetView:
        """The agents of the fleet with their health (healthy, degraded, unreachable, killed,
        unknown), open work and error rate; ``health`` keeps only those in that state."""
        return FleetView.of(await self.client_for(ctx).mesh_agents(health=health, limit=limit))


def _next_step(intent: IntentView) -> str:
    if intent.done:
        return f"the intent is {intent.status}: its outcome is in result, error or reason"
    if intent.waiting_reason == WAITING_FOR_HUMAN:
        return (
            f"the intent waits for a person: list_human_tasks(intent_id={intent.intent_id!r}) shows the "
            "question; answer_human_task answers it; then call wait_for_intent again"
        )
    return f"still {intent.status}: call wait_for_intent(intent_id={intent.intent_id!r}) again"


def build_server(
    client_for: ClientFor, *, max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS, name: str = "intentd"
) -> MCPServer[Any]:
    """An ``MCPServer`` with intentd's tools, each acting through ``client_for(ctx)``."""
    if max_wait_seconds <= 0:
        raise ValueError("max_wait_seconds must be positive")
    # log_level: the SDK configures the root logger when nothing has; quiet unless something is wrong.
    server: MCPServer[Any] = MCPServer(
        name, version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    tools = IntentTools(client_for, max_wait_seconds)
    for method, hints in (
        (tools.submit_intent, _WRITE),
        (tools.get_intent, _READ),
        (tools.wait_for_intent, _READ),
        (tools.list_intent_events, _READ),
        (tools.cancel_intent, _END),
        (tools.list_human_tasks, _READ),
        (tools.answer_human_task, _WRITE),
        (tools.fleet_health, _READ),
    ):
        server.add_tool(refusals_as_tool_errors(method), name=method.__name__, annotations=hints)
    return server
