"""``intentd scenarios``: an AXP ScenarioBundle file (JSON or YAML) checked by a running server
(``validate``) or started on it (``apply``), and the run it starts followed step by step until it ends
(``apply --watch``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from intentd.client import Client, Intent, JournalEntry, RunTree, ScenarioApplied, ValidationFailed

from ._client import EXIT_REFUSED, connect
from ._files import read_object
from ._options import JsonOpt, settings_of
from ._output import console, emit_json, emit_json_line, errors, fail, status_text

app = typer.Typer(help="Check and start AXP scenarios (ScenarioBundle files).", no_args_is_help=True)

FileArg = Annotated[Path, typer.Argument(help="a ScenarioBundle: .json, .yaml or .yml", show_default=False)]


@app.command("validate")
def validate(ctx: typer.Context, file: FileArg, as_json: JsonOpt = False) -> None:
    """Check a ScenarioBundle: every problem with its path (creates nothing)."""
    bundle = read_bundle(file)
    with connect(settings_of(ctx)) as client, problems_shown(as_json):
        valid = client.validate_scenario(bundle)
    if as_json:
        emit_json(valid.raw)
        return
    console.print(f"valid: {valid.scenario_id} ({valid.steps} steps)", markup=False)
    for warning in valid.warnings:
        errors.print(f"warning: {warning}", style="yellow", markup=False, highlight=False, soft_wrap=True)


@app.command("apply")
def apply(
    ctx: typer.Context,
    file: FileArg,
    idempotency_key: Annotated[
        str | None, typer.Option(help="applying again with this key returns the first run")
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="follow the run until it ends (exit 1 unless it completed)")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start a ScenarioBundle's run; print its id and status, or with --watch follow it step by step."""
    bundle = read_bundle(file)
    with connect(settings_of(ctx)) as client:
        with problems_shown(as_json):
            applied = client.apply_scenario(bundle, idempotency_key=idempotency_key)
        show_applied(applied, as_json, watch)
        state = watch_run(client, applied.intent_id, as_json) if watch else None
    if state is not None:
        end_of_run(state, as_json)


# --- the file ---------------------------------------------------------------------------------------


def read_bundle(path: Path) -> dict[str, Any]:
    """The bundle in ``path`` as a JSON object; a file that cannot be read or parsed ends the command
    (exit 2) before anything is sent."""
    return read_object(path, "a ScenarioBundle")


# --- the server's refusal ---------------------------------------------------------------------------


@contextmanager
def problems_shown(as_json: bool) -> Iterator[None]:
    """A bundle the server refuses as invalid ends the command with every problem as
    ``path: message (code)`` (exit 1): how its parts fit together comes in ``details.problems``, a
    malformed field in ``details.errors``. Any other refusal goes on to ``connect``."""
    try:
        yield
    except ValidationFailed as exc:
        listed = exc.details.get("problems") or [
            {"path": e.get("field"), "message": e.get("message"), "code": e.get("type")}
            for e in exc.details.get("errors") or []
        ]
        if not listed:
            raise
        if as_json:
            emit_json({"ok": False, "error": exc.to_wire()})
            raise typer.Exit(EXIT_REFUSED) from None
        errors.print(
            f"the scenario has {len(listed)} problem(s):", style="red", markup=False, highlight=False
        )
        for p in listed:
            line = f"  {p.get('path')}: {p.get('message')} ({p.get('code')})"
            errors.print(line, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_REFUSED) from None


