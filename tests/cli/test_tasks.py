"""``intentd tasks``: reading a task's form (what a prompt or ``--data`` text stands for), then the
commands against a real ``intentd serve`` on both backends: list, show, approve, reject, submit with
``--data``, a form the server refuses printed with its field, and the prompts of ``submit`` on a
terminal, driven through a pseudo-terminal.

The terminal is the standard library's ``pty``: it is all the test needs (a terminal on both ends, read
until a prompt shows), where pexpect would be a dependency for the same few lines."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson
import pytest
import typer

from intentd.cli._forms import SKIPPED, FormField, form_fields, missing_fields, typed
from intentd.cli.tasks import _data_object, _pairs
from tests._support import databases
from tests._support.servers import module_server
from tests.cli._run import as_json, intentd, remote, succeeded
from tests.e2e._server import TEST_KEY, Server, child_environment, intent_body, intentd_command

FORM = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "minimum": 1, "title": "amount in EUR"},
        "priority": {"enum": ["low", "normal", "high"]},
        "urgent": {"type": "boolean"},
    },
    "required": ["amount", "priority"],
}


# --- a task's form, read without a server -------------------------------------------------------------


def test_a_form_is_read_in_the_schema_order_with_its_types_choices_and_required_fields() -> None:
    amount, priority, urgent = form_fields(FORM)
    assert (amount.name, amount.kind, amount.required, amount.description) == (
        "amount",
        "integer",
        True,
        "amount in EUR",
    )
    assert (priority.kind, priority.choices, priority.required) == ("string", ("low", "normal", "high"), True)
    assert (urgent.kind, urgent.required) == ("boolean", False)
    assert [amount.hint(), priority.hint(), urgent.hint()] == ["integer", "low/normal/high", "y/n, optional"]


@pytest.mark.parametrize("schema", [None, {}, {"type": "object"}, {"properties": []}, "form"])
def test_a_schema_without_properties_has_no_fields(schema: Any) -> None:
    assert form_fields(schema) == []


def test_types_a_schema_declares_as_lists_or_not_at_all_are_read() -> None:
    fields = form_fields(
        {
            "properties": {
                "ratio": {"type": ["null", "number"]},
                "tags": {"type": "array"},
                "note": {},
                "level": {"enum": [1, 2, 3]},
            }
        }
    )
    assert [(f.name, f.kind) for f in fields] == [
        ("ratio", "number"),
        ("tags", "json"),
        ("note", "string"),
        ("level", "string"),
    ]
    ratio, tags, note, level = fields
    assert (ratio.parse("2.5"), ratio.parse("3"), tags.parse('["a"]'), note.parse("7")) == (
        2.5,
        3,
        ["a"],
        "7",
    )
    assert level.parse("2") == 2  # the choice itself, an integer, not its text


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        (FormField("n", "integer"), " 42", 42),
        (FormField("x", "number"), "-0.5", -0.5),
        (FormField("ok", "boolean"), "Y", True),
        (FormField("ok", "boolean"), "no", False),
        (FormField("ok", "boolean"), "false", False),
        (FormField("s", "string"), "  kept as typed ", "  kept as typed "),
        (FormField("p", "string", ("low", "high")), "high", "high"),
        (FormField("opt", "integer"), "", SKIPPED),
    ],
)
def test_text_is_read_as_its_field_type(field: FormField, text: str, value: Any) -> None:
    parsed = field.parse(text)
    assert parsed is value if value is SKIPPED else parsed == value


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        (FormField("n", "integer", required=True), "1.5", "n: '1.5' is not an integer"),
        (FormField("n", "integer", required=True), "", "n is required"),
        (FormField("x", "number"), "nan", "x: 'nan' is not a number"),
        (FormField("x", "number"), "inf", "x: 'inf' is not a number"),
        (FormField("ok", "boolean"), "maybe", "ok: 'maybe' is not yes or no"),
        (FormField("p", "string", ("low", "high")), "urgent", "p: 'urgent' is not one of low, high"),
        (FormField("j", "json"), "{", "j: '{' is not JSON"),
    ],
)
def test_text_that_is_no_value_of_its_field_says_why(field: FormField, text: str, message: str) -> None:
    with pytest.raises(click.BadParameter) as refused:
        field.parse(text)
    assert refused.value.message == message


def test_data_given_as_text_is_typed_by_the_form_and_the_rest_is_kept_as_given() -> None:
    fields = form_fields(FORM)
    data = typed(fields, {"amount": "120", "urgent": "yes", "note": "by phone", "priority": "low"})
    assert data == {"amount": 120, "urgent": True, "note": "by phone", "priority": "low"}
    assert typed(fields, {"urgent": ""}) == {}  # an optional field given empty: left out
    assert [f.name for f in missing_fields(fields, {"amount": 1})] == ["priority", "urgent"]
    with pytest.raises(typer.BadParameter, match="amount: 'lots' is not an integer"):
        typed(fields, {"amount": "lots"})


def test_data_options_are_checked_before_anything_is_sent() -> None:
    assert _pairs(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    assert _data_object('{"n": 1}') == {"n": 1}
    assert _data_object(None) == {}
    for bad in (["novalue"], ["=1"]):
        with pytest.raises(typer.BadParameter, match="name=value"):
            _pairs(bad)
    with pytest.raises(typer.BadParameter, match="not JSON"):
        _data_object("{")
    with pytest.raises(typer.BadParameter, match="JSON object, not list"):
        _data_object("[1]")


# --- the commands against a real server, both backends ----------------------------------------------

WIDE = 250  # columns: a table's cells are not folded


@pytest.fixture(scope="module", params=databases.BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One ``intentd serve`` per backend for the module; each test asks questions of its own."""
    workdir: Path = tmp_path_factory.mktemp("cli-tasks")
    with module_server(request, workdir) as server:
        yield server


