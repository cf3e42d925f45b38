"""Hand work from an AutoGen team to another agent through an intent, and wait for it durably: an
intent tool (:func:`intent_tool`, a ``FunctionTool`` a model calls) or an intent agent
(:class:`IntentAgent`, a team member whose answers come from another agent).

In a team served by :func:`~intentd.adapters.autogen.serve_team` the call stops the run where it is
(``_scope.py`` says how); the handler saves the team's state, spawns the child intent (the served
intent its parent, same run and correlation id), parks without a lease, and when the child has
finished loads the state and goes on with its result, in whichever process takes the intent: the
turns before the call never run again. Outside any handler (a script running the team) the call
submits a root intent under an idempotency key and waits for it. In a handler that runs the team
itself the call cannot park the intent (AutoGen would swallow the worker's ``Unwind``), so it fails
clearly: serve the team with ``serve_team`` instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autogen_agentchat.agents import BaseChatAgent
from autogen_agentchat.base import Response
from autogen_agentchat.messages import BaseChatMessage, TextMessage
from autogen_core import CancellationToken
from autogen_core.tools import FunctionTool

from intentd.client import AsyncClient, Intent
from intentd.model import JSON
from intentd.worker import current_context

from ._scope import HandedOn, served_run
from ._values import result_text, text_of

PayloadMap = Callable[[Sequence[BaseChatMessage]], JSON]
_NOT_SERVED = (
    "{what} hands work on through an intent, which parks the intent being handled: in a handler, "
    "serve the team with intentd.adapters.autogen.serve_team (or team_handler) instead of running it"
)


class IntentCallFailed(RuntimeError):
    """An intent handed on from outside any handler did not complete."""


def intent_tool(
    to_agent: str,
    *,
    name: str,
    description: str,
    intent_type: str = "intent.task.v1",
    client: AsyncClient | None = None,
    timeout: float | None = 600.0,
    correlation_id: str | None = None,
) -> FunctionTool:
    """A tool ``name`` (one text parameter, ``task``) that sends ``{"task": ...}`` to ``to_agent`` as
    the payload of an intent of ``intent_type`` and gives the model the intent's result as text (its
    ``text`` or ``output`` when that is text, as a served AutoGen team or OpenAI agent answers; else
    the result as JSON).

        review = intent_tool("agent://acme/prod/reviewer", name="review", description="Have a draft reviewed")
        writer = AssistantAgent("writer", model_client=..., tools=[review])

    In a served team the model's turn ends with the result (as an agent that does not reflect on tool
    use ends it) and the team goes on; let an intent tool be the only tool of its model turn
    (``parallel_tool_calls=False``). Outside a handler the tool submits with ``client`` (default: an
    ``AsyncClient()`` from ``INTENTD_URL`` and ``INTENTD_API_KEY``), keyed by the model's call id,
    and waits ``timeout`` seconds at most (None: no bound); a child that failed is the tool's error.
    """
    call = _RootCall(to_agent, intent_type, client, timeout, correlation_id)

    async def hand_on(task: str) -> str:
        raise AssertionError("run through IntentTool.run_json")  # pragma: no cover

    hand_on.__name__ = name
    return IntentTool(hand_on, description=description, name=name, call=call)


class IntentTool(FunctionTool):
    """The tool :func:`intent_tool` makes (its calls need the model's call id, which ``run_json``
    alone is given)."""

    def __init__(self, func: Callable[..., Any], *, description: str, name: str, call: _RootCall) -> None:
        super().__init__(func, description=description, name=name)
        self._call = call

    async def run_json(
        self, args: Mapping[str, Any], cancellation_token: CancellationToken, call_id: str | None = None
    ) -> Any:
        task = str(
            self._args_type.model_validate(args).model_dump()["task"]
        )  # bad arguments: the model is told
        served = served_run.get()
        if served is not None:
            if not call_id:
                raise ValueError(f"the intent tool {self.name} needs the model's call id")
            raise served.pause(
                HandedOn(
                    kind="tool",
                    to_agent=self._call.to_agent,
                    payload={"task": task},
                    intent_type=self._call.intent_type,
                    tool=self.name,
                    call_id=call_id,
                    arguments=json.dumps(dict(args)),
                )
            )
        if current_context() is not None:
            raise RuntimeError(_NOT_SERVED.format(what=f"the intent tool {self.name}"))
        return await self._call.submitted({"task": task}, f"tool/{self.name}/{call_id or task}")


class IntentAgent(BaseChatAgent):
    """A team member backed by another intentd agent: on its turn it sends the conversation's last
    message to ``to_agent`` (``{"task": <its text>}``, or ``payload(new_messages)``) as an intent of
    ``intent_type`` and answers with the result as text (as :func:`intent_tool` reads it).

        reviewer = IntentAgent("reviewer", "agent://acme/prod/reviewer", description="Reviews drafts")
        team = RoundRobinGroupChat([writer, reviewer], termination_condition=...)

    Outside a handler the turn submits with ``client``, keyed by its name and the text it sends, and
    waits ``timeout`` seconds at most.
    """

    def __init__(
        self,
        name: str,
        to_agent: str,
        *,
        description: str = "An agent reached through intentd",
        intent_type: str = "intent.task.v1",
        payload: PayloadMap | None = None,
        client: AsyncClient | None = None,
        timeout: float | None = 600.0,
        correlation_id: str | None = None,
    ) -> None:
        super().__init__(name, description)
        self._call = _RootCall(to_agent, intent_type, client, timeout, correlation_id)
        self._payload = payload

    @property
    def produced_message_types(self) -> Sequence[type[BaseChatMessage]]:
        return (TextMessage,)

    async def on_messages(
        self, messages: Sequence[BaseChatMessage], cancellation_token: CancellationToken
    ) -> Response:
        payload = self._payload_of(messages)
        served = served_run.get()
        if served is not None:
            raise served.pause(
                HandedOn(
                    kind="agent",
                    to_agent=self._call.to_agent,
                    payload=payload,
                    intent_type=self._call.intent_type,
                    agent=self.name,
                )
            )
        if current_context() is not None:
            raise RuntimeError(_NOT_SERVED.format(what=f"the intent agent {self.name}"))
        text = await self._call.submitted(payload, f"agent/{self.name}/{json.dumps(payload, sort_keys=True)}")
        return Response(chat_message=TextMessage(source=self.name, content=text))

    async def on_reset(self, cancellation_token: CancellationToken) -> None:
        """Nothing to forget: the other agent keeps its own state."""

    def _payload_of(self, messages: Sequence[BaseChatMessage]) -> JSON:
        if self._payload is not None:
            payload = self._payload(messages)
            if not isinstance(payload, dict):
                raise TypeError(f"payload= must return a dict, not {payload!r:.80}")
            return payload
        if not messages:
            raise ValueError(f"the intent agent {self.name} was given no message to hand on")
        return {"task": text_of(messages[-1])}


class _RootCall:
    """An intent submitted from outside any handler: once per key, then waited for."""

    def __init__(
        self,
        to_agent: str,
        intent_type: str,
        client: AsyncClient | None,
        timeout: float | None,
        correlation_id: str | None,
    ) -> None:
        if not to_agent.startswith("agent://"):
            raise ValueError(f"to_agent must be an agent address (agent://...), not {to_agent!r}")
        self.to_agent, self.intent_type = to_agent, intent_type
        self.client, self.timeout, self.correlation_id = client, timeout, correlation_id

    async def submitted(self, payload: JSON, call: str) -> str:
        """Submit once per ``call`` (what the script repeats when it runs again), target and
        conversation: the idempotency key is made of all three, so a re-run finds the first intent."""
        client = self.client or AsyncClient()
        key = _digest(f"{self.to_agent}\n{self.correlation_id or ''}\n{call}")
        try:
            submitted = await client.submit(
                self.to_agent,
                self.intent_type,
                payload,
                idempotency_key=key,
                correlation_id=self.correlation_id,
            )
            done = await client.wait_for(submitted.intent_id, timeout=self.timeout)
        finally:
            if client is not self.client:
                await client.aclose()
        return _completed(self.to_agent, done)


def _completed(to_agent: str, done: Intent) -> str:
    if done.status != "COMPLETED":
        raise IntentCallFailed(
            f"{to_agent} did not complete intent {done.intent_id} ({done.status}): {done.error}"
        )
    return result_text(dict(done.result or {}))


def _digest(text: str) -> str:
    return f"autogen-{hashlib.sha256(text.encode()).hexdigest()[:40]}"
