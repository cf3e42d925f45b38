"""``ctx.ask_human`` end to end: a worker in this process and a real ``intentd serve`` over HTTP, on both
backends (one server per backend for the module; each test has agents of its own). The handler does a
``ctx.step``, asks a person and stops; the intent waits for the person without a lease; once the answer
is decided the handler runs again from the top and gets it, and the step did not run twice. Then a
rejection (a sync handler, whose step is compensated once), and two questions in one handler. The
answer's own reading (``HumanAnswer``) and the key rules are first, without a server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from intentd.client import AsyncClient, HumanTask, Intent, Status
from intentd.worker import AsyncContext, Context, FatalError, HumanAnswer, RetryPolicy, Worker
from intentd.worker._journal import APPROVING_OUTCOMES
from tests._support import databases
from tests._support.servers import API_KEY, Server, module_server
from tests.worker.test_journal import Script, entry, journal, state_of

# --- the answer, and the key rules (no server) ----------------------------------------------------


def test_an_answer_is_read_from_its_journal_entry() -> None:
    at = datetime(2030, 1, 2, 3, 4, 5, 600_000, tzinfo=UTC)
    micros = int(at.timestamp()) * 1_000_000 + 600_000
    result = {
        "outcome": "approved",
        "comment": "ok",
        "data": None,
        "decided_by": "alice",
        "decided_at": micros,
    }

    answer = HumanAnswer.from_journal("sign-off", result)

    assert answer == HumanAnswer("approved", "ok", {}, "alice", at)
    assert HumanAnswer.from_journal("k", {**result, "decided_at": "2030-01-02T03:04:05.6Z"}).decided_at == at
    with pytest.raises(ValueError, match="used by ctx.step and by ctx.ask_human"):
        HumanAnswer.from_journal("sign-off", {"score": 7})  # a step's value, not a person's answer


@pytest.mark.parametrize(
    ("outcome", "approved"),
    [
        *((yes, True) for yes in ["approved", "provided", "completed", "confirmed", "validated"]),
        *((yes, True) for yes in ["assigned", "rerouted", "override_approved", "submitted"]),
        *((no, False) for no in ["rejected", "changes_requested", "failed", "declined", "ship_it"]),
    ],
)
def test_approved_is_the_yes_of_each_task_type(outcome: str, approved: bool) -> None:
    assert HumanAnswer(outcome).approved is approved


def test_every_approving_outcome_is_listed_in_the_docstring() -> None:
    assert all(f"``{yes}``" in (HumanAnswer.__doc__ or "") for yes in APPROVING_OUTCOMES)


async def test_keys_are_checked_before_any_request() -> None:
    script = Script()  # answers nothing: a request would fail the test
    ctx = AsyncContext(state_of(script))
    for bad in ("", "$failed", "compensate:x", "k" * 241):
        with pytest.raises(ValueError, match="journal key"):
            ctx.ask_human(bad, title="?")
    assert script.requests == []


async def test_a_key_asks_one_question_and_is_no_step() -> None:
    script = Script(GET_journal=journal(entry("quote", kind="value", result={"total": 3})))
    ctx = AsyncContext(state_of(script))
    assert await ctx.step("quote", lambda: {"total": 9}) == {"total": 3}
    with pytest.raises(ValueError, match="used by ctx.step and by ctx.ask_human"):
        await ctx.ask_human("quote", title="Sell?")
    assert script.routes() == ["GET journal"]


# --- a real worker and server ---------------------------------------------------------------------


@pytest.fixture(scope="module", params=databases.BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir: Path = tmp_path_factory.mktemp("ask-human")
    with module_server(request, workdir) as server:
        yield server


@pytest.fixture
async def client(live: Server) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live.url, API_KEY) as sdk:
        yield sdk


@pytest.fixture
def agent() -> str:
    return f"agent://humans/t{uuid.uuid4().hex[:10]}/clerk"  # the server is shared by the module


@asynccontextmanager
async def serving(client: AsyncClient, agent: str, handler: Callable[..., Any]) -> AsyncIterator[None]:
    worker = Worker(
        client, concurrency=4, claim_wait_seconds=1.0, retry=RetryPolicy(base_seconds=0.05, max_seconds=0.1)
    )
    worker.agent(agent)(handler)
    task = asyncio.create_task(worker.serve())
    try:
        yield
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0) -> Any:
    """Poll the server until ``check`` gives something (its state lives in another process)."""
    try:
        async with asyncio.timeout(timeout):
            while not (found := await check()):
                await asyncio.sleep(0.05)
            return found
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}") from None


async def open_task(client: AsyncClient, intent_id: str) -> tuple[HumanTask, Intent]:
    """The intent's open task once the handler has asked, and the intent then."""

    async def asked() -> list[HumanTask]:
        return await client.tasks("open", intent_id=intent_id)

    [task] = await until(asked, f"a question of {intent_id}")
    return task, await client.get(intent_id)


