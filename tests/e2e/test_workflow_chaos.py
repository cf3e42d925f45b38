"""Workflows under chaos: many runs while the server and the workers are SIGKILLed at random moments
and started again; afterwards every run has ended as its payload said it would, every completed step's
side effect happened exactly once, and so did every compensation, newest step first.

Runs are declared workflows (``POST /v1/scenarios/apply``: chains, retries, parallel steps with
joins, compensation, ``on_failure`` to ``fail`` or to another step) and code-first runs of a
supervisor agent (``ctx.spawn``/``ctx.gather``/``ctx.step`` with compensations). The agents are
``tests/e2e/chaos_agents.py`` in worker processes with 2-second leases; they record each side effect
under its idempotency key in a SQLite file, and each handler start in an append-only log.

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
from typing import Any

import httpx
import orjson
import pytest

from tests._support.http_api import all_intents, events_of, parse_rfc3339
from tests._support.servers import Server, Servers, child_environment, intentd_command
from tests.e2e import chaos_agents
from tests.e2e.chaos_agents import DO, DOER, MAX_DELIVERY_ATTEMPTS, SUPERVISOR, UNDO, UNDOER

pytestmark = pytest.mark.slow
JSON = dict[str, Any]
ROOT = Path(__file__).resolve().parents[2]  # `intentd worker run tests.e2e.chaos_agents:worker` from here
RUNS_PER_TEMPLATE = 5
SUBMITTED_BEFORE_CHAOS = 10  # the rest are submitted during the chaos, through the crashes
CHAOS_SECONDS = 25.0
SUBMIT_SECONDS = 20.0  # the runs submitted during the chaos are spread over its first seconds
KILL_EVERY = (1.0, 4.0)  # seconds between kills, at random
SETTLE_SECONDS = 45.0  # everything up: every run must have ended within this (it takes 5-20 s)
WORKERS = 2
WORKFLOWS = "agent://intentd/workflows/chaos."  # the address of a declared run, before its scenario


# --- what each run does and how it must end ----------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A kind of run: its steps (a declared workflow) or none (a code-first run of the supervisor),
    what its agents are told to do (``order``), and what must follow."""

    name: str
    steps: list[JSON] | None
    order: JSON
    status: str
    done: frozenset[str]  # steps whose side effect must happen (once)
    maybe: frozenset[str] = frozenset()  # may complete or be canceled: a branch running when its join failed
    failed_step: str | None = None
    compensates: bool = False  # the failure undoes the completed steps

    @property
    def supervised(self) -> bool:
        return self.steps is None

    @property
    def agent_steps(self) -> set[str]:
        """The ids of the steps an agent does (with a side effect), in branches and subflows too."""
        if self.steps is None:
            return set(self.order["children"]) | set(self.order["steps"])
        return _agent_steps(self.steps)


def _agent_steps(steps: list[JSON]) -> set[str]:
    found: set[str] = set()
    for step in steps:
        if "branches" in step:
            found |= _agent_steps(step["branches"])
        elif "workflow" in step:
            found |= _agent_steps(step["workflow"]["steps"])
        else:
            found.add(step["step_id"])
    return found


def agent_step(
    step_id: str, then: str | None = None, *, retries: int = 0, on_failure: str | None = None
) -> JSON:
    step: JSON = {
        "step_id": step_id,
        "assigned_to": "doer",
        "compensate": {
            "assigned_to": "undoer",
            "retry": {"max_retries": 2, "retry_delay_seconds": 0.2, "jitter": 0.5},
        },
        "retry": {"max_retries": retries, "retry_delay_seconds": 0.2, "jitter": 0.5},
        "on_success": then,
        "on_failure": on_failure,
    }
    return {k: v for k, v in step.items() if v is not None}


def parallel(step_id: str, branches: list[JSON], then: str) -> JSON:
    return {"step_id": step_id, "kind": "parallel", "branches": branches, "on_success": then}


def subflow(step_id: str, steps: list[JSON], then: str) -> JSON:
    return {"step_id": step_id, "workflow": {"steps": steps}, "on_success": then}


def _set(*steps: str) -> frozenset[str]:
    return frozenset(steps)