def asked(server: Server, **spec: Any) -> str:
    """An agent claims an intent and asks a person ``spec`` (what ``ctx.ask_human`` sends); the task's id."""
    agent = f"agent://acme/cli/a{uuid.uuid4().hex[:10]}"
    with server.client() as http:
        http.post("/v1/intents", json=intent_body(agent)).raise_for_status()
        claimed = http.post(f"/v1/agents/{agent[8:]}/claims", json={"worker_id": "w"}).raise_for_status()
        [delivery] = claimed.json()["deliveries"]
        intent_id = delivery["intent"]["intent_id"]
        body = {"lease_token": delivery["lease"]["token"], "reason": "WAITING_FOR_HUMAN", "key": "q"}
        http.post(f"/v1/intents/{intent_id}/wait", json={**body, "human_task": spec}).raise_for_status()
        [task] = http.get("/v1/tasks", params={"intent_id": intent_id}).json()["tasks"]
    task_id: str = task["task_id"]
    return task_id


def task_of(server: Server, task_id: str) -> dict[str, Any]:
    with server.client() as http:
        task: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").raise_for_status().json()["task"]
    return task


def approver(server: Server, cwd: Path, name: str, *roles: str) -> str:
    """The key of a person who decides tasks (``intentd keys create --role approver``)."""
    flags = [arg for role in roles for arg in ("--task-role", role)]
    made = as_json(
        intentd(
            cwd,
            "--database",
            str(server.database_url),
            "keys",
            "create",
            "--name",
            name,
            "--role",
            "approver",
            *flags,
            "--json",
        )  # fmt: skip
    )
    key: str = made["api_key"]
    return key