@pytest.mark.slow
async def test_an_answer_comes_back_to_the_handler_whose_step_ran_once(
    client: AsyncClient, agent: str
) -> None:
    runs: list[int] = []
    quotes: list[int] = []  # side effects of the step

    def quote(amount: int) -> dict[str, int]:
        quotes.append(amount)
        return {"total": amount * 2}

    async def sell(ctx: AsyncContext, intent: Intent) -> dict[str, Any]:
        runs.append(ctx.attempt)
        priced = await ctx.step("quote", lambda: quote(intent.payload["amount"]))
        answer = await ctx.ask_human(
            "discount",
            title=f"Sell at {priced['total']}?",
            description="a long-standing customer",
            assignees=["role:sales"],
            form_schema={"type": "object", "properties": {"percent": {"type": "integer"}}},
            remind_after_seconds=3600,
        )
        return {
            "total": priced["total"],
            "approved": answer.approved,
            "answer": [answer.outcome, answer.comment, answer.data, answer.decided_by],
            "decided_at": answer.decided_at.isoformat() if answer.decided_at else None,
        }

    async with serving(client, agent, sell):
        intent = await client.submit(agent, "intent.sell.v1", {"amount": 21})
        task, waiting = await open_task(client, intent.intent_id)
        assert (waiting.status, waiting.waiting_reason, waiting.lease_expires_at) == (
            Status.WAITING,
            "WAITING_FOR_HUMAN",
            None,
        )
        assert (runs, quotes) == ([1], [21])  # asked once, and stopped there
        spec = task.human_task
        assert (spec["title"], spec["description"], spec["remind_after_seconds"]) == (
            "Sell at 42?",
            "a long-standing customer",
            3600,
        )
        assert (task.assignees, task.allowed_outcomes) == (["role:sales"], ["approved", "rejected"])
        done = await client.decide_task(task.task_id, "approved", comment="fine", data={"percent": 10})
        final = await client.wait_for(intent.intent_id, timeout=60)

    assert final.status is Status.COMPLETED, final.error
    decision = done.task.decision
    assert decision is not None
    assert final.result == {
        "total": 42,
        "approved": True,
        "answer": ["approved", "fine", {"percent": 10}, decision.decided_by],
        "decided_at": decision.decided_at.isoformat(),
    }
    assert len(runs) == 2 and quotes == [21]  # ran again from the top; the step did not
    assert [(e.key, e.kind, e.status) for e in await client.journal(intent.intent_id)] == [
        ("quote", "value", "COMPLETED"),
        ("discount", "value", "COMPLETED"),
    ]


@pytest.mark.slow
async def test_a_rejection_fails_a_sync_handler_and_compensates_its_step_once(
    client: AsyncClient, agent: str
) -> None:
    reserved: list[str] = []
    released: list[str] = []

    def hold_room() -> str:
        reserved.append("room-7")
        return "room-7"

    def reserve(ctx: Context, intent: Intent) -> dict[str, Any]:
        room = ctx.step("reserve", hold_room, compensate=released.append)
        answer = ctx.ask_human("confirm", title=f"Book {room}?", task_type="confirmation")
        if not answer.approved:
            raise FatalError(f"{answer.outcome} by {answer.decided_by}: {answer.comment}")
        return {"room": room}

    async with serving(client, agent, reserve):
        intent = await client.submit(agent, "intent.book.v1", {})
        task, _ = await open_task(client, intent.intent_id)
        assert task.allowed_outcomes == ["confirmed", "rejected"]
        await client.decide_task(task.task_id, "reject", comment="too dear")
        final = await client.wait_for(intent.intent_id, timeout=60)

    assert final.status is Status.FAILED
    assert final.error is not None
    assert final.error["message"] == "rejected by bootstrap: too dear"
    assert final.error["details"]["compensated"] == ["reserve"]
    assert (reserved, released) == (["room-7"], ["room-7"])  # each once


@pytest.mark.slow
async def test_two_questions_in_one_handler_are_asked_in_turn(client: AsyncClient, agent: str) -> None:
    drafted: list[int] = []

    def write() -> str:
        drafted.append(1)
        return "text"

    async def publish(ctx: AsyncContext, intent: Intent) -> dict[str, Any]:
        draft = await ctx.step("draft", write)
        legal = await ctx.ask_human("legal", title="Legal sign-off", assignees=["role:legal"])
        editor = await ctx.ask_human(
            "editor", title="Headline?", task_type="clarification", required_comment=True
        )
        return {"draft": draft, "legal": legal.outcome, "headline": editor.comment}

    async with serving(client, agent, publish):
        intent = await client.submit(agent, "intent.publish.v1", {})
        first, _ = await open_task(client, intent.intent_id)
        await client.decide_task(first.task_id, "approved")
        second, waiting = await open_task(client, intent.intent_id)
        assert (second.human_task["title"], waiting.waiting_reason) == ("Headline?", "WAITING_FOR_HUMAN")
        await client.decide_task(second.task_id, "provided", comment="Leases, explained")
        final = await client.wait_for(intent.intent_id, timeout=60)

    assert final.status is Status.COMPLETED, final.error
    assert final.result == {"draft": "text", "legal": "approved", "headline": "Leases, explained"}
    assert drafted == [1]
    assert first.task_id != second.task_id
    decided = await client.tasks("decided", intent_id=intent.intent_id)
    assert sorted(t.task_id for t in decided) == sorted([first.task_id, second.task_id])


@pytest.mark.slow
async def test_usage_counted_before_a_question_is_kept_across_the_pause(
    client: AsyncClient, agent: str
) -> None:
    """A parked handler reports no outcome: what it used before the pause (a model's tokens, say)
    is reported as it parks, and adds up with what the run after the answer uses."""

    async def draft(ctx: AsyncContext, intent: Intent) -> dict[str, Any]:
        ctx.report_usage(tokens_in=100, tokens_out=10)  # each run's own model calls
        answer = await ctx.ask_human("go", title="Go on?")
        return {"approved": answer.approved}

    async with serving(client, agent, draft):
        intent = await client.submit(agent, "intent.draft.v1", {})
        task, _ = await open_task(client, intent.intent_id)
        await client.decide_task(task.task_id, "approved")
        final = await client.wait_for(intent.intent_id, timeout=60)

    assert final.status is Status.COMPLETED, final.error
    assert final.usage == {"tokens_in": 200, "tokens_out": 20}
