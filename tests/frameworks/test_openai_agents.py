"""The OpenAI Agents adapter against a real ``intentd serve`` (one per backend for the module), on
both backends: a served agent's result (structured output) and tokens; a ``needs_approval`` tool as
a human task, approved (the tool runs once) or rejected (it never runs and the model is told); the
same pause finished by a new worker process after the first was killed; ``intent_tool`` handing work
to a plain intentd agent from a served agent (one intent tree, earlier turns never re-run), from a
plain handler (the worker's ``Unwind`` passes through the SDK) and from a script (one root intent
however often it runs); and a payload without the agent's input failing clearly."""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from agents import RunConfig, Runner

from intentd.adapters.openai_agents import serve_agent
from intentd.client import AsyncClient, Intent, Status
from intentd.worker import AsyncContext, Worker
from tests._support.servers import API_KEY, Server, end, module_process
from tests._support.workers import open_task, quick_worker, running, until

from ._openai_agents_agents import answering_agent, editor_agent, ops_agent, runs
from ._trees import one_child


def address(name: str) -> str:
    return f"agent://openai-agents/t{uuid.uuid4().hex[:10]}/{name}"  # the server is shared by the module


def writer_agent(
    worker: Worker, writer: str, written: list[str], *, after_parent_parks: AsyncClient | None = None
) -> None:
    """A plain intentd agent, no framework: the one the editor hands the writing to. With
    ``after_parent_parks``, it writes only once the editor has parked: otherwise a child done before
    its parent awaits it lets the parent go on without parking, and the test would not see the park."""

    @worker.agent(writer)
    async def write(ctx: AsyncContext, intent: Intent) -> dict[str, Any]:
        if (client := after_parent_parks) is not None and (parent := intent.parent_intent_id) is not None:

            async def parked() -> bool:
                return (await client.get(parent)).status is Status.WAITING

            await until(parked, "the editor to park")
        written.append(intent.intent_id)
        return {"draft": f"{intent.payload['topic']}, in {intent.payload['words']} words"}