TEMPLATES = [
    Template(
        "chain",
        [agent_step("a", "b"), agent_step("b", "c"), agent_step("c")],
        {"flaky": ["c"]},
        "COMPLETED",
        _set("a", "b", "c"),
    ),
    Template(
        "retry",
        [agent_step("a", "b"), agent_step("b", "c", retries=2), agent_step("c")],
        {"fail_once": ["b"], "flaky": ["c"]},
        "COMPLETED",
        _set("a", "b", "c"),
    ),
    Template(
        "saga",
        [agent_step("a", "b"), agent_step("b", "c"), agent_step("c", retries=1)],
        {"fail": ["c"], "flaky_undo": ["a"], "fail_once_undo": ["b"]},
        "FAILED",
        _set("a", "b"),
        failed_step="c",
        compensates=True,
    ),
    Template(
        "fanout",
        [
            agent_step("a", "p"),
            parallel("p", [agent_step("x"), agent_step("y", retries=2), agent_step("z")], "d"),
            agent_step("d"),
        ],
        {"fail_once": ["y"], "flaky": ["x"]},
        "COMPLETED",
        _set("a", "x", "y", "z", "d"),
    ),
    Template(
        "fanout_saga",
        [agent_step("a", "p"), parallel("p", [agent_step("x"), agent_step("y")], "d"), agent_step("d")],
        {"fail": ["d"], "flaky_undo": ["x"], "fail_once_undo": ["y"]},
        "FAILED",
        _set("a", "x", "y"),
        failed_step="d",
        compensates=True,
    ),
    Template(
        "join_fails",
        [
            agent_step("a", "p"),
            parallel("p", [agent_step("x"), agent_step("y", retries=1)], "d"),
            agent_step("d"),
        ],
        {"fail": ["y"]},
        "FAILED",
        _set("a"),
        maybe=_set("x"),
        failed_step="p",
        compensates=True,
    ),
    Template(
        "no_undo",
        [agent_step("a", "b"), agent_step("b", on_failure="fail")],
        {"fail": ["b"]},
        "FAILED",
        _set("a"),
        failed_step="b",
    ),
    Template(
        "detour",
        [agent_step("a", "b"), agent_step("b", on_failure="fallback"), agent_step("fallback")],
        {"fail": ["b"]},
        "COMPLETED",
        _set("a", "fallback"),
    ),
    Template(
        "nested",
        [
            agent_step("a", "sub"),
            subflow("sub", [agent_step("s1", "s2"), agent_step("s2")], "b"),
            agent_step("b"),
        ],
        {"flaky": ["s2"]},
        "COMPLETED",
        _set("a", "s1", "s2", "b"),
    ),
    Template(
        "nested_saga",
        [
            agent_step("a", "sub"),
            subflow("sub", [agent_step("s1", "s2"), agent_step("s2")], "b"),
            agent_step("b"),
        ],
        {"fail": ["s2"], "flaky_undo": ["s1"], "fail_once_undo": ["a"]},
        "FAILED",
        _set("a", "s1"),
        failed_step="sub",
        compensates=True,  # the subflow's steps (s1) in the subflow, then the run's (a)
    ),
    Template(
        "supervised",
        None,
        {"children": ["k1", "k2"], "steps": ["reserve", "charge"]},
        "COMPLETED",
        _set("k1", "k2", "reserve", "charge"),
    ),
    Template(
        "supervised_saga",
        None,
        {"children": ["k1", "k2"], "steps": ["reserve", "charge"], "decline": True},
        "FAILED",
        _set("k1", "k2", "reserve", "charge"),
        compensates=True,
    ),
]
SUPERVISED_UNDO_ORDER = ["charge", "reserve"]  # ctx.step compensations: the last registered first