# --- the run ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """A row of the run: one journal entry (a step, or its approval, escalation or compensation) and
    with whom its work is (the agent of its child intent)."""

    entry: JournalEntry
    with_whom: str | None

    @property
    def change(self) -> tuple[str, int, str | None]:
        return (self.entry.status, self.entry.attempt, self.with_whom)

    def took(self, now: datetime) -> str:
        return duration((self.entry.ended_at or now) - self.entry.started_at)

    def line(self, now: datetime) -> str:
        e = self.entry
        with_whom = f" with {self.with_whom}" if self.with_whom else ""
        took = f" in {self.took(now)}" if e.finished else ""
        return f"step {e.key} {e.status} attempt {e.attempt}{with_whom}{took}"


@dataclass(frozen=True, slots=True)
class RunState:
    run: Intent
    steps: list[Step]


def read_run(client: Client, run_id: str) -> RunState:
    # The tree first: whatever changes after it is an event after its root's last_seq.
    tree = client.tree(run_id)
    entries = client.journal(run_id)
    (run,) = [i for i in tree.intents if i.intent_id == run_id]
    # "$…" keys are the engine's own bookkeeping ($failed: the step that failed the run, which the
    # last line reports), not steps.
    shown = [e for e in entries if not e.key.startswith("$")]
    return RunState(run, [Step(e, _with_whom(e, tree, run_id)) for e in shown])


def _with_whom(entry: JournalEntry, tree: RunTree, run_id: str) -> str | None:
    """The agent (or ``human://role``) of the entry's child intent, the latest of its step if the
    entry names none; nobody while the entry waits on something else than its ended child (its
    approval, a backoff)."""
    children = [i for i in tree.intents if i.parent_intent_id == run_id]
    named = [i for i in children if i.intent_id == entry.child_intent_id]
    of_step = sorted((i for i in children if i.step_key == entry.key), key=lambda i: i.created_at)
    child = (named or of_step[-1:])[:1]
    if not child or (entry.status == "WAITING" and child[0].is_terminal):
        return None
    return child[0].to_agent


def watch_run(client: Client, run_id: str, as_json: bool) -> RunState:
    try:
        if as_json or not console.is_terminal:
            return follow_run(client, run_id, LinesView(as_json).show)
        view = LiveView()
        with view.live:
            return follow_run(client, run_id, view.show)
    except KeyboardInterrupt:
        fail(f"stopped watching; the run goes on: intentd intents watch {run_id}", 130, style="yellow")


def follow_run(client: Client, run_id: str, show: Callable[[RunState], None]) -> RunState:
    """Show the run, then again on each of its events, until it ends (the SDK's stream ends there)."""
    state = read_run(client, run_id)
    show(state)
    if not state.run.is_terminal:
        for _ in client.observe(run_id, since=state.run.last_seq, wait_seconds=30.0):
            state = read_run(client, run_id)
            show(state)
    return state


def show_applied(applied: ScenarioApplied, as_json: bool, watch: bool) -> None:
    if as_json:
        (emit_json_line if watch else emit_json)(applied.raw)
        return
    pending = f", pending with {applied.pending_with}" if applied.pending_with else ""
    replayed = " (the run of an earlier apply with this idempotency key)" if applied.idempotent else ""
    console.print(
        f"run {applied.intent_id} {applied.status}{pending}{replayed}", markup=False, soft_wrap=True
    )


def end_of_run(state: RunState, as_json: bool) -> None:
    """The result of a completed run (exit 0), or how it ended otherwise and at which step (exit 1)."""
    run = state.run
    if as_json:
        emit_json_line(run.raw)
    if run.status == "COMPLETED":
        if not as_json:
            result = orjson.dumps(run.result).decode()
            console.print(f"run {run.intent_id} COMPLETED: {result}", markup=False, soft_wrap=True)
        return
    fail(f"run {run.intent_id} {run.status}{_why(state)}", EXIT_REFUSED)


def _why(state: RunState) -> str:
    error = state.run.error if isinstance(state.run.error, dict) else {}
    failed = [s.entry.key for s in state.steps if s.entry.status == "FAILED"]
    step = error.get("step_id") or (failed[0] if failed else None)
    where = f" at step {step}" if step else ""
    what = f"{error.get('code')}: {error.get('message')}" if error else state.run.reason
    return f"{where}: {what}" if what else where


# --- showing it -------------------------------------------------------------------------------------


class LinesView:
    """One line per change of a step, for pipes and logs (``--json``: one object per line)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self._seen: dict[str, tuple[str, int, str | None]] = {}

    def show(self, state: RunState) -> None:
        now = datetime.now(UTC)
        for step in state.steps:
            if self._seen.get(step.entry.key) == step.change:
                continue
            self._seen[step.entry.key] = step.change
            if self.as_json:
                emit_json_line({**step.entry.raw, "with": step.with_whom})
            else:
                console.print(step.line(now), markup=False, highlight=False, soft_wrap=True)


class LiveView:
    """The run as a table redrawn in place; between events the durations still tick (Rich redraws
    from the last state it was shown, without asking the server)."""

    def __init__(self) -> None:
        self.state: RunState | None = None
        self.live = Live(self, console=console, refresh_per_second=4)

    def show(self, state: RunState) -> None:
        self.state = state
        self.live.refresh()

    def __rich__(self) -> RenderableType:
        return run_table(self.state, datetime.now(UTC)) if self.state else ""


def run_table(state: RunState, now: datetime) -> RenderableType:
    grid = Table(header_style="bold")
    for column in ("step", "status", "attempt", "with", "took"):
        grid.add_column(column, overflow="fold")
    for step in state.steps:
        e = step.entry
        grid.add_row(
            escape(e.key), status_text(e.status), str(e.attempt), escape(step.with_whom or ""), step.took(now)
        )
    run = state.run
    waiting = f" ({run.waiting_reason})" if run.waiting_reason and not run.is_terminal else ""
    took = duration((run.updated_at if run.is_terminal else now) - run.created_at)
    return Group(grid, f"run {run.intent_id} {status_text(run.status)}{escape(waiting)} · {took}")


def duration(elapsed: timedelta) -> str:
    seconds = max(0.0, elapsed.total_seconds())
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"
