"""An A2A task IS an intent: the task id is the intent id, the context id its correlation id.

The SDK makes up a task id before the executor runs; :class:`IntentContextBuilder` submits the intent
first, so the id the A2A client gets back is the intent's, and a follow-up naming that task reaches the
same intent. :class:`IntentTaskStore` keeps what A2A adds (the message history, artifacts) in memory
and rebuilds a task it never saw (a bridge restarted) from its intent: intentd is the durable record.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC

from a2a.helpers import new_task_from_user_message, new_text_message
from a2a.server.agent_execution import RequestContext
from a2a.server.agent_execution.simple_request_context_builder import SimpleRequestContextBuilder
from a2a.server.context import ServerCallContext
from a2a.server.tasks import InMemoryTaskStore, TaskStore
from a2a.types import (
    Artifact,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    SendMessageRequest,
    Task,
    TaskState,
    TaskStatus,
)
from a2a.utils.errors import InternalError, InvalidParamsError

from intentd.client import AsyncClient, Intent, IntentdError, IntentNotFound

from ._card import ExposedAgent
from ._mapping import RESULT_ARTIFACT, BadMessage, error_text, payload_of, result_parts, state_of

INTENT_METADATA = "intentd"


class IntentTaskStore(TaskStore):
    """The tasks of one exposed agent (an intent sent elsewhere is no task of it)."""

    def __init__(self, client: AsyncClient, agent: ExposedAgent) -> None:
        self._client = client
        self._agent = agent
        self._memory = InMemoryTaskStore()

    async def save(self, task: Task, context: ServerCallContext) -> None:
        await self._memory.save(task, context)

    async def get(self, task_id: str, context: ServerCallContext) -> Task | None:
        task = await self._memory.get(task_id, context)
        if task is not None:
            return task
        intent = await self.intent(task_id)
        if intent is None:
            return None
        task = task_of(intent)
        await self._memory.save(task, context)
        return task

    async def known(self, task_id: str, context: ServerCallContext) -> Task | None:
        """The task as this process has it, without asking intentd."""
        return await self._memory.get(task_id, context)

    async def list(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        return await self._memory.list(params, context)

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        await self._memory.delete(task_id, context)

    async def intent(self, task_id: str) -> Intent | None:
        """The intent behind ``task_id``, if it is one of this agent's."""
        try:
            intent = await self._client.get(task_id)
        except (IntentNotFound, IntentdError) as error:
            if isinstance(error, IntentNotFound) or error.code in ("intent_not_found", "validation_failed"):
                return None
            raise
        return intent if intent.to_agent == self._agent.address else None


def task_of(intent: Intent, known: Task | None = None) -> Task:
    """The task as the intent says it is now: ``known`` (history, artifacts) with the intent's state,
    and the result as the artifact once it completed."""
    task = Task()
    if known is not None:
        task.CopyFrom(known)
    else:
        task.id, task.context_id = intent.intent_id, intent.correlation_id
        task.metadata.update({INTENT_METADATA: {"intent_id": intent.intent_id, "to_agent": intent.to_agent}})
    state = state_of(intent)
    if task.status.state != state:
        task.status.CopyFrom(TaskStatus(state=state))
        task.status.timestamp.FromDatetime(intent.updated_at.astimezone(UTC))
        if state in (TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELED):
            task.status.message.CopyFrom(new_text_message(error_text(intent), task.context_id, task.id))
    if state == TaskState.TASK_STATE_COMPLETED and not task.artifacts:
        task.artifacts.append(
            Artifact(
                artifact_id=f"{intent.intent_id}-result",
                name=RESULT_ARTIFACT,
                parts=result_parts(intent.result),
            )
        )
    return task


class IntentContextBuilder(SimpleRequestContextBuilder):
    """Submits the intent of a message that opens a new task, so its task id is the intent id."""

    def __init__(self, client: AsyncClient, agent: ExposedAgent, store: IntentTaskStore) -> None:
        super().__init__()
        self._client = client
        self._agent = agent
        self._store = store

    async def build(
        self,
        context: ServerCallContext,
        params: SendMessageRequest | None = None,
        task_id: str | None = None,
        context_id: str | None = None,
        task: Task | None = None,
    ) -> RequestContext:
        if params is not None and not task_id:
            task_id, context_id = await self._open(params.message, context_id, context)
        elif task_id and not context_id:  # a follow-up naming only its task: the task's context
            known = await self._store.get(task_id, context)
            context_id = known.context_id if known is not None else None
        return await super().build(context, params, task_id, context_id, task)

    async def _open(
        self, message: Message, context_id: str | None, context: ServerCallContext
    ) -> tuple[str, str]:
        try:
            payload = payload_of(message)
        except BadMessage as error:
            raise InvalidParamsError(message=str(error)) from None
        try:
            intent = await self._client.submit(
                self._agent.address,
                self._agent.intent_type,
                payload,
                correlation_id=context_id or str(uuid.uuid4()),
                idempotency_key=self._idempotency_key(message) if message.message_id else None,
            )
        except IntentdError as error:
            raise InvalidParamsError(message=f"intentd refused the task: {error}") from None
        except Exception as error:  # the bridge cannot reach intentd: the client should know
            raise InternalError(message=f"intentd is unavailable: {type(error).__name__}") from None
        if await self._store.known(intent.intent_id, context) is None:  # else a repeated send
            await self._store.save(opening_task(message, intent), context)
        return intent.intent_id, intent.correlation_id

    def _idempotency_key(self, message: Message) -> str:
        """A retried send (the same message id) opens no second intent; scoped to the agent, since
        message ids are the client's."""
        digest = hashlib.sha256(f"a2a/{self._agent.name}/{message.message_id}".encode()).hexdigest()
        return f"a2a-{digest[:40]}"


def opening_task(message: Message, intent: Intent) -> Task:
    """The task a new intent opens: SUBMITTED, its first message in the history."""
    opened = Message()
    opened.CopyFrom(message)
    opened.task_id, opened.context_id = intent.intent_id, intent.correlation_id
    task = new_task_from_user_message(opened)
    task.metadata.update({INTENT_METADATA: {"intent_id": intent.intent_id, "to_agent": intent.to_agent}})
    return task
