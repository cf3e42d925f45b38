"""Retry with backoff, then success: a supplier that is busy for the first two calls of each run.

Two layers retry, and this example shows both. The worker retries the *same* intent: a handler that
raises ``RetryableError`` (any exception but ``FatalError``) is delivered again after a durable
backoff, while the intent has delivery attempts left (``max_delivery_attempts``). A declared step's
``retry`` policy goes on from there: once the step's intent has FAILED, it starts a *new* intent for
the step after ``retry_delay_seconds × backoff_multiplier^(n-1)`` (a timer on the run; no worker waits).

Declared: each step intent gets 2 delivery attempts (the bundle's ``max_delivery_attempts``), so the
first step attempt fails after two busy calls and the step's retry succeeds. Code-first: a buyer
agent spawns the reservation with 5 delivery attempts; the third delivery succeeds.

Start a server first (`make serve`), then: `.venv/bin/python examples/patterns/retry.py`.
"""

from collections import Counter

from styles import run

from intentd.client import Client, Intent
from intentd.worker import RetryableError, RetryPolicy, Worker

SUPPLIER = "agent://demo/retry/supplier"
BUYER = "agent://demo/retry/buyer"  # the code-first supervisor

# The worker's own backoff: 0.2 s, 0.4 s, ... (± 20 %), at most 2 s.
worker = Worker(concurrency=4, retry=RetryPolicy(base_seconds=0.2, max_seconds=2))
calls: Counter[str] = Counter()  # per run: the stand-in supplier is busy for the first two calls


class SupplierBusy(RetryableError):
    """Error code ``SupplierBusy``: the worker asks for this intent to be delivered again."""


@worker.agent(SUPPLIER)
def reserve(ctx, intent):
    calls[intent.root_intent_id] += 1
    if calls[intent.root_intent_id] <= 2:
        raise SupplierBusy("the supplier is busy, try again later")
    return {"reserved": intent.payload["item"]}


BUNDLE = {
    "scenario_id": "demo.retry",
    "agents": [{"role": "supplier", "address": SUPPLIER}],
    "workflow": {
        "steps": [
            {
                "step_id": "reserve",
                "assigned_to": "supplier",
                "input": {"item": "${run.payload.item}"},
                "retry": {
                    "max_retries": 3,
                    "retry_delay_seconds": 0.5,
                    "backoff_multiplier": 2,
                    "jitter": 0,
                    "retry_on": ["SupplierBusy"],
                },
            }
        ]
    },
    "intent": {"type": "intent.demo.reserve.v1", "payload": {"item": "widgets"}, "max_delivery_attempts": 2},
}


def attempts(steps: list[Intent]) -> str:
    """Each intent made for the step: how it ended, after how many deliveries."""
    return ", ".join(
        f"{step.status} after {step.delivery_attempt} deliveries"
        + (f" ({step.error['code']})" if step.error else "")
        for step in steps
    )


def declared(client: Client) -> str:
    run_id = client.apply_scenario(BUNDLE).run_id
    tree = client.wait_for_run(run_id, timeout=30)
    retrying = [e for e in client.events(run_id) if e.event_type == "intent.step_retrying"]
    waits = [e.details["delay_seconds"] for e in retrying]
    steps = attempts(tree.children(run_id))
    return f"{client.get(run_id).status}; step intents: {steps}; the step retried after {waits} s"


@worker.agent(BUYER)
def buy(ctx, intent):
    item = intent.payload["item"]
    return ctx.spawn(SUPPLIER, {"item": item}, key="reserve", max_delivery_attempts=5).result()


def code_first(client: Client) -> str:
    buyer = client.submit(BUYER, "intent.demo.reserve.v1", {"item": "widgets"})
    tree = client.wait_for_run(buyer.intent_id, timeout=30)
    return f"{client.get(buyer.intent_id).status}; child intents: {attempts(tree.children(buyer.intent_id))}"


if __name__ == "__main__":
    run([worker], declared, code_first)
