"""Golden transition records (intentd.testing.golden): a real run, made through the API on both backends
and read back through the sync SDK over real HTTP, gives a record with no ids, times or tokens; the same
flow run twice gives the same record, whatever order its parallel children were made and ended in; a
golden file is compared as data, with a diff when it differs; ``intentd intents transitions`` prints the
record of a recorded run."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from intentd.cli.app import app as cli
from intentd.client import Client
from intentd.testing import golden
from intentd.testing import transitions as events
from tests._support.servers import API_KEY, AppClient, listening

JSON = dict[str, Any]
WRITER = "agent://acme/golden/writer"
REVIEWER = "agent://acme/golden/reviewer"
SUPERVISOR = "agent://acme/golden/supervisor"
SEARCH = "agent://acme/golden/search"
SUMMARY = "agent://acme/golden/summary"
KEY_NAME = "bootstrap"  # the name of API_KEY, the actor of what the test does through the API


@pytest.fixture
async def url(api: AppClient) -> AsyncIterator[str]:
    async with listening(api.app) as served:
        yield served


@pytest.fixture
def client(url: str) -> Iterator[Client]:
    with Client(url, API_KEY) as sync:
        yield sync


async def record(client: Client, intent_id: str) -> JSON:
    """The run's record, read by the sync SDK in a thread while this loop serves it."""
    return await asyncio.to_thread(golden.record_of, client, intent_id)


# --- making runs through the API ---------------------------------------------------------------------


def ok(answer: Any) -> JSON:
    assert answer.status_code == 200, answer.text
    body: JSON = answer.json()
    return body


async def submit(api: AppClient, to_agent: str, **extra: Any) -> str:
    body = {"intent_type": "intent.draft.v1", "correlation_id": str(uuid.uuid4()), "to_agent": to_agent}
    created = ok(await api.post("/v1/intents", json={**body, "payload": {}, **extra}))
    return str(created["intent_id"])


async def claim(api: AppClient, agent: str) -> tuple[str, str]:
    """(intent id, lease token) of the next delivery to ``agent``; the worker id differs every time,
    as a real worker's would."""
    path = f"/v1/agents/{agent.removeprefix('agent://')}/claims"
    claimed = ok(await api.post(path, json={"worker_id": f"w-{uuid.uuid4().hex[:6]}", "wait_seconds": 5}))
    [delivery] = claimed["deliveries"]
    return str(delivery["intent"]["intent_id"]), str(delivery["lease"]["token"])


async def complete(api: AppClient, agent: str, *, then: Sequence[JSON] = ()) -> str:
    intent_id, token = await claim(api, agent)
    body = {"lease_token": token, "result": {"at": str(uuid.uuid4())}, "then": list(then)}
    ok(await api.post(f"/v1/intents/{intent_id}/complete", json=body))
    return intent_id


async def approve(api: AppClient, intent_id: str) -> None:
    tasks = ok(await api.get("/v1/tasks", params={"intent_id": intent_id}))
    [task] = tasks["tasks"]
    decision = {"outcome": "approved", "comment": f"ok {uuid.uuid4()}"}
    ok(await api.post(f"/v1/tasks/{task['task_id']}/decision", json=decision))


async def approved_draft_then_review(api: AppClient) -> str:
    """A writer's draft that a manager approves first, handed on to a reviewer: two agents, one person."""
    human_task = {"title": "Publish the draft?", "assignees": ["role:managers"]}
    draft = await submit(api, WRITER, human_task=human_task)
    await approve(api, draft)
    await complete(
        api, WRITER, then=[{"to_agent": REVIEWER, "intent_type": "intent.review.v1", "payload": {}}]
    )
    await complete(api, REVIEWER)
    return draft


