"""The bridge's ASGI app: per exposed agent, its card and its JSON-RPC endpoint, behind an optional
bearer key; and the request handler whose ``get_task`` reads the intent."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from a2a.server.context import ServerCallContext
from a2a.server.request_handlers.default_request_handler_v2 import DefaultRequestHandlerV2
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.types import GetTaskRequest, Task
from a2a.utils.constants import AGENT_CARD_WELL_KNOWN_PATH
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from intentd.client import AsyncClient

from ._card import ExposedAgent, agent_card
from ._executor import IntentExecutor
from ._tasks import IntentContextBuilder, IntentTaskStore, task_of


class IntentRequestHandler(DefaultRequestHandlerV2):
    """The SDK's handler, except that ``get_task`` answers with the intent's state: a task parked on
    a person that someone answered through intentd's own API shows where the intent is now."""

    def __init__(self, client: AsyncClient, agent: ExposedAgent, url: str, *, secured: bool) -> None:
        store = IntentTaskStore(client, agent)
        self.card = agent_card(agent, url, secured=secured)
        super().__init__(
            agent_executor=IntentExecutor(client),
            task_store=store,
            agent_card=self.card,
            request_context_builder=IntentContextBuilder(client, agent, store),
        )
        self.intents = store

    async def on_get_task(self, params: GetTaskRequest, context: ServerCallContext) -> Task | None:
        task = await super().on_get_task(params, context)
        intent = await self.intents.intent(params.id) if task is not None else None
        return task_of(intent, known=task) if intent is not None else task


def create_a2a_app(
    client: AsyncClient,
    agents: Sequence[ExposedAgent],
    *,
    public_url: str,
    api_key: str | None = None,
) -> Starlette:
    """An ASGI app serving each of ``agents`` as an A2A agent at ``<public_url>/<name>`` (its card at
    ``/<name>/.well-known/agent-card.json``). ``client`` reaches intentd with the bridge's own key;
    ``api_key``, if set, is what A2A clients must send (``Authorization: Bearer <key>``).

        app = create_a2a_app(AsyncClient(url, key), [ExposedAgent("writer", WRITER)],
                             public_url="http://127.0.0.1:8400")
    """
    if not agents:
        raise ValueError("no agents to expose")
    names = [agent.name for agent in agents]
    if len(set(names)) != len(names):
        raise ValueError(f"agent names must be unique: {names}")
    base = public_url.rstrip("/")
    handlers = [
        IntentRequestHandler(client, agent, f"{base}/{agent.name}", secured=api_key is not None)
        for agent in agents
    ]
    routes: list[BaseRoute] = [Route("/", _index(base, names), methods=["GET"])]
    for agent, handler in zip(agents, handlers, strict=True):
        card_path = f"/{agent.name}{AGENT_CARD_WELL_KNOWN_PATH}"
        routes += create_agent_card_routes(handler.card, card_url=card_path)
        routes += create_jsonrpc_routes(handler, rpc_url=f"/{agent.name}")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for handler in handlers:
                await handler.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    if api_key is not None:
        app.add_middleware(BearerKey, key=api_key)
    return app


def _index(base: str, names: list[str]) -> Callable[[Request], Awaitable[Response]]:
    async def index(request: Request) -> Response:
        """Where each agent's card is: A2A clients are given ``<base>/<name>``."""
        return JSONResponse(
            {"agents": {name: f"{base}/{name}{AGENT_CARD_WELL_KNOWN_PATH}" for name in names}}
        )

    return index


class BearerKey:
    """Requests other than for a card need the bridge's key, as ``Authorization: Bearer <key>`` or
    ``x-api-key``: cards are public (that is how a client learns it must authenticate)."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self._key = key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            {"error": "unauthorized", "message": "send the bridge's key as Authorization: Bearer <key>"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        if scope["method"] == "GET" and (
            scope["path"] == "/" or scope["path"].endswith(AGENT_CARD_WELL_KNOWN_PATH)
        ):
            return True
        headers = dict(scope["headers"])
        sent = headers.get(b"x-api-key", b"")
        authorization = headers.get(b"authorization", b"")
        if authorization[:7].lower() == b"bearer ":
            sent = authorization[7:].strip()
        return bool(sent) and hmac.compare_digest(sent, self._key)
