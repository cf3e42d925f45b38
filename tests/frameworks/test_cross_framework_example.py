"""examples/cross_framework/: four frameworks in four processes, one run. A LangGraph researcher, a
CrewAI writer (a person approves its draft), an AutoGen reviewer and an OpenAI Agents publisher, each
handing on through a child intent of its own, against a real ``intentd serve`` on each backend.

The CrewAI writer runs in CrewAI's environment: ``$INTENTD_TEST_CREWAI_PYTHON`` (the Makefile sets
it; default ``.venvs/crewai/bin/python``). Without it the tests are skipped, and fail under CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from examples.cross_framework.audit import AgentTrail, Entry, audit_trail, chain
from examples.cross_framework.process import stages_run
from examples.cross_framework.run import (
    DEFAULT_CREWAI_PYTHON,
    QUIET,
    ROOT,
    AgentProcesses,
    open_approval,
    submit_research,
)

from intentd.client import Client, Event, RunTree
from tests._support.servers import API_KEY, Servers, child_environment, wait_until

pytestmark = pytest.mark.slow
CREWAI_PYTHON = os.environ.get("INTENTD_TEST_CREWAI_PYTHON") or str(DEFAULT_CREWAI_PYTHON)


@pytest.fixture
def crewai_python() -> str:
    if not Path(CREWAI_PYTHON).exists():
        reason = (
            f"no CrewAI environment at {CREWAI_PYTHON} (INTENTD_TEST_CREWAI_PYTHON; `make test` makes it)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return CREWAI_PYTHON


@pytest.fixture
def agents(database_url: str, tmp_path: Path, crewai_python: str) -> Iterator[AgentProcesses]:
    """A server on the backend, and the example's four agent processes against it (not started)."""
    with Servers(tmp_path) as servers:
        server = servers.start(database_url)
        processes = AgentProcesses(server.url, API_KEY, tmp_path / "work", crewai_python)
        (tmp_path / "work").mkdir()
        try:
            yield processes
        finally:
            processes.stop_all()
            for name in processes.running:  # shown when the test fails
                log = tmp_path / "work" / f"{name}.log"
                print(f"==== {name}.log ====\n{log.read_text()[-3000:] if log.exists() else ''}")


def test_a_writer_killed_while_its_approval_waits_does_not_stop_the_run(agents: AgentProcesses) -> None:
    agents.start_all()
    with Client(agents.url, API_KEY) as client:
        root = submit_research(client, "leases")
        task = open_approval(client, root.intent_id, timeout=60)
        killed = agents.running["writer"].pid
        # In flight in the writer: its flow paused at the approval, the intent delivered to this very
        # process and waiting for the person, the pause journaled on it, nothing handed on yet.
        writer_events = client.events(task.intent_id)
        waiting = client.get(task.intent_id)
        assert (waiting.status, waiting.waiting_reason) == ("WAITING", "WAITING_FOR_HUMAN")
        assert _workers(writer_events) == [f"/{killed}"]
        assert _journaled(writer_events) == ["crewai.flow/0"]
        assert len(client.tree(root.intent_id).intents) == 2

        agents.kill("writer")
        restarted = agents.start("writer").pid
        client.decide_task(task.task_id, "approved", comment="Ship it.")
        run = client.wait_for_run(root.intent_id, timeout=60)

        _assert_one_tree(run, root.intent_id)
        trails = audit_trail(client, run)
    _assert_nothing_ran_twice(agents.workdir, killed, restarted)
    _assert_what_each_agent_did_before_handing_on(trails, killed, restarted)


def test_a_reviewer_killed_while_the_publisher_is_away_does_not_stop_the_run(agents: AgentProcesses) -> None:
    for name in ("researcher", "writer", "reviewer"):  # the publisher comes later
        agents.start(name)
    with Client(agents.url, API_KEY) as client:
        root = submit_research(client, "leases")
        task = open_approval(client, root.intent_id, timeout=60)
        client.decide_task(task.task_id, "approved", comment="Ship it.")
        wait_until(lambda: len(client.tree(root.intent_id).intents) == 4, 60, "the reviewer to hand on")
        reviewer, publisher = chain(client.tree(root.intent_id))[2:]
        killed = agents.running["reviewer"].pid
        # In flight in the reviewer: its team's state journaled, the publisher's intent spawned and
        # queued (no publisher runs), the reviewer's intent parked on it.
        wait_until(lambda: client.get(reviewer.intent_id).status == "WAITING", 60, "the reviewer to park")
        assert client.get(publisher.intent_id).status == "SUBMITTED"
        assert _workers(client.events(reviewer.intent_id)) == [f"/{killed}"]

        agents.kill("reviewer")
        restarted = agents.start("reviewer").pid
        agents.start("publisher")
        run = client.wait_for_run(root.intent_id, timeout=60)

        _assert_one_tree(run, root.intent_id)
        events = client.events(reviewer.intent_id)
    assert _workers(events) == [f"/{killed}", f"/{restarted}"]
    assert _journaled(events) == ["autogen.run/0", "autogen.run/1"]
    ran = Counter(stages_run(agents.workdir))
    assert (ran["reviewer.model"], ran["publisher.publish"]) == (1, 1)  # its model turn was not redone


