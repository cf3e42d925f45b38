"""``intentd scenarios validate|apply``: an AXP ScenarioBundle file (JSON or YAML) checked and started on
a real server, and a run followed with ``--watch`` while a real worker process does its steps."""

from __future__ import annotations

import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.cli._run import as_json, intentd, remote, succeeded
from tests.e2e._server import TEST_KEY, Server, child_environment, free_port, intentd_command

pytestmark = pytest.mark.slow
FIXTURE = Path(__file__).parent / "scenarios" / "draft_review.yaml"

AGENTS = textwrap.dedent("""
    import os

    from intentd.worker import FatalError, Worker

    worker = Worker(concurrency=2, claim_wait_seconds=1.0)
    AGENTS = os.environ["AGENTS"]

    @worker.agent(f"{AGENTS}/writer")
    def write(ctx, intent):
        return {"draft": "durable agents, in short"}

    @worker.agent(f"{AGENTS}/reviewer")
    def review(ctx, intent):
        if os.environ["VERDICT"] == "reject":
            raise FatalError("the draft is not good enough")
        return {"approved": True}
""")


def bundle(agents: str = "agent://cli/scenarios") -> dict[str, Any]:
    """The fixture's bundle, its agents at ``agents``/writer and ``agents``/reviewer."""
    body: dict[str, Any] = yaml.safe_load(FIXTURE.read_text())
    for agent in body["agents"]:
        agent["address"] = f"{agents}/{agent['role']}"
    return body


def write_json(path: Path, body: dict[str, Any]) -> Path:
    path.write_bytes(orjson.dumps(body))
    return path


def fresh_agents() -> str:
    """Addresses of this test's own: the server is shared by the module."""
    return f"agent://cli/s{uuid.uuid4().hex[:8]}"


# --- validate -------------------------------------------------------------------------------------


def test_a_yaml_file_and_the_same_bundle_as_json_are_valid(server: Server, tmp_path: Path) -> None:
    as_file = write_json(tmp_path / "bundle.json", bundle())

    for path in (FIXTURE, as_file):
        out = succeeded(remote(server, tmp_path, "scenarios", "validate", str(path)))
        assert out == "valid: cli.draft_review (2 steps)\n"
    answer = as_json(remote(server, tmp_path, "scenarios", "validate", str(FIXTURE), "--json"))
    assert (answer["valid"], answer["scenario_id"], answer["steps"]) == (True, "cli.draft_review", 2)


def test_every_problem_is_listed_with_its_path_and_code(server: Server, tmp_path: Path) -> None:
    body = bundle()
    body["workflow"]["steps"][0]["on_success"] = "revew"
    body["workflow"]["steps"][1]["assigned_to"] = "editor"
    path = write_json(tmp_path / "broken.json", body)

    result = remote(server, tmp_path, "scenarios", "validate", str(path))

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "the scenario has 3 problem(s):"
    assert [line.split(": ")[0].strip() for line in lines[1:]] == [
        "workflow.steps[0].on_success",
        "workflow.steps[1]",  # unreachable now that nothing leads to it
        "workflow.steps[1].assigned_to",
    ]
    assert lines[1].endswith("(unknown_step)") and lines[3].endswith("(unknown_assignee)")

    scripted = remote(server, tmp_path, "scenarios", "validate", str(path), "--json")
    assert scripted.returncode == 1
    problems = orjson.loads(scripted.stdout)["error"]["details"]["problems"]
    assert [p["code"] for p in problems] == ["unknown_step", "unreachable_step", "unknown_assignee"]


def test_a_malformed_field_is_listed_the_same_way(server: Server, tmp_path: Path) -> None:
    path = write_json(tmp_path / "bad-id.json", {**bundle(), "scenario_id": "Not Valid"})

    result = remote(server, tmp_path, "scenarios", "validate", str(path))

    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == "the scenario has 1 problem(s):"
    assert result.stderr.splitlines()[1].startswith("  scenario_id: String should match pattern")


