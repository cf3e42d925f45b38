"""``intentd audit``: the audit trail, straight on the database of --database (the operator's view
of every namespace; over HTTP an auditor or admin sees its own: ``/v1/audit``; docs/audit.md)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TextIO, TypeVar

import orjson
import typer

from intentd.engine import AuditQuery, Engine
from intentd.engine.audit import AuditService, Verdict, acting_as_operator
from intentd.model import to_micros
from intentd.store import open_store

from ._options import JsonOpt, settings_of
from ._output import console, emit_json, table

app = typer.Typer(help="The audit trail (on the database of --database).", no_args_is_help=True)
T = TypeVar("T")
_EXPORT_PAGE = 1000  # records read per query while exporting
# --since and --until: a date, or a time with or without a zone (UTC without one). Given, these formats
# replace typer's lax parsing, which would read a number (0.5, 1700000000) as seconds since 1970.
_TIMES = [
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
]


def _time_option(what: str) -> Any:  # typer.Option is typed Any
    return typer.Option(help=f"{what} (a date or time; UTC if no zone)", formats=_TIMES, metavar="TIME")


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


@app.command("export")
def audit_export(
    ctx: typer.Context,
    namespace: Annotated[str, typer.Option(help="the namespace")] = "default",
    output: Annotated[Path | None, typer.Option(help="write here (default: stdout)")] = None,
    intent: Annotated[str | None, typer.Option(help="one intent's records")] = None,
    correlation_id: Annotated[str | None, typer.Option(help="the records of the intents with it")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. intent.completed, key.revoked")] = None,
    agent: Annotated[str | None, typer.Option(help="records about this agent")] = None,
    actor: Annotated[str | None, typer.Option(help="what this key id or principal did")] = None,
    since: Annotated[datetime | None, _time_option("records at or after")] = None,
    until: Annotated[datetime | None, _time_option("records before")] = None,
) -> None:
    """Every matching record as JSON Lines, in chain order (one object per line: the API's record
    with its namespace), for compliance archives; check the chain with ``intentd audit verify``."""
    query = AuditQuery(
        intent_id=intent,
        correlation_id=correlation_id,
        action=action,
        agent=agent,
        actor=actor,
        since=_micros(since),
        until=_micros(until),
    )

    async def export(audit: AuditService) -> int:
        with _opened(output) as out:
            count, after = 0, 0
            while page := await audit.records(namespace, after=after, limit=_EXPORT_PAGE, query=query):
                out.writelines(_json_line({"namespace": namespace, **r.to_json()}) for r in page)
                count, after = count + len(page), page[-1].seq
            return count

    exported = _on_audit(ctx, export)
    if output is not None:
        console.print(f"exported {exported} records of {namespace} to {output}", markup=False)


def _micros(at: datetime | None) -> int | None:
    if at is None:
        return None
    return to_micros(at if at.tzinfo else at.replace(tzinfo=UTC))


def _json_line(record: dict[str, object]) -> str:
    return orjson.dumps(record).decode() + "\n"


@contextmanager
def _opened(output: Path | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    with output.open("w", encoding="utf-8") as out:
        yield out


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
