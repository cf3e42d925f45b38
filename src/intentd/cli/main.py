"""``intentd`` commands. Global options come from flags or ``INTENTD_*`` variables (Settings)."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from intentd.engine import Engine
from intentd.settings import DEFAULT_DATABASE_URL, DEFAULT_PORT, Settings
from intentd.store import migrate_url, open_store

from ._client import connect
from ._output import (
    EVENT_COLUMNS,
    INTENT_COLUMNS,
    console,
    emit_json,
    emit_json_line,
    errors,
    event_row,
    field_rows,
    intent_rows,
    status_text,
    table,
)

app = typer.Typer(
    help="intentd: durable intents for multi-agent systems.", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
intents_app = typer.Typer(help="Inspect and control intents on a running server.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
worker_app = typer.Typer(help="Run agent workers.", no_args_is_help=True)
app.add_typer(intents_app, name="intents")
app.add_typer(worker_app, name="worker")

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database", help=f"database URL [env INTENTD_DATABASE_URL; default {DEFAULT_DATABASE_URL}]"
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON for scripts")]


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="[env INTENTD_HOST; default 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help=f"[env INTENTD_PORT; default {DEFAULT_PORT}]")] = None,
    database: DatabaseOpt = None,
) -> None:
    """Run the server: HTTP API, scheduler and delivery (migrations are applied on start)."""
    from intentd.server import run_server

    settings = _settings(host=host, port=port, database_url=database)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        asyncio.run(_first_key(settings))
    except RuntimeError as exc:  # e.g. another server holds this SQLite file
        errors.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    console.print(
        f"intentd on http://{settings.host}:{settings.port} (database {_redact(settings.database_url)})"
    )
    run_server(settings)


async def _first_key(settings: Settings) -> None:
    """A fresh database gets an admin key so the server is usable at once; it is written to the
    key file (mode 0600), where the CLI finds it."""
    # exclusive: refuse here, in one line, if another server already holds a SQLite file
    store = await open_store(settings.database_url, exclusive=True)
    try:
        engine = Engine(store)
        # The app's start-up creates the bootstrap key; a database with one needs no admin key.
        if settings.bootstrap_api_key or await engine.keys.list():
            return
        _, secret = await engine.keys.create("admin")
        path = Path(settings.key_file)
        path.write_text(secret + "\n")
        path.chmod(0o600)
        console.print(f"created an admin API key (saved to {path}): [bold]{secret}[/bold]")
    finally:
        await store.close()


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest and ":" in rest.split("@", 1)[0]:
        user = rest.split("@", 1)[0].split(":", 1)[0]
        return f"{scheme}{sep}{user}:***@{rest.split('@', 1)[1]}"
    return url


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOpt = None) -> None:
    """Apply pending schema migrations."""
    settings = _settings(database_url=database)
    applied = asyncio.run(migrate_url(settings.database_url))
    console.print(f"applied migrations {applied}" if applied else "schema is up to date")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="a label for the key")] = "cli",
    role: Annotated[str, typer.Option(help="admin (scoped roles come with tenancy)")] = "admin",
    database: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key and print it (it is shown only once)."""
    settings = _settings(database_url=database)

    async def create() -> tuple[str, str]:
        store = await open_store(settings.database_url)
        try:
            record, secret = await Engine(store).keys.create(name, role)
            return record.key_id, secret
        finally:
            await store.close()

    key_id, secret = asyncio.run(create())
    if as_json:
        emit_json({"key_id": key_id, "api_key": secret, "name": name, "role": role})
    else:
        console.print(secret, soft_wrap=True)


