"""The AutoGen adapter against a real ``intentd serve`` (one per backend for the module), on both
backends: a served team's result and tokens; a Swarm's handoff to the person as a human task, answered
and continued without any earlier model turn or tool running again; the same pause finished by a new
worker process after the first was killed; an ``IntentAgent`` and an ``intent_tool`` handing work to a
plain intentd agent from a served team (one intent tree, one correlation id, no turn run twice) and
from a script (one root intent however often it runs); and bad input failing clearly."""

from __future__ import annotations

import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from intentd.adapters.autogen import IntentAgent, serve_team
from intentd.client import AsyncClient, Intent, Status
from intentd.worker import AsyncContext, Worker
from tests._support.servers import API_KEY, Server, end, module_process
from tests._support.workers import open_task, quick_worker, running

from ._autogen_teams import (
    answering_team,
    editor_with_write_tool,
    editor_with_writer_agent,
    ops_team,
    runs,
    texts,
)
from ._trees import one_child


def address(name: str) -> str:
    return f"agent://autogen/t{uuid.uuid4().hex[:10]}/{name}"  # the server is shared by the module


def writer_agent(worker: Worker, writer: str, written: list[str]) -> None:
    """A plain intentd agent, no framework: the one the editor hands the writing to."""

    @worker.agent(writer)
    async def write(ctx: AsyncContext, intent: Intent) -> dict[str, Any]:
        written.append(intent.intent_id)
        return {"text": f"Draft: {intent.payload['task']}, in 300 words"}


# --- serve ----------------------------------------------------------------------------------------


