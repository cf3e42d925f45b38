"""The handler context's durable delegation without a server: key rules (checked before any I/O),
the requests a gather and a saga make against a scripted network, and the errors they raise. The
behaviour against a real server is in test_delegation.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from intentd.client import AsyncClient, Delivery, IntentdError
from intentd.worker import AsyncContext, Child, ChildFailed, Context, FatalError
from intentd.worker._context import _ContextState
from intentd.worker._errors import ReportedFailure, error_object
from intentd.worker._journal import Unwind, check_key
from tests._support.sdk import INTENT_WIRE

WRITER = "agent://acme/prod/writer"
JSON = dict[str, Any]
Answer = JSON | Callable[[JSON], JSON]


def entry(key: str, status: str = "COMPLETED", kind: str = "child", **fields: Any) -> JSON:
    return {"key": key, "kind": kind, "status": status, "started_at": "2030-01-01T00:00:00Z", **fields}


class Script(httpx.AsyncBaseTransport):
    """Answers each route (``"GET journal"``, ``"POST children"``, …) as the test says and notes the
    requests; a route the test gave no answer for fails the test."""

    def __init__(self, **answers: Answer) -> None:
        self.answers = answers
        self.requests: list[tuple[str, JSON]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        route = f"{request.method} {request.url.path.rsplit('/', 1)[-1]}"
        body = json.loads(await request.aread() or b"{}")
        self.requests.append((route, body))
        answer = self.answers.get(route.replace(" ", "_"))
        assert answer is not None, f"unexpected request {route} {body}"
        return httpx.Response(200, json=answer(body) if callable(answer) else answer)

    def routes(self) -> list[str]:
        return [route for route, _ in self.requests]


def journal(*entries: JSON) -> JSON:
    return {"ok": True, "intent_id": "i-1", "entries": list(entries)}


def echo_record(body: JSON) -> JSON:
    return {
        "ok": True,
        "recorded": True,
        "entry": entry(body["key"], kind="value", result=body.get("result")),
    }


def state_of(script: Script) -> _ContextState:
    delivery = Delivery.from_wire(
        {
            "intent": INTENT_WIRE,
            "lease": {"token": "t", "expires_at": "2030-01-01T00:00:30Z", "delivery_attempt": 1},
        }
    )
    return _ContextState(AsyncClient("http://intentd.test", "k", transport=script), delivery)


# --- keys: checked at once, before any request ----------------------------------------------------


@pytest.mark.parametrize("key", ["", "$failed", "$x", "compensate:review", "k" * 241, "a\x00b", 7])
def test_reserved_empty_long_and_non_text_keys_are_refused(key: Any) -> None:
    with pytest.raises(ValueError, match="journal key"):
        check_key(key)


async def test_a_key_serves_one_kind_and_names_one_child_without_a_request() -> None:
    script = Script()
    ctx = AsyncContext(state_of(script))
    first = ctx.spawn(WRITER, {"topic": "a"}, key="draft-a")

    assert ctx.spawn(WRITER, {"topic": "a"}, key="draft-a").spec == first.spec  # the same child again
    with pytest.raises(ValueError, match="names two different children"):
        ctx.spawn(WRITER, {"topic": "b"}, key="draft-a")
    with pytest.raises(ValueError, match="used by ctx.spawn and by ctx.step"):
        await ctx.step("draft-a", lambda: 1)
    with pytest.raises(ValueError, match="reserved"):
        ctx.spawn(WRITER, key="$failed")
    assert script.requests == []


async def test_a_key_journaled_as_a_child_is_not_a_step() -> None:
    script = Script(GET_journal=journal(entry("review", kind="child")))
    ctx = AsyncContext(state_of(script))
    with pytest.raises(ValueError, match="used by ctx.spawn and by ctx.step"):
        await ctx.step("review", lambda: 1)


async def test_children_are_awaited_in_async_handlers_and_resolved_in_sync_ones() -> None:
    state = state_of(Script())
    async_child = AsyncContext(state).spawn(WRITER, key="a")
    sync_child = Context(state, asyncio.get_running_loop()).spawn(WRITER, key="b")
    assert isinstance(async_child, Child) and async_child.key == "a"
    with pytest.raises(TypeError, match="await"):
        async_child.result()
    with pytest.raises(TypeError, match=r"result\(\)"):
        await sync_child


# --- gather ---------------------------------------------------------------------------------------


async def test_gather_spawns_only_what_is_not_journaled_in_one_request_then_parks() -> None:
    script = Script(
        GET_journal=journal(entry("draft-a", result={"n": 1})),
        POST_children=journal(entry("draft-b", "RUNNING"), entry("draft-c", "RUNNING")),
        POST_await={"ok": True, "parked": True, "entries": []},
    )
    state = state_of(script)
    ctx = AsyncContext(state)

    with pytest.raises(Unwind):
        await ctx.gather(*(ctx.spawn(WRITER, {"t": t}, key=f"draft-{t}") for t in "abc"))

    assert script.routes() == ["GET journal", "POST children", "POST await"]
    spawned = script.requests[1][1]["children"]
    assert [(c["key"], c["payload"]) for c in spawned] == [("draft-b", {"t": "b"}), ("draft-c", {"t": "c"})]
    assert script.requests[2][1]["keys"] == ["draft-a", "draft-b", "draft-c"]
    assert state.parked and not state.lost.is_set()
    assert not isinstance(Unwind(), Exception)  # a handler's `except Exception` cannot swallow it


async def test_finished_children_answer_from_the_journal_loaded_once() -> None:
    script = Script(
        GET_journal=journal(
            entry("a", result={"n": 1}),
            entry("b", result={"n": 2}),
            entry("c", "FAILED", error={"code": "no_ink", "message": "out of ink"}),
            entry("d", "CANCELED", error={"code": "canceled", "message": "stop"}),
        )
    )
    ctx = AsyncContext(state_of(script))
    a, b, c, d = (ctx.spawn(WRITER, key=k) for k in "abcd")

    assert await ctx.gather(b, a) == [{"n": 2}, {"n": 1}]
    assert await a == {"n": 1}
    mixed = await ctx.gather(a, c, d, return_exceptions=True)
    with pytest.raises(ChildFailed) as caught:
        await ctx.gather(a, d, c)

    assert mixed[0] == {"n": 1}
    assert [(f.key, f.status, f.error["code"]) for f in mixed[1:]] == [
        ("c", "FAILED", "no_ink"),
        ("d", "CANCELED", "canceled"),
    ]
    assert (caught.value.key, caught.value.status) == ("d", "CANCELED")  # the first in order
    assert isinstance(caught.value, FatalError)  # a retry would read the same outcome
    assert script.routes() == ["GET journal"]


async def test_a_lost_lease_unwinds_the_handler_and_marks_the_intent_lost() -> None:
    refused = {"ok": False, "error": {"code": "stale_lease", "message": "not yours", "retryable": False}}

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=journal())
        return httpx.Response(409, json=refused)

    state = _ContextState(
        AsyncClient("http://intentd.test", "k", transport=httpx.MockTransport(handle)),
        state_of(Script()).delivery,
    )
    with pytest.raises(Unwind):
        await AsyncContext(state).step("review", lambda: 1)
    assert state.lost.is_set() and not state.parked


# --- steps and the saga ---------------------------------------------------------------------------


async def test_a_journaled_step_is_not_run_and_a_new_one_is_journaled_as_read_back() -> None:
    script = Script(GET_journal=journal(entry("plan", kind="value", result=[1, 2])), POST_journal=echo_record)
    ctx = AsyncContext(state_of(script))
    calls: list[str] = []

    async def outline() -> tuple[str, int]:
        calls.append("outline")
        return ("intro", 3)

    assert await ctx.step("plan", lambda: calls.append("plan")) == [1, 2]
    assert await ctx.step("outline", outline) == ["intro", 3]  # JSON as journaled: a list
    with pytest.raises(TypeError, match="must be JSON"):
        await ctx.step("bad", lambda: {1, 2})
    assert calls == ["outline"]
    assert script.routes() == ["GET journal", "POST journal"]


async def test_a_final_failure_compensates_last_first_skipping_what_was_compensated_before() -> None:
    # An earlier delivery failed for good and crashed while compensating, after undoing c.
    failed = {"code": "FatalError", "message": "first time"}
    script = Script(
        GET_journal=journal(
            *(entry(key, kind="value", result=key.upper()) for key in "abc"),
            entry("$failed", kind="value", result=failed),
            entry("compensate:c", kind="value", result="undid c"),
        ),
        POST_journal=lambda body: (
            echo_record(body)
            if body["key"] != "$failed"
            else {"ok": True, "recorded": False, "entry": entry("$failed", kind="value", result=failed)}
        ),
    )
    state = state_of(script)
    ctx = AsyncContext(state)
    undone: list[tuple[str, Any]] = []

    def undo(name: str) -> Callable[[Any], Any]:
        def compensation(result: Any) -> str:
            undone.append((name, result))
            if name == "b":
                raise RuntimeError("cannot undo b")
            return f"undid {name}"

        return compensation

    for key in "abc":
        assert await ctx.step(key, lambda: "never run", compensate=undo(key)) == key.upper()
    with pytest.raises(ReportedFailure) as replayed:  # the first key not journaled: the old failure
        await ctx.step("d", lambda: "never run")
    failure = await state.journal.compensate(state.journal.failure(ValueError("a different bug")))

    assert replayed.value.error == failed
    assert undone == [("b", "B"), ("a", "A")]  # last first; c was undone by the earlier delivery
    assert error_object(failure) == {
        **failed,
        "details": {"compensated": ["c", "a"], "compensation_failed": ["b"]},
    }
    recorded = [body["key"] for route, body in script.requests if route == "POST journal"]
    assert recorded == ["$failed", "compensate:a"]


async def test_without_compensations_a_failure_is_reported_as_it_is() -> None:
    state = state_of(Script())
    boom = FatalError("boom")
    assert await state.journal.compensate(boom) is boom
    assert state.journal.returned({"ok": 1}) == {"ok": 1}


def test_error_objects_say_what_failed() -> None:
    child = ChildFailed("draft-a", "FAILED", {"code": "no_ink", "message": "out of ink"})
    assert str(child) == "child 'draft-a' ended FAILED: out of ink"
    assert error_object(child) == {
        "code": "ChildFailed",
        "message": "child 'draft-a' ended FAILED: out of ink",
        "details": {
            "key": "draft-a",
            "status": "FAILED",
            "error": {"code": "no_ink", "message": "out of ink"},
        },
    }
    assert error_object(ValueError()) == {"code": "ValueError", "message": "ValueError"}
    assert error_object(ReportedFailure({"code": "x", "message": "y"})) == {"code": "x", "message": "y"}


async def test_a_compensation_that_ran_but_could_not_be_journaled_is_not_reported_failed() -> None:
    def unreachable(body: JSON) -> JSON:
        if body["key"] == "compensate:a":
            raise httpx.ConnectError("the server is restarting")
        return echo_record(body)

    script = Script(GET_journal=journal(entry("a", kind="value", result="A")), POST_journal=unreachable)
    state = state_of(script)
    ctx = AsyncContext(state)
    undone: list[str] = []
    await ctx.step("a", lambda: "never run", compensate=lambda _: undone.append("a"))

    with pytest.raises(IntentdError):  # the next delivery compensates again: nothing is lost
        await state.journal.compensate(state.journal.failure(FatalError("declined")))
    assert undone == ["a"]