@keys_app.command("list")
def keys_list(database: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """List API keys (never their secrets)."""
    settings = _settings(database_url=database)

    async def fetch() -> list[Any]:
        store = await open_store(settings.database_url)
        try:
            return await Engine(store).keys.list()
        finally:
            await store.close()

    records = asyncio.run(fetch())
    rows = [
        {
            "key_id": r.key_id,
            "name": r.name,
            "role": r.role,
            "namespace": r.namespace,
            "revoked": r.revoked_at is not None,
        }
        for r in records
    ]
    if as_json:
        emit_json(rows)
    else:
        table(
            "API keys", ["key_id", "name", "role", "namespace", "revoked"], [list(r.values()) for r in rows]
        )


@app.command()
def submit(
    to: Annotated[str, typer.Option("--to", help="target agent, e.g. agent://acme/prod/writer")],
    intent_type: Annotated[str, typer.Option("--type", help="e.g. intent.demo.v1")],
    payload: Annotated[str, typer.Option(help="JSON object")] = "{}",
    correlation_id: Annotated[str | None, typer.Option(help="default: a new UUID")] = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="a repeated submit with this key returns the first intent")
    ] = None,
    deadline: Annotated[str | None, typer.Option(help="RFC 3339 deadline, e.g. 2030-01-01T00:00:00Z")] = None,
    reply_to: Annotated[str | None, typer.Option(help="agent to tell when the intent ends")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Submit an intent to a running server."""
    body, deadline_at = _json_object(payload), _rfc3339(deadline)  # refused before anything is sent
    with connect(_settings()) as client:
        intent = client.submit(
            to,
            intent_type,
            body,
            correlation_id=correlation_id,
            idempotency_key=idempotency_key,
            reply_to=reply_to,
            deadline_at=deadline_at,
        )
    if as_json:
        emit_json(intent.raw)
    else:
        console.print(f"{intent.intent_id} {status_text(intent.status)}")


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise typer.BadParameter(f"--payload is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise typer.BadParameter(f"--payload must be a JSON object, not {type(value).__name__}")
    return value


def _rfc3339(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"--deadline is not an RFC 3339 time: {text}") from None
    if value.tzinfo is None:  # the server would have to guess the zone
        raise typer.BadParameter(f"--deadline needs a UTC offset (e.g. Z or +02:00): {text}")
    return value


@intents_app.command("list")
def intents_list(
    status: Annotated[str | None, typer.Option(help="only intents in this status")] = None,
    to_agent: Annotated[str | None, typer.Option("--to", help="only intents to this agent")] = None,
    correlation_id: Annotated[str | None, typer.Option(help="only intents with this correlation id")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List intents, newest first."""
    with connect(_settings()) as client:
        page = client.list(status=status, to_agent=to_agent, correlation_id=correlation_id, limit=limit)
    if as_json:
        emit_json(page.raw)
    else:
        table("intents", INTENT_COLUMNS, intent_rows(page.intents))


SHOWN_FIELDS = [
    "intent_id",
    "status",
    "waiting_reason",
    "intent_type",
    "from_agent",
    "to_agent",
    "correlation_id",
    "created_at",
    "updated_at",
    "deadline_at",
    "delivery_attempt",
    "policy_generation",
    "payload",
    "result",
    "error",
    "reason",
]


@intents_app.command("show")
def intents_show(intent_id: str, as_json: JsonOpt = False) -> None:
    """Show one intent."""
    with connect(_settings()) as client:
        intent = client.get(intent_id)
    if as_json:
        emit_json(intent.raw)
    else:  # the wire form: every field as the server states it, also ones this version lacks
        table(None, ["field", "value"], field_rows(intent.raw, SHOWN_FIELDS))


@intents_app.command("events")
def intents_events(intent_id: str, since: int = 0, as_json: JsonOpt = False) -> None:
    """Show an intent's events (its audit trail)."""
    with connect(_settings()) as client:
        events = client.events(intent_id, since=since)
    if as_json:
        emit_json([e.raw for e in events])
    else:
        table(f"events of {intent_id}", EVENT_COLUMNS, [event_row(e) for e in events])


@intents_app.command("watch")
def intents_watch(
    intent_id: str,
    since: int = 0,
    timeout: Annotated[float | None, typer.Option(help="give up after this many seconds (exit 3)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Follow an intent's events live (SSE, reconnecting without gaps) until it ends."""
    with connect(_settings()) as client:
        for event in client.observe(intent_id, since=since, timeout=timeout, wait_seconds=30.0):
            if as_json:
                emit_json_line(event.raw)
            else:
                console.print(" ".join(str(c) for c in event_row(event)))


@intents_app.command("cancel")
def intents_cancel(
    intent_id: str, reason: Annotated[str | None, typer.Option()] = None, as_json: JsonOpt = False
) -> None:
    """Cancel an intent."""
    with connect(_settings()) as client:
        intent = client.cancel(intent_id, reason=reason)
    if as_json:
        emit_json(intent.raw)
    else:
        console.print(f"{intent.intent_id} {status_text(intent.status)}")


@worker_app.command("run")
def worker_run(
    target: Annotated[str, typer.Argument(help="module:attribute of a Worker, e.g. agents:worker")],
) -> None:
    """Run a worker until SIGTERM/SIGINT (graceful: running handlers finish or are released)."""
    import importlib
    import sys

    from intentd.worker import Worker

    module_name, _, attribute = target.partition(":")
    sys.path.insert(0, os.getcwd())
    worker = getattr(importlib.import_module(module_name), attribute or "worker", None)
    if not isinstance(worker, Worker):
        raise typer.BadParameter(f"{target} is not an intentd.worker.Worker")
    logging.basicConfig(
        level=_settings().log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    worker.run()


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
