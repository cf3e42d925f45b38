"""``POST /v1/scenarios/validate`` (AXP ScenarioBundle, PROTOCOL.md §4.4): a valid bundle is 200, a
well-formed one whose parts do not fit together is one 422 listing every problem with its path and
code, a malformed one the usual 422 naming the field; nothing is created either way."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests._support.servers import AppClient

JSON = dict[str, Any]

BUNDLE: JSON = {
    "scenario_id": "demo.approval_flow",
    "title": "Write, sign off, publish",
    "description": "A writer drafts, a human signs off, a publisher publishes; a rejection goes back.",
    "model": "gpt-4o",  # example-runner extras, accepted
    "pattern": "human-in-the-loop",
    "durability": {"deadline_minutes": 30, "max_delivery_attempts": 3},
    "_implementation_note": "runner only",
    "agents": [
        {
            "role": "writer",
            "address": "agent://acme/prod/writer",
            "delivery_mode": "stream",
            "handler": "examples.writer:handle",
            "description": "drafts the text",
        },
        {
            "role": "publisher",
            "address": "publisher",
            "create_if_missing": True,
            "delivery_mode": "http",
            "callback_url": "https://publisher.example/intents",
        },
    ],
    "humans": [{"role": "editor", "display_name": "The editor"}],
    "workflow": {
        "steps": [
            {
                "step_id": "draft",
                "tool_id": "tool.agent.task.v1",
                "assigned_to": "writer",
                "on_success": "signoff",
            },
            {
                "step_id": "signoff",
                "tool_id": "tool.approval.human_signoff",
                "assigned_to": "editor",
                "requires_approval": True,
                "human_task": {
                    "title": "Approve the draft",
                    "task_type": "approval",
                    "allowed_outcomes": ["approved", "rejected"],
                },
                "remind_after_seconds": 3600,
                "max_reminders": 2,
                "escalate_to": "editor",
                "on_success": "publish",
                "on_failure": "redraft",
            },
            {"step_id": "redraft", "assigned_to": "agent://acme/prod/writer", "retry": {"max_retries": 2}},
            {"step_id": "publish", "assigned_to": "publisher", "step_deadline_seconds": 600},
        ]
    },
    "intent": {
        "type": "intent.demo.publish.v1",
        "payload": {"topic": "durability"},
        "reply_to": "initiator_inbox",
        "to_agent": "agent://acme/prod/writer",
        "deadline_at": "2030-01-01T00:00:00Z",
    },
}


def bundle(**changes: Any) -> JSON:
    """The valid bundle, with top-level fields replaced."""
    body = copy.deepcopy(BUNDLE)
    body.update(changes)
    return body


def with_steps(*steps: JSON, entry_step: str | None = None) -> JSON:
    workflow: JSON = {"steps": list(steps)}
    if entry_step is not None:
        workflow["entry_step"] = entry_step
    return bundle(workflow=workflow)


async def problems_of(api: AppClient, body: JSON) -> list[JSON]:
    response = await api.post("/v1/scenarios/validate", json=body)
    assert response.status_code == 422, response.text
    error: JSON = response.json()["error"]
    assert error["code"] == "validation_error"
    problems: list[JSON] = error["details"]["problems"]
    assert error["details"]["field"] == problems[0]["path"]
    assert all(problem["message"] for problem in problems)
    return problems


def paths_and_codes(problems: list[JSON]) -> list[tuple[str, str]]:
    return [(problem["path"], problem["code"]) for problem in problems]


async def test_a_valid_bundle_is_200_with_its_id_and_step_count(api: AppClient) -> None:
    response = await api.post("/v1/scenarios/validate", json=bundle())

    assert response.status_code == 200, response.text
    assert response.json() == {
        "ok": True,
        "valid": True,
        "scenario_id": "demo.approval_flow",
        "steps": 4,
        "errors": [],  # AXP clients read these two
        "warnings": [],
    }


async def test_validating_creates_nothing(api: AppClient) -> None:
    before = await api.get("/v1/intents")
    assert before.json()["intents"] == []

    assert (await api.post("/v1/scenarios/validate", json=bundle())).status_code == 200
    assert (
        await api.post("/v1/scenarios/validate", json=with_steps({"step_id": "a", "on_success": "b"}))
    ).status_code == 422

    after = await api.get("/v1/intents")
    assert after.json()["intents"] == []


SEMANTIC_PROBLEMS: list[tuple[str, JSON, list[tuple[str, str]]]] = [
    (
        "duplicate step_id",
        with_steps({"step_id": "a", "on_success": "b"}, {"step_id": "b"}, {"step_id": "a"}),
        [("workflow.steps[2].step_id", "duplicate_step_id")],
    ),
    (
        "on_success names no step",
        with_steps({"step_id": "a", "on_success": "b"}, {"step_id": "b", "on_success": "nope"}),
        [("workflow.steps[1].on_success", "unknown_step")],
    ),
    (
        "on_failure names no step",
        with_steps({"step_id": "a", "on_failure": "nope"}),
        [("workflow.steps[0].on_failure", "unknown_step")],
    ),
    (
        "entry_step names no step",
        with_steps({"step_id": "a"}, entry_step="start"),
        [("workflow.entry_step", "unknown_step")],
    ),
    (
        "on_success cycle",
        with_steps(
            {"step_id": "a", "on_success": "b"},
            {"step_id": "b", "on_success": "c"},
            {"step_id": "c", "on_success": "b", "on_failure": "a"},
        ),
        [("workflow.steps[1].on_success", "on_success_cycle")],
    ),
    (
        "unreachable step",
        with_steps({"step_id": "a", "on_failure": "c"}, {"step_id": "b"}, {"step_id": "c"}),
        [("workflow.steps[1]", "unreachable_step")],
    ),
    (
        "unreachable from the entry step",
        with_steps({"step_id": "a", "on_success": "b"}, {"step_id": "b"}, entry_step="b"),
        [("workflow.steps[0]", "unreachable_step")],
    ),
    (
        "assigned_to neither role nor address",
        with_steps({"step_id": "a", "assigned_to": "writter"}),
        [("workflow.steps[0].assigned_to", "unknown_assignee")],
    ),
    (
        "duplicate agent role",
        bundle(agents=[*BUNDLE["agents"], {"role": "writer", "address": "agent://acme/prod/other"}]),
        [("agents[2].role", "duplicate_role")],
    ),
    (
        "human role that an agent has",
        bundle(humans=[{"role": "editor"}, {"role": "publisher"}]),
        [("humans[1].role", "duplicate_role")],
    ),
    (
        "agent address that is not an address",
        bundle(
            agents=[BUNDLE["agents"][0], {**BUNDLE["agents"][1], "address": "agent://acme/prod/pub lisher"}]
        ),
        [("agents[1].address", "invalid_address")],
    ),
    (
        "a human task whose form schema is no JSON Schema",
        with_steps(
            {"step_id": "a", "kind": "human", "human_task": {"title": "t", "form_schema": {"type": 3}}}
        ),
        [("workflow.steps[0].human_task.form_schema", "bad_human_task")],
    ),
    (
        "a human task's default outcome it does not allow",
        with_steps(
            {
                "step_id": "a",
                "kind": "human",
                "human_task": {"title": "t", "on_timeout": "default_outcome", "default_outcome": "maybe"},
            }
        ),
        [("workflow.steps[0].human_task.default_outcome", "bad_human_task")],
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [(body, expected) for _, body, expected in SEMANTIC_PROBLEMS],
    ids=[c[0] for c in SEMANTIC_PROBLEMS],
)
async def test_each_semantic_problem_is_422_with_its_path_and_code(
    api: AppClient, body: JSON, expected: list[tuple[str, str]]
) -> None:
    assert paths_and_codes(await problems_of(api, body)) == expected


async def test_the_cycle_names_the_steps_on_it(api: AppClient) -> None:
    body = with_steps({"step_id": "a", "on_success": "b"}, {"step_id": "b", "on_success": "a"})

    (problem,) = await problems_of(api, body)

    assert problem["code"] == "on_success_cycle"
    assert "a -> b -> a" in problem["message"]


async def test_every_problem_is_listed_not_only_the_first(api: AppClient) -> None:
    body = bundle(
        agents=[
            {"role": "writer", "address": "agent://acme/prod/writer"},
            {"role": "writer", "address": "not an address"},
        ],
        workflow={
            "steps": [
                {"step_id": "a", "assigned_to": "nobody", "on_success": "b"},
                {"step_id": "b", "on_success": "a", "on_failure": "missing"},
                {"step_id": "a"},
                {"step_id": "lost"},
            ]
        },
    )

    problems = await problems_of(api, body)

    assert paths_and_codes(problems) == [
        ("agents[1].role", "duplicate_role"),
        ("agents[1].address", "invalid_address"),
        ("workflow.steps[2].step_id", "duplicate_step_id"),
        ("workflow.steps[1].on_failure", "unknown_step"),
        ("workflow.steps[0].on_success", "on_success_cycle"),
        ("workflow.steps[3]", "unreachable_step"),
        ("workflow.steps[0].assigned_to", "unknown_assignee"),
    ]


async def test_a_bundle_that_fails_the_schema_gets_the_usual_422_naming_the_field(api: AppClient) -> None:
    response = await api.post("/v1/scenarios/validate", json=bundle(scenario_id="Not Valid"))

    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]["field"] == "scenario_id"


async def test_without_a_key_it_is_401(api: AppClient) -> None:
    async with AppClient(api.app, api_key=None) as client:
        response = await client.post("/v1/scenarios/validate", json=bundle())

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"
