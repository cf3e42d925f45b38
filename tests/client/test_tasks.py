"""The SDK's human tasks against the real app, both backends, both clients: an agent asks a person
(``ask_human``), the task is listed, shown and decided once; approvers see and decide only their own;
a refused answer names its field."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from intentd.client import (
    AsyncClient,
    HumanTask,
    NotAssignee,
    Status,
    TaskClosed,
    TaskNotFound,
    ValidationFailed,
)
from tests._support.sdk import Flavour, Recorder, connected, each_flavour
from tests._support.servers import API_KEY, API_NAMESPACE, AppClient

BOOTSTRAP_NAME = "bootstrap"  # the name of the key a server starts with (the test suite's API_KEY)
FORM = {
    "type": "object",
    "properties": {"amount": {"type": "integer", "minimum": 1}, "currency": {"enum": ["EUR", "USD"]}},
    "required": ["amount", "currency"],
}


def an_agent() -> str:
    return f"agent://acme/tasks/a{uuid.uuid4().hex[:10]}"  # each test its own queue


async def asked(sdk: AsyncClient, key: str = "sign-off", **spec: Any) -> HumanTask:
    """An intent claimed by its agent, which asks a person ``spec``; the task that opens."""
    agent = an_agent()
    await sdk.submit(agent, "intent.release.v1", {"version": "4.2"})
    [delivery] = await sdk.claim(agent, wait_seconds=5)
    parked = await sdk.ask_human(delivery.intent.intent_id, delivery.lease_token, key, spec)
    assert (parked.status, parked.waiting_reason) == (Status.WAITING, "WAITING_FOR_HUMAN")
    assert parked.lease_expires_at is None  # nobody holds it while the person thinks
    [task] = await sdk.tasks(intent_id=parked.intent_id)
    return task


async def test_a_task_an_agent_asks_is_listed_shown_and_decided_once(sdk: AsyncClient) -> None:
    task = await asked(sdk, title="Ship release 4.2?", assignees=["alice@acme.test"])

    assert (task.state, task.status, task.human_task["title"]) == ("open", "WAITING", "Ship release 4.2?")
    assert (task.allowed_outcomes, task.assignees, task.decision) == (
        ["approved", "rejected"],
        ["alice@acme.test"],
        None,
    )
    assert await sdk.task(task.task_id) == task
    assert task.task_id in [t.task_id for t in await sdk.my_tasks()]  # an admin may decide any

    done = await sdk.decide_task(task.task_id, "approve", comment="ship it")  # approve is approved

    assert done.task.state == "decided" and done.task.decision is not None
    assert (done.task.decision.outcome, done.task.decision.comment) == ("approved", "ship it")
    assert done.task.decision.decided_by == BOOTSTRAP_NAME
    assert done.intent.status is Status.SUBMITTED  # back to the agent that asked
    [entry] = [e for e in await sdk.journal(task.intent_id) if e.key == "sign-off"]
    assert (entry.kind, entry.status) == ("value", "COMPLETED")
    assert (entry.result["outcome"], entry.result["comment"]) == ("approved", "ship it")
    assert task.task_id not in [t.task_id for t in await sdk.my_tasks()]
    assert task.task_id in [t.task_id for t in await sdk.my_tasks("decided")]

    with pytest.raises(TaskClosed) as again:
        await sdk.decide_task(task.task_id, "rejected")
    assert (again.value.status_code, again.value.details["state"]) == (409, "decided")
    assert (await sdk.task(task.task_id)).decision == done.task.decision  # the first one stands


REFUSED: list[tuple[str, str | None, dict[str, Any] | None, str]] = [
    ("maybe", "refund", None, "outcome"),  # not an allowed outcome
    ("submitted", None, {"amount": 5, "currency": "EUR"}, "comment"),  # the task requires one
    ("submitted", "refund", {"amount": 0, "currency": "EUR"}, "data.amount"),  # below its minimum
    ("submitted", "refund", {"amount": 5}, "data.currency"),  # a required field left out
]


async def test_a_refused_answer_names_its_field_and_changes_nothing(sdk: AsyncClient) -> None:
    task = await asked(sdk, title="Refund", task_type="form", form_schema=FORM, required_comment=True)

    fields = []
    for outcome, comment, data, _ in REFUSED:
        with pytest.raises(ValidationFailed) as refused:
            await sdk.decide_task(task.task_id, outcome, comment=comment, data=data)
        assert refused.value.status_code == 422
        fields.append(refused.value.details["field"])
    with pytest.raises(ValidationFailed) as form:
        await sdk.decide_task(task.task_id, "submitted", comment="refund", data={"amount": "5"})

    assert fields == [field for *_, field in REFUSED]
    assert {e["field"] for e in form.value.details["errors"]} == {"data.amount", "data.currency"}
    assert (await sdk.task(task.task_id)).state == "open"
    done = await sdk.decide_task(
        task.task_id, "submitted", comment="refund", data={"amount": 120, "currency": "EUR"}
    )
    assert done.task.decision is not None and done.task.decision.data == {"amount": 120, "currency": "EUR"}
    with pytest.raises(TaskNotFound):
        await sdk.task("no-such-task")
    with pytest.raises(TaskNotFound):
        await sdk.decide_task("no-such-task", "approved")


async def test_a_decision_hands_the_intent_to_a_claim_of_its_agent_waiting_for_work(
    sdk: AsyncClient, api: AppClient
) -> None:
    task = await asked(sdk, title="Go?")
    waiting = asyncio.create_task(sdk.claim(task.to_agent, wait_seconds=10))
    await api.engine.dispatcher.wait_for_waiter(API_NAMESPACE, task.to_agent)

    done = await sdk.decide_task(task.task_id, "approved")

    [delivery] = await waiting  # handed over in the decision's own commit
    assert delivery.intent.intent_id == task.intent_id and done.intent.status is Status.DELIVERED
    assert done.task.state == "decided" and done.task.decision is not None
    assert (await sdk.task(task.task_id)).decision == done.task.decision


@asynccontextmanager
async def person(
    api: AppClient, recorder: Recorder, flavour: Flavour, name: str, *roles: str
) -> AsyncIterator[AsyncClient]:
    """A client with the key of an approver: a person named ``name`` holding task ``roles``."""
    secret = f"itd_{uuid.uuid4().hex}"
    await api.engine.keys.create(name, "approver", plaintext=secret, task_roles=roles)
    async with connected(flavour, recorder, secret) as client:
        yield client


@each_flavour
async def test_approvers_see_and_decide_only_their_own_tasks(
    api: AppClient, recorder: Recorder, flavour: Flavour
) -> None:
    async with (
        connected(flavour, recorder, API_KEY) as admin,
        person(api, recorder, flavour, "alice@acme.test", "finance") as alice,
        person(api, recorder, flavour, "bob@acme.test") as bob,
    ):
        for_finance = await asked(admin, title="Pay invoice 7", assignees=["role:finance"])
        for_bob = await asked(admin, title="Review the contract", assignees=["bob@acme.test"])

        assert [t.task_id for t in await alice.my_tasks()] == [for_finance.task_id]
        assert [t.task_id for t in await bob.my_tasks()] == [for_bob.task_id]
        with pytest.raises(NotAssignee) as refused:
            await alice.decide_task(for_bob.task_id, "approved")
        assert refused.value.status_code == 403

        done = await alice.decide_task(for_finance.task_id, "rejected", comment="not this month")
        assert done.task.decision is not None
        assert (done.task.decision.outcome, done.task.decision.decided_by) == ("rejected", "alice@acme.test")
        assert (await admin.task(for_bob.task_id)).state == "open"
