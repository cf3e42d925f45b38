"""The agents of the workflow chaos test (``test_workflow_chaos.py``), run in worker processes that the
test SIGKILLs at random: ``intentd worker run tests.e2e.chaos_agents:worker`` from the repository root.

They are deterministic stand-ins: what a step does is written in its run's payload (the *order*), so
the test knows each run's outcome in advance. ``{"run": "<name>", ...}`` lists the steps that

- ``fail``: fail for good (``FatalError``) on every attempt;
- ``fail_once``: fail for good the first time the step is tried in the run, so that the workflow's
  ``retry`` starts it again as a new intent (``fail_once_undo``: the same for a compensation);
- ``flaky``: fail the first delivery of the intent with ``RetryableError``, so the worker's retry
  delivers the same intent again (``flaky_undo``: the same for a compensation).

Every side effect goes to a SQLite file shared by the workers (``CHAOS_EFFECTS``), in two tables
(a third, ``first_failures``, remembers which steps have had their one failure):

- ``effects``: one row per side effect, keyed by the handler's idempotency key (stable across
  redeliveries of one intent) and written ``ON CONFLICT DO NOTHING``: a handler that runs twice
  records once. Two rows for one step of one run mean the step's effect happened twice (a bug).
- ``attempts``: append-only, one row per handler start, so the test can tell how often a handler ran.

A step agent (``DOER``) does steps, the undoer (``UNDOER``) compensates them, and the supervisor
(``SUPERVISOR``) is a code-first run: ``ctx.spawn``/``ctx.gather`` children, then ``ctx.step`` side
effects with compensations, and a final failure when its order says so.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from intentd.client import Intent
from intentd.worker import Context, FatalError, RetryableError, Worker

DOER = "agent://chaos/test/doer"
UNDOER = "agent://chaos/test/undoer"
SUPERVISOR = "agent://chaos/test/supervisor"
EFFECTS_VARIABLE = "CHAOS_EFFECTS"  # the path of the shared SQLite file
LEASE_SECONDS = 2.0  # short, so the intent of a killed worker comes back soon
MAX_DELIVERY_ATTEMPTS = 50  # many kills may hit one intent; running out of attempts is not the test
DO, UNDO = "do", "undo"

SCHEMA = """
CREATE TABLE IF NOT EXISTS effects (
    idempotency_key TEXT PRIMARY KEY,
    run TEXT NOT NULL,
    step TEXT NOT NULL,
    kind TEXT NOT NULL,
    intent_id TEXT NOT NULL,
    pid INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run TEXT NOT NULL,
    step TEXT NOT NULL,
    kind TEXT NOT NULL,
    intent_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS first_failures (
    run TEXT NOT NULL,
    step TEXT NOT NULL,
    PRIMARY KEY (run, step)
);
"""

if EFFECTS_VARIABLE in os.environ:  # in a worker process (not the test's): a log line per request
    logging.getLogger("httpx").setLevel(logging.WARNING)  # would bury the worker's own
worker = Worker(
    concurrency=4,
    lease_seconds=LEASE_SECONDS,
    claim_wait_seconds=1.0,
    shutdown_grace_seconds=3.0,
)


def connect(path: Path | str) -> sqlite3.Connection:
    """A connection to the shared file; writers from several processes wait for each other."""
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 30000")
    return db


def create_schema(path: Path) -> None:
    with connect(path) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.executescript(SCHEMA)
    db.close()


def _write(sql: str, *params: Any) -> int:
    db = connect(os.environ[EFFECTS_VARIABLE])
    try:
        return db.execute(sql, params).rowcount
    finally:
        db.close()


def log_attempt(ctx: Context, run: str, step: str, kind: str) -> None:
    _write(
        "INSERT INTO attempts (run, step, kind, intent_id, attempt, pid, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        run, step, kind, ctx.intent.intent_id, ctx.attempt, os.getpid(), time.time(),
    )  # fmt: skip


def record_effect(key: str, run: str, step: str, kind: str, intent_id: str) -> None:
    """The side effect itself, once per idempotency key however often the handler runs."""
    _write(
        "INSERT INTO effects (idempotency_key, run, step, kind, intent_id, pid, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
        key, run, step, kind, intent_id, os.getpid(), time.time(),
    )  # fmt: skip


def first_failure(run: str, step: str) -> bool:
    """True the first time it is asked for a step of a run (across intents, workers and kills)."""
    return _write("INSERT INTO first_failures VALUES (?, ?) ON CONFLICT DO NOTHING", run, step) == 1


def pause() -> None:
    """Work takes a while: a window for a kill between a handler's start, its effect and its report."""
    time.sleep(random.uniform(0.05, 0.3))


def order_of(intent: Intent) -> dict[str, Any]:
    """The order of the run a step belongs to (a subflow's steps find it one run further up)."""
    order: dict[str, Any] = intent.payload["parent_payload"]
    while "run" not in order:
        order = order["parent_payload"]
    return order


@worker.agent(DOER)
def do_step(ctx: Context, intent: Intent) -> dict[str, Any]:
    """A step of a declared workflow (or a child of a supervisor): fails as its order says, or
    records its effect."""
    order, step = order_of(intent), intent.payload["step_id"]
    run = order["run"]
    log_attempt(ctx, run, step, DO)
    pause()
    if step in order.get("fail", ()):
        raise FatalError(f"step {step} fails for good")
    if step in order.get("fail_once", ()) and first_failure(run, step):
        raise FatalError(f"step {step} fails its first attempt")
    if step in order.get("flaky", ()) and ctx.attempt == 1:
        raise RetryableError(f"step {step} fails its first delivery", retry_after=0.2)
    record_effect(ctx.idempotency_key, run, step, DO, intent.intent_id)
    pause()
    return {"step": step, "pid": os.getpid()}


@worker.agent(UNDOER)
def undo_step(ctx: Context, intent: Intent) -> dict[str, Any]:
    """The compensation of a completed step of a declared workflow."""
    order, step = order_of(intent), intent.payload["compensates"]
    run = order["run"]
    log_attempt(ctx, run, step, UNDO)
    pause()
    if step in order.get("fail_once_undo", ()) and first_failure(run, f"undo:{step}"):
        raise FatalError(f"the compensation of {step} fails its first attempt")
    if step in order.get("flaky_undo", ()) and ctx.attempt == 1:
        raise RetryableError(f"the compensation of {step} fails its first delivery", retry_after=0.2)
    record_effect(ctx.idempotency_key, run, step, UNDO, intent.intent_id)
    pause()
    return {"undone": step}


def _supervised_effect(ctx: Context, run: str, step: str, kind: str, _result: Any = None) -> dict[str, Any]:
    record_effect(ctx.idempotency_key_for(f"{kind}:{step}"), run, step, kind, ctx.intent.intent_id)
    pause()
    return {kind: step}


@worker.agent(SUPERVISOR)
def supervise(ctx: Context, intent: Intent) -> dict[str, Any]:
    """A code-first run: its children (steps of the DOER) in parallel, then its own side effects,
    each undone should the run fail for good."""
    order = intent.payload
    run = order["run"]
    log_attempt(ctx, run, "$supervisor", DO)
    children = [
        ctx.spawn(
            DOER,
            {"step_id": key, "parent_payload": order},
            key=key,
            max_delivery_attempts=MAX_DELIVERY_ATTEMPTS,
        )
        for key in order["children"]
    ]
    outputs = ctx.gather(*children)
    for step in order["steps"]:
        ctx.step(
            step,
            functools.partial(_supervised_effect, ctx, run, step, DO),
            compensate=functools.partial(_supervised_effect, ctx, run, step, UNDO),
        )
    if order.get("decline"):
        raise FatalError("the order is declined")
    return {"children": outputs}
