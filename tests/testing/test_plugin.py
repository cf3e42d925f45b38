"""The pytest plugin (intentd.testing) as a user's suite meets it: pytest's own ``pytester`` runs suites
that use its fixtures in a pytest process of their own, and each must pass or fail as it should.

On SQLite the suites run against the embedded server the plugin starts; on PostgreSQL against a live
``intentd serve`` on a PostgreSQL database, through ``--intentd-url`` and a key of a sandbox namespace
(a key of a production namespace is refused before any test runs)."""

from __future__ import annotations

import asyncio
import textwrap
import uuid

import pytest

from tests._support.servers import Server
from tests.testing.conftest import sandbox_key

pytestmark = pytest.mark.slow

# What a user's suite starts with: the plugin is loaded by its entry point, nothing else is needed.
HEADER = """
from intentd.client import IntentSpec, Status
from intentd.testing import Intentd, TimeControlUnavailable
from intentd.worker import FatalError

FIRST, SECOND = "agent://shop/test/first", "agent://shop/test/second"
"""


# The user's configuration: warnings are errors (the plugin must raise none), and pytest-asyncio, which
# this environment has, told its loop scope.
USER_INI = """
[pytest]
filterwarnings = error
asyncio_default_fixture_loop_scope = function
"""


def run_suite(pytester: pytest.Pytester, target: list[str], source: str, *options: str) -> pytest.RunResult:
    """``source`` (after :data:`HEADER`) as a user's test file, run by pytest in a process of its own."""
    pytester.makeini(USER_INI)
    pytester.makepyfile(test_flow=HEADER + textwrap.dedent(source))
    return pytester.runpytest_subprocess("-ra", "-p", "no:randomly", "-p", "no:xdist", *target, *options)


def test_stand_ins_retries_handoffs_and_failures_pass_and_fail_as_they_should(
    pytester: pytest.Pytester, target: list[str]
) -> None:
    result = run_suite(
        pytester,
        target,
        """
        import pytest

        def test_a_flaky_agent_is_retried_and_hands_on(intentd: Intentd) -> None:
            first = intentd.stand_in(FIRST, fails=2, returns={"draft": 1},
                                     then=[IntentSpec(SECOND, "intent.review.v1", {"draft": 1})])
            second = intentd.stand_in(SECOND, returns=lambda intent: {"reviewed": intent.payload["draft"]})
            run = intentd.run(FIRST, "intent.draft.v1", {"topic": "leases"})
            assert [i.status for i in run.intents] == [Status.COMPLETED, Status.COMPLETED]
            assert [c.attempt for c in first.calls] == [1, 2, 3]
            assert second.payloads == [{"draft": 1}] and run.leaves[0].result == {"reviewed": 1}

        def test_a_fatal_stand_in_fails_the_intent(intentd: Intentd) -> None:
            intentd.stand_in(FIRST, fatal="no such order")
            run = intentd.run(FIRST, "intent.draft.v1", {})
            assert run.intents[0].status is Status.FAILED
            assert run.intents[0].error["message"] == "no such order"

        def test_a_real_handler_runs_in_the_test_process(intentd: Intentd) -> None:
            seen = []

            @intentd.agent(FIRST)
            def handler(ctx, intent):
                seen.append(intent.payload)
                return {"echo": intent.payload["n"]}

            assert intentd.run(FIRST, "intent.echo.v1", {"n": 7}).intents[0].result == {"echo": 7}
            assert seen == [{"n": 7}]

        @pytest.mark.asyncio
        async def test_an_async_test_has_its_client(intentd: Intentd, intentd_async_client) -> None:
            intentd.stand_in(FIRST, returns={"n": 3})
            submitted = intentd.submit(FIRST, "intent.draft.v1", {})
            run = await intentd_async_client.wait_for_run(submitted.intent_id, timeout=30)
            assert run.intents[0].result == {"n": 3}

        def test_this_one_fails(intentd: Intentd) -> None:
            intentd.stand_in(FIRST, returns={"n": 1})
            assert intentd.run(FIRST, "intent.draft.v1", {}).intents[0].result == {"n": 2}
        """,
    )
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*test_this_one_fails*", "*assert {'n': 1} == {'n': 2}*"])


