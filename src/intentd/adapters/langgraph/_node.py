"""``intent_node``: a graph node that hands work to another agent through an intent and waits for its
result, durably.

In a served graph (a handler is running: :func:`intentd.worker.current_context`) the intent is a
child of the one being handled, journaled under the node's key: the handler's intent parks (no lease
held) until the child has finished. Parking stops the handler with the worker's ``Unwind``, a
``BaseException``: it passes through LangGraph (which retries and records only ``Exception``) and
the node is not checkpointed as done, so when the handler runs again the graph continues from its
last checkpoint, LangGraph runs this node again and the same spawn returns the child's journaled
result. The intent tree is one run: one correlation id, the served intent as the child's parent.

Anywhere else (a graph run from a script) the node submits a root intent under an idempotency key
made of the thread id and the node's key, and waits for it: a node run again (a resume from the
checkpoint, the script run again) finds the same intent and submits nothing new.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig, RunnableLambda

from intentd.client import AsyncClient, Client, Intent
from intentd.model import JSON
from intentd.worker import AsyncContext, ChildFailed, Context, current_context

from ._values import json_safe

PayloadMap = Callable[[Any], Mapping[str, Any]]
UpdateMap = Callable[[JSON], Any]
_KEY_PREFIX = "langgraph.node/"
_MAX_CORRELATION = 128


def intent_node(
    to_agent: str,
    *,
    intent_type: str = "intent.task.v1",
    payload: PayloadMap | None = None,
    update: UpdateMap | None = None,
    key: str | None = None,
    client: Client | AsyncClient | None = None,
    timeout: float | None = 600.0,
) -> RunnableLambda[Any, Any]:
    """A node (sync and async) that sends ``payload(state)`` (default: the state as JSON) to
    ``to_agent`` as an intent of ``intent_type`` and returns ``update(result)`` (default: the
    result, merged into the state).

        builder.add_node("review", intent_node(
            "agent://acme/prod/reviewer",
            payload=lambda state: {"draft": state["draft"]},
            update=lambda result: {"verdict": result["verdict"]},
        ))

    The intent's key is ``key`` or the node's name, with the graph step it runs at (a loop through
    the node makes one intent per pass); keep code before it deterministic, as it runs again. A
    child that failed or was canceled raises :class:`~intentd.worker.ChildFailed` (uncaught in a
    served graph, it fails the intent). Outside a handler, ``client`` (or ``Client()`` /
    ``AsyncClient()`` from ``INTENTD_URL`` and ``INTENTD_API_KEY``) submits, and ``timeout`` seconds
    bound the wait (None: no bound); the graph's config must name a ``thread_id``.
    """
    call = _IntentCall(to_agent, intent_type, payload, update, key, client, timeout)
    return RunnableLambda(call.run, afunc=call.arun, name=key or "intent_node")


class _IntentCall:
    def __init__(
        self,
        to_agent: str,
        intent_type: str,
        payload: PayloadMap | None,
        update: UpdateMap | None,
        key: str | None,
        client: Client | AsyncClient | None,
        timeout: float | None,
    ) -> None:
        self.to_agent, self.intent_type = to_agent, intent_type
        self.payload_map, self.update_map, self.key = payload, update, key
        self.client, self.timeout = client, timeout

    def run(self, state: Any, config: RunnableConfig) -> Any:
        payload, key = self._payload(state), self._journal_key(config)
        ctx = current_context()
        if isinstance(ctx, AsyncContext):
            raise TypeError(
                "intent_node ran synchronously in an async handler: serve the graph with "
                "asynchronous=True (graph.astream runs the node's async form)"
            )
        if ctx is not None:
            spawned = ctx.spawn(self.to_agent, payload, key=key, intent_type=self.intent_type)
            return self._update(spawned.result())
        client = self.client if isinstance(self.client, Client) else Client()
        try:
            idempotency, correlation = _root_identity(key, config)
            submitted = client.submit(
                self.to_agent,
                self.intent_type,
                payload,
                idempotency_key=idempotency,
                correlation_id=correlation,
            )
            done = client.wait_for(submitted.intent_id, timeout=self.timeout)
        finally:
            if client is not self.client:
                client.close()
        return self._update(_result(key, done))

    async def arun(self, state: Any, config: RunnableConfig) -> Any:
        payload, key = self._payload(state), self._journal_key(config)
        ctx = current_context()
        if isinstance(ctx, Context):
            raise TypeError(
                "intent_node ran asynchronously in a sync handler: run the graph with stream/invoke"
            )
        if ctx is not None:
            result = await ctx.spawn(self.to_agent, payload, key=key, intent_type=self.intent_type)
            return self._update(result)
        client = self.client if isinstance(self.client, AsyncClient) else AsyncClient()
        try:
            idempotency, correlation = _root_identity(key, config)
            submitted = await client.submit(
                self.to_agent,
                self.intent_type,
                payload,
                idempotency_key=idempotency,
                correlation_id=correlation,
            )
            done = await client.wait_for(submitted.intent_id, timeout=self.timeout)
        finally:
            if client is not self.client:
                await client.aclose()
        return self._update(_result(key, done))

    def _payload(self, state: Any) -> JSON:
        value = json_safe(self.payload_map(state) if self.payload_map else state)
        if not isinstance(value, dict):
            raise TypeError(f"intent_node's payload must be a dict, not {type(value).__name__}")
        return value

    def _journal_key(self, config: RunnableConfig) -> str:
        """Stable across runs: the node (in its subgraphs) and the graph step it runs at."""
        metadata = config.get("metadata") or {}
        name = self.key or _node_path(config) or str(metadata.get("langgraph_node", "node"))
        return f"{_KEY_PREFIX}{name}@{metadata.get('langgraph_step', 0)}"

    def _update(self, result: Any) -> Any:
        return self.update_map(result) if self.update_map else result


def _node_path(config: RunnableConfig) -> str:
    """``outer/inner`` for a node of a subgraph: the checkpoint namespace without its task ids."""
    namespace = str((config.get("configurable") or {}).get("checkpoint_ns") or "")
    return "/".join(part.split(":")[0] for part in namespace.split("|") if part)


def _root_identity(key: str, config: RunnableConfig) -> tuple[str, str]:
    """The idempotency key of a root intent (per thread and node key), and its correlation id (per
    thread, so one graph run's intents correlate): the same body each time, as a repeat must be."""
    thread = (config.get("configurable") or {}).get("thread_id")
    if thread is None:
        raise ValueError(
            "intent_node outside an intentd handler needs a thread_id in the graph's config "
            "({'configurable': {'thread_id': ...}}): it keys the intent, so a run again submits nothing new"
        )
    digest = hashlib.sha256(f"{thread}/{key}".encode()).hexdigest()
    correlation = f"langgraph-{thread}"
    if len(correlation) > _MAX_CORRELATION:
        correlation = f"langgraph-{hashlib.sha256(str(thread).encode()).hexdigest()[:40]}"
    return f"langgraph-{digest[:40]}", correlation


def _result(key: str, done: Intent) -> JSON:
    if done.status != "COMPLETED":
        raise ChildFailed(key, done.status, done.error)
    return dict(done.result or {})
