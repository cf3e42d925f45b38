"""A flow served as an intentd agent: its ``@human_feedback`` pause is a human task of the intent;
the answer resumes it, in any worker process, and what ran before the pause never runs again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from intentd.adapters.crewai import serve_flow
from intentd.client import Client, HumanTask

from ._flows import ReviewFlow, runs
from ._servers import API_KEY, REPO, InProcessWorker, Server, end, wait_until


def address(name: str) -> str:
    return f"agent://crewai/test/{name}-{uuid.uuid4().hex[:8]}"


def open_task(client: Client, intent_id: str) -> HumanTask:
    tasks: list[HumanTask] = wait_until(
        lambda: client.tasks(intent_id=intent_id), 60, f"a human task of intent {intent_id}"
    )
    [task] = tasks
    return task


def test_a_flow_pause_is_a_human_task_and_the_answer_finishes_the_flow(
    worker: InProcessWorker, client: Client, tmp_path: Path
) -> None:
    flow_address, counts = address("publisher"), tmp_path / "counts"
    serve_flow(worker, flow_address, ReviewFlow)
    worker.start()

    intent = client.submit(flow_address, "intent.publish.v1", {"topic": "leases", "counts": str(counts)})
    task = open_task(client, intent.intent_id)

    assert task.state == "open"
    assert task.human_task["title"] == "Publish this draft?"
    assert "A short piece about leases" in task.human_task["description"]
    assert task.assignees == ["role:editors"]
    waiting = client.get(intent.intent_id)
    assert (waiting.status, waiting.waiting_reason) == ("WAITING", "WAITING_FOR_HUMAN")
    assert runs(counts) == ["draft", "review"]

    client.decide_task(task.task_id, "approved", comment="Ship it")
    done = client.wait_for(intent.intent_id, timeout=60)

    assert done.status == "COMPLETED", done.error
    assert done.result is not None
    assert done.result["output"] == {"published": "A short piece about leases", "feedback": "Ship it"}
    assert done.result["state"]["topic"] == "leases"
    [feedback] = done.result["feedback"]
    assert feedback["method"] == "review" and feedback["outcome"] == "approved"
    assert runs(counts) == ["draft", "review", "publish"]


def test_a_flow_paused_in_a_killed_worker_is_finished_by_another_without_running_again(
    server: Server, client: Client, tmp_path: Path
) -> None:
    flow_address, counts = address("publisher"), tmp_path / "counts"
    first = worker_process(server, flow_address, tmp_path / "first.log")
    try:
        intent = client.submit(flow_address, "intent.publish.v1", {"topic": "crashes", "counts": str(counts)})
        task = open_task(client, intent.intent_id)
        assert runs(counts) == ["draft", "review"]
    finally:
        end(first, signal.SIGKILL)  # a crash while the flow waits for the person
    assert first.returncode == -signal.SIGKILL

    client.decide_task(task.task_id, "approved", comment="Go")
    second = worker_process(server, flow_address, tmp_path / "second.log")
    try:
        done = client.wait_for(intent.intent_id, timeout=90)
    finally:
        end(second)

    assert done.status == "COMPLETED", (done.error, (tmp_path / "second.log").read_text()[-3000:])
    assert done.result is not None
    assert done.result["output"] == {"published": "A short piece about crashes", "feedback": "Go"}
    # The new process resumed from the journal: draft and review ran once, in the first process.
    assert runs(counts) == ["draft", "review", "publish"]


def worker_process(server: Server, flow_address: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.crewai.flow_worker", server.url, API_KEY, flow_address],
            cwd=REPO,
            env={k: v for k, v in os.environ.items() if not k.startswith("INTENTD_")},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
