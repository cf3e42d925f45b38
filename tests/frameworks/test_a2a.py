"""The A2A bridge, both ways, on both backends, over real HTTP on 127.0.0.1: an a2a-sdk client calls
plain intentd worker handlers through the bridge (``create_a2a_app`` under uvicorn), and an external
a2a-sdk agent is called as an intentd agent (``serve_a2a_agent``) from ``AsyncClient.submit``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from a2a.client import AgentCardResolutionError
from a2a.helpers import get_data_parts
from a2a.types import CancelTaskRequest, GetTaskRequest, SendMessageRequest, StreamResponse, Task, TaskState
from a2a.utils.errors import InvalidParamsError, TaskNotFoundError

from intentd.bridges.a2a import ExposedAgent, Skill, create_a2a_app, serve_a2a_agent
from intentd.client import AsyncClient, Status
from intentd.worker import AsyncContext, Worker
from tests._support.servers import AppClient, child_environment, free_port, intentd_command, listening
from tests._support.workers import running
from tests.conftest import TEST_KEY
from tests.frameworks._a2a_support import (
    RemoteTranslator,
    a2a_client,
    bound_socket,
    remote_app,
    serving,
    user_message,
)

WRITER = "agent://test/a2a/writer"
APPROVER = "agent://test/a2a/approver"
TRANSLATOR = "agent://test/a2a/translator"
BRIDGE_KEY = "a2a-clients-secret"


@pytest.fixture
async def intentd(api: AppClient) -> AsyncIterator[AsyncClient]:
    """intentd over real HTTP (the bridge follows intents over SSE), and an SDK client of it."""
    async with listening(api.app) as url, AsyncClient(url, TEST_KEY) as sdk:
        yield sdk


def intentd_agents(sdk: AsyncClient) -> Worker:
    worker = Worker(sdk, concurrency=4, claim_wait_seconds=1.0)

    @worker.agent(WRITER)
    async def write(ctx: AsyncContext, intent: Any) -> dict[str, Any]:
        await ctx.progress("drafting")
        return {"draft": f"On {intent.payload['topic']}", "text": f"A draft on {intent.payload['topic']}"}

    @worker.agent(APPROVER)
    async def approve(ctx: AsyncContext, intent: Any) -> dict[str, Any]:
        answer = await ctx.ask_human("ship", title="Ship it?", description=f"Ship {intent.payload['text']}")
        return {"shipped": answer.approved, "comment": answer.comment}

    return worker


@asynccontextmanager
async def bridge(sdk: AsyncClient) -> AsyncIterator[str]:
    """The bridge under uvicorn, with its own SDK client (its own key would go there)."""
    agents = [
        ExposedAgent(
            "writer", WRITER, description="Drafts", skills=[Skill("draft", "Draft", tags=["writing"])]
        ),
        ExposedAgent("approver", APPROVER, description="Asks a person"),
    ]
    sock, url = bound_socket()
    async with AsyncClient(sdk.base_url, TEST_KEY) as bridge_sdk:
        app = create_a2a_app(bridge_sdk, agents, public_url=url, api_key=BRIDGE_KEY)
        async with serving(app, sock):
            yield url


async def collect(stream: AsyncIterator[StreamResponse]) -> list[StreamResponse]:
    return [event async for event in stream]


def final_task(events: list[StreamResponse]) -> tuple[str, TaskState]:
    task_id, state = "", TaskState.TASK_STATE_UNSPECIFIED
    for event in events:
        if event.HasField("task"):
            task_id, state = event.task.id, event.task.status.state
        elif event.HasField("status_update"):
            task_id, state = event.status_update.task_id, event.status_update.status.state
    return task_id, state


def result_data(task: Task) -> dict[str, Any]:
    [artifact] = task.artifacts
    [data] = get_data_parts(artifact.parts)
    return dict(data)


async def test_an_a2a_client_calls_an_intentd_agent_through_the_bridge(intentd: AsyncClient) -> None:
    async with running(intentd_agents(intentd)), bridge(intentd) as url:
        async with a2a_client(f"{url}/writer", BRIDGE_KEY) as client:
            card = client._card  # the card the client fetched from the well-known path
            assert card.name == "writer" and card.skills[0].id == "draft"
            assert card.supported_interfaces[0].protocol_version == "1.0"
            assert card.supported_interfaces[0].url == f"{url}/writer"
            events = await collect(
                client.send_message(
                    SendMessageRequest(message=user_message(data={"topic": "leases"}, context_id="run-42"))
                )
            )
            task_id, state = final_task(events)
            assert state == TaskState.TASK_STATE_COMPLETED
            states = [e.status_update.status.state for e in events if e.HasField("status_update")]
            assert TaskState.TASK_STATE_WORKING in states  # followed, not just the outcome
            task = await client.get_task(GetTaskRequest(id=task_id))
        assert task.status.state == TaskState.TASK_STATE_COMPLETED
        assert result_data(task) == {"draft": "On leases", "text": "A draft on leases"}

        intent = await intentd.get(task_id)  # the task id IS the intent id
        assert intent.status == Status.COMPLETED and intent.to_agent == WRITER
        assert intent.correlation_id == "run-42" == task.context_id
        assert intent.payload == {"topic": "leases"}
        kinds = [e.event_type for e in await intentd.events(task_id)]
        assert "intent.progress" in kinds and kinds[-1] == "intent.completed"


async def test_a_person_s_question_is_input_required_and_the_a2a_follow_up_answers_it(
    intentd: AsyncClient,
) -> None:
    async with (
        running(intentd_agents(intentd)),
        bridge(intentd) as url,
        a2a_client(f"{url}/approver", BRIDGE_KEY) as client,
    ):
        events = await collect(
            client.send_message(SendMessageRequest(message=user_message(text="v2 to prod")))
        )
        task_id, state = final_task(events)
        assert state == TaskState.TASK_STATE_INPUT_REQUIRED
        asked = next(
            e.status_update.status.message
            for e in events
            if e.HasField("status_update")
            and e.status_update.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        )
        assert "Ship it?" in asked.parts[0].text and "approved" in asked.parts[0].text
        intent = await intentd.get(task_id)
        assert intent.status == Status.WAITING and intent.waiting_reason == "WAITING_FOR_HUMAN"

        # An answer that is no outcome: asked again, the task stays open.
        again = await collect(
            client.send_message(SendMessageRequest(message=user_message(text="perhaps", task_id=task_id)))
        )
        assert final_task(again)[1] == TaskState.TASK_STATE_INPUT_REQUIRED
        assert (await intentd.get(task_id)).status == Status.WAITING

        done = await collect(
            client.send_message(
                SendMessageRequest(message=user_message(text="approved looks good", task_id=task_id))
            )
        )
        assert final_task(done) == (task_id, TaskState.TASK_STATE_COMPLETED)
        task = await client.get_task(GetTaskRequest(id=task_id))
    assert result_data(task) == {"shipped": True, "comment": "looks good"}
    final = await intentd.get(task_id)
    assert final.status == Status.COMPLETED
    [human] = await intentd.tasks(intent_id=task_id, state="any")
    assert human.decision is not None and human.decision.outcome == "approved"


async def test_cancel_through_a2a_cancels_the_intent(intentd: AsyncClient) -> None:
    async with (
        running(intentd_agents(intentd)),
        bridge(intentd) as url,
        a2a_client(f"{url}/approver", BRIDGE_KEY) as client,
    ):
        events = await collect(client.send_message(SendMessageRequest(message=user_message(text="v3"))))
        task_id, state = final_task(events)
        assert state == TaskState.TASK_STATE_INPUT_REQUIRED
        canceled = await client.cancel_task(CancelTaskRequest(id=task_id))
        assert canceled.status.state == TaskState.TASK_STATE_CANCELED
        assert (await intentd.get(task_id)).status == Status.CANCELED
        assert (
            await client.get_task(GetTaskRequest(id=task_id))
        ).status.state == TaskState.TASK_STATE_CANCELED


async def test_bad_input_unknown_agents_and_missing_keys_are_refused(intentd: AsyncClient) -> None:
    async with running(intentd_agents(intentd)), bridge(intentd) as url:
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/writer/.well-known/agent-card.json")).status_code == 200  # public
            anonymous = await http.post(
                f"{url}/writer", json={"jsonrpc": "2.0", "id": 1, "method": "GetTask"}
            )
            assert anonymous.status_code == 401
            assert (await http.get(f"{url}/nobody/.well-known/agent-card.json")).status_code == 404
        with pytest.raises(AgentCardResolutionError):
            async with a2a_client(f"{url}/nobody", BRIDGE_KEY):
                pass
        async with a2a_client(f"{url}/writer", BRIDGE_KEY) as client:
            with pytest.raises(InvalidParamsError, match="data part of the message must be a JSON object"):
                await collect(client.send_message(SendMessageRequest(message=user_message(data=[1, 2]))))
            with pytest.raises(TaskNotFoundError):
                await collect(
                    client.send_message(
                        SendMessageRequest(message=user_message(text="x", task_id="no-such-task"))
                    )
                )
    assert (await intentd.list(to_agent=WRITER)).intents == []  # nothing was submitted


@asynccontextmanager
async def remote_agent() -> AsyncIterator[tuple[str, RemoteTranslator]]:
    executor = RemoteTranslator()
    sock, url = bound_socket()
    async with serving(remote_app(executor, url), sock):
        yield url, executor


async def test_an_external_a2a_agent_answers_an_intent_from_its_artifact(intentd: AsyncClient) -> None:
    async with remote_agent() as (url, remote):
        worker = Worker(intentd, concurrency=2, claim_wait_seconds=1.0)
        serve_a2a_agent(worker, TRANSLATOR, url)
        async with running(worker):
            submitted = await intentd.submit(TRANSLATOR, "intent.translate.v1", {"text": "hallo"})
            done = await intentd.wait_for(submitted.intent_id, timeout=30)
        assert done.status == Status.COMPLETED, done.error
        assert done.result == {"translated": "hallo", "by": "remote"}
        assert len(remote.opened) == 1
        [entry] = [e for e in await intentd.journal(submitted.intent_id) if e.key == "a2a.task"]
        assert entry.result["task_id"] == remote.opened[0]  # the remote task id is journaled


async def test_an_external_agent_s_input_required_is_a_human_task_answered_through_intentd(
    intentd: AsyncClient,
) -> None:
    async with remote_agent() as (url, remote):
        worker = Worker(intentd, concurrency=2, claim_wait_seconds=1.0)
        serve_a2a_agent(worker, TRANSLATOR, url)
        async with running(worker):
            submitted = await intentd.submit(
                TRANSLATOR, "intent.translate.v1", {"text": "hallo", "ask": True}
            )
            human = await wait_for_task(intentd, submitted.intent_id)
            assert "Which tone" in str(human.human_task.get("description"))
            assert "provided" in human.allowed_outcomes
            await intentd.decide_task(human.task_id, "provided", comment="formal")
            done = await intentd.wait_for(submitted.intent_id, timeout=30)
        assert done.status == Status.COMPLETED, done.error
        assert done.result == {"tone": "formal", "outcome": "provided"}
        assert len(remote.opened) == 1  # the run after the answer continued the same remote task


async def test_a_failing_or_unknown_external_agent_fails_the_intent_clearly(intentd: AsyncClient) -> None:
    async with remote_agent() as (url, _):
        worker = Worker(intentd, concurrency=2, claim_wait_seconds=1.0)
        serve_a2a_agent(worker, TRANSLATOR, url)
        serve_a2a_agent(worker, "agent://test/a2a/ghost", f"{url}/ghost")
        async with running(worker):
            failing = await intentd.submit(TRANSLATOR, "intent.translate.v1", {"fail": "klingon"})
            ghost = await intentd.submit("agent://test/a2a/ghost", "intent.translate.v1", {"text": "x"})
            failed = await intentd.wait_for(failing.intent_id, timeout=30)
            lost = await intentd.wait_for(ghost.intent_id, timeout=30)
    assert failed.status == Status.FAILED
    assert "TASK_STATE_FAILED: cannot translate: klingon" in str(failed.error)
    assert lost.status == Status.FAILED and "no A2A agent card" in str(lost.error)


async def wait_for_task(sdk: AsyncClient, intent_id: str) -> Any:
    for _ in range(300):
        tasks = await sdk.tasks(intent_id=intent_id)
        if tasks:
            return tasks[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no human task for {intent_id}")


async def test_intentd_a2a_serve_runs_the_bridge(intentd: AsyncClient, tmp_path: Any) -> None:
    """The command, as a user runs it: a subprocess in front of the server, agents from a file."""
    config = tmp_path / "a2a.json"
    agents = [{"name": "writer", "address": WRITER, "skills": [{"id": "draft", "name": "Draft"}]}]
    config.write_text(json.dumps({"agents": agents}))
    port = free_port()
    command = intentd_command(
        "--url",
        intentd.base_url,
        "--api-key",
        TEST_KEY,
        "a2a",
        "serve",
        "--config",
        str(config),
        "--port",
        str(port),
    )
    process = subprocess.Popen(
        command,
        env=child_environment(a2a_api_key=BRIDGE_KEY),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{url}/writer/.well-known/agent-card.json")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        async with running(intentd_agents(intentd)), a2a_client(f"{url}/writer", BRIDGE_KEY) as client:
            events = await collect(
                client.send_message(SendMessageRequest(message=user_message(data={"topic": "cli"})))
            )
        task_id, state = final_task(events)
        assert state == TaskState.TASK_STATE_COMPLETED
        assert (await intentd.get(task_id)).result == {"draft": "On cli", "text": "A draft on cli"}
    finally:
        process.terminate()
        output = process.communicate(timeout=15)[0].decode()
    assert process.returncode in (0, -15), output
