"""A refund flow, the code under test in docs/testing.md: the refunds agent holds the amount in the
ledger (a step with a compensation), asks a manager, and hands the payment to the payments agent as a
child intent. A no from the manager, or a payment that fails for good, fails the refund, and the hold
is released (the compensation runs once).

The payments agent is someone else's: the tests fake it with a stand-in. The ledger is the side effect
the tests look at (an in-memory one here; a real one would be a database or a bank's API)."""

from __future__ import annotations

import threading
from typing import Any

from intentd.worker import FatalError, Worker

REFUNDS = "agent://shop/prod/refunds"
PAYMENTS = "agent://shop/prod/payments"
REFUND = "intent.refund.v1"
MANAGERS = "role:managers"


class Ledger:
    """Holds on customers' money: what the refund's compensation must undo."""

    def __init__(self) -> None:
        self.held: dict[str, int] = {}
        self.released: list[str] = []
        self._lock = threading.Lock()

    def hold(self, order: str, amount: int) -> dict[str, Any]:
        with self._lock:
            self.held[order] = amount
        return {"hold": order, "amount": amount}

    def release(self, hold: dict[str, Any]) -> None:
        with self._lock:
            self.held.pop(hold["hold"], None)
            self.released.append(hold["hold"])


def serve_refunds(worker: Worker, ledger: Ledger) -> None:
    @worker.agent(REFUNDS)
    async def refund(ctx: Any, intent: Any) -> dict[str, Any]:
        order, amount = intent.payload["order"], intent.payload["amount"]
        await ctx.step("hold", lambda: ledger.hold(order, amount), compensate=ledger.release)
        answer = await ctx.ask_human(
            "manager",
            title=f"Refund {amount} EUR on order {order}?",
            assignees=[MANAGERS],
            remind_after_seconds=3600,  # a reminder an hour on, then
            escalate_to="role:directors",  # the directors, once the reminders are used up
            max_reminders=1,
        )
        if not answer.approved:
            raise FatalError(f"{answer.decided_by} said {answer.outcome}: {answer.comment}")
        paid = await ctx.spawn(PAYMENTS, {"order": order, "amount": amount}, key="pay")
        return {"refunded": amount, "payment": paid}
