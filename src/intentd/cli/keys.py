"""``intentd keys``: API keys, straight on the database (the HTTP API has no key routes)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from intentd.engine import Engine
from intentd.store import open_store

from ._options import DatabaseOpt, JsonOpt, settings_from
from ._output import console, emit_json, table

app = typer.Typer(help="API keys.", no_args_is_help=True)


@app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="a label for the key")] = "cli",
    role: Annotated[str, typer.Option(help="admin (scoped roles come with tenancy)")] = "admin",
    database: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key and print it (it is shown only once)."""
    settings = settings_from(database_url=database)

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


@app.command("list")
def keys_list(database: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """List API keys (never their secrets)."""
    settings = settings_from(database_url=database)

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
