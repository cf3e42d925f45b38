"""``intentd audit``: the audit trail, straight on the database of --database (the operator's view
of every namespace; over HTTP an auditor or admin sees its own: ``/v1/audit``; docs/audit.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import typer

from intentd.engine import Engine
from intentd.engine.audit import AuditService, Verdict, acting_as_operator
from intentd.model import to_micros
from intentd.store import open_store

from ._options import JsonOpt, settings_of
from ._output import console, emit_json, table

app = typer.Typer(help="The audit trail (on the database of --database).", no_args_is_help=True)
T = TypeVar("T")


@app.command("verify")
def audit_verify(
    ctx: typer.Context,
    namespace: Annotated[str | None, typer.Option(help="one namespace (default: every one)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Walk each namespace's hash chain; exit 1 at the first record that does not hold."""

    async def verify(audit: AuditService) -> list[Verdict]:
        return [await audit.verify(namespace)] if namespace else await audit.verify_all()

    verdicts = _on_audit(ctx, verify)
    rows = [_verdict_row(v) for v in verdicts]
    if as_json:
        emit_json(rows)
    else:
        columns = ["namespace", "valid", "records", "broken_at", "problem"]
        table("Audit chains", columns, [[row[c] for c in columns] for row in rows])
    if not all(v.ok for v in verdicts):
        raise typer.Exit(1)


@app.command("prune")
def audit_prune(
    ctx: typer.Context,
    older_than_days: Annotated[float, typer.Option(help="records older than this lose their details", min=0)],
    namespace: Annotated[str, typer.Option(help="the namespace")] = "default",
) -> None:
    """Drop the details of old records (retention); the chain still verifies."""
    before = to_micros(datetime.now(UTC) - timedelta(days=older_than_days))
    pruned = _on_audit(ctx, lambda audit: audit.prune(namespace, before))
    console.print(f"pruned the details of {pruned} records in {namespace}")


def _verdict_row(verdict: Verdict) -> dict[str, object]:
    return {
        "namespace": verdict.namespace,
        "valid": verdict.ok,
        "records": verdict.records,
        "head_seq": verdict.head_seq,
        "broken_at": verdict.broken_at,
        "problem": verdict.problem or "",
    }


def _on_audit(ctx: typer.Context, operation: Callable[[AuditService], Awaitable[T]]) -> T:
    url = settings_of(ctx).database_url

    async def run() -> T:
        acting_as_operator("intentd audit")
        store = await open_store(url)
        try:
            return await operation(Engine(store).audit)
        finally:
            await store.close()

    return asyncio.run(run())