async def fan_out(api: AppClient, keys: Sequence[str], ending: Sequence[str]) -> str:
    """A supervisor that spawns a search and a summary (one spawn call each, in ``keys`` order), waits
    for both, and completes once they have ended (in ``ending`` order, the agents they went to)."""
    agents = {"search": SEARCH, "summary": SUMMARY}
    run = await submit(api, SUPERVISOR, intent_type="intent.research.v1")
    _, token = await claim(api, SUPERVISOR)
    for key in keys:
        child = {"key": key, "to_agent": agents[key], "intent_type": "intent.task.v1"}
        ok(await api.post(f"/v1/intents/{run}/children", json={"lease_token": token, "children": [child]}))
    parked = ok(await api.post(f"/v1/intents/{run}/await", json={"lease_token": token, "keys": list(keys)}))
    assert parked["parked"]
    for key in ending:
        await complete(api, agents[key])
    await complete(api, SUPERVISOR)  # woken: every child it awaited has ended
    return run


# --- the record --------------------------------------------------------------------------------------


async def test_a_two_agent_run_with_an_approval_is_recorded_without_ids_or_times(
    api: AppClient, client: Client
) -> None:
    draft = await approved_draft_then_review(api)

    recorded = await record(client, draft)

    assert recorded == {
        "intents": {
            "intent-1": {
                "agent": WRITER,
                "from_agent": KEY_NAME,
                "intent_type": "intent.draft.v1",
                "parent": None,
                "status": "COMPLETED",
                "transitions": [
                    {"event": "intent.created", "status": "CREATED", "by": KEY_NAME},
                    {"event": "intent.submitted", "status": "SUBMITTED", "by": KEY_NAME},
                    {
                        "event": "intent.human_task_assigned",
                        "status": "WAITING",
                        "waiting": "WAITING_FOR_HUMAN",
                        "by": KEY_NAME,
                        "title": "Publish the draft?",
                        "assignees": ["role:managers"],
                    },
                    {"event": "intent.resumed", "status": "SUBMITTED", "by": KEY_NAME, "outcome": "approved"},
                    {"event": "intent.delivered", "status": "DELIVERED", "by": "worker", "attempt": 1},
                    {"event": "intent.completed", "status": "COMPLETED", "by": WRITER, "then": ["intent-2"]},
                ],
                "human_tasks": [
                    {
                        "title": "Publish the draft?",
                        "task_type": "approval",
                        "assignees": ["role:managers"],
                        "state": "decided",
                        "escalation_level": 0,
                        "reminders_sent": 0,
                        "outcome": "approved",
                        "decided_by": KEY_NAME,
                    }
                ],
            },
            "intent-2": {
                "agent": REVIEWER,
                "from_agent": WRITER,
                "intent_type": "intent.review.v1",
                "parent": "intent-1",
                "status": "COMPLETED",
                "transitions": [
                    {"event": "intent.created", "status": "CREATED", "by": WRITER},
                    {"event": "intent.submitted", "status": "SUBMITTED", "by": WRITER},
                    {"event": "intent.delivered", "status": "DELIVERED", "by": "worker", "attempt": 1},
                    {"event": "intent.completed", "status": "COMPLETED", "by": REVIEWER},
                ],
            },
        }
    }
    # Any intent of the run names the same run.
    [review] = ok(await api.get(f"/v1/intents/{draft}/tree"))["intents"][1:]
    assert await record(client, review["intent_id"]) == recorded