@dataclass(frozen=True)
class Run:
    name: str  # also the run's idempotency key and its agents' ``order["run"]``
    template: Template

    @property
    def order(self) -> JSON:
        return {**self.template.order, "run": self.name}

    def request(self) -> tuple[str, JSON]:
        """Where to POST the run, and the body."""
        if self.template.supervised:
            body = {
                "intent_type": "intent.chaos.order.v1",
                "correlation_id": self.name,
                "to_agent": SUPERVISOR,
                "payload": self.order,
                "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
            }
            return "/v1/intents", body
        bundle = {
            "scenario_id": f"chaos.{self.template.name}",
            "agents": [{"role": "doer", "address": DOER}, {"role": "undoer", "address": UNDOER}],
            "workflow": {"steps": self.template.steps},
            "intent": {
                "type": "intent.chaos.step.v1",
                "payload": self.order,
                "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
            },
        }
        return "/v1/scenarios/apply", bundle


def plan_runs(rng: random.Random) -> list[Run]:
    runs = [Run(f"{t.name}-{n}", t) for t in TEMPLATES for n in range(RUNS_PER_TEMPLATE)]
    rng.shuffle(runs)
    return runs


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


@dataclass
class Outcome:
    """What the server and the agents say about one run."""

    run: Run
    intent: JSON
    journals: dict[str, list[JSON]]  # of each run in the tree (a subflow is one), innermost first
    tree: list[JSON]
    events: list[JSON]
    effects: list[JSON]  # this run's rows of the effects table, in the order they were recorded
    attempts: list[JSON]

    @property
    def seconds(self) -> float:
        """From the submission to the end of the run."""
        return parse_rfc3339(self.intent["updated_at"]) - parse_rfc3339(self.intent["created_at"])

    @property
    def journal(self) -> list[JSON]:
        """The journal of the run itself."""
        return self.journals[self.intent["intent_id"]]

    def effect_counts(self, kind: str) -> Counter[str]:
        return Counter(e["step"] for e in self.effects if e["kind"] == kind)

    def child(self, intent_id: str | None) -> JSON | None:
        return next((i for i in self.tree if i["intent_id"] == intent_id), None)


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


# --- the checks ------------------------------------------------------------------------------------------


def check_outcome(o: Outcome) -> list[str]:
    """Every way ``o`` differs from what its template says must happen."""
    t = o.run.template
    status, error = o.intent["status"], o.intent.get("error") or {}
    if status != t.status:
        return [f"ended {status} ({error}), expected {t.status}"]
    problems = check_effects(o)
    problems += check_supervised(o) if t.supervised else check_declared(o)
    return problems


def completed_steps(o: Outcome) -> set[str]:
    """The steps with a side effect that completed, as the runtime says (in every run of the tree)."""
    steps = o.run.template.agent_steps
    return {
        e["key"] for j in o.journals.values() for e in j if e["status"] == "COMPLETED" and e["key"] in steps
    }


def undo_order(o: Outcome) -> list[str]:
    """The compensations that must have run, in the order they must have run: in each failed run
    (a subflow before the run around it), its completed steps, newest first."""
    if not o.run.template.compensates:
        return []
    if o.run.template.supervised:
        return SUPERVISED_UNDO_ORDER
    failed = {i["intent_id"] for i in o.tree if i["status"] == "FAILED"}
    return [
        step
        for run_id, journal in o.journals.items()
        if run_id in failed
        for step in journal_undo_order(o, journal)
    ]


def journal_undo_order(o: Outcome, journal: list[JSON]) -> list[str]:
    """One declared run's compensations: its completed steps, by when their entries ended, newest first."""
    if not o.run.template.compensates:
        return []
    steps = o.run.template.agent_steps
    ended = [
        (parse_rfc3339(e["ended_at"]), i, e["key"])
        for i, e in enumerate(journal)
        if e["status"] == "COMPLETED" and e["key"] in steps
    ]
    return [key for _, _, key in sorted(ended, reverse=True)]


