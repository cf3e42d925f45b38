"""The ``intentd`` command as a user runs it: a subprocess (``python -m intentd``) in a working
directory, configured by flags and ``INTENTD_*`` variables, against a real ``serve`` subprocess."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from tests.cli._run import as_json, intentd, succeeded
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


# --- Commands on the database -------------------------------------------------------------------


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
    import asyncio

    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def test_db_upgrade_migrates_once(empty_database_url: str, tmp_path: Path) -> None:
    first = succeeded(intentd(tmp_path, "db", "upgrade", "--database", empty_database_url))
    assert "applied migrations [1" in first
    again = succeeded(intentd(tmp_path, "db", "upgrade", "--database", empty_database_url))
    assert "schema is up to date" in again
    # The schema works: key commands run on it.
    assert as_json(intentd(tmp_path, "keys", "list", "--json", "--database", empty_database_url)) == []


def test_keys_create_and_list(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    created = as_json(intentd(tmp_path, "keys", "create", "--name", "ci-bot", "--json", "--database", url))
    assert created["name"] == "ci-bot" and created["role"] == "admin"
    assert created["api_key"].startswith("itd_")
    listed = intentd(tmp_path, "keys", "list", "--json", "--database", url)
    keys = as_json(listed)
    assert [(k["key_id"], k["name"], k["revoked"]) for k in keys] == [(created["key_id"], "ci-bot", False)]
    assert created["api_key"] not in listed.stdout  # secrets are shown once, never listed
    # INTENTD_DATABASE_URL works as --database does (and the default file is not touched).
    table = succeeded(intentd(tmp_path, "keys", "list", database_url=url))
    assert "ci-bot" in table and created["api_key"] not in table
    assert not (tmp_path / "intentd.db").exists()


# --- Commands against a running server ----------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("cli-server")
    with Servers(workdir) as started:
        yield started.start(f"sqlite:///{workdir / 'intentd.db'}")


def remote(
    server: Server, cwd: Path, *args: str, api_key: str | None = TEST_KEY, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return intentd(cwd, *args, url=server.url, api_key=api_key, **kwargs)


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
        intentd_command("intents", "watch", intent_id, "--json"),
        cwd=tmp_path,
        env=child_environment(url=server.url, api_key=TEST_KEY),
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


def test_wrong_key_is_a_clear_error(server: Server, tmp_path: Path) -> None:
    result = remote(server, tmp_path, "intents", "list", api_key="itd_wrong")
    assert result.returncode == 1
    assert "401 invalid_api_key" in result.stderr
    assert result.stdout == ""


def test_unknown_intent_is_a_clear_error(server: Server, tmp_path: Path) -> None:
    result = remote(server, tmp_path, "intents", "show", "no-such-intent")
    assert result.returncode == 1
    assert "404" in result.stderr and "not_found" in result.stderr


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = intentd(tmp_path, "intents", "list", url=nowhere, api_key=TEST_KEY)
    assert result.returncode == 2
    assert "cannot reach the server" in result.stderr and nowhere in result.stderr
    assert "Traceback" not in result.stderr


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


def test_key_made_by_the_cli_works_at_the_running_server(server: Server, tmp_path: Path) -> None:
    made = as_json(
        intentd(
            tmp_path, "keys", "create", "--name", "ops", "--json", "--database", server.database_url or ""
        )
    )
    listed = remote(server, tmp_path, "intents", "list", "--json", api_key=made["api_key"])
    assert "intents" in as_json(listed)
