"""``intentd scenarios validate|apply``: an AXP ScenarioBundle file (JSON or YAML) checked on a real
server, and files that cannot be read refused before anything is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.cli._run import as_json, intentd, remote, succeeded
from tests.e2e._server import TEST_KEY, Server, free_port

pytestmark = pytest.mark.slow
FIXTURE = Path(__file__).parent / "scenarios" / "draft_review.yaml"


def bundle(agents: str = "agent://cli/scenarios") -> dict[str, Any]:
    """The fixture's bundle, its agents at ``agents``/writer and ``agents``/reviewer."""
    body: dict[str, Any] = yaml.safe_load(FIXTURE.read_text())
    for agent in body["agents"]:
        agent["address"] = f"{agents}/{agent['role']}"
    return body


def write_json(path: Path, body: dict[str, Any]) -> Path:
    path.write_bytes(orjson.dumps(body))
    return path


# --- validate -------------------------------------------------------------------------------------


def test_a_yaml_file_and_the_same_bundle_as_json_are_valid(server: Server, tmp_path: Path) -> None:
    as_file = write_json(tmp_path / "bundle.json", bundle())

    for path in (FIXTURE, as_file):
        out = succeeded(remote(server, tmp_path, "scenarios", "validate", str(path)))
        assert out == "valid: cli.draft_review (2 steps)\n"
    answer = as_json(remote(server, tmp_path, "scenarios", "validate", str(FIXTURE), "--json"))
    assert answer == {"ok": True, "valid": True, "scenario_id": "cli.draft_review", "steps": 2}


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
