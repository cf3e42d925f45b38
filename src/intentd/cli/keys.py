"""``intentd keys``: API keys, straight on the database of --database (the HTTP API has no key
routes, so these commands act where the server would)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from intentd.engine import Engine, KeyService
from intentd.store import ApiKeyRecord, open_store

from ._options import JsonOpt, settings_of
from ._output import console, emit_json, table

app = typer.Typer(help="API keys (on the database of --database).", no_args_is_help=True)
T = TypeVar("T")
KEY_COLUMNS = ["key_id", "name", "role", "task_roles", "namespace", "revoked"]


@app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="a label for the key")] = "cli",
    role: Annotated[
        str, typer.Option(help="admin, or approver: a person (--name) who decides human tasks")
    ] = "admin",
    task_role: Annotated[
        list[str] | None,
        typer.Option(help="an approver's role: it decides tasks assigned to role:<name> (repeatable)"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key and print it (it is shown only once)."""
    roles = tuple(task_role or ())
    record, secret = _on_keys(ctx, lambda keys: keys.create(name, role, task_roles=roles))
    if as_json:
        emit_json(
            {
                "key_id": record.key_id,
                "api_key": secret,
                "name": name,
                "role": role,
                "task_roles": list(roles),
            }
        )
    else:
        console.print(secret, soft_wrap=True)


@app.command("list")
def keys_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List API keys (never their secrets)."""
    rows = [_key_row(r) for r in _on_keys(ctx, lambda keys: keys.list())]
    if as_json:
        emit_json(rows)
    else:
        table("API keys", KEY_COLUMNS, [[row[c] for c in KEY_COLUMNS] for row in rows])


def _on_keys(ctx: typer.Context, operation: Callable[[KeyService], Awaitable[T]]) -> T:
    """Run ``operation`` on the key service of the configured database, then close it."""
    url = settings_of(ctx).database_url

    async def run() -> T:
        store = await open_store(url)
        try:
            return await operation(Engine(store).keys)
        finally:
            await store.close()

    return asyncio.run(run())


def _key_row(record: ApiKeyRecord) -> dict[str, Any]:
    return {
        "key_id": record.key_id,
        "name": record.name,
        "role": record.role,
        "task_roles": ", ".join(record.task_roles),
        "namespace": record.namespace,
        "revoked": record.revoked_at is not None,
    }
