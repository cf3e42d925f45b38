"""``intentd keys``: API keys, straight on the database of --database: the operator's tool, which
also makes the first admin key (an admin manages its namespace's keys over HTTP as well, ``/v1/keys``;
docs/security.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from intentd.engine import Engine, KeyService
from intentd.engine.audit import acting_as_operator
from intentd.engine.keys import key_status
from intentd.model import to_rfc3339
from intentd.store import ApiKeyRecord, open_store

from ._options import JsonOpt, settings_of
from ._output import console, emit_json, table

app = typer.Typer(help="API keys (on the database of --database).", no_args_is_help=True)
T = TypeVar("T")
KEY_COLUMNS = ["key_id", "name", "role", "agents", "task_roles", "namespace", "status", "expires_at"]


@app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="a label for the key")] = "cli",
    role: Annotated[
        str,
        typer.Option(help="admin, submitter, agent (with --agent), approver (a person, --name) or auditor"),
    ] = "admin",
    agent: Annotated[
        list[str] | None,
        typer.Option(help="an agent key's address: the only agents it acts for (repeatable)"),
    ] = None,
    task_role: Annotated[
        list[str] | None,
        typer.Option(help="an approver's role: it decides tasks assigned to role:<name> (repeatable)"),
    ] = None,
    namespace: Annotated[str, typer.Option(help="the tenant the key belongs to")] = "default",
    expires_in: Annotated[
        float | None, typer.Option(help="seconds until the key stops working (default: never)", min=1)
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key and print it (it is shown only once)."""
    roles, agents = tuple(task_role or ()), tuple(agent or ())

    async def create(keys: KeyService) -> tuple[ApiKeyRecord, str]:
        expires_at = keys.now() + int(expires_in * 1_000_000) if expires_in else None
        return await keys.create(
            name, role, namespace, task_roles=roles, agents=agents, expires_at=expires_at
        )

    record, secret = _on_keys(ctx, create)
    if as_json:
        emit_json({**_key_row(record, record.created_at), "api_key": secret})
    else:
        console.print(secret, soft_wrap=True)


@app.command("list")
def keys_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List API keys (never their secrets)."""
    keys_now = _on_keys(ctx, lambda keys: _listed(keys))
    rows = [_key_row(r, keys_now[1]) for r in keys_now[0]]
    if as_json:
        emit_json(rows)
    else:
        table("API keys", KEY_COLUMNS, [[row[c] for c in KEY_COLUMNS] for row in rows])


@app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str, as_json: JsonOpt = False) -> None:
    """Revoke an API key: refused at once here, within 5 s on every replica."""
    revoked = _on_keys(ctx, lambda keys: keys.revoke(key_id))
    if as_json:
        emit_json({"key_id": key_id, "revoked": revoked})
    else:
        console.print(f"revoked {key_id}" if revoked else f"{key_id} was not active (or does not exist)")


@app.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    key_id: str,
    grace_seconds: Annotated[float, typer.Option(help="how long the old secret keeps working", min=0)] = 0.0,
    as_json: JsonOpt = False,
) -> None:
    """A new secret for the key's name, role and agents (printed once); the old one stops after the
    grace period."""
    record, secret = _on_keys(ctx, lambda keys: keys.rotate(None, key_id, grace_seconds))
    if as_json:
        emit_json({**_key_row(record, record.created_at), "api_key": secret, "replaces": key_id})
    else:
        console.print(secret, soft_wrap=True)


async def _listed(keys: KeyService) -> tuple[list[ApiKeyRecord], int]:
    return await keys.list(), keys.now()


def _on_keys(ctx: typer.Context, operation: Callable[[KeyService], Awaitable[T]]) -> T:
    """Run ``operation`` on the key service of the configured database, then close it."""
    url = settings_of(ctx).database_url

    async def run() -> T:
        acting_as_operator("intentd keys")  # the audit trail's "who" for key operations
        store = await open_store(url)
        try:
            return await operation(Engine(store).keys)
        finally:
            await store.close()

    return asyncio.run(run())


def _key_row(record: ApiKeyRecord, now: int) -> dict[str, Any]:
    return {
        "key_id": record.key_id,
        "name": record.name,
        "role": record.role,
        "agents": ", ".join(record.agents),
        "task_roles": ", ".join(record.task_roles),
        "namespace": record.namespace,
        "status": key_status(record, now),
        "expires_at": to_rfc3339(record.expires_at) or "",
    }
