"""``intentd agents list|show|top|kill|resume`` and ``intentd mesh events`` against a running server:
the fleet table and its JSON, one agent's stuck work, a kill with its choices and its effect, resume,
and the records they leave."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli._run import as_json, remote, succeeded
from tests.e2e._server import Server

pytestmark = pytest.mark.slow
AGENT = "agent://acme/cli/fleet"


def _submit(server: Server, tmp_path: Path) -> str:
    made = as_json(
        remote(
            server, tmp_path, "submit", "--to", AGENT, "--type", "intent.demo.v1", "--payload", "{}", "--json"
        )
    )
    return str(made["intent_id"])


def test_the_fleet_table_and_one_agent(server: Server, tmp_path: Path) -> None:
    intent_id = _submit(server, tmp_path)
    with server.client() as http:
        http.post("/v1/mesh/heartbeat", params={"owner_agent": AGENT}, json={"metadata": {"framework": "x"}})

    listed = as_json(remote(server, tmp_path, "agents", "list", "--json"))
    (mine,) = [a for a in listed["agents"] if a["address"] == AGENT]
    assert mine["health_status"] == "healthy" and mine["open_work"] == {"SUBMITTED": 1}
    table = succeeded(remote(server, tmp_path, "agents", "list", columns=160))
    assert "acme/cli/fleet" in table and "healthy" in table
    shown = succeeded(remote(server, tmp_path, "agents", "show", AGENT, columns=160))
    assert intent_id in shown and "SUBMITTED" in shown  # its oldest open intent: where work waits
    top = succeeded(remote(server, tmp_path, "agents", "top", "--iterations", "1", columns=160))
    assert "acme/cli/fleet" in top


def test_kill_and_resume_from_the_command_line(server: Server, tmp_path: Path) -> None:
    _submit(server, tmp_path)
    killed = as_json(
        remote(
            server,
            tmp_path,
            "agents",
            "kill",
            AGENT,
            "--in-flight",
            "cancel",
            "--reason",
            "cli test",
            "--json",
        )
    )
    assert killed["kill"]["in_flight"] == "cancel" and killed["swept"]["canceled"] >= 1
    refused = remote(server, tmp_path, "submit", "--to", AGENT, "--type", "intent.demo.v1", "--payload", "{}")
    assert refused.returncode == 1 and "agent_killed" in refused.stderr

    shown = succeeded(remote(server, tmp_path, "agents", "show", AGENT, columns=160))
    assert "killed" in shown and "cli test" in shown
    assert "resumed" in succeeded(remote(server, tmp_path, "agents", "resume", AGENT))
    assert "was not killed" in succeeded(remote(server, tmp_path, "agents", "resume", AGENT))
    _submit(server, tmp_path)

    events = as_json(remote(server, tmp_path, "mesh", "events", "--limit", "2", "--json"))["events"]
    assert [e["event_type"] for e in events] == ["agent.resumed", "agent.killed"]
    table = succeeded(remote(server, tmp_path, "mesh", "events", "--type", "agent.killed", columns=200))
    assert "agent.killed" in table and "cli test" in table


def test_a_bad_kill_is_refused_with_its_field(server: Server, tmp_path: Path) -> None:
    refused = remote(server, tmp_path, "agents", "kill", AGENT, "--in-flight", "reassign")
    assert refused.returncode == 1 and "reassign_to" in refused.stderr
    wrong = remote(server, tmp_path, "agents", "kill", AGENT, "--new-work", "later")
    assert wrong.returncode == 2  # refused by the command itself


def test_route_and_drain_from_the_command_line(server: Server, tmp_path: Path) -> None:
    base = "agent://acme/cli/routed"
    routed = as_json(remote(server, tmp_path, "agents", "route", base, "v1=90", "v2=10", "--json"))
    assert routed["route"]["weights"] == {"v1": 90, "v2": 10}
    shown = succeeded(remote(server, tmp_path, "agents", "route", base, columns=160))
    assert "acme/cli/routed@v1" in shown and "90%" in shown

    drained = as_json(remote(server, tmp_path, "agents", "drain", f"{base}@v1", "--wait", "5", "--json"))
    v1 = next(v for v in drained["versions"] if v["version"] == "v1")
    assert v1["weight"] == 0 and v1["drained"] is True
    assert "route removed" in succeeded(remote(server, tmp_path, "agents", "route", base, "--remove"))
    bad = remote(server, tmp_path, "agents", "route", base, "v1=lots")
    assert bad.returncode == 2 and "version=weight" in bad.stderr
