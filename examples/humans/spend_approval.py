"""A manager approves spend over $1,000 before the purchasing agent acts (docs/humans.md).

The purchasing agent prices an order (a journaled step), asks a manager when the total passes $1,000,
and places the order only if the manager approves. While the manager thinks, no worker is held: the
intent waits WAITING_FOR_HUMAN, and the answer brings it back to the agent, whose handler finds the
quote and the answer in its journal (the quote is not priced twice).

This script also plays the manager: it waits for the task and decides it, as `intentd tasks approve`
or a signed e-mail link would. Start a server first (`make serve`), then:
`.venv/bin/python examples/humans/spend_approval.py`.
"""

from collections import Counter

from intentd.client import Client
from intentd.worker import Worker

PURCHASING = "agent://demo/humans/purchasing"
PRICES = {"laptop": 1200, "mouse": 25}
LIMIT = 1000  # above this, a manager decides

worker = Worker(concurrency=4)
priced: Counter[str] = Counter()  # per order: how many times it was priced


@worker.agent(PURCHASING)
def purchase(ctx, intent):
    order = intent.payload
    quote = ctx.step("quote", lambda: price(intent.intent_id, order))  # journaled: runs once
    if quote["total"] <= LIMIT:
        return {"placed": True, "total": quote["total"], "approval": None}
    answer = ctx.ask_human(
        "manager",
        title=f"Approve ${quote['total']:,} for {order['quantity']} x {order['item']}",
        task_type="approval",
        assignees=["role:managers"],
        remind_after_seconds=3600,  # a reminder an hour later, twice, then the directors
        max_reminders=2,
        escalate_to="role:directors",
        timeout_seconds=3 * 24 * 3600,  # nobody in three days: the order is canceled
    )
    approval = f"{answer.outcome} ({answer.comment})"
    return {"placed": answer.approved, "total": quote["total"], "approval": approval}


def price(order_id: str, order: dict) -> dict:
    priced[order_id] += 1
    return {"total": PRICES[order["item"]] * order["quantity"]}


def manager_decides(client: Client, intent_id: str, outcome: str, comment: str) -> None:
    """The manager: wait until the agent has asked, then answer the task."""
    for event in client.observe(intent_id, timeout=30):
        if event.event_type == "intent.human_task_assigned":
            client.decide_task(event.details["task_id"], outcome, comment=comment)
            return


def order(client: Client, item: str, quantity: int, decision: tuple[str, str] | None = None) -> str:
    intent = client.submit(PURCHASING, "intent.purchase.v1", {"item": item, "quantity": quantity})
    if decision is not None:
        manager_decides(client, intent.intent_id, *decision)
    done = client.wait_for(intent.intent_id, timeout=30)
    result = done.result
    placed = "placed" if result["placed"] else "not placed"
    approval = result["approval"] or "no approval needed"
    return (
        f"{item} x{quantity}: {placed}, ${result['total']:,}, {approval}, priced {priced[intent.intent_id]}x"
    )


if __name__ == "__main__":
    worker.start()  # in a background thread
    try:
        with Client() as client:  # INTENTD_URL / INTENTD_API_KEY, or .intentd-key
            print(order(client, "mouse", 2))
            print(order(client, "laptop", 1, ("approved", "within budget")))
            print(order(client, "laptop", 3, ("rejected", "over the quarter's budget")))
    finally:
        worker.stop()
