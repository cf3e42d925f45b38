"""``intentd agents``: registering and showing an agent's delivery binding on a running server, and
a bad one refused with the field the server names."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli._run import as_json, remote, succeeded
from tests.e2e._server import Server

pytestmark = pytest.mark.slow
AGENT = "agent://acme/cli/bound"


def test_bind_and_show_a_binding(server: Server, tmp_path: Path) -> None:
    unregistered = succeeded(remote(server, tmp_path, "agents", "binding", AGENT))
    assert "no binding registered" in unregistered

    bound = as_json(
        remote(
            server,
            tmp_path,
            "agents",
            "bind",
            AGENT,
            "--delivery-mode",
            "stream",
            "--lease-seconds",
            "45",
            "--json",
        )
    )
    assert bound["binding"]["delivery_mode"] == "stream" and bound["binding"]["lease_seconds"] == 45.0

    shown = as_json(remote(server, tmp_path, "agents", "binding", "acme/cli/bound", "--json"))
    assert shown["binding"] == bound["binding"]
    table = succeeded(remote(server, tmp_path, "agents", "binding", AGENT))
    assert "stream" in table and "45.0" in table
    with server.client() as http:  # what the CLI registered is what the API reads
        assert http.get("/v1/agents/acme/cli/bound/binding").json()["binding"]["delivery_mode"] == "stream"


def test_a_bad_binding_is_refused_with_its_field(server: Server, tmp_path: Path) -> None:
    refused = remote(server, tmp_path, "agents", "bind", AGENT, "--lease-seconds", "0")

    assert refused.returncode == 1
    assert "422" in refused.stderr and "lease_seconds" in refused.stderr
    bad_mode = remote(server, tmp_path, "agents", "bind", AGENT, "--delivery-mode", "push")
    assert bad_mode.returncode == 2 and "push" in bad_mode.stderr  # refused by the command itself
