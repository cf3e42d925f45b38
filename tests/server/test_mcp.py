"""The MCP server at /mcp (bridges/mcp), on both backends: the app ``intentd serve`` composes
(``compose_app``) on a real port, an official ``mcp`` client over streamable HTTP, and a worker in this
process doing the work. A submitted intent is followed by its id to the worker's result through bounded
waits; a person's question is answered through MCP; a request without a valid key gets the API's 401;
a scoped key keeps its permissions; the official ``axme`` SDK's MCP calls work unmodified; and a real
``intentd serve`` serves /mcp whatever Host it is reached by."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from axme import AxmeAuthError, AxmeClient, AxmeClientConfig
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from intentd.bridges.mcp import DEFAULT_MAX_WAIT_SECONDS, mount_mcp
from intentd.cli.serve import compose_app
from intentd.client import AsyncClient, Intent
from intentd.settings import Settings
from intentd.worker import AsyncContext, RetryPolicy, Worker
from tests._support import databases
from tests._support.servers import API_KEY, AppClient, Servers, build_app, listening, serving

TOOLS = {
    "submit_intent",
    "get_intent",
    "wait_for_intent",
    "list_intent_events",
    "cancel_intent",
    "list_human_tasks",
    "answer_human_task",
    "fleet_health",
}


@dataclass
class Live:
    api: AppClient
    url: str

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[Live]:
    """The app ``intentd serve`` runs, on a real port. Its lifespan runs in a task of its own, as
    under uvicorn: the MCP session manager's task group must end in the task that began it, and a
    fixture's teardown may run in another."""
    app = compose_app(settings)
    ready: asyncio.Future[Live] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()

    async def run() -> None:
        async with serving(app) as api, listening(app) as url:
            ready.set_result(Live(api, url))
            await stop.wait()

    task = asyncio.create_task(run())
    done, _ = await asyncio.wait([ready, task], return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # raises what stopped it
    try:
        yield ready.result()
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@pytest.fixture
def agent() -> str:
    return f"agent://mcp/t{uuid.uuid4().hex[:10]}/clerk"


@asynccontextmanager
async def mcp_client(url: str, **headers: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers=headers or {"x-api-key": API_KEY}) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


@asynccontextmanager
async def working(url: str, agent: str, handler: Callable[..., Any]) -> AsyncIterator[None]:
    """A worker in this process serving ``agent`` over real HTTP."""
    async with AsyncClient(url, API_KEY) as client:
        worker = Worker(client, concurrency=2, claim_wait_seconds=1.0, retry=RetryPolicy(base_seconds=0.05))
        worker.agent(agent)(handler)
        task = asyncio.create_task(worker.serve())
        try:
            yield
        finally:
            worker.stop()
            await asyncio.wait_for(task, 30)


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def wait_until(
    client: Client, intent_id: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Call wait_for_intent (a bounded wait) again and again, as a model would, until ``done``."""
    async with asyncio.timeout(60):
        while True:
            answer = structured(await client.call_tool("wait_for_intent", {"intent_id": intent_id}))
            if done(answer):
                return answer


async def test_the_tools_are_listed_with_typed_outputs(live: Live) -> None:
    async with mcp_client(live.mcp_url) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        assert all(tool.output_schema for tool in tools.values())  # so structured_content is filled
        assert tools["submit_intent"].input_schema["required"] == ["to_agent"]
        assert tools["get_intent"].annotations is not None and tools["get_intent"].annotations.read_only_hint


async def test_a_submitted_intent_is_followed_by_its_id_to_the_result(live: Live, agent: str) -> None:
    async def echo(ctx: AsyncContext, intent: Intent) -> dict[str, Any]:
        return {"echo": intent.payload["text"], "attempt": ctx.attempt}

    async with mcp_client(live.mcp_url) as client:
        submitted = structured(
            await client.call_tool(
                "submit_intent", {"to_agent": agent, "payload": {"text": "hi"}, "idempotency_key": "mcp-1"}
            )
        )
        assert (submitted["status"], submitted["done"]) == ("SUBMITTED", False)
        intent_id = submitted["intent_id"]
        again = structured(
            await client.call_tool(
                "submit_intent", {"to_agent": agent, "payload": {"text": "hi"}, "idempotency_key": "mcp-1"}
            )
        )
        assert again["intent_id"] == intent_id  # a retried submit is the same intent

        # Nobody serves the agent yet: the wait ends at the server's cap (asked for 60 s) and says so.
        started = time.monotonic()
        pending = structured(
            await client.call_tool("wait_for_intent", {"intent_id": intent_id, "wait_seconds": 60})
        )
        elapsed = time.monotonic() - started
        assert pending["done"] is False and pending["intent"]["status"] == "SUBMITTED"
        assert DEFAULT_MAX_WAIT_SECONDS - 0.5 <= pending["waited_seconds"] <= elapsed
        assert elapsed < DEFAULT_MAX_WAIT_SECONDS + 3
        assert "call wait_for_intent" in pending["next"]

        async with working(live.url, agent, echo):
            final = await wait_until(client, intent_id, lambda answer: answer["done"])
        assert final["intent"]["status"] == "COMPLETED"
        assert final["intent"]["result"] == {"echo": "hi", "attempt": 1}

        events = structured(await client.call_tool("list_intent_events", {"intent_id": intent_id}))
        assert [e["seq"] for e in events["events"]] == list(range(1, len(events["events"]) + 1))
        assert events["events"][-1]["status"] == "COMPLETED"
        got = structured(await client.call_tool("get_intent", {"intent_id": intent_id}))
        assert got["result"] == final["intent"]["result"]


async def test_a_person_answers_through_mcp(live: Live, agent: str) -> None:
    async def ask(ctx: AsyncContext, intent: Intent) -> dict[str, Any]:
        answer = await ctx.ask_human(
            "sign-off", title=f"Ship {intent.payload['release']}?", description="the release notes are in"
        )
        return {"shipped": answer.approved, "comment": answer.comment, "by": answer.decided_by}

    async with mcp_client(live.mcp_url) as client, working(live.url, agent, ask):
        intent_id = structured(
            await client.call_tool("submit_intent", {"to_agent": agent, "payload": {"release": "v2"}})
        )["intent_id"]
        waiting = await wait_until(client, intent_id, lambda a: a["intent"]["waiting_reason"] is not None)
        assert waiting["intent"]["waiting_reason"] == "WAITING_FOR_HUMAN"
        assert "list_human_tasks" in waiting["next"]
        again = structured(await client.call_tool("wait_for_intent", {"intent_id": intent_id}))
        assert again["waited_seconds"] < 1  # a person's answer is not a matter of seconds: at once

        [task] = structured(await client.call_tool("list_human_tasks", {"intent_id": intent_id}))["tasks"]
        assert (task["title"], task["allowed_outcomes"]) == ("Ship v2?", ["approved", "rejected"])
        refused = await client.call_tool(
            "answer_human_task", {"task_id": task["task_id"], "outcome": "maybe"}
        )
        assert refused.is_error and "validation_error" in str(refused.content)

        answered = structured(
            await client.call_tool(
                "answer_human_task", {"task_id": task["task_id"], "outcome": "approve", "comment": "go"}
            )
        )
        assert answered["task"]["decided_outcome"] == "approved"
        final = await wait_until(client, intent_id, lambda a: a["done"])

    assert final["intent"]["status"] == "COMPLETED"
    assert final["intent"]["result"] == {
        "shipped": True,
        "comment": "go",
        "by": answered["task"]["decided_by"],
    }
    fleet = structured(await _call(live, "fleet_health", {}))
    assert agent in {a["address"] for a in fleet["agents"]}


async def _call(live: Live, tool: str, arguments: dict[str, Any], key: str = API_KEY) -> CallToolResult:
    async with mcp_client(live.mcp_url, **{"x-api-key": key}) as client:
        return await client.call_tool(tool, arguments)


async def test_a_request_without_a_valid_key_gets_the_apis_401(live: Live) -> None:
    tools_list = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    async with httpx.AsyncClient(base_url=live.url) as http:
        for headers, code in (
            ({}, "missing_api_key"),
            ({"x-api-key": "itd_not_a_key"}, "invalid_api_key"),
            ({"authorization": "Bearer itd_not_a_key"}, "invalid_api_key"),
        ):
            answer = await http.post("/mcp", json=tools_list, headers=headers)
            assert answer.status_code == 401, answer.text
            body = answer.json()
            assert (body["ok"], body["error"]["code"], body["detail"]) == (
                False,
                code,
                body["error"]["message"],
            )
        bearer = await http.post("/mcp", json=tools_list, headers={"authorization": f"Bearer {API_KEY}"})
        # Stateless: nothing to stream to a GET (the SDK would hold it open), no session to DELETE.
        held = await http.get("/mcp", headers={"x-api-key": API_KEY, "accept": "text/event-stream"})
        assert (held.status_code, held.headers["allow"], held.json()["error"]["code"]) == (
            405,
            "POST",
            "method_not_allowed",
        )
    assert bearer.status_code == 200
    assert {tool["name"] for tool in bearer.json()["result"]["tools"]} == TOOLS
    with pytest.raises(ExceptionGroup) as refused:  # the MCP client gives up on its first request
        await _call(live, "get_intent", {"intent_id": "x"}, key="itd_not_a_key")
    assert refused.value.subgroup(lambda error: isinstance(error, MCPError)) is not None


async def test_a_scoped_key_acts_with_its_own_permissions(live: Live, agent: str) -> None:
    mine = structured(await _call(live, "submit_intent", {"to_agent": agent}))
    _, auditor = await live.api.engine.keys.create("watcher", "auditor")
    _, stranger = await live.api.engine.keys.create("other-tenant", "admin", namespace="elsewhere")

    refused = await _call(live, "submit_intent", {"to_agent": agent}, key=auditor)
    assert refused.is_error and "role_not_allowed" in str(refused.content)
    refused = await _call(live, "cancel_intent", {"intent_id": mine["intent_id"]}, key=auditor)
    assert refused.is_error and "role_not_allowed" in str(refused.content)
    read = structured(await _call(live, "get_intent", {"intent_id": mine["intent_id"]}, key=auditor))
    assert read["status"] == "SUBMITTED"  # an auditor reads

    hidden = await _call(live, "get_intent", {"intent_id": mine["intent_id"]}, key=stranger)
    assert hidden.is_error and "intent_not_found" in str(hidden.content)  # another namespace's
    canceled = structured(await _call(live, "cancel_intent", {"intent_id": mine["intent_id"], "reason": "x"}))
    assert (canceled["status"], canceled["done"]) == ("CANCELED", True)


async def test_the_axme_sdk_mcp_calls_work_unmodified(live: Live, agent: str) -> None:
    def axme_session() -> dict[str, Any]:
        with AxmeClient(AxmeClientConfig(base_url=live.url, api_key=API_KEY)) as axme:
            initialized = axme.mcp_initialize()
            listed = axme.mcp_list_tools()
            called = axme.mcp_call_tool("submit_intent", arguments={"to_agent": agent, "payload": {"n": 1}})
            failed = axme.mcp_call_tool("get_intent", arguments={"intent_id": "nope"})
            with pytest.raises(ValueError, match="missing required MCP tool arguments"):
                axme.mcp_call_tool("get_intent", arguments={})  # checked against the listed input schema
        with (
            AxmeClient(AxmeClientConfig(base_url=live.url, api_key="itd_not_a_key")) as stranger,
            pytest.raises(AxmeAuthError),
        ):
            stranger.mcp_list_tools()
        return {"initialized": initialized, "listed": listed, "called": called, "failed": failed}

    # The SDK is synchronous and the server runs in this event loop: call it from a thread.
    answers = await asyncio.to_thread(axme_session)

    assert answers["initialized"]["serverInfo"]["name"] == "intentd"
    assert "tools" in answers["initialized"]["capabilities"]
    assert {tool["name"] for tool in answers["listed"]["tools"]} == TOOLS
    intent = answers["called"]["structuredContent"]
    assert (answers["called"]["isError"], intent["to_agent"], intent["status"]) == (False, agent, "SUBMITTED")
    assert (await live.api.get(f"/v1/intents/{intent['intent_id']}")).json()["intent"]["payload"] == {"n": 1}
    assert answers["failed"]["isError"] is True
    assert "intent_not_found" in answers["failed"]["content"][0]["text"]


async def test_the_host_guard_is_off_unless_hosts_are_named(settings: Settings) -> None:
    tools_list = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    guarded = build_app(settings)
    mount_mcp(guarded, allowed_hosts=["127.0.0.1:*", "mcp.example:*"])
    async with serving(guarded) as api:  # its requests name the host intentd.test
        assert (await api.post("/mcp", json=tools_list)).status_code == 421
        named = await api.post("/mcp", json=tools_list, headers={"host": "mcp.example:443"})
        assert named.status_code == 200, named.text


@pytest.mark.slow
@pytest.mark.parametrize("backend", databases.BACKENDS)
def test_intentd_serve_serves_mcp_by_any_host_name(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgres" else databases.sqlite_url(tmp_path)
    with Servers(tmp_path) as servers:
        server = servers.start(url)
        rpc = {"jsonrpc": "2.0", "id": 7, "method": "tools/call"}
        call = {**rpc, "params": {"name": "fleet_health", "arguments": {}}}
        with server.client() as http:
            # A server behind a proxy or bound to 0.0.0.0 is reached by other names than localhost.
            answer = http.post("/mcp", json=call, headers={"host": "intentd.example.com"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["result"]["structuredContent"] == {"agents": [], "by_health": {}}
            assert http.post("/mcp", json=call, headers={"x-api-key": ""}).status_code == 401