async def test_a_flow_run_twice_gives_one_record_whatever_order_its_children_came_in(
    api: AppClient, client: Client
) -> None:
    first = await fan_out(api, keys=["search", "summary"], ending=["search", "summary"])
    second = await fan_out(api, keys=["summary", "search"], ending=["summary", "search"])

    recorded = await record(client, first)
    assert await record(client, second) == recorded

    intents = recorded["intents"]
    assert [(i["agent"], i.get("step_key"), i["parent"]) for i in intents.values()] == [
        (SUPERVISOR, None, None),
        (SEARCH, "search", "intent-1"),
        (SUMMARY, "summary", "intent-1"),
    ]
    run = intents["intent-1"]
    assert run["journal"] == [
        {"key": "search", "kind": "child", "status": "COMPLETED", "child": "intent-2"},
        {"key": "summary", "kind": "child", "status": "COMPLETED", "child": "intent-3"},
    ]
    steps = [(t["event"], t.get("key"), t.get("child")) for t in run["transitions"] if "key" in t]
    assert steps == [
        ("intent.step_started", "search", "intent-2"),
        ("intent.step_started", "summary", "intent-3"),
        ("intent.step_completed", "search", "intent-2"),
        ("intent.step_completed", "summary", "intent-3"),
    ]
    # Parked on its children, woken once they ended: the parking is left out (a race), the end is not.
    events = [t["event"] for t in run["transitions"]]
    assert "intent.waiting" not in events and "intent.resumed" not in events
    assert (run["transitions"][-1]["event"], run["transitions"][-1]["by"]) == ("intent.completed", SUPERVISOR)


async def test_a_failed_delivery_is_recorded_by_its_error_code_and_repeated_progress_once(
    api: AppClient, client: Client
) -> None:
    draft = await submit(api, WRITER, max_delivery_attempts=2)
    for attempt in (1, 2):
        intent_id, token = await claim(api, WRITER)
        for _ in range(attempt * 2):  # as often as the work took: a timer's "still working"
            usage = {"input_tokens": attempt * 1000}
            progress: JSON = {"lease_token": token, "message": "still working", "usage": usage}
            ok(await api.post(f"/v1/intents/{intent_id}/progress", json=progress))
        error = {"code": "model_overloaded", "message": f"try later ({uuid.uuid4()})"}
        failure: JSON = {"lease_token": token, "error": error, "retry": attempt == 1}
        ok(await api.post(f"/v1/intents/{intent_id}/fail", json=failure))

    transitions = (await record(client, draft))["intents"]["intent-1"]["transitions"]

    still_working = {
        "event": "intent.progress",
        "status": "DELIVERED",
        "by": WRITER,
        "message": "still working",
    }
    assert transitions[2:] == [
        {"event": "intent.delivered", "status": "DELIVERED", "by": "worker", "attempt": 1},
        still_working,
        {"event": "intent.released", "status": "SUBMITTED", "by": WRITER, "retry": True},
        {"event": "intent.delivered", "status": "DELIVERED", "by": "worker", "attempt": 2},
        still_working,
        {"event": "intent.failed", "status": "FAILED", "by": WRITER, "error": "model_overloaded"},
    ]


# --- golden files ------------------------------------------------------------------------------------

RECORD: JSON = {
    "intents": {
        "intent-1": {
            "agent": WRITER,
            "status": "COMPLETED",
            "transitions": [{"event": "intent.completed", "status": "COMPLETED", "by": WRITER}],
        }
    }
}


def test_a_missing_golden_file_says_how_to_record_it(tmp_path: Path) -> None:
    path = tmp_path / "golden" / "run.yaml"
    with pytest.raises(AssertionError, match=r"pytest --intentd-record") as failed:
        golden.compare(RECORD, path, update=False)
    assert str(path) in str(failed.value) and not path.exists()


def test_update_writes_the_file_and_then_it_compares_equal(tmp_path: Path) -> None:
    path = tmp_path / "golden" / "nested" / "run.yaml"
    golden.compare(RECORD, path, update=True)

    assert path.read_text(encoding="utf-8") == golden.to_yaml(RECORD)
    assert golden.load(path) == RECORD
    golden.compare(RECORD, path, update=False)

    path.write_text("intents: [a merge conflict\n", encoding="utf-8")
    golden.compare(RECORD, path, update=True)  # a broken file is recorded again
    assert golden.load(path) == RECORD


