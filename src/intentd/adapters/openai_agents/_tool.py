"""``intent_tool``: a function tool that hands work to another agent through an intent and waits for
its result, durably.

In an agent served by :func:`~intentd.adapters.openai_agents.serve_agent` the call does not run at
once: the tool asks for "approval" (its ``needs_approval`` policy), so the SDK pauses the run with the
call pending, exactly as it does for a person. The handler journals the paused ``RunState``, spawns
the child intent (the served intent its parent, same run and correlation id) and parks without a
lease; when the child has finished it loads the state, approves the call and continues the run, and
the tool returns the child's journaled result. Nothing that ran before the call runs again, however
non-deterministic the model: its earlier turns are in the state, not replayed.

In any other handler (one that calls ``Runner.run`` itself) the tool spawns the child directly,
keyed by tool name and call count; parking unwinds the handler (``Unwind``, a ``BaseException``,
which the SDK's tool error handling, catching ``Exception``, lets through) and runs it again from
the top, so that only suits a run that repeats its calls (a scripted model). Outside any handler the
tool submits a root intent under an idempotency key made of the tool name and the model's call id,
and waits for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from agents import FunctionTool, RunContextWrapper
from agents.strict_schema import ensure_strict_json_schema
from agents.tool_context import ToolContext
from pydantic import BaseModel, ValidationError

from intentd.client import AsyncClient, Intent
from intentd.model import JSON
from intentd.worker import AsyncContext, ChildFailed, Context, current_context

from ._scope import KEY_PREFIX, served_run
from ._values import json_safe

OutputMap = Callable[[JSON], Any]
_TEXT_PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {"request": {"type": "string", "description": "What to ask of the other agent"}},
    "required": ["request"],
    "additionalProperties": False,
}
_MAX_CORRELATION = 128


class BadArguments(ValueError):
    """The model's arguments for an intent tool do not match its parameters."""


def intent_tool(
    to_agent: str,
    *,
    name: str,
    description: str,
    intent_type: str = "intent.task.v1",
    params: type[BaseModel] | Mapping[str, Any] | None = None,
    output: OutputMap | None = None,
    client: AsyncClient | None = None,
    timeout: float | None = 600.0,
) -> FunctionTool:
    """A tool ``name`` that sends its arguments to ``to_agent`` as the payload of an intent of
    ``intent_type`` and gives the model the intent's result (as JSON text, or ``output(result)``).

        research = intent_tool("agent://acme/prod/researcher", name="research",
                               description="Ask the research agent a question", params=Question)
        agent = Agent(name="writer", tools=[research], model=...)

    ``params`` is a pydantic model (validated; a strict schema) or a JSON Schema (used as given);
    the default is one text field, ``request``. A child that failed, or arguments that do not match,
    reach the model as the tool's output (so it can react); it is not raised. Outside a handler the
    tool submits with ``client`` (default: an ``AsyncClient()`` from ``INTENTD_URL`` and
    ``INTENTD_API_KEY``) and waits ``timeout`` seconds at most (None: no bound).
    """
    call = IntentCall(to_agent, name, intent_type, params, output, client, timeout)
    return FunctionTool(
        name=name,
        description=description,
        params_json_schema=call.schema(),
        on_invoke_tool=call.invoke,
        strict_json_schema=isinstance(params, type) or params is None,
        needs_approval=call.pauses_run,
    )


def intent_call_of(tool: Any) -> IntentCall | None:
    """The intent call behind ``tool``, if it is an intent tool."""
    policy = getattr(tool, "needs_approval", None)
    owner = getattr(policy, "__self__", None)
    return owner if isinstance(owner, IntentCall) else None


