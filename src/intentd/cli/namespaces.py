"""``intentd namespaces``: the tenants, straight on the database of --database (as ``intentd keys``).
A namespace is also created by its first key; ``create`` makes one ahead of its keys, and is the only
way to mark one a sandbox (a test namespace)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from intentd.engine import Engine
from intentd.engine.namespaces import NamespaceService
from intentd.model import IntentdError, to_rfc3339
from intentd.store import NamespaceRecord, open_store

from ._options import JsonOpt, settings_of
from ._output import console, emit_json, table

app = typer.Typer(help="Namespaces: the tenants (on the database of --database).", no_args_is_help=True)
T = TypeVar("T")
COLUMNS = ["name", "sandbox", "created_at"]


@app.command("create")
def namespaces_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="letters, digits, '.', '_' or '-'")],
    sandbox: Annotated[bool, typer.Option("--sandbox", help="a test namespace")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a namespace (a production one unless --sandbox)."""
    try:
        record = _on_namespaces(ctx, lambda namespaces: namespaces.create(name, sandbox=sandbox))
    except IntentdError as exc:
        console.print(f"[red]{exc.message}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    if as_json:
        emit_json(_row(record))
    else:
        console.print(f"namespace {record.name} created" + (" (sandbox)" if record.sandbox else ""))


@app.command("list")
def namespaces_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the namespaces and their sandbox flag."""
    rows = [_row(r) for r in _on_namespaces(ctx, lambda namespaces: namespaces.list())]
    if as_json:
        emit_json(rows)
    else:
        table("Namespaces", COLUMNS, [[str(row[c]) for c in COLUMNS] for row in rows])


def _on_namespaces(ctx: typer.Context, operation: Callable[[NamespaceService], Awaitable[T]]) -> T:
    url = settings_of(ctx).database_url

    async def run() -> T:
        store = await open_store(url)
        try:
            return await operation(Engine(store).namespaces)
        finally:
            await store.close()

    return asyncio.run(run())


def _row(record: NamespaceRecord) -> dict[str, Any]:
    return {"name": record.name, "sandbox": record.sandbox, "created_at": to_rfc3339(record.created_at)}
