"""``intentd policy set|list|show|remove|dry-run`` against a running server: a policy from flags and from
a file, the rules that apply to an agent with what they have used, a dry-run of synthetic intents,
and a bad policy refused with its field."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli._run import as_json, remote, succeeded
from tests.e2e._server import Server

pytestmark = pytest.mark.slow
AGENT = "agent://acme/cli/policed"


def test_set_show_list_and_remove(server: Server, tmp_path: Path) -> None:
    made = as_json(
        remote(
            server, tmp_path, "policy", "set", AGENT, "--max-intents-per-hour", "5",
            "--tools-allow", "search", "--tools-allow", "fetch_*", "--json",
        )
    )  # fmt: skip
    assert made["policy"]["policy"] == {
        "max_intents_per_hour": 5,
        "tools": {"allow": ["search", "fetch_*"], "deny": []},
    }
    (tmp_path / "ns.yaml").write_text("max_cost_per_day_usd: 20\non_breach: pause\n")
    succeeded(remote(server, tmp_path, "policy", "set", "*", "--file", "ns.yaml"))

    shown = as_json(remote(server, tmp_path, "policy", "show", AGENT, "--json"))
    rules = {r["rule"]: r for r in shown["rules"]}
    assert rules["max_intents_per_hour"]["used"] == 0 and rules["max_cost_per_day_usd"]["scope"] == "*"
    assert shown["on_breach"] == "pause"
    table = succeeded(remote(server, tmp_path, "policy", "show", AGENT, columns=160))
    assert "max_intents_per_hour" in table and "on breach: pause" in table
    assert "acme/cli/policed" in succeeded(remote(server, tmp_path, "policy", "list", columns=200))

    assert "removed" in succeeded(remote(server, tmp_path, "policy", "remove", AGENT))
    assert "removed" in succeeded(remote(server, tmp_path, "policy", "remove", "*"))
    assert as_json(remote(server, tmp_path, "policy", "list", "--json"))["policies"] == []


def test_dry_run_of_synthetic_intents(server: Server, tmp_path: Path) -> None:
    intents = [{"to_agent": AGENT, "intent_type": "demo.v1", "cost_usd": 3} for _ in range(4)]
    (tmp_path / "intents.json").write_text(str(intents).replace("'", '"'))

    report = as_json(
        remote(
            server,
            tmp_path,
            "policy",
            "dry-run",
            AGENT,
            "--max-cost-per-day",
            "5",
            "--intents",
            "intents.json",
            "--json",
        )
    )

    assert (report["allowed"], report["blocked"], report["saved_usd"]) == (2, 2, 6.0)
    text = succeeded(
        remote(
            server,
            tmp_path,
            "policy",
            "dry-run",
            AGENT,
            "--max-cost-per-day",
            "5",
            "--intents",
            "intents.json",
            columns=200,
        )
    )
    assert "4 intents: 2 allowed" in text and "max_cost_per_day_usd" in text
    assert as_json(remote(server, tmp_path, "policy", "list", "--json"))["policies"] == []  # nothing was set


def test_a_bad_policy_is_refused(server: Server, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"max_concurrency": -2}')
    refused = remote(server, tmp_path, "policy", "set", AGENT, "--file", "bad.json")
    assert refused.returncode == 1 and "max_concurrency" in refused.stderr
    both = remote(server, tmp_path, "policy", "set", AGENT, "--file", "bad.json", "--max-concurrency", "1")
    assert both.returncode == 2 and "not both" in both.stderr