def check_effects(o: Outcome) -> list[str]:
    """Each completed step's effect exactly once, none for a step that did not complete; each due
    compensation exactly once, in order, and no other."""
    t, problems = o.run.template, []
    done = completed_steps(o)
    if not t.done <= done <= t.done | t.maybe:
        problems.append(
            f"completed steps {sorted(done)}, expected {sorted(t.done)} (+ maybe {sorted(t.maybe)})"
        )
    for step, count in o.effect_counts(DO).items():
        if count > 1:
            problems.append(f"the effect of step {step} was recorded {count} times")
        if step not in done and step not in t.maybe:
            problems.append(f"step {step} has an effect but did not complete")
    problems += [f"step {s} completed without its effect" for s in done if o.effect_counts(DO)[s] != 1]
    recorded = {e["intent_id"] for e in o.effects}
    for child in o.tree:
        agent = child["to_agent"] in (DOER, UNDOER)
        if agent and child["status"] == "COMPLETED" and child["intent_id"] not in recorded:
            problems.append(f"intent {child['intent_id']} ({child['step_key']}) completed without its effect")
    expected = undo_order(o)
    undone = [e["step"] for e in o.effects if e["kind"] == UNDO]
    if undone != expected:
        problems.append(f"compensations recorded {undone}, expected exactly {expected} in this order")
    return problems


def check_declared(o: Outcome) -> list[str]:
    """The run's error or result, and each journal against its steps' intents."""
    t, problems = o.run.template, []
    for run_id, journal in o.journals.items():
        problems += check_journal(o, journal, o.child(run_id))
    if t.status == "FAILED":
        error = o.intent["error"]
        want = {
            "code": "step_failed",
            "step_id": t.failed_step,
            "compensated": journal_undo_order(o, o.journal),
        }
        got = {k: error.get(k) for k in want}
        if got != want:
            problems.append(f"error {got}, expected {want}")
    else:
        steps = set(o.intent["result"]["steps"])
        completed = {e["key"] for e in o.journal if e["status"] == "COMPLETED" and ":" not in e["key"]}
        if steps != completed:
            problems.append(f"the result lists steps {sorted(steps)}, the journal {sorted(completed)}")
    return problems


def check_journal(o: Outcome, journal: list[JSON], run: JSON | None) -> list[str]:
    """Entries agree with their intents; the compensations are the completed steps, newest first."""
    problems = []
    for entry in journal:
        child = o.child(entry.get("child_intent_id"))
        if child is not None and (entry["status"] == "COMPLETED") != (child["status"] == "COMPLETED"):
            problems.append(
                f"journal entry {entry['key']} is {entry['status']}, its intent {child['status']}"
            )
    undone = [e["key"].removeprefix("compensate:") for e in journal if e["key"].startswith("compensate:")]
    expected = journal_undo_order(o, journal) if run is not None and run["status"] == "FAILED" else []
    if undone != expected:
        problems.append(f"run {run and run['intent_id']} compensated {undone}, expected {expected}")
    return problems


def check_supervised(o: Outcome) -> list[str]:
    t, problems = o.run.template, []
    keys = [e["key"] for e in o.journal]
    if len(keys) != len(set(keys)):
        problems.append(f"journal keys repeat: {keys}")
    children = [i for i in o.tree if i.get("parent_intent_id") == o.intent["intent_id"]]
    if sorted(c["step_key"] for c in children) != sorted(t.order["children"]):
        problems.append(f"children {[c['step_key'] for c in children]}, expected {t.order['children']}")
    if t.status == "FAILED":
        details = (o.intent["error"] or {}).get("details") or {}
        if details.get("compensated") != SUPERVISED_UNDO_ORDER:
            problems.append(f"error details {details}, expected compensated {SUPERVISED_UNDO_ORDER}")
        journaled = [k.removeprefix("compensate:") for k in keys if k.startswith("compensate:")]
        if journaled != SUPERVISED_UNDO_ORDER:
            problems.append(f"the journal compensated {journaled}, expected {SUPERVISED_UNDO_ORDER}")
    return problems


def reruns_by_chaos(outcomes: list[Outcome]) -> int:
    """How many handler starts the crashes caused: starts beyond what the runs asked for (a flaky
    step's second delivery, a supervisor's run after its children)."""
    reruns = 0
    for o in outcomes:
        order = o.run.template.order
        asked = {(DO, s) for s in order.get("flaky", ())} | {(UNDO, s) for s in order.get("flaky_undo", ())}
        starts = Counter((a["intent_id"], a["kind"], a["step"]) for a in o.attempts)
        for (_, kind, step), count in starts.items():
            planned = 2 if (kind, step) in asked or step == "$supervisor" else 1
            reruns += max(0, count - planned)
    return reruns


