"""Commands against a running server (``submit``, ``intents …``), configured as a user would: the
global ``--url`` and ``--api-key`` flags, or ``INTENTD_*`` variables, or the key file ``serve`` wrote."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import orjson
import pytest

from tests.cli._run import as_json, intentd, remote, succeeded
from tests.e2e._server import (
    TEST_KEY,
    Server,
    Servers,
    child_environment,
    free_port,
    intent_body,
    intentd_command,
)

pytestmark = pytest.mark.slow
AGENT = "agent://acme/cli/writer"


def submitted_over_http(server: Server) -> str:
    """Set-up for tests about other commands (one CLI start less each)."""
    with server.client() as http:
        created = http.post("/v1/intents", json=intent_body(AGENT)).raise_for_status()
    intent_id: str = created.json()["intent_id"]
    return intent_id


def test_submit_list_show_events(server: Server, tmp_path: Path) -> None:
    created = as_json(
        remote(
            server,
            tmp_path,
            "submit",
            "--to",
            AGENT,
            "--type",
            "intent.cli.v1",
            "--payload",
            '{"n": 7}',
            "--json",
        )
    )
    intent_id = created["intent_id"]
    assert created["status"] == "SUBMITTED"
    assert created["payload"] == {"n": 7}

    listed = as_json(remote(server, tmp_path, "intents", "list", "--to", AGENT, "--json"))
    assert intent_id in [i["intent_id"] for i in listed["intents"]]

    shown = as_json(remote(server, tmp_path, "intents", "show", intent_id, "--json"))
    assert (shown["intent_id"], shown["status"], shown["to_agent"]) == (intent_id, "SUBMITTED", AGENT)
    table = succeeded(remote(server, tmp_path, "intents", "show", intent_id))
    assert intent_id in table and "SUBMITTED" in table

    events = as_json(remote(server, tmp_path, "intents", "events", intent_id, "--json"))
    assert [(e["seq"], e["event_type"]) for e in events] == [(1, "intent.created"), (2, "intent.submitted")]


def test_submit_with_an_idempotency_key_returns_the_same_intent(server: Server, tmp_path: Path) -> None:
    args = (
        "submit",
        "--to",
        AGENT,
        "--type",
        "intent.cli.v1",
        "--correlation-id",
        "c-1",
        "--idempotency-key",
        f"cli-{uuid.uuid4()}",
        "--json",
    )
    first = as_json(remote(server, tmp_path, *args))
    again = as_json(remote(server, tmp_path, *args))
    assert again["intent_id"] == first["intent_id"]
    assert again["created_at"] == first["created_at"]


def test_cancel_then_cancel_again_is_refused(server: Server, tmp_path: Path) -> None:
    intent_id = submitted_over_http(server)
    canceled = succeeded(remote(server, tmp_path, "intents", "cancel", intent_id, "--reason", "not needed"))
    assert intent_id in canceled and "CANCELED" in canceled
    with server.client() as http:
        assert http.get(f"/v1/intents/{intent_id}").json()["intent"]["reason"] == "not needed"

    again = remote(server, tmp_path, "intents", "cancel", intent_id)
    assert again.returncode != 0
    assert "409" in again.stderr and "intent_terminal" in again.stderr


def test_watch_follows_until_the_intent_ends(server: Server, tmp_path: Path) -> None:
    intent_id = submitted_over_http(server)
    watch = subprocess.Popen(
        intentd_command("--url", server.url, "--api-key", TEST_KEY, "intents", "watch", intent_id, "--json"),
        cwd=tmp_path,
        env=child_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stdout is not None
        # The backlog first: once it is printed, watch is following live.
        assert orjson.loads(watch.stdout.readline())["event_type"] == "intent.created"
        assert orjson.loads(watch.stdout.readline())["event_type"] == "intent.submitted"
        with server.client() as http:
            http.post(
                f"/v1/intents/{intent_id}/resolve", json={"status": "COMPLETED", "result": {"done": True}}
            ).raise_for_status()
        out, err = watch.communicate(timeout=30)
    finally:
        watch.kill()
    assert watch.returncode == 0, err
    (last,) = [orjson.loads(line) for line in out.splitlines()]
    assert (last["seq"], last["event_type"], last["details"]["result"]) == (
        3,
        "intent.completed",
        {"done": True},
    )


def test_watch_gives_up_after_its_timeout(server: Server, tmp_path: Path) -> None:
    intent_id = submitted_over_http(server)
    result = remote(server, tmp_path, "intents", "watch", intent_id, "--json", "--timeout", "1")
    assert result.returncode == 3  # distinct from errors: the intent is still open
    assert len(result.stdout.splitlines()) == 2


def test_bad_payload_is_refused_before_sending(server: Server, tmp_path: Path) -> None:
    result = remote(
        server, tmp_path, "submit", "--to", AGENT, "--type", "intent.cli.v1", "--payload", "{not json"
    )
    assert result.returncode == 2
    assert "--payload is not JSON" in result.stderr


def test_commands_use_the_key_file_that_serve_wrote(tmp_path: Path) -> None:
    """The first-run flow: ``intentd serve`` in a directory, then commands from that directory
    with no key configured."""
    with Servers(tmp_path) as started:
        server = started.start(None, api_key=None)
        assert (tmp_path / ".intentd-key").exists()
        created = as_json(
            intentd(tmp_path, "submit", "--to", AGENT, "--type", "intent.cli.v1", "--json", url=server.url)
        )
        with server.client(api_key=(tmp_path / ".intentd-key").read_text().strip()) as http:
            assert http.get(f"/v1/intents/{created['intent_id']}").status_code == 200
        # Elsewhere there is no key file: the server says so.
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        refused = intentd(elsewhere, "intents", "list", url=server.url)
        assert refused.returncode == 1 and "401" in refused.stderr


def test_flags_win_over_the_variables(server: Server, tmp_path: Path) -> None:
    args = ("--url", server.url, "--api-key", TEST_KEY, "intents", "list", "--json")
    result = intentd(tmp_path, *args, url=f"http://127.0.0.1:{free_port()}", api_key="itd_wrong")
    assert "intents" in as_json(result)


def test_tree_draws_the_run(server: Server, tmp_path: Path) -> None:
    intent_id = submitted_over_http(server)
    drawn = succeeded(remote(server, tmp_path, "intents", "tree", intent_id))
    assert intent_id in drawn and "SUBMITTED" in drawn and AGENT in drawn
    as_data = as_json(remote(server, tmp_path, "intents", "tree", intent_id, "--json"))
    assert as_data["root_intent_id"] == intent_id and [i["intent_id"] for i in as_data["intents"]] == [
        intent_id
    ]


def test_answer_moves_a_runs_human_step_on(server: Server, tmp_path: Path) -> None:
    bundle = {
        "scenario_id": "cli.signoff",
        "humans": [{"role": "editor"}],
        "workflow": {
            "steps": [{"step_id": "ok", "tool_id": "tool.approval.human_signoff", "assigned_to": "editor"}]
        },
        "intent": {"type": "intent.cli.v1", "payload": {}},
    }
    with server.client() as http:
        run_id = http.post("/v1/scenarios/apply", json=bundle).raise_for_status().json()["intent_id"]
        refused = remote(server, tmp_path, "intents", "answer", run_id, "maybe")
        assert refused.returncode == 1 and "outcome must be one of approved, rejected" in refused.stderr

        succeeded(remote(server, tmp_path, "intents", "answer", run_id, "approved", "--comment", "fine"))

        run = http.get(f"/v1/intents/{run_id}").raise_for_status().json()["intent"]
    assert run["status"] == "COMPLETED"
    assert run["result"]["output"] == {"outcome": "approved", "comment": "fine", "data": {}}
    drawn = succeeded(remote(server, tmp_path, "intents", "tree", run_id))
    assert "ok COMPLETED" in drawn and "human://editor" in drawn  # the step, with whom, how long