def test_people_answer_and_time_moves_only_when_the_test_says(
    pytester: pytest.Pytester, target: list[str]
) -> None:
    live = bool(target)
    result = run_suite(
        pytester,
        target,
        """
        import pytest
        from intentd.client import NotAssignee

        ASK = {"title": "Ship it?", "assignees": ["role:managers"], "remind_after_seconds": 60,
               "max_reminders": 1, "escalate_to": "role:directors"}

        def test_an_approval_goes_on_and_a_rejection_is_the_answer(intentd: Intentd) -> None:
            first = intentd.stand_in(FIRST, asks=ASK)
            approved = intentd.submit(FIRST, "intent.ship.v1", {})
            task = intentd.humans.task(approved)
            assert task.assignees == ["role:managers"] and task.human_task["title"] == "Ship it?"
            intentd.humans.approve(approved, comment="looks good")
            done = intentd.wait(approved)
            assert done.intents[0].result["outcome"] == "approved"
            assert first.calls[-1].answer.comment == "looks good"

        def test_only_an_assignee_may_decide(intentd: Intentd) -> None:
            intentd.stand_in(FIRST, asks=ASK)
            asked = intentd.submit(FIRST, "intent.ship.v1", {})
            with pytest.raises(NotAssignee):
                intentd.humans.as_person("eve", roles=["interns"]).approve(asked)
            intentd.humans.as_person("max", roles=["managers"]).reject(asked, comment="not today")
            assert intentd.wait(asked).intents[0].result["decided_by"] == "max"

        def test_reminders_and_escalation_follow_the_clock(intentd_clock: Intentd) -> None:
            intentd = intentd_clock
            intentd.stand_in(FIRST, asks=ASK)
            asked = intentd.submit(FIRST, "intent.ship.v1", {})
            assert intentd.humans.task(asked).reminders_sent == 0
            intentd.advance(59)
            assert intentd.humans.task(asked).reminders_sent == 0
            intentd.advance(1)
            assert intentd.humans.task(asked).reminders_sent == 1
            intentd.advance(60)
            task = intentd.humans.task(asked)
            assert task.escalation_level == 1 and "role:directors" in task.assignees

        def test_a_form_is_filled_in(intentd: Intentd) -> None:
            form = {"type": "object", "properties": {"amount": {"type": "integer", "minimum": 1}},
                    "required": ["amount"]}
            ask = {"title": "How much?", "assignees": ["role:managers"], "form_schema": form}
            intentd.stand_in(FIRST, asks=ask)
            asked = intentd.submit(FIRST, "intent.quote.v1", {})
            intentd.humans.submit(asked, {"amount": 40}, comment="as agreed")
            assert intentd.wait(asked).intents[0].result["data"] == {"amount": 40}

        def test_a_slow_agent_holds_its_work_until_time_moves_on(intentd_clock: Intentd) -> None:
            intentd = intentd_clock
            slow = intentd.stand_in(FIRST, takes=20, returns={"ok": True})
            work = intentd.submit(FIRST, "intent.slow.v1", {})
            intentd.wait_until(work, Status.DELIVERED)
            intentd.advance(19)
            assert intentd.client.get(work.intent_id).status is Status.DELIVERED
            intentd.advance(1)
            assert intentd.wait(work).intents[0].result == {"ok": True}
            assert len(slow.calls) == 1  # its lease held all along

        def test_a_backoff_waits_for_the_clock(intentd_clock: Intentd) -> None:
            intentd = intentd_clock
            first = intentd.stand_in(FIRST, fails=1, retry_after=300, returns={"ok": True})
            asked = intentd.submit(FIRST, "intent.ship.v1", {})
            intentd.wait_until(asked, Status.WAITING)  # the backoff, in server time
            intentd.advance(299)
            assert intentd.client.get(asked.intent_id).status is Status.WAITING
            intentd.advance(1)
            assert intentd.wait(asked).intents[0].status is Status.COMPLETED
            assert len(first.calls) == 2

        def test_time_moves_on_only_where_it_can(intentd: Intentd) -> None:
            if intentd.controls_time:
                before = intentd.now
                intentd.advance(90)
                assert (intentd.now - before).total_seconds() == 90
            else:
                with pytest.raises(TimeControlUnavailable):
                    intentd.advance(90)
        """,
    )
    if live:  # the three that move time are skipped, saying why
        result.assert_outcomes(passed=4, skipped=3)
        result.stdout.fnmatch_lines(["*only the embedded server's moves*"])
    else:
        result.assert_outcomes(passed=7)


def test_golden_transitions_are_recorded_then_compared(pytester: pytest.Pytester, target: list[str]) -> None:
    suite = """
        def test_the_flow(intentd: Intentd) -> None:
            intentd.stand_in(FIRST, returns={"draft": 1}, then=[IntentSpec(SECOND, "intent.review.v1", {})])
            intentd.stand_in(SECOND, fails={fails}, returns={"ok": True})
            run = intentd.run(FIRST, "intent.draft.v1", {"topic": "leases"})
            intentd.assert_transitions(run, "golden/flow.yaml")
        """
    missing = run_suite(pytester, target, suite.replace("{fails}", "0"))
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(["*--intentd-record*"])

    run_suite(pytester, target, suite.replace("{fails}", "0"), "--intentd-record").assert_outcomes(passed=1)
    golden = pytester.path / "golden" / "flow.yaml"
    assert SECOND_ADDRESS in golden.read_text()
    run_suite(pytester, target, suite.replace("{fails}", "0")).assert_outcomes(passed=1)  # the same flow

    changed = run_suite(pytester, target, suite.replace("{fails}", "1"))  # now the reviewer is retried once
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(["*golden/flow.yaml*", "*+*"])


SECOND_ADDRESS = "agent://shop/test/second"


def test_a_key_of_a_production_namespace_is_refused(pytester: pytest.Pytester, live: Server | None) -> None:
    if live is None:
        pytest.skip("a live server's namespaces: on the PostgreSQL run")
    key = asyncio.run(sandbox_key(str(live.database_url), f"prod-{uuid.uuid4().hex[:8]}", sandbox=False))
    result = run_suite(
        pytester, ["--intentd-url", live.url, "--intentd-api-key", key], "def test_x(intentd): pass\n"
    )
    result.stderr.fnmatch_lines(["*not a sandbox*"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR
