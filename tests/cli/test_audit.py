"""``intentd audit`` on the database: ``verify`` checks every namespace's chain (exit 1 at a broken
one); ``export`` writes what ``GET /v1/audit`` lists, every page of it, as JSON Lines."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from intentd.cli.app import app as cli
from tests.cli._run import as_json, intentd, succeeded

pytestmark = pytest.mark.slow


def test_verify_passes_then_names_the_tampered_record(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    for name in ("a", "b", "c"):
        succeeded(intentd(tmp_path, "--database", url, "keys", "create", "--name", name))

    good = as_json(intentd(tmp_path, "--database", url, "audit", "verify", "--json"))
    with sqlite3.connect(tmp_path / "audit.db") as conn:
        conn.execute("UPDATE audit_records SET principal = 'mallory' WHERE seq = 2")
    bad = intentd(tmp_path, "--database", url, "audit", "verify", "--json")

    assert good == [
        {
            "namespace": "default",
            "valid": True,
            "records": 3,
            "head_seq": 3,
            "broken_at": None,
            "problem": "",
        }
    ]
    assert bad.returncode == 1
    (verdict,) = json.loads(bad.stdout)
    assert verdict["valid"] is False and verdict["broken_at"] == 2


def test_export_writes_every_matching_record_as_json_lines(tmp_path: Path, database_url: str) -> None:
    for name in ("a", "b", "c"):
        succeeded(intentd(tmp_path, "--database", database_url, "keys", "create", "--name", name))
    key_id = as_json(intentd(tmp_path, "--database", database_url, "keys", "list", "--json"))[0]["key_id"]
    succeeded(intentd(tmp_path, "--database", database_url, "keys", "revoke", key_id))

    def export(*args: str) -> list[dict[str, object]]:
        out = succeeded(intentd(tmp_path, "--database", database_url, "audit", "export", *args))
        return [json.loads(line) for line in out.splitlines()]

    every = export()
    assert [r["action"] for r in every] == ["key.created"] * 3 + ["key.revoked"]
    assert [r["seq"] for r in every] == [1, 2, 3, 4] and {r["namespace"] for r in every} == {"default"}
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(every, every[1:], strict=False))
    assert export("--action", "key.revoked") == every[3:]
    assert export("--actor", "operator:intentd keys") == every  # the operator's tool did them all
    assert export("--since", "2000-01-01", "--until", "2000-01-02") == []
    assert export("--since", str(every[0]["at"])) == every
    assert export("--namespace", "elsewhere") == []

    archive = tmp_path / "audit.jsonl"
    said = succeeded(
        intentd(tmp_path, "--database", database_url, "audit", "export", "--output", str(archive))
    )
    assert "exported 4 records" in said
    assert [json.loads(line) for line in archive.read_text().splitlines()] == every


def test_export_refuses_a_time_that_is_a_number(tmp_path: Path) -> None:
    # Lax parsing would read 0.5 as seconds since 1970, as the API refuses to (wire/limits.py).
    for option in ("--since", "--until"):
        refused = CliRunner().invoke(
            cli, ["--database", f"sqlite:///{tmp_path / 'audit.db'}", "audit", "export", option, "0.5"]
        )
        assert refused.exit_code == 2 and option in refused.output, refused.output