def describe(o: Outcome, problems: list[str]) -> str:
    """Everything about a run that went wrong, for the failure report."""

    def dump(value: Any) -> str:
        return orjson.dumps(value).decode()[:600]

    lines = [
        f"---- {o.run.name} ({o.intent['intent_id']}): {o.intent['status']}",
        *[f"  ! {p}" for p in problems],
    ]
    lines.append(f"  error {dump(o.intent.get('error'))} result {dump(o.intent.get('result'))}")
    lines += [f"  journal of {run_id}: {dump(e)}" for run_id, journal in o.journals.items() for e in journal]
    lines += [
        f"  intent {i['intent_id']} {i.get('step_key')} {i['to_agent']} {i['status']}"
        f" attempt {i['delivery_attempt']}"
        for i in o.tree
    ]
    lines += [f"  event {e['seq']} {e['event_type']} {dump(e.get('details'))[:200]}" for e in o.events]
    lines += [f"  effect {dump(e)}" for e in o.effects]
    lines += [f"  attempt {dump(a)}" for a in o.attempts]
    return "\n".join(lines)


# --- the test --------------------------------------------------------------------------------------------


def test_workflows_end_right_with_each_effect_once_through_random_crashes(
    database_url: str, servers: Servers, tmp_path: Path
) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(2**32))
    print(f"chaos seed {seed} (CHAOS_SEED={seed} replays the schedule)")
    rng = random.Random(seed)
    runs = plan_runs(rng)
    effects = tmp_path / "effects.db"
    chaos_agents.create_schema(effects)
    started = time.monotonic()
    server = servers.start(database_url)
    submissions = Submissions()
    with Workers(server, tmp_path, effects).start(WORKERS) as workers, server.client() as http:
        for run in runs[:SUBMITTED_BEFORE_CHAOS]:
            submit(http, run, submissions)
        submitter = threading.Thread(
            target=submit_paced, args=(server, runs[SUBMITTED_BEFORE_CHAOS:], submissions)
        )
        submitter.start()
        chaotic = chaos(server, workers, rng)
        chaos_ended = time.monotonic()
        workers.revive()
        submitter.join(60)
        assert not submissions.errors, submissions.errors
        run_ids = list(submissions.ids.values())
        stuck = settle(http, run_ids)
        settled = time.monotonic()
        workers.stop()
        rows, attempts = read_rows(effects, "effects"), read_rows(effects, "attempts")
        outcomes = [gather_outcome(http, run, submissions.ids[run.name], rows, attempts) for run in runs]
        intents = all_intents(http)
    print(
        f"{len(runs)} runs, kills {dict(chaotic.kills)}, server down {chaotic.server_down:.1f}s, "
        f"{submissions.replays} submissions replayed; chaos {chaos_ended - started:.1f}s, "
        f"settled {settled - chaos_ended:.1f}s later; "
        f"{len(attempts)} handler starts for {len({a['intent_id'] for a in attempts})} intents, "
        f"{reruns_by_chaos(outcomes)} of them caused by the crashes, {len(rows)} effects"
    )
    slowest = max(outcomes, key=lambda o: o.seconds)
    print(f"the slowest run: {slowest.run.name}, {slowest.seconds:.1f}s")
    late = [f"still open {SETTLE_SECONDS}s after the chaos"]
    failures: dict[str, list[str]] = {}
    for o in outcomes:
        if problems := (late if o.intent["intent_id"] in stuck else []) + check_outcome(o):
            print(describe(o, problems))
            failures[o.run.name] = problems
    assert not failures
    # Each submission made one run, whatever the crashes did to the answers.
    made = [i["intent_id"] for i in intents if i["parent_intent_id"] is None]
    assert sorted(made) == sorted(submissions.ids.values())
    assert not workers.exited  # a worker waits out the server's absence; it does not give up
    # The crashes hit running handlers (else this test proved nothing about them).
    assert chaotic.kills["server"] >= 1 and chaotic.kills["worker"] >= 1, chaotic
    assert reruns_by_chaos(outcomes) >= 1
