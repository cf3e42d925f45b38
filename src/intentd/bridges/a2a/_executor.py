"""The A2A side of an intent's life: the executor publishes the intent's status as task updates,
following its event stream, and turns a follow-up message into the answer of its open human task."""

from __future__ import annotations

import logging

from a2a.helpers import new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.tasks import TaskUpdater
from a2a.types import Message, TaskState
from a2a.utils.errors import TaskNotCancelableError

from intentd.client import AsyncClient, Event, Intent, IntentdError, IntentTerminal

from ._answers import answer_of, question_parts
from ._mapping import (
    INTERRUPTED_STATES,
    RESULT_ARTIFACT,
    BadMessage,
    error_text,
    result_parts,
    state_for,
    state_of,
)

logger = logging.getLogger("intentd.bridges.a2a")


class IntentExecutor(AgentExecutor):
    """Runs no agent itself: the intent's agent (an intentd worker) does the work; this follows it."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client
        self._cancelling: set[str] = set()

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        intent_id, context_id = str(context.task_id), str(context.context_id)
        updater = TaskUpdater(event_queue, intent_id, context_id)
        task = context.current_task
        if task is not None and task.status.state in INTERRUPTED_STATES and context.message is not None:
            refusal = await self._answer(intent_id, context.message)
            if refusal is not None:  # ask again, saying why: a typo should not end the task
                await updater.requires_input(updater.new_agent_message([new_text_part(refusal)]))
                return
        published = task.status.state if task is not None else TaskState.TASK_STATE_SUBMITTED
        await self._follow(intent_id, updater, published)

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        intent_id = str(context.task_id)
        self._cancelling.add(intent_id)
        try:
            await self._client.cancel(intent_id, reason="canceled by the A2A client")
        except IntentTerminal:
            raise TaskNotCancelableError(message=f"intent {intent_id} has already ended") from None
        finally:
            self._cancelling.discard(intent_id)
        await TaskUpdater(event_queue, intent_id, str(context.context_id)).cancel()

    async def _answer(self, intent_id: str, message: Message) -> str | None:
        """Decide the intent's open human task with the message; what went wrong, if anything."""
        open_tasks = await self._client.tasks(intent_id=intent_id)
        if not open_tasks:  # answered elsewhere (intentd's API) meanwhile: nothing to decide
            return None
        task = open_tasks[0]
        try:
            answer = answer_of(message, task)
            await self._client.decide_task(
                task.task_id, answer.outcome, comment=answer.comment, data=answer.data
            )
        except (BadMessage, IntentdError) as error:
            return f"{error} (answer with one of: {', '.join(task.allowed_outcomes)})"
        return None

    async def _follow(self, intent_id: str, updater: TaskUpdater, published: TaskState) -> None:
        """Publish each change of the intent's A2A state until it ends or waits for a person; the
        intent's SSE stream says when, so nothing polls."""
        intent = await self._client.get(intent_id)
        while True:
            state = state_of(intent)
            if state != published:
                if await self._publish(intent, state, updater):
                    return
                published = state
            async for event in self._client.observe(intent_id, since=intent.last_seq):
                if _moves(event, published):
                    break
                if event.event_type == "intent.progress" and event.details.get("message"):
                    text = str(event.details["message"])
                    await updater.start_work(updater.new_agent_message([new_text_part(text)]))
            intent = await self._client.get(intent_id)

    async def _publish(self, intent: Intent, state: TaskState, updater: TaskUpdater) -> bool:
        """Publish ``state``; True when it ends this execution (terminal, or waiting for input)."""
        if state == TaskState.TASK_STATE_INPUT_REQUIRED:
            question = await self._question(intent, updater)
            await updater.requires_input(question)
            return True
        if state == TaskState.TASK_STATE_COMPLETED:
            await updater.add_artifact(result_parts(intent.result), name=RESULT_ARTIFACT)
            await updater.complete()
            return True
        if state == TaskState.TASK_STATE_FAILED:
            await updater.failed(updater.new_agent_message([new_text_part(error_text(intent))]))
            return True
        if state == TaskState.TASK_STATE_CANCELED:
            if intent.intent_id not in self._cancelling:  # else cancel() publishes it
                await updater.cancel(updater.new_agent_message([new_text_part(error_text(intent))]))
            return True
        if state == TaskState.TASK_STATE_WORKING:
            await updater.start_work()
        return False

    async def _question(self, intent: Intent, updater: TaskUpdater) -> Message | None:
        tasks = await self._client.tasks(intent_id=intent.intent_id)
        if not tasks:
            return None
        return updater.new_agent_message(question_parts(tasks[0]))


def _moves(event: Event, published: TaskState) -> bool:
    return event.is_terminal or state_for(event.status, event.waiting_reason) != published