def ids(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [task["task_id"] for task in as_json(result)["tasks"]]


@pytest.mark.slow
def test_list_shows_your_tasks_and_show_approve_decide_one(served: Server, tmp_path: Path) -> None:
    name = f"alice-{uuid.uuid4().hex[:6]}@acme.test"  # a person of this test: the server is shared
    alice = approver(served, tmp_path, name, "finance")
    mine = asked(served, title="Pay invoice [7]", assignees=["role:finance"], description="due Friday")
    other = asked(served, title="Hire a clown", assignees=["bob@acme.test"])

    assert mine in ids(remote(served, tmp_path, "tasks", "list", "--json", api_key=alice))
    assert other not in ids(remote(served, tmp_path, "tasks", "list", "--json", api_key=alice))
    assert {mine, other} <= set(ids(remote(served, tmp_path, "tasks", "list", "--all", "--json")))
    listed = succeeded(
        intentd(tmp_path, "--url", served.url, "--api-key", alice, "tasks", "list", columns=WIDE)
    )
    assert mine in listed and "Pay invoice [7]" in listed and "role:finance" in listed
    shown = succeeded(
        intentd(tmp_path, "--url", served.url, "--api-key", TEST_KEY, "tasks", "show", mine, columns=WIDE)
    )
    assert all(text in shown for text in ("Pay invoice [7]", "due Friday", "approved, rejected", "open"))
    assert as_json(remote(served, tmp_path, "tasks", "show", mine, "--json"))["task_id"] == mine

    approved = succeeded(
        remote(served, tmp_path, "tasks", "approve", mine, "--comment", "paid", api_key=alice)
    )
    refused = remote(served, tmp_path, "tasks", "reject", other, api_key=alice)

    assert approved.strip().startswith(f"{mine} approved: intent ") and "SUBMITTED" in approved
    decision = task_of(served, mine)["decision"]
    assert (decision["outcome"], decision["comment"], decision["decided_by"]) == ("approved", "paid", name)
    assert mine in ids(
        remote(served, tmp_path, "tasks", "list", "--state", "decided", "--json", api_key=alice)
    )
    assert refused.returncode == 1 and refused.stderr.startswith("403 not_assignee: ")
    again = remote(served, tmp_path, "tasks", "approve", mine)
    assert again.returncode == 1 and again.stderr.startswith("409 task_closed: ")
    rejected = succeeded(remote(served, tmp_path, "tasks", "reject", other, "--comment", "no budget"))
    assert rejected.strip().startswith(f"{other} rejected: intent ")


FORM_TASK = {"title": "Refund", "task_type": "form", "form_schema": FORM, "required_comment": True}


@pytest.mark.slow
def test_submit_sends_data_typed_by_the_form(served: Server, tmp_path: Path) -> None:
    task_id = asked(served, **FORM_TASK)
    submitted = succeeded(
        remote(
            served,
            tmp_path,
            "tasks",
            "submit",
            task_id,
            "--outcome",
            "submitted",
            "--comment",
            "by phone",
            "--data",
            "amount=120",
            "--data",
            "urgent=no",
            "--data-json",
            '{"priority": "low", "ticket": 7}',
        )  # fmt: skip
    )
    assert submitted.strip().startswith(f"{task_id} submitted: intent ")
    decision = task_of(served, task_id)["decision"]
    assert decision["data"] == {"amount": 120, "urgent": False, "priority": "low", "ticket": 7}
    assert decision["comment"] == "by phone"
    shown = succeeded(
        intentd(tmp_path, "--url", served.url, "--api-key", TEST_KEY, "tasks", "show", task_id, columns=WIDE)
    )
    assert "low/normal/high" in shown and "by phone" in shown and '"ticket":7' in shown  # form, decision


@pytest.mark.slow
def test_a_refused_answer_is_printed_with_its_field(served: Server, tmp_path: Path) -> None:
    task_id = asked(served, **FORM_TASK)
    submit = ("tasks", "submit", task_id, "--outcome", "submitted", "--comment", "x")

    wrong = ("--data", "amount=0", "--data", "priority=low", "--data-json", '{"urgent": "maybe"}')
    refused = remote(served, tmp_path, *submit, *wrong)
    as_data = remote(served, tmp_path, *submit, *wrong, "--json")
    unreadable = remote(served, tmp_path, *submit, "--data", "amount=lots")
    no_outcome = remote(served, tmp_path, "tasks", "submit", task_id, "--outcome", "maybe")

    assert refused.returncode == 1 and refused.stdout == ""
    first, *problems = refused.stderr.splitlines()
    assert first.startswith("422 validation_error: ") and first.endswith("(field data.amount)")
    assert sorted(problems) == [
        "  data.amount: 0 is less than the minimum of 1",
        "  data.urgent: 'maybe' is not of type 'boolean'",
    ]
    error = orjson.loads(as_data.stdout)["error"]
    assert as_data.returncode == 1 and error["details"]["field"] == "data.amount"
    assert unreadable.returncode == 2 and "amount: 'lots' is not an integer" in unreadable.stderr
    assert no_outcome.returncode == 1 and no_outcome.stderr.splitlines()[0].endswith("(field outcome)")
    assert task_of(served, task_id)["state"] == "open"  # nothing was decided


# --- on a terminal -------------------------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """A command on a pseudo-terminal (stdin, stdout and stderr), read until what a test expects shows."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=child_environment(),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.screen = ""
        self._read_to = 0

    def expect(self, text: str, timeout: float = 30.0) -> None:
        """Read until ``text`` appears after what was expected before; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (found := self.screen.find(text, self._read_to)) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"{text!r} did not show; the terminal shows:\n{self.screen}")
        self._read_to = found + len(text)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the command ended and closed the terminal
            return False
        self.screen += ANSI.sub("", chunk.decode(errors="replace")).replace("\r", "")
        return bool(chunk)

    def type(self, line: str) -> None:
        os.write(self.master, f"{line}\n".encode())

    def close(self, timeout: float = 30.0) -> int:
        while self._read(timeout):
            pass
        os.close(self.master)
        return self.process.wait(timeout)


@pytest.mark.slow
def test_submit_on_a_terminal_asks_for_each_form_field_typed_by_the_schema(
    served: Server, tmp_path: Path
) -> None:
    task_id = asked(served, **FORM_TASK)
    argv = intentd_command(
        "--url", served.url, "--api-key", TEST_KEY, "tasks", "submit", task_id, "--outcome", "submitted"
    )
    terminal = Terminal(argv, tmp_path)
    try:
        terminal.expect("amount [integer]: ")
        terminal.type("lots")
        terminal.expect("Error: amount: 'lots' is not an integer")
        terminal.expect("amount [integer]: ")
        terminal.type("120")
        terminal.expect("priority [low/normal/high]: ")
        terminal.type("")
        terminal.expect("Error: priority is required")
        terminal.expect("priority [low/normal/high]: ")
        terminal.type("high")
        terminal.expect("urgent [y/n, optional]: ")
        terminal.type("y")
        terminal.expect("comment [text]: ")
        terminal.type("agreed by phone")
        terminal.expect(f"{task_id} submitted: intent ")
    finally:
        code = terminal.close()
    assert code == 0, terminal.screen
    decision = task_of(served, task_id)["decision"]
    assert decision["data"] == {"amount": 120, "priority": "high", "urgent": True}
    assert decision["comment"] == "agreed by phone"
