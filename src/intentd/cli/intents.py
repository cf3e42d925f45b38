"""``intentd submit`` and ``intentd intents``: intents on a running server, through the SDK."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from ._client import EXIT_REFUSED, connect
from ._options import JsonOpt, settings_of
from ._output import (
    EVENT_COLUMNS,
    INTENT_COLUMNS,
    console,
    emit_json,
    emit_json_line,
    event_row,
    fail,
    field_rows,
    intent_rows,
    run_tree,
    status_text,
    table,
)

app = typer.Typer(help="Inspect and control intents on a running server.", no_args_is_help=True)


def submit(
    ctx: typer.Context,
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
    with connect(settings_of(ctx)) as client:
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


@app.command("list")
def intents_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="only intents in this status")] = None,
    to_agent: Annotated[str | None, typer.Option("--to", help="only intents to this agent")] = None,
    correlation_id: Annotated[str | None, typer.Option(help="only intents with this correlation id")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List intents, newest first."""
    with connect(settings_of(ctx)) as client:
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


@app.command("show")
def intents_show(ctx: typer.Context, intent_id: str, as_json: JsonOpt = False) -> None:
    """Show one intent."""
    with connect(settings_of(ctx)) as client:
        intent = client.get(intent_id)
    if as_json:
        emit_json(intent.raw)
    else:  # the wire form: every field as the server states it, also ones this version lacks
        table(None, ["field", "value"], field_rows(intent.raw, SHOWN_FIELDS))


@app.command("tree")
def intents_tree(ctx: typer.Context, intent_id: str, as_json: JsonOpt = False) -> None:
    """Show the whole run an intent belongs to: who handed what to whom, and where each step is."""
    with connect(settings_of(ctx)) as client:
        run = client.tree(intent_id)
    if as_json:
        emit_json(run.raw)
    else:
        console.print(run_tree(run))


@app.command("events")
def intents_events(ctx: typer.Context, intent_id: str, since: int = 0, as_json: JsonOpt = False) -> None:
    """Show an intent's events (its audit trail)."""
    with connect(settings_of(ctx)) as client:
        events = client.events(intent_id, since=since)
    if as_json:
        emit_json([e.raw for e in events])
    else:
        table(f"events of {intent_id}", EVENT_COLUMNS, [event_row(e) for e in events])


@app.command("transitions")
def intents_transitions(
    ctx: typer.Context,
    intent_id: Annotated[str, typer.Argument(help="any intent of the run")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write the YAML to this file (a golden file)")
    ] = None,
) -> None:
    """Print the run's normalised transition record as YAML (ids, times and tokens left out), e.g. to
    keep an incident's run as a golden file that the tests compare with (docs/testing.md)."""
    # On use: the record is built by intentd.testing, which the other commands do not need.
    from intentd.testing import golden

    with connect(settings_of(ctx)) as client:
        try:
            record = golden.record_of(client, intent_id)
        except ValueError as exc:  # a run too large to record whole
            fail(str(exc), EXIT_REFUSED)
    text = golden.to_yaml(record)
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    console.print(f"{output}: the transitions of {len(record['intents'])} intents", markup=False)


@app.command("watch")
def intents_watch(
    ctx: typer.Context,
    intent_id: str,
    since: int = 0,
    timeout: Annotated[float | None, typer.Option(help="give up after this many seconds (exit 3)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Follow an intent's events live (SSE, reconnecting without gaps) until it ends."""
    with connect(settings_of(ctx)) as client:
        for event in client.observe(intent_id, since=since, timeout=timeout, wait_seconds=30.0):
            if as_json:
                emit_json_line(event.raw)
            else:
                console.print(" ".join(str(c) for c in event_row(event)))


@app.command("cancel")
def intents_cancel(
    ctx: typer.Context,
    intent_id: str,
    reason: Annotated[str | None, typer.Option(help="why, kept on the intent")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel an intent."""
    with connect(settings_of(ctx)) as client:
        intent = client.cancel(intent_id, reason=reason)
    if as_json:
        emit_json(intent.raw)
    else:
        console.print(f"{intent.intent_id} {status_text(intent.status)}")


@app.command("answer")
def intents_answer(
    ctx: typer.Context,
    intent_id: Annotated[
        str, typer.Argument(help="a run's human step, or the run (its one pending human step)")
    ],
    outcome: Annotated[
        str, typer.Argument(help="e.g. approved, rejected; an escalation takes retry, skip or abort")
    ],
    comment: Annotated[str | None, typer.Option(help="kept with the answer")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a human step of a workflow run (AXP resume with a task_result). Any human task (an
    agent's ask_human too), with its form and comment: intentd tasks."""
    task_result: dict[str, Any] = {"outcome": outcome}
    if comment is not None:
        task_result["comment"] = comment
    with connect(settings_of(ctx)) as client:
        intent = client.resume(intent_id, {"task_result": task_result})
    if as_json:
        emit_json(intent.raw)
    else:
        console.print(f"{intent.intent_id} {status_text(intent.status)}")