async def test_a_served_agent_returns_its_structured_output_and_reports_its_tokens(
    client: AsyncClient,
) -> None:
    agent = address("answerer")
    worker = quick_worker(client)
    serve_agent(worker, agent, answering_agent())
    async with running(worker):
        intent = await client.submit(agent, "intent.ask.v1", {"input": "What is a lease?"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result == {
        "output": {"text": "Leases expire unless renewed.", "confidence": 0.9},
        "agent": "answerer",
    }
    assert done.usage == {"tokens_in": 10, "tokens_out": 3}


async def test_an_approval_is_a_human_task_and_the_approved_tool_runs_once(
    client: AsyncClient, tmp_path: Path
) -> None:
    agent, counts = address("ops"), tmp_path / "counts"
    worker = quick_worker(client)
    serve_agent(worker, agent, ops_agent(counts), human_task={"assignees": ["role:sre"]})
    async with running(worker):
        intent = await client.submit(agent, "intent.deploy.v1", {"input": "Deploy api v2"})
        task = await open_task(client, intent.intent_id)
        waiting = await client.get(intent.intent_id)
        assert (waiting.status, waiting.waiting_reason) == (Status.WAITING, "WAITING_FOR_HUMAN")
        assert task.human_task["title"] == 'Approve deploy(service="api", version="v2")'
        assert task.human_task["task_type"] == "approval"
        assert "ops asks to call deploy" in task.human_task["description"]
        assert task.assignees == ["role:sre"]
        assert runs(counts) == ["model", "lookup", "model"]

        await client.decide_task(task.task_id, "approved", comment="Go")
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result == {"output": "Deploy: deployed api v2", "agent": "ops"}
    # The run went on from its saved state: lookup and the first two model turns did not run again.
    assert runs(counts) == ["model", "lookup", "model", "deploy", "model"]
    assert done.usage == {"tokens_in": 30, "tokens_out": 9}  # three model calls, none counted twice
    journal = {entry.key for entry in await client.journal(intent.intent_id)}
    assert {"openai-agents.run/0", "openai-agents.approval/0/call-deploy", "openai-agents.run/1"} <= journal


async def test_a_rejected_tool_never_runs_and_the_model_is_told_why(
    client: AsyncClient, tmp_path: Path
) -> None:
    agent, counts = address("ops"), tmp_path / "counts"
    worker = quick_worker(client)
    serve_agent(worker, agent, ops_agent(counts))
    async with running(worker):
        intent = await client.submit(agent, "intent.deploy.v1", {"input": "Deploy api v2"})
        task = await open_task(client, intent.intent_id)
        await client.decide_task(task.task_id, "rejected", comment="Not on a Friday")
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result is not None
    output = done.result["output"]
    assert (
        output.startswith("Deploy: ") and "rejected this call of deploy (rejected): Not on a Friday" in output
    )
    assert "deploy" not in runs(counts)
    assert runs(counts) == ["model", "lookup", "model", "model"]


@pytest.mark.slow
async def test_an_approval_pending_in_a_killed_worker_is_finished_by_a_new_process(
    client: AsyncClient, live: Server, tmp_path: Path
) -> None:
    agent, counts = address("ops"), tmp_path / "counts"
    first = worker_process(live, agent, counts, tmp_path / "first.log")
    try:
        intent = await client.submit(agent, "intent.deploy.v1", {"input": "Deploy api v2"})
        task = await open_task(client, intent.intent_id)
        assert runs(counts) == ["model", "lookup", "model"]
    finally:
        end(first, signal.SIGKILL)  # a crash while the agent waits for the person
    assert first.returncode == -signal.SIGKILL

    await client.decide_task(task.task_id, "approved")
    second = worker_process(live, agent, counts, tmp_path / "second.log")
    try:
        done = await client.wait_for(intent.intent_id, timeout=90)
    finally:
        end(second)

    assert done.status is Status.COMPLETED, (done.error, (tmp_path / "second.log").read_text()[-3000:])
    assert done.result == {"output": "Deploy: deployed api v2", "agent": "ops"}
    # The new process loaded the journaled RunState: lookup ran once, in the first process.
    assert runs(counts) == ["model", "lookup", "model", "deploy", "model"]
    assert done.usage == {"tokens_in": 30, "tokens_out": 9}


def worker_process(server: Server, agent: str, counts: Path, log: Path) -> subprocess.Popen[bytes]:
    return module_process(
        "tests.frameworks._openai_agents_worker", server.url, API_KEY, agent, str(counts), log=log
    )


# --- call -----------------------------------------------------------------------------------------


async def test_an_intent_tool_in_a_served_agent_makes_one_intent_tree(
    client: AsyncClient, tmp_path: Path
) -> None:
    editor, writer, counts = address("editor"), address("writer"), tmp_path / "counts"
    written: list[str] = []
    worker = quick_worker(client)
    serve_agent(worker, editor, editor_agent(counts, writer))
    writer_agent(worker, writer, written)
    async with running(worker):
        intent = await client.submit(editor, "intent.article.v1", {"input": "Write about leases"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    # The writer's result reached the model's next turn, which answered with it.
    assert done.result == {"output": "Done: Why leases matter, in 300 words", "agent": "editor"}
    child = await one_child(client, intent, writer, "openai-agents.tool/0/call-write")
    assert child.payload == {"topic": "Why leases matter", "words": 300}
    assert written == [child.intent_id]
    # The editor parked while the writer wrote and went on from its saved state: nothing ran twice.
    assert runs(counts) == ["model", "outline", "model", "model"]
    assert done.usage == {"tokens_in": 30, "tokens_out": 9}


async def test_an_intent_tool_that_stops_the_run_hands_the_intent_over(
    client: AsyncClient, tmp_path: Path
) -> None:
    """The handoff form: an agent that stops at the intent tool answers with the other agent's
    result, as it would after a handoff (``tool_use_behavior``)."""
    editor, writer, counts = address("editor"), address("writer"), tmp_path / "counts"
    written: list[str] = []
    worker = quick_worker(client)
    agent = editor_agent(counts, writer).clone(tool_use_behavior={"stop_at_tool_names": ["write"]})
    serve_agent(worker, editor, agent, output=json.loads)
    writer_agent(worker, writer, written)
    async with running(worker):
        intent = await client.submit(editor, "intent.article.v1", {"input": "Write about leases"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result == {"draft": "Why leases matter, in 300 words"}
    assert len(written) == 1
    assert runs(counts) == ["model", "outline", "model"]  # no turn after the writer's answer


async def test_an_intent_tool_in_a_plain_handler_parks_through_the_sdk(
    client: AsyncClient, tmp_path: Path
) -> None:
    """A handler that runs the agent itself: the tool spawns the child directly, and the worker's
    ``Unwind`` (a BaseException) passes through the SDK's tool error handling, parking the intent.
    The handler then runs again from the top, so the (scripted) model and ``outline`` run again."""
    editor, writer, counts = address("editor"), address("writer"), tmp_path / "counts"
    written: list[str] = []
    worker = quick_worker(client)
    agent = editor_agent(counts, writer)

    @worker.agent(editor)
    async def edit(ctx: AsyncContext, intent: Intent) -> dict[str, Any]:
        result = await Runner.run(agent, str(intent.payload["input"]))
        return {"output": result.final_output}

    writer_agent(worker, writer, written, after_parent_parks=client)
    async with running(worker):
        intent = await client.submit(editor, "intent.article.v1", {"input": "Write about leases"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result == {"output": "Done: Why leases matter, in 300 words"}
    [child] = (await client.tree(intent.intent_id)).children(intent.intent_id)
    assert child.step_key == "openai-agents.tool/write#0" and written == [child.intent_id]
    assert runs(counts) == ["model", "outline", "model", "model", "outline", "model", "model"]


async def test_an_intent_tool_outside_intentd_submits_once_however_often_it_runs(
    client: AsyncClient, tmp_path: Path
) -> None:
    writer, counts, group = address("writer"), tmp_path / "counts", f"chat-{uuid.uuid4().hex}"
    written: list[str] = []
    worker = quick_worker(client)
    writer_agent(worker, writer, written)
    async with running(worker):
        outputs = []
        for _ in range(2):  # the script runs again: the model asks with the same call id
            agent = editor_agent(counts, writer, client=client)
            result = await Runner.run(agent, "Write about leases", run_config=RunConfig(group_id=group))
            outputs.append(result.final_output)

    assert outputs == ["Done: Why leases matter, in 300 words"] * 2
    assert len(written) == 1
    [root] = [i async for i in client.iter_intents(correlation_id=f"openai-agents-{group}")]
    assert root.intent_id == written[0] and root.parent_intent_id is None
    assert root.status is Status.COMPLETED


# --- bad input ------------------------------------------------------------------------------------


async def test_a_payload_without_the_agents_input_fails_the_intent_at_once(
    client: AsyncClient, tmp_path: Path
) -> None:
    agent, counts = address("ops"), tmp_path / "counts"
    worker = quick_worker(client)
    serve_agent(worker, agent, ops_agent(counts))
    async with running(worker):
        intent = await client.submit(agent, "intent.deploy.v1", {"prompt": "Deploy api v2"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.FAILED
    assert done.error["code"] == "FatalError"
    assert "'input'" in done.error["message"] and "['prompt']" in done.error["message"]
    assert done.delivery_attempt == 1 and runs(counts) == []


async def test_arguments_that_do_not_fit_an_intent_tool_reach_the_model_and_spawn_nothing(
    client: AsyncClient, tmp_path: Path
) -> None:
    editor, writer, counts = address("editor"), address("writer"), tmp_path / "counts"
    written: list[str] = []
    worker = quick_worker(client)
    serve_agent(worker, editor, editor_agent(counts, writer, words="many"))
    writer_agent(worker, writer, written)
    async with running(worker):
        intent = await client.submit(editor, "intent.article.v1", {"input": "Write about leases"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result is not None
    output = done.result["output"]
    assert output.startswith("Failed: the arguments of write do not match its parameters")
    assert "words" in output
    assert (await client.tree(intent.intent_id)).children(intent.intent_id) == []
    assert written == []
