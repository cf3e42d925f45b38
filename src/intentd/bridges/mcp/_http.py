"""The MCP server over streamable HTTP at ``/mcp`` of the app ``intentd serve`` runs.

Each request is authenticated with the caller's API key (``x-api-key`` or ``Authorization: Bearer``),
checked by the API itself: a request without a valid key gets the API's own 401 (its error shape,
``{"ok": false, "error": {...}, "detail": ...}``) before MCP sees it, and the tools then act through an
SDK client holding that key, reaching the same app in-process (``httpx.ASGITransport``), so the key's
role and namespace apply to every call exactly as over the REST API.

Stateless and JSON responses: every POST is answered on its own, with one JSON-RPC object. That is what
AXP's MCP clients expect (the official ``axme`` SDK posts ``initialize``/``tools/list``/``tools/call``
one by one, with no session and ``Accept: */*``), real MCP clients accept it too, and nothing here
needs a session: the tools keep no state between calls (a waited-on intent is named by its id).

Host header: the SDK's guard against DNS rebinding (421 to any ``Host`` but localhost) protects servers
that trust whoever can reach them. Here every request must carry an API key, which a rebinding web page
does not have, so the guard is off by default and a server bound to 0.0.0.0 or a real host name works;
``allowed_hosts`` turns it on with those hosts (``"example.com:*"`` allows any port).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import orjson
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from intentd.client import AsyncClient, IntentdError
from intentd.model import MethodNotAllowed

from ._tools import DEFAULT_MAX_WAIT_SECONDS, build_server

CLIENT_STATE = "intentd.mcp.client"  # where the gate leaves the caller's client in the request's state
INTERNAL_URL = "http://intentd.internal"  # the in-process API's base URL (never resolved)
MCP_PATH = "/mcp"  # AXP's default (PROTOCOL.md §2.4, the SDK's mcp_endpoint_path)


def request_client(ctx: Context[Any, Any]) -> AsyncClient:
    """The client of the caller whose request a tool serves (set by :class:`KeyGate`)."""
    request = ctx.request_context.request
    if request is None:  # a call that came by no HTTP request: not this transport's
        raise RuntimeError("intentd's MCP tools over HTTP need the request they serve")
    client: AsyncClient = request.scope["state"][CLIENT_STATE]
    return client


class KeyGate:
    """ASGI app in front of the MCP transport: refuses a request whose key the API refuses, and
    gives the tools a client acting with that key for the duration of the request."""

    def __init__(self, mcp: ASGIApp, api: ASGIApp) -> None:
        self.mcp = mcp
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.mcp(scope, receive, send)
            return
        if scope["method"] != "POST":
            # Stateless: no stream of the server's own messages to GET, no session to DELETE. MCP
            # lets a server answer 405 to both; the SDK would hold a GET open with nothing to send.
            await _refuse(MethodNotAllowed("the MCP endpoint takes POST only"), send, [(b"allow", b"POST")])
            return
        # raise_app_exceptions=False: the API's own 500 answer, not an exception in the tool.
        transport = httpx.ASGITransport(app=self.api, raise_app_exceptions=False)
        async with AsyncClient(INTERNAL_URL, _api_key(scope) or "", transport=transport) as client:
            try:
                await client.capabilities()  # any key may read it: this checks the key alone
            except IntentdError as exc:
                await _refuse(exc, send)
                return
            scope.setdefault("state", {})[CLIENT_STATE] = client
            await self.mcp(scope, await _axp_initialize(receive), send)


def _api_key(scope: Scope) -> str | None:
    """The key as the API reads it (server/auth.py): ``x-api-key``, else a Bearer token."""
    headers = dict(scope["headers"])
    key = headers.get(b"x-api-key", b"").decode("latin-1")
    if not key:
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() == "bearer":
            key = token.strip()
    return key or None


async def _axp_initialize(receive: Receive) -> Receive:
    """The request's body again, an AXP ``initialize`` completed: AXP's clients (the ``axme`` SDK's
    ``mcp_initialize``, PROTOCOL.md §2.4) send only ``protocolVersion``, while MCP requires
    ``capabilities`` and ``clientInfo`` too and answers -32602 without them. The missing two are
    filled in as empty; a complete request is passed on unchanged."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: let the transport see it
            return _replay(b"".join(chunks), receive, first=message)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if b'"initialize"' in body:
        body = _completed_initialize(body)
    return _replay(body, receive)


def _completed_initialize(body: bytes) -> bytes:
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body  # the transport answers the parse error
    if not isinstance(request, dict) or request.get("method") != "initialize":
        return body  # a batch, a response, another method
    params = request.get("params")
    if not isinstance(params, dict):
        return body
    params.setdefault("capabilities", {})
    params.setdefault("clientInfo", {"name": "axp-client", "version": "0"})
    return orjson.dumps(request)


def _replay(body: bytes, receive: Receive, first: Message | None = None) -> Receive:
    """A ``receive`` that gives ``body`` (or ``first``) once, then whatever the client sends."""
    pending: list[Message] = [first or {"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def _refuse(exc: IntentdError, send: Send, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    """A refusal as the API answers one (its status and error shape)."""
    body = orjson.dumps({"ok": False, "error": exc.to_wire(), "detail": exc.message})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers.extend(extra or ())
    if exc.http_status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="intentd"'))
    if exc.retryable and exc.retry_after:  # the key's rate limit: when to come back
        headers.append((b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode()))
    await send(
        {"type": "http.response.start", "status": exc.status_code or exc.http_status, "headers": headers}
    )
    await send({"type": "http.response.body", "body": body})


def transport_security(allowed_hosts: Sequence[str] | None) -> TransportSecuritySettings:
    """The SDK's Host/Origin guard: off unless hosts are named (see the module's docstring)."""
    if allowed_hosts is None:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(allowed_hosts),
        allowed_origins=[f"{scheme}://{host}" for host in allowed_hosts for scheme in ("http", "https")],
    )


def mount_mcp(
    app: Starlette,
    *,
    path: str = MCP_PATH,
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
    allowed_hosts: Sequence[str] | None = None,
) -> MCPServer[Any]:
    """Serve intentd's MCP tools at ``path`` of ``app`` (the API's FastAPI app), acting as each
    request's key; the MCP session manager runs inside ``app``'s lifespan. Returns the server.

        app = create_app(settings)
        mount_mcp(app)            # POST /mcp: initialize, tools/list, tools/call
    """
    server = build_server(request_client, max_wait_seconds=max_wait_seconds)
    # Builds the session manager (stateless, JSON answers); its own Starlette app is not used: the
    # gate calls the manager directly, so no path is rewritten and the API's middleware stays in front.
    server.streamable_http_app(
        stateless_http=True, json_response=True, transport_security=transport_security(allowed_hosts)
    )
    gate = KeyGate(server.session_manager.handle_request, app)
    app.router.routes.append(Route(path, endpoint=gate, include_in_schema=False))
    app.router.lifespan_context = _with_session_manager(app.router.lifespan_context, server)
    return server


def _with_session_manager(
    lifespan: Callable[[Any], AbstractAsyncContextManager[Any]], server: MCPServer[Any]
) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
    """``lifespan`` with the MCP session manager running inside it (a mounted app's own lifespan is
    never run by its parent, and the manager refuses requests until it runs)."""

    @asynccontextmanager
    async def run_both(app: Any) -> AsyncIterator[Any]:
        async with lifespan(app) as state, server.session_manager.run():
            yield state

    return run_both