def _workers(events: list[Event]) -> list[str]:
    """The process ids of the workers the intent was delivered to, in order (``/<pid>``)."""
    return [
        "/" + str(e.details["worker"]).rsplit("/", 1)[1] for e in events if e.event_type == "intent.delivered"
    ]


def _journaled(events: list[Event]) -> list[str]:
    return [
        str(e.details["key"])
        for e in events
        if e.event_type == "intent.step_completed" and "child_intent_id" not in e.details
    ]


def _assert_one_tree(run: RunTree, root_id: str) -> None:
    intents = chain(run)
    assert [i.to_agent.rsplit("/", 1)[1] for i in intents] == [
        "researcher",
        "writer",
        "reviewer",
        "publisher",
    ]
    assert len(run.intents) == 4 and run.root_intent_id == root_id == intents[0].intent_id
    assert all(i.status == "COMPLETED" for i in intents), [(i.to_agent, i.status, i.error) for i in intents]
    assert [i.parent_intent_id for i in intents] == [None, *(i.intent_id for i in intents[:-1])]
    assert len({i.correlation_id for i in intents}) == 1
    assert intents[0].result is not None
    review = intents[0].result["article"]["output"]["review"]  # the answers came back up the chain
    assert review["text"] == "Done: published as durable-agents.md"


def _assert_nothing_ran_twice(workdir: Path, killed: int, restarted: int) -> None:
    ran = Counter(stages_run(workdir))
    assert ran == {
        "researcher.research": 1,
        "writer.draft": 1,  # before the kill, in the killed process: not again after it
        "writer.model": 1,
        "writer.send_for_review": 2,  # after the approval; once more when the reviewer had finished
        "reviewer.model": 1,
        "publisher.model": 2,  # the call of publish, then the answer
        "publisher.publish": 1,
    }
    by_process = {tuple(line.split()) for line in (workdir / "runs.log").read_text().splitlines()}
    assert {("writer.draft", str(killed)), ("writer.model", str(killed))} <= by_process
    assert ("writer.send_for_review", str(restarted)) in by_process
    published = (workdir / "published" / "durable-agents.md").read_text()
    assert published.count("# Durable agents") == 1 and "lease" in published


def _without_expired_offers(entries: list[Entry]) -> list[Entry]:
    """The trail without deliveries whose lease expired unused, and their expiries. Under load the
    resumed intent can be offered to a stream the server has not yet seen close (the killed process's)
    or taken by a process too slow to heartbeat; its lease expires and it is delivered again, at least
    once as promised. Nothing runs twice for it (``_assert_nothing_ran_twice``)."""
    kept: list[Entry] = []
    for entry in entries:
        if entry.event_type == "intent.lease_expired" and kept and kept[-1].event_type == "intent.delivered":
            kept.pop()
            continue
        kept.append(entry)
    return kept


def _assert_what_each_agent_did_before_handing_on(
    trails: list[AgentTrail], killed: int, restarted: int
) -> None:
    researcher, writer, reviewer, publisher = trails
    assert [e.text for e in researcher.before_handoff() if e.event_type == "intent.progress"] == [
        "took 3 notes on leases"
    ]
    handed_on = len(writer.before_handoff())
    before = _without_expired_offers(writer.before_handoff())
    assert [e.event_type for e in before if e.event_type != "intent.submitted"] == [
        "intent.created",
        "intent.delivered",  # to the process killed later
        "intent.progress",  # the crew drafted
        "intent.step_completed",  # crewai.flow/0: the paused flow, journaled
        "intent.human_task_assigned",
        "intent.resumed",  # the approval
        "intent.delivered",  # to the process started after the kill
    ]
    delivered = [e.text for e in before if e.event_type == "intent.delivered"]
    assert delivered[0].endswith(f"/{killed} (attempt 1)") and f"/{restarted} " in delivered[-1]
    assert "answered approved: 'Ship it.'" in before[-2].text
    assert writer.entries[handed_on].text.startswith("handed on to reviewer")
    assert [e.text for e in reviewer.before_handoff()][-1] == "journaled autogen.run/0"
    assert reviewer.entries[len(reviewer.before_handoff())].text.startswith("handed on to publisher")
    assert [e.event_type for e in publisher.entries][-2:] == ["intent.step_completed", "intent.completed"]


def test_run_py_runs_the_whole_example(tmp_path: Path, crewai_python: str) -> None:
    """What a user runs: its own server on SQLite, the agents, the approval, the tree and the trail."""
    env = child_environment()
    env.update(QUIET)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "examples.cross_framework.run",
            "--workdir",
            str(tmp_path),
            "--crewai-python",
            crewai_python,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "publisher (OpenAI Agents)" in out and out.count(" COMPLETED") >= 4
    assert 'asked role:editors: "Publish this draft?"' in out
    assert "handed on to writer" in out and "handed on to reviewer" in out and "handed on to publisher" in out
    assert (tmp_path / "published" / "durable-agents.md").exists()