def test_to_yaml_keeps_the_records_order_and_reads_as_block_yaml() -> None:
    text = golden.to_yaml({"intents": {"intent-1": {"status": "COMPLETED", "agent": "agent://a/b/ü"}}})
    assert text == "intents:\n  intent-1:\n    status: COMPLETED\n    agent: agent://a/b/ü\n"


def test_a_golden_file_is_compared_as_data_so_comments_stay(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    annotated = "# the happy path, reviewed by Ada\n" + golden.to_yaml(RECORD)
    path.write_text(annotated, encoding="utf-8")

    golden.compare(RECORD, path, update=False)
    golden.compare(RECORD, path, update=True)  # nothing changed: the file is left as it is
    assert path.read_text(encoding="utf-8") == annotated


def test_a_different_run_fails_with_a_diff_and_the_way_to_re_record(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    golden.compare(RECORD, path, update=True)
    failed_run = {"intents": {"intent-1": {**RECORD["intents"]["intent-1"], "status": "FAILED"}}}

    with pytest.raises(AssertionError) as failed:
        golden.compare(failed_run, path, update=False)

    message = str(failed.value)
    assert message.splitlines()[0] == f"the run's transitions differ from {path}"
    assert "pytest --intentd-record" in message.splitlines()[1]
    assert f"--- {path} (golden)" in message and "+++ this run" in message
    assert "\n-    status: COMPLETED\n" in message and "\n+    status: FAILED\n" in message
    golden.compare(failed_run, path, update=True)  # an intended change: recorded
    golden.compare(failed_run, path, update=False)


# --- from a recorded run: the CLI --------------------------------------------------------------------


def transitions_command(url: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--url", url, "--api-key", API_KEY, "intents", "transitions", *args])


async def test_the_cli_prints_or_writes_a_recorded_runs_transitions(
    api: AppClient, client: Client, url: str, tmp_path: Path
) -> None:
    draft = await approved_draft_then_review(api)
    expected = golden.to_yaml(await record(client, draft))

    printed = await asyncio.to_thread(transitions_command, url, draft)
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == expected

    path = tmp_path / "golden" / "incident.yaml"
    written = await asyncio.to_thread(transitions_command, url, draft, "--output", str(path))
    assert written.exit_code == 0, written.output
    assert path.read_text(encoding="utf-8") == expected
    golden.compare(await record(client, draft), path, update=False)

    unknown = await asyncio.to_thread(transitions_command, url, str(uuid.uuid4()))
    assert unknown.exit_code == 1 and "intent_not_found" in unknown.output


def test_the_cli_gets_the_golden_module_without_pytest() -> None:
    code = "import sys; from intentd.testing import golden; assert 'pytest' not in sys.modules, 'pytest'"
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr


def test_a_parent_parked_on_its_child_or_answered_at_once_is_recorded_alike() -> None:
    """Whether a handler parks on a child depends on which commits first: the parking is left out,
    and the step events keep no status (the parent's at that moment)."""
    step_started = {"event": "intent.step_started", "status": "DELIVERED", "by": SUPERVISOR, "key": "pay"}
    step_done = {"event": "intent.step_completed", "by": "runtime", "key": "pay", "child": "intent-2"}
    completed = {"event": "intent.completed", "status": "COMPLETED", "by": SUPERVISOR}
    parked = [
        step_started,
        {"event": "intent.waiting", "status": "WAITING", "waiting": "WAITING_FOR_AGENT", "by": SUPERVISOR},
        {**step_done, "status": "WAITING", "waiting": "WAITING_FOR_AGENT"},
        {"event": "intent.resumed", "status": "SUBMITTED", "by": "runtime"},
        {"event": "intent.delivered", "status": "DELIVERED", "by": "worker", "attempt": 1},
        completed,
    ]
    at_once = [step_started, {**step_done, "status": "DELIVERED"}, completed]
    assert events.child_parking_dropped(parked) == events.child_parking_dropped(at_once)
    assert events.child_parking_dropped(at_once)[1] == step_done
