"""``IntentTool``: a CrewAI tool that hands work to another agent through an intent and waits for
its result, durably.

Inside a served crew (a handler is running: :func:`intentd.worker.current_context`) the intent is a
child of the one being handled, journaled under a key made of the tool's name and its input: the
handler's intent parks (no lease held) until the child has finished, and the handler runs again from
the top, where the same call returns the child's result (``_llm_journal`` replays the crew up to
here). The park is the worker's ``Unwind``, a ``BaseException``: CrewAI's tool usage catches
``Exception`` (a tool's error becomes the agent's observation), so it passes through to the worker.

Anywhere else (a crew run from a script) it submits a root intent, with an idempotency key made of
the same things (a crew run again submits nothing new), and waits for it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from crewai.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from intentd.client import Client, Intent
from intentd.model import JSON
from intentd.worker import ChildFailed, Context, current_context


class IntentRequest(BaseModel):
    """What the agent sends by default: its request in words."""

    request: str = Field(description="what the other agent should do, with everything it needs to know")


class IntentTool(BaseTool):
    """Hand the agent's request to ``to_agent`` as an intent of ``intent_type`` and return its result.

        review = IntentTool(
            to_agent="agent://acme/prod/reviewer",
            name="ask_reviewer",
            description="Ask the reviewer to check a draft; returns their verdict.",
        )
        Agent(role="writer", ..., tools=[review])

    The payload is the tool's input (``{"request": ...}``, or the fields of your ``args_schema``).
    The agent reads back the child's result as JSON text; a child that failed or was canceled is
    told to the agent as text too (it may try something else). Outside a handler, ``client`` (or
    ``Client()`` from ``INTENTD_URL`` and ``INTENTD_API_KEY``) submits, and ``timeout`` seconds
    bound the wait (None: no bound).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    description: str
    to_agent: str
    intent_type: str = "intent.task.v1"
    args_schema: type[BaseModel] = IntentRequest
    client: Any = Field(default=None, exclude=True)
    timeout: float | None = 600.0

    def _run(self, **arguments: Any) -> str:
        payload = json.loads(json.dumps(arguments, default=str))
        ctx = current_context()
        if ctx is None:
            return self._as_root(payload)
        if not isinstance(ctx, Context):
            raise TypeError(
                "IntentTool runs in a sync handler (serve_crew registers one): an async handler's "
                "context cannot be waited on from CrewAI's tool threads"
            )
        try:
            result = ctx.spawn(
                self.to_agent, payload, key=self._key(payload), intent_type=self.intent_type
            ).result()
        except ChildFailed as failed:
            return f"{self.to_agent} did not do it: {failed}"
        return _as_text(result)

    def _key(self, payload: JSON) -> str:
        """Stable across runs of the handler: the same request to the same agent is one child."""
        text = json.dumps([self.to_agent, self.intent_type, payload], sort_keys=True)
        return f"crewai.tool/{self.name[:120]}/{hashlib.sha256(text.encode()).hexdigest()[:24]}"

    def _as_root(self, payload: JSON) -> str:
        key = self._key(payload)
        client = self.client if self.client is not None else Client()
        try:
            # The same body each time (a fresh correlation id would make a repeat a conflict).
            submitted = client.submit(
                self.to_agent, self.intent_type, payload, idempotency_key=key, correlation_id=key
            )
            done: Intent = client.wait_for(submitted.intent_id, timeout=self.timeout)
        finally:
            if self.client is None:
                client.close()
        if done.status != "COMPLETED":
            return f"{self.to_agent} did not do it: intent {done.intent_id} ended {done.status}: {done.error}"
        return _as_text(done.result)


def _as_text(result: Any) -> str:
    return json.dumps(result, sort_keys=True, default=str)
