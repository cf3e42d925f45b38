"""The refund flow tested end to end with intentd's pytest plugin (docs/testing.md): the real refunds
handler, a stand-in for the payments agent, a manager answering from the test, time moved on for the
reminder and the escalation, and each run's transitions compared with its golden file.

    pytest examples/testing                      # against an embedded server
    pytest examples/testing --intentd-record     # after an intended change: rewrite the golden files
"""

from __future__ import annotations

import pytest
from refund import MANAGERS, PAYMENTS, REFUND, REFUNDS, Ledger, serve_refunds

from intentd.client import Status
from intentd.testing import Intentd

ORDER = {"order": "A-17", "amount": 40}


@pytest.fixture
def ledger(intentd: Intentd) -> Ledger:
    ledger = Ledger()
    serve_refunds(intentd.worker, ledger)  # the real handler, in this process
    return ledger


def test_an_approved_refund_is_paid(intentd: Intentd, ledger: Ledger) -> None:
    payments = intentd.stand_in(PAYMENTS, returns={"paid": 40})
    refund = intentd.submit(REFUNDS, REFUND, ORDER)

    task = intentd.humans.task(refund)  # the manager is asked
    assert task.assignees == [MANAGERS] and task.human_task["title"] == "Refund 40 EUR on order A-17?"
    intentd.humans.approve(refund, comment="customer called")

    run = intentd.wait(refund)
    assert run.intents[0].status is Status.COMPLETED
    assert run.intents[0].result == {"refunded": 40, "payment": {"paid": 40}}
    assert payments.payloads == [{"order": "A-17", "amount": 40}]
    assert ledger.held == {"A-17": 40} and ledger.released == []
    intentd.assert_transitions(run, "golden/refund_approved.yaml")


def test_a_refused_refund_releases_the_hold(intentd: Intentd, ledger: Ledger) -> None:
    payments = intentd.stand_in(PAYMENTS, returns={"paid": 40})
    refund = intentd.submit(REFUNDS, REFUND, ORDER)
    intentd.humans.reject(refund, comment="outside the return window")

    run = intentd.wait(refund)
    assert run.intents[0].status is Status.FAILED
    assert payments.calls == []  # nothing was paid
    assert ledger.held == {} and ledger.released == ["A-17"]  # the compensation ran, once
    intentd.assert_transitions(run, "golden/refund_rejected.yaml")


def test_a_payment_that_fails_for_good_fails_the_refund_and_releases_the_hold(
    intentd: Intentd, ledger: Ledger
) -> None:
    payments = intentd.stand_in(PAYMENTS, fails=2, fatal="card account closed")
    refund = intentd.submit(REFUNDS, REFUND, ORDER)
    intentd.humans.approve(refund)

    run = intentd.wait(refund)
    assert [i.status for i in run.intents] == [Status.FAILED, Status.FAILED]
    assert [call.attempt for call in payments.calls] == [1, 2, 3]  # retried twice, then failed for good
    assert ledger.released == ["A-17"]
    intentd.assert_transitions(run, "golden/refund_payment_failed.yaml")


def test_the_manager_is_reminded_after_an_hour_then_the_directors_are_asked(
    intentd_clock: Intentd, ledger: Ledger
) -> None:
    intentd = intentd_clock  # the test moves time on: against a live server it is skipped
    intentd.stand_in(PAYMENTS, returns={"paid": 40})
    refund = intentd.submit(REFUNDS, REFUND, ORDER)
    intentd.humans.task(refund)
    intentd.advance(3600)
    assert intentd.humans.task(refund).reminders_sent == 1

    intentd.advance(3600)
    escalated = intentd.humans.task(refund)
    assert escalated.escalation_level == 1 and "role:directors" in escalated.assignees

    director = intentd.humans.as_person("dana", roles=["directors"])
    director.approve(refund, comment="approved on escalation")
    assert intentd.wait(refund).intents[0].status is Status.COMPLETED


def test_a_cap_on_refunds_per_hour_would_hold_back_the_recorded_refunds(intentd: Intentd) -> None:
    """A proposed policy tried on the recorded runs before it is set: one refund an hour would have let
    the first of the three recorded refunds through and held back the other two (the payments they
    handed on are not in its scope)."""
    report = intentd.dry_run(
        REFUNDS,
        {"max_intents_per_hour": 1},
        golden_files=[
            "golden/refund_approved.yaml",
            "golden/refund_rejected.yaml",
            "golden/refund_payment_failed.yaml",
        ],
    )
    assert (report.evaluated, report.allowed) == (5, 3)  # 3 refunds and 2 payments
    assert report.blocked + report.paused == 2 and report.by_rule == {"max_intents_per_hour": 2}
    assert {d.to_agent for d in report.decisions} == {REFUNDS}