async def test_a_served_team_returns_its_last_message_and_reports_its_tokens(
    client: AsyncClient, tmp_path: Path
) -> None:
    agent, counts = address("answerer"), tmp_path / "counts"
    worker = quick_worker(client)
    serve_team(worker, agent, answering_team(counts))
    async with running(worker):
        intent = await client.submit(agent, "intent.ask.v1", {"task": "What is a lease?"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result == {
        "text": "Leases expire unless renewed. TERMINATE",
        "source": "writer",
        "messages": [
            {"source": "user", "type": "TextMessage", "text": "What is a lease?"},
            {"source": "writer", "type": "TextMessage", "text": "Leases expire unless renewed. TERMINATE"},
        ],
        "stop_reason": "Text 'TERMINATE' mentioned",
    }
    assert done.usage == {"tokens_in": 10, "tokens_out": 3}
    assert runs(counts) == ["model"]


async def test_a_handoff_to_the_user_is_a_human_task_and_the_team_goes_on_from_its_state(
    client: AsyncClient, tmp_path: Path
) -> None:
    agent, counts = address("ops"), tmp_path / "counts"
    worker = quick_worker(client)
    serve_team(worker, agent, lambda: ops_team(counts), human_task={"assignees": ["role:sre"]})
    async with running(worker):
        intent = await client.submit(agent, "intent.deploy.v1", {"task": "Deploy api v2"})
        task = await open_task(client, intent.intent_id)
        waiting = await client.get(intent.intent_id)
        assert (waiting.status, waiting.waiting_reason) == (Status.WAITING, "WAITING_FOR_HUMAN")
        assert task.human_task["title"] == "Which region should api v2 go to?"
        assert task.human_task["task_type"] == "clarification"
        assert "planner handed the conversation to user" in task.human_task["description"]
        assert "planner said: api runs v1" in task.human_task["description"]
        assert task.assignees == ["role:sre"]
        assert runs(counts) == ["model", "lookup", "model"]

        await client.decide_task(task.task_id, "provided", comment="eu-west")
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result is not None
    assert done.result["text"] == "Deploying api v2 to the region given. TERMINATE"
    assert ("user", "eu-west") in texts(done.result)  # the person's answer, handed back to the planner
    assert done.result["messages"][0] == {"source": "user", "type": "TextMessage", "text": "Deploy api v2"}
    # The run went on from its saved state: lookup and the first two model turns did not run again.
    assert runs(counts) == ["model", "lookup", "model", "model"]
    last_given = (tmp_path / "counts.given").read_text().split()[-1]
    assert last_given.endswith("FunctionExecutionResultMessage,UserMessage")  # the person's answer
    assert done.usage == {"tokens_in": 30, "tokens_out": 9}  # three model calls, none counted twice
    journal = {entry.key for entry in await client.journal(intent.intent_id)}
    assert {"autogen.run/0", "autogen.human/0", "autogen.run/1"} <= journal


@pytest.mark.slow
async def test_a_handoff_pending_in_a_killed_worker_is_finished_by_a_new_process(
    client: AsyncClient, live: Server, tmp_path: Path
) -> None:
    agent, counts = address("ops"), tmp_path / "counts"
    first = worker_process(live, agent, counts, tmp_path / "first.log")
    try:
        intent = await client.submit(agent, "intent.deploy.v1", {"task": "Deploy api v2"})
        task = await open_task(client, intent.intent_id, timeout=60)
        assert runs(counts) == ["model", "lookup", "model"]
    finally:
        end(first, signal.SIGKILL)  # a crash while the team waits for the person
    assert first.returncode == -signal.SIGKILL

    await client.decide_task(task.task_id, "provided", comment="eu-west")
    second = worker_process(live, agent, counts, tmp_path / "second.log")
    try:
        done = await client.wait_for(intent.intent_id, timeout=90)
    finally:
        end(second)

    assert done.status is Status.COMPLETED, (done.error, (tmp_path / "second.log").read_text()[-3000:])
    assert done.result is not None
    assert done.result["text"] == "Deploying api v2 to the region given. TERMINATE"
    # The new process loaded the journaled team state: lookup and the first turns ran once, in the first.
    assert runs(counts) == ["model", "lookup", "model", "model"]
    assert done.usage == {"tokens_in": 30, "tokens_out": 9}


def worker_process(server: Server, agent: str, counts: Path, log: Path) -> subprocess.Popen[bytes]:
    return module_process(
        "tests.frameworks._autogen_worker", server.url, API_KEY, agent, str(counts), log=log
    )


# --- call -----------------------------------------------------------------------------------------


async def test_an_intent_agent_in_a_served_team_makes_one_intent_tree(
    client: AsyncClient, tmp_path: Path
) -> None:
    editor, writer, counts = address("editor"), address("writer"), tmp_path / "counts"
    written: list[str] = []
    worker = quick_worker(client)
    serve_team(worker, editor, lambda: editor_with_writer_agent(counts, writer))
    writer_agent(worker, writer, written)
    async with running(worker):
        intent = await client.submit(editor, "intent.article.v1", {"task": "Write about leases"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result is not None
    assert texts(done.result) == [
        ("user", "Write about leases"),
        ("editor", "Outline: why leases matter"),
        ("author", "Draft: Outline: why leases matter, in 300 words"),
        ("editor", "Approved. TERMINATE"),
    ]
    await one_tree(client, intent, writer, written, "autogen.agent/0/author")
    assert done.usage == {"tokens_in": 20.0, "tokens_out": 6.0}
    # The editor parked while the writer wrote and went on from its saved state: no turn ran twice.
    assert runs(counts) == ["model", "model"]


async def test_an_intent_tool_in_a_served_team_makes_one_intent_tree(
    client: AsyncClient, tmp_path: Path
) -> None:
    editor, writer, counts = address("editor"), address("writer"), tmp_path / "counts"
    written: list[str] = []
    worker = quick_worker(client)
    serve_team(worker, editor, lambda: editor_with_write_tool(counts, writer))
    writer_agent(worker, writer, written)
    async with running(worker):
        intent = await client.submit(editor, "intent.article.v1", {"task": "Write about leases"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result is not None
    assert texts(done.result) == [
        ("user", "Write about leases"),
        ("editor", "Draft: why leases matter, in 300 words"),  # the turn's tool summary
        ("editor", "Done. TERMINATE"),
    ]
    await one_tree(client, intent, writer, written, "autogen.tool/0/call-write")
    assert runs(counts) == ["model", "model"]  # the call's turn did not run again
    # The editor's next model call was given the call's result right after the call, as a model needs.
    first, second = (tmp_path / "counts.given").read_text().split()
    assert second.startswith(first + ",AssistantMessage,FunctionExecutionResultMessage")
    assert done.usage == {"tokens_in": 20, "tokens_out": 6}


async def one_tree(client: AsyncClient, intent: Intent, writer: str, written: list[str], key: str) -> None:
    child = await one_child(client, intent, writer, key)
    assert written == [child.intent_id]


@pytest.mark.parametrize("correlated", [True, False], ids=["correlation-id", "no-correlation-id"])
async def test_an_intent_agent_outside_intentd_submits_once_however_often_it_runs(
    client: AsyncClient, tmp_path: Path, correlated: bool
) -> None:
    writer, counts, chat = address("writer"), tmp_path / "counts", f"chat-{uuid.uuid4().hex}"
    options = {"correlation_id": chat} if correlated else {}
    written: list[str] = []
    worker = quick_worker(client)
    writer_agent(worker, writer, written)
    async with running(worker):
        outputs = []
        for _ in range(2):  # the script runs again, from the start
            counts.unlink(missing_ok=True)
            team = editor_with_writer_agent(counts, writer, client=client, **options)
            result = await team.run(task="Write about leases")
            outputs.append([m.to_text() for m in result.messages])

    assert outputs[0] == outputs[1]
    assert outputs[0][2] == "Draft: Outline: why leases matter, in 300 words"
    assert len(written) == 1
    root = await client.get(written[0])
    assert root.parent_intent_id is None
    if correlated:
        assert [i.intent_id async for i in client.iter_intents(correlation_id=chat)] == [root.intent_id]
    assert root.status is Status.COMPLETED


# --- bad input ------------------------------------------------------------------------------------


async def test_a_payload_without_the_task_fails_the_intent_at_once(
    client: AsyncClient, tmp_path: Path
) -> None:
    agent, counts = address("answerer"), tmp_path / "counts"
    worker = quick_worker(client)
    serve_team(worker, agent, answering_team(counts))
    async with running(worker):
        intent = await client.submit(agent, "intent.ask.v1", {"prompt": "What is a lease?"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.FAILED
    assert done.error is not None and done.error["code"] == "FatalError"
    assert "'task'" in done.error["message"] and "['prompt']" in done.error["message"]
    assert done.delivery_attempt == 1 and runs(counts) == []


async def test_a_team_object_whose_members_hand_work_on_fails_clearly(
    client: AsyncClient, tmp_path: Path
) -> None:
    editor, writer, counts = address("editor"), address("writer"), tmp_path / "counts"
    written: list[str] = []
    worker = quick_worker(client)
    serve_team(worker, editor, editor_with_writer_agent(counts, writer))  # an object, not a function
    writer_agent(worker, writer, written)
    async with running(worker):
        intent = await client.submit(editor, "intent.article.v1", {"task": "Write about leases"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.FAILED
    assert done.error is not None and "served as a function making the team" in done.error["message"]
    assert written == []


def test_serving_something_that_is_not_a_team_is_refused() -> None:
    with pytest.raises(TypeError, match="serve a team, an agent or a function"):
        serve_team(Worker.__new__(Worker), address("x"), "team")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="agent address"):
        IntentAgent("author", "writer")
