"""External A2A agents as intentd agents: a worker handler forwards each intent to the remote agent
as an A2A task and maps the task back (input required → a human task, artifacts → the result).

Durable: the remote task id is journaled (``ctx.step``) as soon as the remote agent names it, so a
handler run again (after a pause for a person, or a crash) continues that task instead of opening a
second one; each answer sent to it is a step too, sent once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from a2a.client import A2ACardResolver, A2AClientError, AgentCardResolutionError, ClientConfig, create_client
from a2a.client import Client as A2AClient
from a2a.helpers import new_data_part, new_text_part
from a2a.types import (
    AgentCard,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)

from intentd.client import Intent
from intentd.model import JSON
from intentd.worker import AsyncContext, FatalError, HumanAnswer, RetryableError, Worker

from ._mapping import INTERRUPTED_STATES, TERMINAL_STATES, data_of, result_of, text_of

TASK_KEY = "a2a.task"


@dataclass(frozen=True)
class _Asking:
    """How an input-required pause is put to a person."""

    task_type: str
    allowed_outcomes: Sequence[str] | None
    assignees: Sequence[str]


def serve_a2a_agent(
    worker: Worker,
    address: str,
    agent: str | AgentCard,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    task_type: str = "clarification",
    allowed_outcomes: Sequence[str] | None = None,
    assignees: Sequence[str] = (),
) -> None:
    """Serve the A2A agent ``agent`` (its base URL, where its card is, or its card) as the intentd
    agent ``address`` on ``worker``. Each intent's payload goes as one message (a data part, and its
    ``"text"`` as a text part); the completed task's artifacts are the result (one data artifact: its
    object). INPUT_REQUIRED becomes a human task (``task_type``, ``assignees``; the remote agent's
    question is its description) whose answer is sent back as the next message: its outcome (and
    comment) as text, ``{"outcome", "comment", "data"}`` as data. FAILED or REJECTED fails the intent
    for good, as do CANCELED and AUTH_REQUIRED. ``headers`` go with every request (e.g. the remote
    agent's ``Authorization``).

        serve_a2a_agent(worker, "agent://acme/prod/translator", "http://translator.internal:9000")
    """
    remote = _RemoteAgent(
        agent, dict(headers or {}), timeout, _Asking(task_type, allowed_outcomes, assignees)
    )

    async def forward(ctx: AsyncContext, intent: Intent) -> JSON:
        return await remote.handle(ctx, intent)

    forward.__name__ = forward.__qualname__ = f"a2a_forward_{address.rsplit('/', 1)[-1]}"
    worker.agent(address)(forward)


class _RemoteAgent:
    def __init__(
        self, agent: str | AgentCard, headers: dict[str, str], timeout: float, asking: _Asking
    ) -> None:
        self._agent = agent
        self._headers = headers
        self._timeout = timeout
        self._asking = asking
        self._card: AgentCard | None = agent if isinstance(agent, AgentCard) else None

    async def handle(self, ctx: AsyncContext, intent: Intent) -> JSON:
        async with self._connect() as client:
            return await self._forward(ctx, intent, client)

    async def _forward(self, ctx: AsyncContext, intent: Intent, client: A2AClient) -> JSON:
        streams: list[AsyncIterator[StreamResponse]] = []
        opening = _message(intent.payload, ctx.idempotency_key_for(TASK_KEY))
        ref = await ctx.step(TASK_KEY, lambda: _send(client, opening, streams))
        if ref.get("task_id") is None:  # the agent answered with a message: no task to follow
            return dict(ref.get("result") or {})
        task_id, context_id = str(ref["task_id"]), str(ref["context_id"])
        task = await _settled(client, task_id, streams)
        round_ = 0
        while task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED:
            round_ += 1
            answer = await self._ask(ctx, round_, task)
            reply = _reply(answer, task_id, context_id, ctx.idempotency_key_for(f"a2a.reply.{round_}"))
            streams.clear()
            await ctx.step(f"a2a.reply.{round_}", _send(client, reply, streams))
            task = await _settled(client, task_id, streams)
        return _outcome(task)

    async def _ask(self, ctx: AsyncContext, round_: int, task: Task) -> HumanAnswer:
        question = text_of(task.status.message) if task.HasField("status") else ""
        return await ctx.ask_human(
            f"a2a.input.{round_}",
            title=f"{self._name()} needs input",
            description=question or "The remote agent asks for input.",
            task_type=self._asking.task_type,
            allowed_outcomes=self._asking.allowed_outcomes,
            assignees=self._asking.assignees,
        )

    def _name(self) -> str:
        return self._agent.name if isinstance(self._agent, AgentCard) else str(self._agent)

    @asynccontextmanager
    async def _connect(self) -> AsyncIterator[A2AClient]:
        """An A2A client for one handler run, closed after it (a worker has no hook to close a
        shared one). The card is read once and kept."""
        async with httpx.AsyncClient(headers=self._headers, timeout=self._timeout) as http:
            config = ClientConfig(httpx_client=http, streaming=True)
            if self._card is None:
                try:
                    self._card = await A2ACardResolver(http, str(self._agent)).get_agent_card()
                except AgentCardResolutionError as error:
                    raise _card_error(self._agent, error) from None
            client = await create_client(self._card, config)
            try:
                yield client
            finally:
                await client.close()


async def _send(client: A2AClient, message: Message, streams: list[AsyncIterator[StreamResponse]]) -> JSON:
    """Send ``message``; as soon as the first answer names the task, return its ids (to journal) and
    leave the rest of the stream in ``streams`` for :func:`_settled` to read."""
    stream = client.send_message(SendMessageRequest(message=message))
    try:
        first = await anext(stream)
    except A2AClientError as error:
        raise FatalError(f"the A2A agent refused the message: {error}") from None
    except httpx.TransportError as error:
        raise RetryableError(f"the A2A agent is unreachable: {error}") from None
    streams.append(stream)
    if first.HasField("message"):
        return {"task_id": None, "result": _message_result(first.message)}
    task_id, context_id = _ids(first)
    return {"task_id": task_id, "context_id": context_id}


def _ids(event: StreamResponse) -> tuple[str, str]:
    if event.HasField("task"):
        return event.task.id, event.task.context_id
    update = event.status_update if event.HasField("status_update") else event.artifact_update
    return update.task_id, update.context_id


async def _settled(client: A2AClient, task_id: str, streams: list[AsyncIterator[StreamResponse]]) -> Task:
    """The task once it ended or waits for input: after the stream of our own send runs out (it ends
    there), else — a run after a pause or a crash — by reading it, backing off, until it does."""
    for stream in streams:
        async for _ in stream:
            pass
    delay = 0.1
    while True:
        task = await client.get_task(GetTaskRequest(id=task_id))
        if task.status.state in TERMINAL_STATES | INTERRUPTED_STATES:
            return task
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


def _outcome(task: Task) -> JSON:
    state = task.status.state
    if state == TaskState.TASK_STATE_COMPLETED:
        return result_of(list(task.artifacts))
    reason = text_of(task.status.message) or TaskState.Name(state)
    raise FatalError(f"the A2A task {task.id} ended {TaskState.Name(state)}: {reason}")


def _message(payload: JSON, message_id: str) -> Message:
    parts: list[Part] = [new_data_part(dict(payload))]
    text = payload.get("text")
    if isinstance(text, str) and text:
        parts.insert(0, new_text_part(text))
    return Message(role=Role.ROLE_USER, parts=parts, message_id=message_id)


def _reply(answer: HumanAnswer, task_id: str, context_id: str, message_id: str) -> Message:
    text = answer.outcome + (f"\n{answer.comment}" if answer.comment else "")
    data = {"outcome": answer.outcome, "comment": answer.comment, "data": dict(answer.data)}
    return Message(
        role=Role.ROLE_USER,
        parts=[new_text_part(text), new_data_part(data)],
        message_id=message_id,
        task_id=task_id,
        context_id=context_id,
    )


def _message_result(message: Message) -> JSON:
    datas = data_of(message.parts)
    if len(datas) == 1 and isinstance(datas[0], dict):
        return dict(datas[0])
    return {"text": text_of(message), **({"data": datas} if datas else {})}


def _card_error(agent: str | AgentCard, error: Exception) -> Exception:
    cause = error.__cause__ or error.__context__
    if isinstance(cause, httpx.TransportError):
        return RetryableError(f"the A2A agent at {agent} is unreachable: {cause}")
    return FatalError(f"no A2A agent card at {agent}: {error}")
