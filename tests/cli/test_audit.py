"""``intentd audit verify`` on the database: every namespace's chain, exit 1 at a broken one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

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
