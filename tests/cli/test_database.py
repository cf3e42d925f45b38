"""Commands that act on the database directly (``db upgrade``, ``keys``), given by the global
``--database`` or ``INTENTD_DATABASE_URL``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.cli._run import as_json, intentd, remote, succeeded
from tests.e2e._server import Server

pytestmark = pytest.mark.slow


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database with no schema at all (the shared fixtures hand out migrated ones)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    migrated: str = request.getfixturevalue("pg_url")  # skips or fails as PostgreSQL tests do
    base, _, _ = migrated.rpartition("/")
    name = f"intentd_empty_{uuid.uuid4().hex[:12]}"
    run_sql(migrated, f"CREATE DATABASE {name}")
    yield f"{base}/{name}"
    run_sql(migrated, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run_sql(dsn: str, sql: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def test_db_upgrade_migrates_once(empty_database_url: str, tmp_path: Path) -> None:
    first = succeeded(intentd(tmp_path, "--database", empty_database_url, "db", "upgrade"))
    assert "applied migrations [1" in first
    again = succeeded(intentd(tmp_path, "--database", empty_database_url, "db", "upgrade"))
    assert "schema is up to date" in again
    # The schema works: key commands run on it.
    assert as_json(intentd(tmp_path, "--database", empty_database_url, "keys", "list", "--json")) == []


def test_keys_create_and_list(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    created = as_json(intentd(tmp_path, "--database", url, "keys", "create", "--name", "ci-bot", "--json"))
    assert created["name"] == "ci-bot" and created["role"] == "admin"
    assert created["api_key"].startswith("itd_")
    listed = intentd(tmp_path, "--database", url, "keys", "list", "--json")
    keys = as_json(listed)
    assert [(k["key_id"], k["name"], k["status"]) for k in keys] == [(created["key_id"], "ci-bot", "active")]
    assert created["api_key"] not in listed.stdout  # secrets are shown once, never listed
    # INTENTD_DATABASE_URL works as --database does (and the default file is not touched).
    table = succeeded(intentd(tmp_path, "keys", "list", database_url=url))
    assert "ci-bot" in table and created["api_key"] not in table
    assert not (tmp_path / "intentd.db").exists()


def test_keys_of_each_role_rotate_and_revoke(empty_database_url: str, tmp_path: Path) -> None:
    def keys(*args: str) -> object:
        return as_json(intentd(tmp_path, "--database", empty_database_url, "keys", *args, "--json"))

    agent = keys("create", "--role", "agent", "--name", "writer", "--agent", "acme/prod/writer")
    auditor = keys("create", "--role", "auditor", "--name", "soc2", "--expires-in", "3600")
    refused = intentd(tmp_path, "--database", empty_database_url, "keys", "create", "--role", "agent")
    assert isinstance(agent, dict) and isinstance(auditor, dict)
    rotated = keys("rotate", agent["key_id"], "--grace-seconds", "60")
    assert isinstance(rotated, dict)
    revoked = keys("revoke", auditor["key_id"])
    listed = keys("list")
    assert isinstance(listed, list)
    by_id = {k["key_id"]: k for k in listed}

    assert agent["agents"] == "agent://acme/prod/writer" and auditor["expires_at"]
    assert refused.returncode != 0 and "agents" in refused.stdout + refused.stderr
    assert rotated["replaces"] == agent["key_id"] and rotated["api_key"] != agent["api_key"]
    assert revoked == {"key_id": auditor["key_id"], "revoked": True}
    assert by_id[agent["key_id"]]["status"] == "rotated"
    assert by_id[rotated["key_id"]]["status"] == "active"
    assert by_id[rotated["key_id"]]["role"] == "agent"
    assert by_id[auditor["key_id"]]["status"] == "revoked"
    assert agent["api_key"] not in str(listed)


def test_database_flag_wins_over_the_variable(tmp_path: Path) -> None:
    flagged, configured = (f"sqlite:///{tmp_path / name}" for name in ("flag.db", "env.db"))
    succeeded(intentd(tmp_path, "--database", flagged, "keys", "create", database_url=configured))
    assert (tmp_path / "flag.db").exists() and not (tmp_path / "env.db").exists()


def test_key_made_by_the_cli_works_at_the_running_server(server: Server, tmp_path: Path) -> None:
    database = server.database_url or ""
    made = as_json(intentd(tmp_path, "--database", database, "keys", "create", "--name", "ops", "--json"))
    listed = remote(server, tmp_path, "intents", "list", "--json", api_key=made["api_key"])
    assert "intents" in as_json(listed)