BAD_FILES = [
    ("bad.json", '{\n  "scenario_id": "x",\n}\n', "bad.json, line 2: not valid JSON: trailing comma"),
    ("bad.yaml", "scenario_id: x\nagents: [\nintent: {}\n", "bad.yaml, line 4: not valid YAML"),
    ("list.yml", "- scenario_id: x\n", "list.yml: a ScenarioBundle is an object, not list"),
    ("empty.yaml", "", "empty.yaml: a ScenarioBundle is an object, not NoneType"),
    ("bundle.txt", "{}", "bundle.txt: a ScenarioBundle file ends in .json, .yaml or .yml"),
    ("binary.json", b"\xff\xfe{}", "cannot read "),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_a_file_that_cannot_be_read_is_refused_before_anything_is_sent(
    tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    nowhere = f"http://127.0.0.1:{free_port()}"  # a request would end "cannot reach the server"

    for command in ("validate", "apply"):
        result = intentd(tmp_path, "--url", nowhere, "--api-key", TEST_KEY, "scenarios", command, str(path))
        assert result.returncode == 2
        (line,) = result.stderr.splitlines()
        assert message in line and str(tmp_path) in line


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    result = intentd(tmp_path, "scenarios", "validate", "nowhere.yaml")

    assert result.returncode == 2
    assert result.stderr.strip() == "cannot read nowhere.yaml: No such file or directory"


# --- apply ----------------------------------------------------------------------------------------


@contextmanager
def worker(server: Server, workdir: Path, agents: str, verdict: str) -> Iterator[None]:
    """``intentd worker run`` serving the bundle's two agents; the reviewer accepts or rejects."""
    (workdir / "scenario_agents.py").write_text(AGENTS)
    env = child_environment(url=server.url, api_key=server.api_key)
    env.update({"AGENTS": agents, "VERDICT": verdict})
    with (workdir / "worker.log").open("ab") as log:
        process = subprocess.Popen(
            intentd_command("worker", "run", "scenario_agents:worker"),
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        process.kill()
        process.wait(10)
        print((workdir / "worker.log").read_text())  # shown when the test fails


def watching(server: Server, workdir: Path, path: Path) -> subprocess.Popen[str]:
    """``intentd scenarios apply FILE --watch`` with its output in a pipe (not a terminal: lines)."""
    return subprocess.Popen(
        intentd_command(
            "--url", server.url, "--api-key", TEST_KEY, "scenarios", "apply", str(path), "--watch"
        ),
        cwd=workdir,
        env=child_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_apply_prints_the_run_it_started(server: Server, tmp_path: Path) -> None:
    agents = fresh_agents()
    path = write_json(tmp_path / "bundle.json", bundle(agents))

    out = succeeded(remote(server, tmp_path, "scenarios", "apply", str(path)))

    run_id = out.split()[1]
    assert out == f"run {run_id} WAITING, pending with {agents}/writer\n"
    with server.client() as http:
        run = http.get(f"/v1/intents/{run_id}").raise_for_status().json()["intent"]
    assert (run["intent_type"], run["status"]) == ("intent.cli.draft_review.v1", "WAITING")


def test_applying_again_with_the_same_key_returns_the_first_run(server: Server, tmp_path: Path) -> None:
    path = write_json(tmp_path / "bundle.json", bundle(fresh_agents()))
    args = ("scenarios", "apply", str(path), "--idempotency-key", f"cli-{uuid.uuid4()}", "--json")

    first = as_json(remote(server, tmp_path, *args))
    again = as_json(remote(server, tmp_path, *args))

    assert (again["intent_id"], again["idempotent"]) == (first["intent_id"], True)


def test_apply_refuses_an_invalid_bundle_with_its_problems(server: Server, tmp_path: Path) -> None:
    agents = fresh_agents()
    body = bundle(agents)
    body["workflow"]["steps"][0]["on_success"] = "revew"
    path = write_json(tmp_path / "broken.json", body)

    result = remote(server, tmp_path, "scenarios", "apply", str(path), "--watch")

    assert result.returncode == 1
    assert "  workflow.steps[0].on_success: " in result.stderr and "(unknown_step)" in result.stderr
    with server.client() as http:  # no run began: its first step would be with the writer
        assert http.get("/v1/intents", params={"to_agent": f"{agents}/writer"}).json()["intents"] == []


def test_watch_follows_each_step_until_the_run_completes(server: Server, tmp_path: Path) -> None:
    agents = fresh_agents()
    watch = watching(server, tmp_path, write_json(tmp_path / "bundle.json", bundle(agents)))
    try:
        assert watch.stdout is not None
        assert watch.stdout.readline().startswith("run ")
        # No worker yet: the first step is with the writer until one starts.
        assert watch.stdout.readline() == f"step draft RUNNING attempt 1 with {agents}/writer\n"
        with worker(server, tmp_path, agents, verdict="accept"):
            out, err = watch.communicate(timeout=60)
    finally:
        watch.kill()

    assert watch.returncode == 0, out + err
    lines = out.splitlines()
    ended = [line.split()[:5] for line in lines[:-1] if " RUNNING " not in line]
    assert ended == [
        ["step", "draft", "COMPLETED", "attempt", "1"],
        ["step", "review", "COMPLETED", "attempt", "1"],
    ]
    assert lines[-1].startswith("run ") and ' COMPLETED: {"output":{"approved":true},' in lines[-1]


def test_watch_of_a_failing_run_names_the_step_and_exits_1(server: Server, tmp_path: Path) -> None:
    agents = fresh_agents()
    path = write_json(tmp_path / "bundle.json", bundle(agents))

    with worker(server, tmp_path, agents, verdict="reject"):
        result = remote(server, tmp_path, "scenarios", "apply", str(path), "--watch")

    assert result.returncode == 1, result.stdout + result.stderr
    steps = [line.split()[1] for line in result.stdout.splitlines()[1:]]
    assert set(steps) == {"draft", "review"}  # the engine's own entries are not steps
    assert f"step review FAILED attempt 1 with {agents}/reviewer" in result.stdout
    (line,) = result.stderr.splitlines()
    assert " FAILED at step review: " in line and "the draft is not good enough" in line
