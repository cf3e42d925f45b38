"""Human tasks through the official ``axme`` SDK, unmodified, against a real ``intentd serve`` on both
backends: a create with a ``human_task`` (the SDK README's shape, ``notify_email`` and all), answered
with ``resume_intent`` and a ``task_result`` or with ``decide_approval``; and the AXP example
programs' resume-then-resolve of an intent that waits for nothing (docs/axp-compat.md)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from axme import AxmeClient, AxmeValidationError

from tests.compat import test_axme_sdk
from tests.compat.test_axme_sdk import Agents

pytestmark = pytest.mark.slow
# The live server per backend and the SDK clients of test_axme_sdk.py, shared as fixtures.
server, connect, agents = test_axme_sdk.server, test_axme_sdk.connect, test_axme_sdk.agents


def create(axme: AxmeClient, to_agent: str, **extra: object) -> str:
    body = {"intent_type": "intent.purchase.v1", "to_agent": to_agent, "payload": {"amount": 1800}, **extra}
    intent_id: str = axme.create_intent(body, correlation_id=str(uuid.uuid4()))["intent_id"]
    return intent_id


def test_a_human_task_created_and_answered_with_the_sdk(
    connect: Callable[..., AxmeClient], agents: Agents
) -> None:
    axme = connect()
    human_task = {"task_type": "approval", "notify_email": "boss@acme.test"}  # no title: README's shape
    gated = create(axme, agents.writer, human_task=human_task, remind_after_seconds=3600)
    waiting = axme.get_intent(gated)["intent"]
    assert (waiting["status"], waiting["waiting_reason"]) == ("WAITING", "WAITING_FOR_HUMAN")
    with pytest.raises(AxmeValidationError) as refused:  # not one of its outcomes: 422, nothing moves
        axme.resume_intent(gated, {"task_result": {"outcome": "maybe"}})
    assert refused.value.status_code == 422
    answered = axme.resume_intent(gated, {"task_result": {"outcome": "approved", "comment": "ok"}})
    assert answered["applied"] is True and answered["intent"]["status"] == "SUBMITTED"
    events = axme.list_intent_events(gated)["events"]
    assert events[-1]["details"]["task_result"]["outcome"] == "approved"
    with pytest.raises(AxmeValidationError) as twice:  # the task was decided: 409
        axme.resume_intent(gated, {"task_result": {"outcome": "rejected"}})
    assert twice.value.status_code == 409

    rejected = create(axme, agents.writer, human_task={"title": "Spend", "task_type": "approval"})
    decided = axme.decide_approval(rejected, decision="reject", comment="not now")
    assert decided["approval"]["decision"] == "reject"
    assert axme.get_intent(rejected)["intent"]["status"] == "CANCELED"


def test_the_axp_example_programs_resume_then_resolve(
    connect: Callable[..., AxmeClient], agents: Agents
) -> None:
    axme = connect()
    intent_id = create(axme, agents.writer)
    resumed = axme.resume_intent(intent_id, {"approve_current_step": True, "reason": "looks right"})
    assert resumed["ok"] and resumed["applied"] and resumed["intent"]["status"] == "SUBMITTED"
    assert resumed["policy_generation"] == 1
    resolved = axme.resolve_intent(intent_id, {"status": "COMPLETED", "result": {"done": True}})
    assert resolved["intent"]["status"] == "COMPLETED"
