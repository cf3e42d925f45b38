"""An OpenAI Agents agent drives intentd through ``intentd mcp`` over stdio (``MCPServerStdio``, the
SDK's own MCP client, with its default 5 s read timeout), on both backends: a real ``intentd serve``,
a worker in this process doing the work, and the agent (``agents.testing.ScriptedModel``, no network,
tracing off) submitting an intent and following it with bounded waits to the worker's result."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agents import Agent, Runner, set_tracing_disabled
from agents.mcp import MCPServerStdio
from agents.testing import ModelCall, ModelStep, ScriptedModel, assistant_message, function_call

from intentd.client import AsyncClient, Intent, Status
from intentd.worker import AsyncContext
from tests._support.servers import API_KEY, Server, child_environment
from tests._support.workers import quick_worker, running

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _no_tracing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_AGENTS_DISABLE_TRACING", "1")
    set_tracing_disabled(True)


@pytest.fixture
async def worker_for(live: Server) -> AsyncIterator[str]:
    """An agent address served by a worker in this process, which echoes the payload's text."""
    address = f"agent://mcp/t{uuid.uuid4().hex[:10]}/echo"

    async def echo(ctx: AsyncContext, intent: Intent) -> dict[str, Any]:
        return {"echo": intent.payload["text"].upper()}

    async with AsyncClient(live.url, API_KEY) as client:
        worker = quick_worker(client)
        worker.agent(address)(echo)
        async with running(worker):
            yield address


def last_tool_answer(call: ModelCall) -> dict[str, Any]:
    """The JSON a tool answered, from the last item of what the model is given."""
    output = call.input[-1]["output"]
    text = output if isinstance(output, str) else "".join(part["text"] for part in output)
    answer: dict[str, Any] = json.loads(text)
    return answer


def follow(call: ModelCall) -> Any:
    """The model's move: wait on the intent until it is done, then say its result."""
    answer = last_tool_answer(call)
    intent = answer.get("intent", answer)  # a wait's answer, or submit_intent's intent
    if answer.get("done") and "intent" in answer:
        return [assistant_message(json.dumps({"intent_id": intent["intent_id"], "result": intent["result"]}))]
    wait = {"intent_id": intent["intent_id"], "wait_seconds": 30}  # asks long; the server caps it
    return [function_call("wait_for_intent", wait, call_id=f"wait-{uuid.uuid4().hex[:8]}")]


async def test_an_agent_submits_over_stdio_and_reads_the_result(live: Server, worker_for: str) -> None:
    submit = {"to_agent": worker_for, "payload": {"text": "hello"}, "idempotency_key": "agents-1"}
    model = ScriptedModel(
        [[function_call("submit_intent", submit, call_id="submit")], *[ModelStep.respond(follow)] * 20]
    )
    params = {
        "command": sys.executable,
        "args": ["-m", "intentd", "mcp"],
        "env": child_environment(url=live.url, api_key=API_KEY),
    }
    async with MCPServerStdio(params, name="intentd", use_structured_content=True) as mcp:
        agent = Agent(
            name="operator", instructions="Run work through intentd.", model=model, mcp_servers=[mcp]
        )
        run = await Runner.run(agent, "Echo 'hello' through the echo agent.", max_turns=25)

    said = json.loads(run.final_output)
    assert said["result"] == {"echo": "HELLO"}
    history = model.calls[-1].input  # what the model was given last: the whole run so far
    calls = [
        item["name"] for item in history if isinstance(item, dict) and item.get("type") == "function_call"
    ]
    assert calls[0] == "submit_intent" and set(calls[1:]) == {"wait_for_intent"}  # then waited, by id
    assert {tool.name for tool in model.calls[0].tools} >= {
        "submit_intent",
        "wait_for_intent",
        "answer_human_task",
    }
    async with AsyncClient(live.url, API_KEY) as client:
        intent = await client.get(said["intent_id"])
    assert (intent.status, intent.result, intent.idempotency_key) == (
        Status.COMPLETED,
        said["result"],
        "agents-1",
    )