class IntentCall:
    """One intent tool's settings, its approval policy and its body."""

    def __init__(
        self,
        to_agent: str,
        name: str,
        intent_type: str,
        params: type[BaseModel] | Mapping[str, Any] | None,
        output: OutputMap | None,
        client: AsyncClient | None,
        timeout: float | None,
    ) -> None:
        self.to_agent, self.name, self.intent_type = to_agent, name, intent_type
        self.params, self.output, self.client, self.timeout = params, output, client, timeout
        # Calls per handler run, for the keys of the direct path (a handler not served by us).
        self._counts: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()

    def schema(self) -> dict[str, Any]:
        if self.params is None:
            return dict(_TEXT_PARAMS)
        if isinstance(self.params, type):
            return ensure_strict_json_schema(self.params.model_json_schema())
        return dict(self.params)

    def payload(self, arguments: str) -> JSON:
        """The intent's payload from the model's arguments (JSON text); :class:`BadArguments` if they
        do not fit. One function for the handler's spawn and the tool's, which must be equal."""
        try:
            if isinstance(self.params, type):
                return dict(self.params.model_validate_json(arguments or "{}").model_dump(mode="json"))
            value = json.loads(arguments or "{}")
        except (ValidationError, ValueError) as exc:
            raise BadArguments(f"the arguments of {self.name} do not match its parameters: {exc}") from None
        if not isinstance(value, dict):
            raise BadArguments(f"the arguments of {self.name} must be a JSON object, not {arguments[:80]!r}")
        return value

    async def pauses_run(
        self, _context: RunContextWrapper[Any], _params: dict[str, Any], call_id: str
    ) -> bool:
        """The SDK's approval policy: in a served run, a call the handler has not delegated yet pauses
        the run (the handler delegates it); anywhere else the tool runs at once."""
        run = served_run.get()
        return run is not None and call_id not in run.delegated

    async def invoke(self, tool_context: ToolContext[Any], arguments: str) -> Any:
        try:
            payload = self.payload(arguments)
            result = await self._result(tool_context, payload)
        except BadArguments as exc:
            return str(exc)
        except ChildFailed as failed:
            return f"{self.to_agent} did not complete the intent ({failed.status}): {failed}"
        return self.output(result) if self.output else json.dumps(json_safe(result))

    async def _result(self, tool_context: ToolContext[Any], payload: JSON) -> JSON:
        ctx, run = current_context(), served_run.get()
        if ctx is not None:
            key = run.delegated.pop(tool_context.tool_call_id, None) if run is not None else None
            child = ctx.spawn(
                self.to_agent, payload, key=key or self._direct_key(ctx), intent_type=self.intent_type
            )
            if isinstance(ctx, AsyncContext):
                return dict(await child)
            return dict(await asyncio.to_thread(child.result))  # a sync handler's run
        return await self._submitted(tool_context, payload)

    def _direct_key(self, ctx: Context | AsyncContext) -> str:
        count = self._counts.get(ctx, 0)
        self._counts[ctx] = count + 1
        return f"{KEY_PREFIX}tool/{self.name}#{count}"

    async def _submitted(self, tool_context: ToolContext[Any], payload: JSON) -> JSON:
        client = self.client or AsyncClient()
        try:
            key, correlation = _root_identity(self.name, self.to_agent, tool_context)
            submitted = await client.submit(
                self.to_agent, self.intent_type, payload, idempotency_key=key, correlation_id=correlation
            )
            done = await client.wait_for(submitted.intent_id, timeout=self.timeout)
        finally:
            if client is not self.client:
                await client.aclose()
        return _completed(self.name, done)


def _root_identity(name: str, to_agent: str, tool_context: ToolContext[Any]) -> tuple[str, str | None]:
    """The same body on every repeat (a run resumed from its state calls the tool again with the same
    call id): an idempotency key per tool, call id, target and conversation; the run's ``group_id``,
    when it has one, as the correlation id, so one conversation's intents correlate."""
    group = getattr(getattr(tool_context, "run_config", None), "group_id", None)
    call = f"{name}/{tool_context.tool_call_id}\n{to_agent}\n{group or ''}"
    digest = hashlib.sha256(call.encode()).hexdigest()
    correlation = f"openai-agents-{group}" if group else None
    if correlation is not None and len(correlation) > _MAX_CORRELATION:
        correlation = f"openai-agents-{hashlib.sha256(str(group).encode()).hexdigest()[:40]}"
    return f"openai-agents-{digest[:40]}", correlation


def _completed(name: str, done: Intent) -> JSON:
    if done.status != "COMPLETED":
        raise ChildFailed(f"{KEY_PREFIX}tool/{name}", str(done.status), done.error)
    return dict(done.result or {})
