"""Workflows under chaos: many runs while the server and the workers are SIGKILLed at random moments
and started again; afterwards every run has ended as its payload said it would, every completed step's
side effect happened exactly once, and so did every compensation, newest step first.

The runs (``chaos_runs.py``) are declared workflows (``POST /v1/scenarios/apply``) and code-first runs
of a supervisor agent; ``chaos_checks.py`` holds what must be true of each afterwards. The agents
(``chaos_agents.py``) run in worker processes with 2-second leases; they record each side effect under
its idempotency key in a SQLite file, and each handler start in an append-only log, so "ran twice,
recorded once" (at-least-once delivery) is told from "recorded twice".

The kill schedule and the order of the runs come from a seed, printed at the start; ``CHAOS_SEED=<n>``
replays a schedule (the timing of the processes is not replayed).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx
import pytest

from tests._support.http_api import all_intents, events_of
from tests._support.servers import Server, Servers, child_environment, intentd_command
from tests.e2e import chaos_agents
from tests.e2e.chaos_checks import Outcome, check_outcome, describe, reruns_by_chaos
from tests.e2e.chaos_runs import JSON, WORKFLOWS, Run, plan_runs

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]  # `intentd worker run tests.e2e.chaos_agents:worker` from here
SUBMITTED_BEFORE_CHAOS = 10  # the rest are submitted during the chaos, through the crashes
CHAOS_SECONDS = 25.0
SUBMIT_SECONDS = 20.0  # the runs submitted during the chaos are spread over its first seconds
KILL_EVERY = (1.0, 4.0)  # seconds between kills, at random
SETTLE_SECONDS = 45.0  # everything up: every run must have ended within this (it takes 5-20 s)
WORKERS = 2


# --- processes ------------------------------------------------------------------------------------------


class Workers:
    """Worker processes serving the chaos agents; a killed one is replaced at once."""

    def __init__(self, server: Server, workdir: Path, effects: Path) -> None:
        self.server = server
        self.workdir = workdir
        self.effects = effects
        self.processes: list[subprocess.Popen[bytes]] = []
        self.exited: list[str] = []  # workers that ended without being killed

    def start(self, count: int) -> Workers:
        for slot in range(count):
            self.processes.append(self._spawn(slot))
        return self

    def _spawn(self, slot: int) -> subprocess.Popen[bytes]:
        env = child_environment(url=self.server.url, api_key=self.server.api_key)
        env[chaos_agents.EFFECTS_VARIABLE] = str(self.effects)
        with self._log(slot).open("ab") as log:
            return subprocess.Popen(
                intentd_command("worker", "run", "tests.e2e.chaos_agents:worker"),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _log(self, slot: int) -> Path:
        return self.workdir / f"worker{slot}.log"

    def kill(self, slot: int) -> None:
        """SIGKILL the worker in ``slot`` and start another in its place."""
        process = self.processes[slot]
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        self.processes[slot] = self._spawn(slot)

    def revive(self) -> None:
        """Replace any worker that died on its own (none should: they wait out a server's absence)."""
        for slot, process in enumerate(self.processes):
            if process.poll() is not None:
                self.exited.append(f"worker{slot} exited with {process.returncode}")
                self.processes[slot] = self._spawn(slot)

    def stop(self) -> None:
        """Graceful stop (SIGTERM), so that no handler writes an effect while the test reads them."""
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> Workers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for process in self.processes:
            process.kill()
            process.wait()
        for slot in range(len(self.processes)):
            tail = "\n".join(self._log(slot).read_text(errors="replace").splitlines()[-40:])
            print(f"==== worker{slot} log ====\n{tail}")


@dataclass
class Submissions:
    """The runs the server acknowledged (name -> intent id); a submitter thread adds to it."""

    ids: dict[str, str] = field(default_factory=dict)
    replays: int = 0  # answers that replayed an earlier submission (its answer was lost in a crash)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def submit(http: httpx.Client, run: Run, submissions: Submissions, timeout: float = 60.0) -> None:
    """POST the run until the server acknowledges it, through crashes: the idempotency key makes a
    repeat after a lost answer return the same run."""
    path, body = run.request()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = http.post(path, json=body, headers={"Idempotency-Key": run.name})
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if response.status_code >= 500:
            time.sleep(0.2)
            continue
        answer = response.json()
        with submissions.lock:
            if response.status_code != 200:
                submissions.errors.append(f"{run.name}: {response.status_code} {response.text}")
            else:
                submissions.ids[run.name] = answer["intent_id"]
                submissions.replays += bool(answer.get("idempotent") or answer.get("idempotent_replay"))
        return
    with submissions.lock:
        submissions.errors.append(f"{run.name}: not acknowledged within {timeout}s")


def submit_paced(server: Server, runs: list[Run], submissions: Submissions) -> None:
    with server.client(timeout=10) as http:
        for run in runs:
            submit(http, run, submissions)
            time.sleep(SUBMIT_SECONDS / max(1, len(runs)))


@dataclass
class Chaos:
    kills: Counter[str] = field(default_factory=Counter)
    server_down: float = 0.0  # seconds, from each kill of the server until it answered again


def chaos(server: Server, workers: Workers, rng: random.Random) -> Chaos:
    """Kill the server, a worker, or both, every few seconds at random, starting each again."""
    done = Chaos()
    deadline = time.monotonic() + CHAOS_SECONDS
    first = ["server", "worker"]  # each kind of process dies at least once
    while (pause := rng.uniform(*KILL_EVERY)) < deadline - time.monotonic():
        time.sleep(pause)
        victim = first.pop(0) if first else rng.choices(["server", "worker", "both"], weights=[4, 4, 2])[0]
        killed = time.monotonic()
        if victim in ("server", "both"):
            server.kill()
            done.kills["server"] += 1
        workers.revive()
        if victim in ("worker", "both"):
            workers.kill(rng.randrange(len(workers.processes)))
            done.kills["worker"] += 1
        if not server.running:
            time.sleep(rng.uniform(0.0, 1.0))  # sometimes long enough for leases to lapse meanwhile
            server.start()
            done.server_down += time.monotonic() - killed
    return done


# --- after the chaos: what happened ----------------------------------------------------------------------


def settle(http: httpx.Client, run_ids: list[str]) -> set[str]:
    """Wait until every run and every intent in it has ended; the runs that have not after
    ``SETTLE_SECONDS``."""
    deadline = time.monotonic() + SETTLE_SECONDS
    open_runs = set(run_ids)
    while open_runs and time.monotonic() < deadline:
        time.sleep(0.5)
        open_runs = {i for i in open_runs if not _finished(http.get(f"/v1/intents/{i}/tree").json())}
    return open_runs


def _finished(tree: JSON) -> bool:
    terminal = ("COMPLETED", "FAILED", "CANCELED", "TIMED_OUT")
    return not tree["truncated"] and all(i["status"] in terminal for i in tree["intents"])


def read_rows(effects: Path, table: str) -> list[JSON]:
    db = chaos_agents.connect(effects)
    try:
        cursor = db.execute(f"SELECT * FROM {table} ORDER BY at")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        db.close()


def gather_outcome(
    http: httpx.Client, run: Run, run_id: str, effects: list[JSON], attempts: list[JSON]
) -> Outcome:
    tree = http.get(f"/v1/intents/{run_id}/tree").raise_for_status().json()["intents"]
    runs = [i for i in tree if i["intent_id"] == run_id or i["to_agent"].startswith(WORKFLOWS)]
    runs.sort(key=lambda i: _depth(tree, i), reverse=True)
    return Outcome(
        run=run,
        intent=http.get(f"/v1/intents/{run_id}").raise_for_status().json()["intent"],
        journals={
            i["intent_id"]: http.get(f"/v1/intents/{i['intent_id']}/journal")
            .raise_for_status()
            .json()["entries"]
            for i in runs
        },
        tree=tree,
        events=events_of(http, run_id),
        effects=[e for e in effects if e["run"] == run.name],
        attempts=[a for a in attempts if a["run"] == run.name],
    )


def _depth(tree: list[JSON], intent: JSON) -> int:
    parents = {i["intent_id"]: i.get("parent_intent_id") for i in tree}
    depth, parent = 0, intent.get("parent_intent_id")
    while parent is not None:
        depth, parent = depth + 1, parents.get(parent)
    return depth


@dataclass
class Aftermath:
    """Everything a chaotic session left, for the checks."""

    outcomes: list[Outcome]
    stuck: set[str]  # runs still open after SETTLE_SECONDS
    made: list[str]  # the ids of every run the server holds
    submissions: Submissions
    chaos: Chaos
    exited: list[str]  # workers that ended without being killed
    chaos_seconds: float
    settle_seconds: float

    def summary(self) -> str:
        attempts = [a for o in self.outcomes for a in o.attempts]
        slowest = max(self.outcomes, key=lambda o: o.seconds)
        return (
            f"{len(self.outcomes)} runs, kills {dict(self.chaos.kills)}, server down "
            f"{self.chaos.server_down:.1f}s, {self.submissions.replays} submissions replayed; chaos "
            f"{self.chaos_seconds:.1f}s, settled {self.settle_seconds:.1f}s later; {len(attempts)} handler "
            f"starts for {len({a['intent_id'] for a in attempts})} intents, {reruns_by_chaos(self.outcomes)} "
            f"of them caused by the crashes, {sum(len(o.effects) for o in self.outcomes)} effects; the "
            f"slowest run: {slowest.run.name}, {slowest.seconds:.1f}s"
        )


def run_under_chaos(server: Server, runs: list[Run], rng: random.Random, workdir: Path) -> Aftermath:
    """Submit the runs while killing the server and the workers, then let everything finish."""
    started = time.monotonic()
    effects = workdir / "effects.db"
    chaos_agents.create_schema(effects)
    submissions = Submissions()
    with Workers(server, workdir, effects).start(WORKERS) as workers, server.client() as http:
        for run in runs[:SUBMITTED_BEFORE_CHAOS]:
            submit(http, run, submissions)
        later = runs[SUBMITTED_BEFORE_CHAOS:]
        submitter = threading.Thread(target=submit_paced, args=(server, later, submissions))
        submitter.start()
        chaotic = chaos(server, workers, rng)
        chaos_ended = time.monotonic()
        workers.revive()
        submitter.join(60)
        assert not submissions.errors, submissions.errors
        stuck = settle(http, list(submissions.ids.values()))
        settled = time.monotonic()
        workers.stop()
        rows, attempts = read_rows(effects, "effects"), read_rows(effects, "attempts")
        outcomes = [gather_outcome(http, run, submissions.ids[run.name], rows, attempts) for run in runs]
        made = [i["intent_id"] for i in all_intents(http) if i["parent_intent_id"] is None]
    return Aftermath(
        outcomes,
        stuck,
        made,
        submissions,
        chaotic,
        workers.exited,
        chaos_ended - started,
        settled - chaos_ended,
    )


# --- the test --------------------------------------------------------------------------------------------


def test_workflows_end_right_with_each_effect_once_through_random_crashes(
    database_url: str, servers: Servers, tmp_path: Path
) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(2**32))
    print(f"chaos seed {seed} (CHAOS_SEED={seed} replays the schedule)")
    rng = random.Random(seed)
    after = run_under_chaos(servers.start(database_url), plan_runs(rng), rng, tmp_path)
    print(after.summary())
    late = [f"still open {SETTLE_SECONDS}s after the chaos"]
    failures: dict[str, list[str]] = {}
    for o in after.outcomes:
        if problems := (late if o.intent["intent_id"] in after.stuck else []) + check_outcome(o):
            print(describe(o, problems))
            failures[o.run.name] = problems
    assert not failures
    # Each submission made one run, whatever the crashes did to the answers.
    assert sorted(after.made) == sorted(after.submissions.ids.values())
    assert not after.exited  # a worker waits out the server's absence; it does not give up
    # The crashes hit running handlers (else this test proved nothing about them).
    assert after.chaos.kills["server"] >= 1 and after.chaos.kills["worker"] >= 1, after.chaos
    assert reruns_by_chaos(after.outcomes) >= 1
