"""``intentd audit`` on the database: ``verify`` checks every namespace's chain (exit 1 at a broken
one); ``export`` writes what ``GET /v1/audit`` lists, every page of it, as JSON Lines."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from intentd.cli.app import app as cli
from tests._support.http_api import REVIEWER, WRITER
from tests._support.servers import API_KEY, API_NAMESPACE, AppClient
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


async def test_export_pages_through_what_the_api_lists(
    api: AppClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await _submit(api, "c1", WRITER)
    between = datetime.now(UTC)
    await _submit(api, "c2", REVIEWER)
    await _submit(api, "c1", REVIEWER)
    me = await api.engine.keys.authenticate(API_KEY)
    monkeypatch.setattr("intentd.cli.audit._EXPORT_PAGE", 2)  # so every export reads several pages

    async def listed(**params: str) -> list[dict[str, Any]]:
        page = (await api.get("/v1/audit", params={**params, "limit": 500})).json()
        assert page["next_after"] is None
        return [{"namespace": API_NAMESPACE, **r} for r in page["records"]]

    every = await listed()
    cases: list[tuple[dict[str, str], list[str]]] = [
        ({}, []),
        ({"intent_id": first}, ["--intent", first]),
        ({"correlation_id": "c1"}, ["--correlation-id", "c1"]),
        ({"action": "intent.created"}, ["--action", "intent.created"]),
        ({"agent": REVIEWER}, ["--agent", REVIEWER]),
        ({"actor": me.key_id}, ["--actor", me.key_id]),
        ({"since": between.isoformat()}, ["--since", between.strftime("%Y-%m-%dT%H:%M:%S.%fZ")]),
        ({"until": between.isoformat()}, ["--until", between.strftime("%Y-%m-%dT%H:%M:%S.%f")]),
        ({"correlation_id": "c1", "agent": REVIEWER}, ["--correlation-id", "c1", "--agent", REVIEWER]),
    ]
    for params, options in cases:
        wanted = await listed(**params)
        exported = await asyncio.to_thread(_export_in_process, database_url, *options)
        assert exported == wanted, options
        assert 0 < len(wanted) < len(every) or not options, options  # each filter tells records apart
    assert len(every) > 2 * 2  # more than two pages of two


def test_export_refuses_a_time_that_is_a_number(tmp_path: Path) -> None:
    # Lax parsing would read 0.5 as seconds since 1970, as the API refuses to (wire/limits.py).
    for option in ("--since", "--until"):
        refused = CliRunner().invoke(
            cli, ["--database", f"sqlite:///{tmp_path / 'audit.db'}", "audit", "export", option, "0.5"]
        )
        assert refused.exit_code == 2 and option in refused.output, refused.output


async def _submit(api: AppClient, correlation_id: str, to_agent: str) -> str:
    body = {"intent_type": "x.v1", "correlation_id": correlation_id, "to_agent": to_agent, "payload": {}}
    created = await api.post("/v1/intents", json=body)
    assert created.status_code < 300, created.text
    intent_id: str = created.json()["intent"]["intent_id"]
    return intent_id


def _export_in_process(database_url: str, *options: str) -> list[dict[str, Any]]:
    """``intentd audit export`` in this process (so a test can shrink its page), its lines parsed."""
    result = CliRunner().invoke(cli, ["--database", database_url, "audit", "export", *options])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]
