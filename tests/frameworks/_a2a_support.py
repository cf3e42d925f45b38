"""What the A2A tests run: ASGI apps under uvicorn on sockets bound here (no port-0 race), a small
external A2A agent made with a2a-sdk alone, and an A2A client."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import uvicorn
from a2a.client import Client as A2AClient
from a2a.client import ClientConfig, create_client
from a2a.helpers import get_data_parts, new_data_part, new_task_from_user_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers.default_request_handler_v2 import DefaultRequestHandlerV2
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import AgentCapabilities, AgentCard, AgentInterface, AgentSkill, Message, Role, TaskState
from starlette.applications import Starlette
from starlette.types import ASGIApp


def bound_socket() -> tuple[socket.socket, str]:
    """A listening address taken before any server starts: the URL is known to the app it serves
    (an agent card names it), and no other process can take the port meanwhile."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


@asynccontextmanager
async def serving(app: ASGIApp, sock: socket.socket) -> AsyncIterator[None]:
    """``app`` under uvicorn on ``sock`` (lifespan run), stopped after."""
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


@asynccontextmanager
async def a2a_client(url: str, key: str | None = None, *, streaming: bool = True) -> AsyncIterator[A2AClient]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        client = await create_client(url, ClientConfig(httpx_client=http, streaming=streaming))
        try:
            yield client
        finally:
            await client.close()


def user_message(
    *, text: str | None = None, data: Any = None, task_id: str = "", context_id: str = ""
) -> Message:
    parts = ([new_text_part(text)] if text else []) + ([new_data_part(data)] if data is not None else [])
    return Message(
        role=Role.ROLE_USER, parts=parts, message_id=str(uuid.uuid4()), task_id=task_id, context_id=context_id
    )


class RemoteTranslator(AgentExecutor):
    """An external A2A agent: echoes its input as a data artifact; ``{"ask": ...}`` first asks which
    tone (INPUT_REQUIRED) and takes the answer's comment; ``{"fail": ...}`` fails the task. It keeps
    count of the tasks it opened, so a test sees that a re-run did not open another."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task = context.current_task
        message = context.message
        assert message is not None
        if task is None:
            task = new_task_from_user_message(message)
            self.opened.append(task.id)
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        await updater.start_work()
        data = next((d for d in get_data_parts(message.parts) if isinstance(d, dict)), {})
        if task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED or "outcome" in data:
            await self._answered(updater, data)
        elif data.get("fail"):
            await updater.failed(
                updater.new_agent_message([new_text_part(f"cannot translate: {data['fail']}")])
            )
        elif data.get("ask"):
            await updater.requires_input(
                updater.new_agent_message([new_text_part("Which tone, formal or casual?")])
            )
        else:
            await updater.add_artifact([new_data_part({"translated": data.get("text", ""), "by": "remote"})])
            await updater.complete()

    async def _answered(self, updater: TaskUpdater, answer: dict[str, Any]) -> None:
        if answer.get("outcome") == "rejected":
            await updater.reject(updater.new_agent_message([new_text_part("no tone given")]))
            return
        await updater.add_artifact(
            [new_data_part({"tone": answer.get("comment"), "outcome": answer.get("outcome")})]
        )
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        await TaskUpdater(event_queue, str(context.task_id), str(context.context_id)).cancel()


def remote_app(executor: AgentExecutor, url: str) -> Starlette:
    """The remote agent's app, served at ``url`` (JSON-RPC at its root)."""
    card = AgentCard(
        name="translator",
        description="Translates (a test stand-in)",
        version="1.0.0",
        supported_interfaces=[AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0")],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["application/json"],
        skills=[AgentSkill(id="translate", name="translate", description="translate", tags=["t"])],
    )
    handler = DefaultRequestHandlerV2(executor, InMemoryTaskStore(), card)
    return Starlette(routes=create_agent_card_routes(card) + create_jsonrpc_routes(handler, rpc_url="/"))
