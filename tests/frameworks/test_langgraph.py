"""The LangGraph adapter against a real ``intentd serve`` (one per backend for the module), on both
backends: a served graph's result and tokens; an ``interrupt()`` as a human task whose answer resumes
the graph, also in a new worker process after the first was killed; ``intent_node`` handing work to
another agent from a served graph (one intent tree) and from a graph run by a plain script (one
intent however often the node runs); and the clear failures of a payload the graph does not take
and of a pause in a graph that cannot resume."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver

from intentd.adapters.langgraph import serve_graph
from intentd.adapters.langgraph._interrupts import human_task, task_key
from intentd.client import AsyncClient, Intent, Status
from intentd.worker import AsyncContext, Worker
from tests._support.servers import API_KEY, Server, end, module_process
from tests._support.workers import open_task, quick_worker, running

from ._langgraph_graphs import chat_graph, editor_graph, review_graph, runs, saver
from ._trees import one_child


def address(name: str) -> str:
    return f"agent://langgraph/t{uuid.uuid4().hex[:10]}/{name}"  # the server is shared by the module


def writer_agent(worker: Worker, writer: str, written: list[str]) -> None:
    """A plain intentd agent, no framework: the one the graphs hand the writing to."""

    @worker.agent(writer)
    async def write(ctx: AsyncContext, intent: Intent) -> dict[str, Any]:
        written.append(intent.intent_id)
        return {"draft": f"{intent.payload['outline']}: a draft on {intent.payload['topic']}"}


async def test_a_served_graph_returns_its_final_state_and_reports_its_tokens(client: AsyncClient) -> None:
    agent = address("chat")
    worker = quick_worker(client)
    serve_graph(worker, agent, chat_graph())
    async with running(worker):
        intent = await client.submit(
            agent, "intent.chat.v1", {"messages": [{"role": "user", "content": "What is a lease?"}]}
        )
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result is not None
    messages = done.result["messages"]
    assert [(m["type"], m["content"]) for m in messages] == [
        ("human", "What is a lease?"),
        ("ai", "Leases expire."),
        ("ai", "Leases expire; renew them."),
    ]
    assert done.usage == {"tokens_in": 32, "tokens_out": 12}


async def test_an_interrupt_is_a_human_task_and_the_answer_resumes_the_graph(
    client: AsyncClient, tmp_path: Path
) -> None:
    agent, counts = address("reviewer"), tmp_path / "counts"
    worker = quick_worker(client)
    serve_graph(worker, agent, review_graph(saver(tmp_path / "checkpoints.db"), counts))
    async with running(worker):
        intent = await client.submit(agent, "intent.publish.v1", {"topic": "leases"})
        task = await open_task(client, intent.intent_id)
        waiting = await client.get(intent.intent_id)
        assert (waiting.status, waiting.waiting_reason) == (Status.WAITING, "WAITING_FOR_HUMAN")
        assert task.human_task["title"] == "Publish this draft?"
        assert task.human_task["description"] == "A short piece about leases"
        assert task.human_task["form_schema"]["properties"] == {"headline": {"type": "string"}}
        assert task.assignees == ["role:editors"]
        assert runs(counts) == ["draft", "review"]

        await client.decide_task(task.task_id, "approved", comment="Ship it", data={"headline": "Leases"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result is not None
    assert done.result["published"] is True
    verdict = done.result["verdict"]
    assert (verdict["outcome"], verdict["approved"], verdict["comment"]) == ("approved", True, "Ship it")
    assert verdict["data"] == {"headline": "Leases"}
    # The interrupted node runs again on resume (LangGraph's way); the one before it does not.
    assert runs(counts) == ["draft", "review", "review", "publish"]
    events = await client.events(intent.intent_id)
    kinds = [event.event_type for event in events]
    asked = kinds.index("intent.human_task_assigned")
    assert kinds[asked:] == [
        "intent.human_task_assigned",
        "intent.resumed",
        "intent.delivered",
        "intent.completed",
    ]
    assert events[asked].status is Status.WAITING
    [decided] = await client.tasks("decided", intent_id=intent.intent_id)
    assert decided.task_id == task.task_id


async def test_a_thread_that_already_ended_is_not_run_again(client: AsyncClient, tmp_path: Path) -> None:
    """A crash after the graph ended but before the completion was reported: the next delivery
    returns the checkpointed final state (the stand-in models, scripted for one call each, would
    fail a second run)."""
    agent = address("chat")
    graph = chat_graph(InMemorySaver())
    intent = await client.submit(agent, "intent.chat.v1", {"messages": [{"role": "user", "content": "Hi"}]})
    config: RunnableConfig = {"configurable": {"thread_id": intent.intent_id}}
    payload = dict(intent.payload)
    await asyncio.to_thread(lambda: graph.invoke(payload, config))  # the run that "crashed"

    worker = quick_worker(client)
    serve_graph(worker, agent, graph)
    async with running(worker):
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result is not None
    assert [m["content"] for m in done.result["messages"]] == [
        "Hi",
        "Leases expire.",
        "Leases expire; renew them.",
    ]
    assert done.usage == {}  # this delivery ran no model


@pytest.mark.slow
async def test_a_graph_paused_in_a_killed_worker_is_finished_by_a_new_process(
    client: AsyncClient, live: Server, tmp_path: Path
) -> None:
    agent, counts, checkpoints = address("reviewer"), tmp_path / "counts", tmp_path / "checkpoints.db"
    first = worker_process(live, agent, checkpoints, counts, tmp_path / "first.log")
    try:
        intent = await client.submit(agent, "intent.publish.v1", {"topic": "crashes"})
        task = await open_task(client, intent.intent_id)
        assert runs(counts) == ["draft", "review"]
    finally:
        end(first, signal.SIGKILL)  # a crash while the graph waits for the person
    assert first.returncode == -signal.SIGKILL

    await client.decide_task(task.task_id, "approved", comment="Go")
    second = worker_process(live, agent, checkpoints, counts, tmp_path / "second.log")
    try:
        done = await client.wait_for(intent.intent_id, timeout=90)
    finally:
        end(second)

    assert done.status is Status.COMPLETED, (done.error, (tmp_path / "second.log").read_text()[-3000:])
    assert done.result is not None
    assert (done.result["draft"], done.result["published"]) == ("A short piece about crashes", True)
    assert done.result["verdict"]["comment"] == "Go"
    # The new process resumed from the checkpoint: draft ran once, in the first process.
    assert runs(counts) == ["draft", "review", "review", "publish"]


def worker_process(
    server: Server, agent: str, checkpoints: Path, counts: Path, log: Path
) -> subprocess.Popen[bytes]:
    return module_process(
        "tests.frameworks._langgraph_worker",
        server.url,
        API_KEY,
        agent,
        str(checkpoints),
        str(counts),
        log=log,
    )


# --- call -----------------------------------------------------------------------------------------


async def test_an_intent_node_in_a_served_graph_makes_one_intent_tree(
    client: AsyncClient, tmp_path: Path
) -> None:
    editor, writer, counts = address("editor"), address("writer"), tmp_path / "counts"
    written: list[str] = []
    worker = quick_worker(client)
    serve_graph(worker, editor, editor_graph(saver(tmp_path / "checkpoints.db"), counts, writer))
    writer_agent(worker, writer, written)
    async with running(worker):
        intent = await client.submit(editor, "intent.article.v1", {"topic": "leases"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.COMPLETED, done.error
    assert done.result is not None
    assert done.result["draft"] == "Why leases matter: a draft on leases"
    child = await one_child(client, intent, writer, "langgraph.node/write@2")
    assert written == [child.intent_id]
    # The editor parked while the writer wrote and continued from its checkpoint: plan ran once.
    assert runs(counts) == ["plan", "finish"]


async def test_an_async_served_graph_pauses_on_its_intent_node_and_a_person(
    client: AsyncClient, tmp_path: Path
) -> None:
    """``asynchronous=True``: the handler runs ``graph.astream`` and the node's async form awaits
    the child; the same graph then pauses for a person through the async context."""
    editor, reviewer, writer = address("editor"), address("reviewer"), address("writer")
    counts, written = tmp_path / "counts", list[str]()
    worker = quick_worker(client)
    serve_graph(worker, editor, editor_graph(InMemorySaver(), counts, writer), asynchronous=True)
    serve_graph(worker, reviewer, review_graph(InMemorySaver(), counts), asynchronous=True)
    writer_agent(worker, writer, written)
    async with running(worker):
        article = await client.submit(editor, "intent.article.v1", {"topic": "sagas"})
        drafted = await client.wait_for(article.intent_id, timeout=60)
        review = await client.submit(reviewer, "intent.publish.v1", {"topic": "sagas"})
        task = await open_task(client, review.intent_id)
        await client.decide_task(task.task_id, "rejected", comment="Too short")
        reviewed = await client.wait_for(review.intent_id, timeout=60)

    assert drafted.status is Status.COMPLETED, drafted.error
    assert drafted.result is not None and drafted.result["draft"] == "Why sagas matter: a draft on sagas"
    [child] = (await client.tree(article.intent_id)).children(article.intent_id)
    assert written == [child.intent_id] and child.correlation_id == article.correlation_id
    assert reviewed.status is Status.COMPLETED, reviewed.error
    assert reviewed.result is not None and reviewed.result["published"] is False
    assert reviewed.result["verdict"]["comment"] == "Too short"
    assert runs(counts) == ["plan", "finish", "draft", "review", "review", "publish"]


async def test_an_intent_node_outside_intentd_submits_once_however_often_it_runs(
    client: AsyncClient, live: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, counts, thread = address("writer"), tmp_path / "counts", f"script-{uuid.uuid4().hex}"
    written: list[str] = []
    worker = quick_worker(client)
    writer_agent(worker, writer, written)
    config: RunnableConfig = {"configurable": {"thread_id": thread}}
    monkeypatch.setenv("INTENTD_URL", live.url)  # what the node's own Client() connects to
    monkeypatch.setenv("INTENTD_API_KEY", API_KEY)
    async with running(worker):
        graph = editor_graph(InMemorySaver(), counts, writer)
        first = await asyncio.to_thread(lambda: graph.invoke({"topic": "tla"}, config))
        # The script runs again (a crash, a rerun): a new graph on the same thread runs the node again.
        rerun = editor_graph(None, counts, writer)
        again = await asyncio.to_thread(lambda: rerun.invoke({"topic": "tla"}, config))

    assert first["draft"] == again["draft"] == "Why tla matter: a draft on tla"
    assert len(written) == 1
    [root] = [i async for i in client.iter_intents(correlation_id=f"langgraph-{thread}")]
    assert root.intent_id == written[0] and root.parent_intent_id is None
    assert root.status is Status.COMPLETED
    assert runs(counts) == ["plan", "finish", "plan", "finish"]


# --- bad input ------------------------------------------------------------------------------------


async def test_a_payload_the_graph_does_not_take_fails_the_intent_at_once(
    client: AsyncClient, tmp_path: Path
) -> None:
    agent, counts = address("reviewer"), tmp_path / "counts"
    worker = quick_worker(client)
    serve_graph(worker, agent, review_graph(saver(tmp_path / "checkpoints.db"), counts))
    async with running(worker):
        intent = await client.submit(agent, "intent.publish.v1", {"subject": "leases"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.FAILED
    assert done.error["code"] == "FatalError"
    assert "'subject'" in done.error["message"] and "topic" in done.error["message"]
    assert done.delivery_attempt == 1 and runs(counts) == []


async def test_a_graph_without_a_checkpointer_that_interrupts_fails_clearly(
    client: AsyncClient, tmp_path: Path
) -> None:
    agent, counts = address("reviewer"), tmp_path / "counts"
    worker = quick_worker(client)
    serve_graph(worker, agent, review_graph(None, counts))
    async with running(worker):
        intent = await client.submit(agent, "intent.publish.v1", {"topic": "leases"})
        done = await client.wait_for(intent.intent_id, timeout=60)

    assert done.status is Status.FAILED
    assert "no checkpointer" in done.error["message"] and "Publish this draft?" in done.error["message"]
    assert await client.tasks("any", intent_id=intent.intent_id) == []


# --- what a person is asked (no server) -----------------------------------------------------------


def test_an_interrupt_value_becomes_the_task_a_person_sees() -> None:
    defaults = {"assignees": ["role:support"]}
    value = {"title": "Refund?", "allowed_outcomes": ["yes", "no"], "amount": 5}
    asked = human_task(value, "refund", defaults)
    assert asked == {"assignees": ["role:support"], "allowed_outcomes": ["yes", "no"], "title": "Refund?"}
    question = "Which plan? " * 40  # past the title's 255 characters: kept whole in the description
    asked = human_task(question, "plan", {})
    assert len(asked["title"]) == 255 and asked["description"] == question
    asked = human_task({"amount": 5}, "refund", {})
    assert asked["title"] == "Input needed at refund" and '"amount": 5' in asked["description"]
    assert human_task(["a", "b"], "pick", {})["title"] == "Input needed at pick"
    assert task_key("abc") == "langgraph.interrupt/abc"
