"""Parallel fan-out and join: ask three suppliers for a quote at once; one of them is out of stock.

Declared: a ``parallel`` step with a branch per supplier, joined by ``all``, ``any`` or a quorum of 2,
then a step that picks the cheapest quote. Each policy decides as soon as it can: ``all`` fails at
the first failed branch, ``any`` completes at the first completed one, and the branches still open
are canceled (``remaining: cancel``); the join's tally counts them. Code-first: a purchaser agent
gathers the three children (``return_exceptions=True``) and applies the same rule itself; a gather
waits for every child.

The quoter runs in a worker with one slot, so the branches are answered one at a time in their
order and the printout is the same on every run; give it more slots and they run at once.

Start a server first (`make serve`), then: `.venv/bin/python examples/patterns/fan_out.py`.
"""

from styles import run

from intentd.client import Client
from intentd.worker import ChildFailed, FatalError, Worker

QUOTER = "agent://demo/fan-out/quoter"
BUYER = "agent://demo/fan-out/buyer"
PURCHASER = "agent://demo/fan-out/purchaser"  # the code-first supervisor
SUPPLIERS = ["initech", "acme", "globex"]  # initech is out of stock
PRICES = {"acme": 120, "globex": 95}
JOINS = {"all": {"policy": "all"}, "any": {"policy": "any"}, "quorum": {"policy": "quorum", "quorum": 2}}

quoter = Worker(concurrency=1)
buyers = Worker(concurrency=4)


class OutOfStock(FatalError):
    """Fails the quote at once (error code ``OutOfStock``); any other exception would be retried."""


@quoter.agent(QUOTER)
def quote(ctx, intent):
    supplier = intent.payload["supplier"]
    if supplier not in PRICES:
        raise OutOfStock(f"{supplier} is out of stock")
    return {"supplier": supplier, "price": PRICES[supplier]}


@buyers.agent(BUYER)
def choose(ctx, intent):
    return min(intent.payload["quotes"].values(), key=lambda q: q["price"])


def bundle(join: dict) -> dict:
    branches = [{"step_id": s, "assigned_to": "quoter", "input": {"supplier": s}} for s in SUPPLIERS]
    return {
        "scenario_id": "demo.fan_out",
        "agents": [{"role": "quoter", "address": QUOTER}, {"role": "buyer", "address": BUYER}],
        "workflow": {
            "steps": [
                {"step_id": "quotes", "branches": branches, "join": join, "on_success": "choose"},
                {
                    "step_id": "choose",
                    "assigned_to": "buyer",
                    "input": {"quotes": "${steps.quotes.output.branches}"},
                },
            ]
        },
        "intent": {"type": "intent.demo.purchase.v1", "payload": {"item": "widgets"}},
    }


def counted(tally: dict) -> str:
    return ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in tally.items() if n)


def declared(client: Client) -> str:
    outcomes = []
    for name, join in JOINS.items():
        done = client.wait_for(client.apply_scenario(bundle(join)).run_id, timeout=30)
        if done.status == "COMPLETED":
            choice, tally = done.result["output"], done.result["steps"]["quotes"]["tally"]
            outcomes.append(f"{name} COMPLETED {choice['supplier']} at {choice['price']} ({counted(tally)})")
        else:  # error: {"code": "step_failed", "step_id": "quotes", "cause": {"code": "join_failed", ...}}
            cause = done.error["cause"]
            outcomes.append(f"{name} FAILED {cause['code']} ({counted(cause['tally'])})")
    return " | ".join(outcomes)


@buyers.agent(PURCHASER)
def purchase(ctx, intent):
    children = [ctx.spawn(QUOTER, {"supplier": s}, key=s) for s in SUPPLIERS]
    quotes = ctx.gather(*children, return_exceptions=True)  # parks until all three have ended
    good = [q for q in quotes if not isinstance(q, ChildFailed)]
    if len(good) < intent.payload["needed"]:
        raise FatalError(f"{len(good)} of {len(SUPPLIERS)} quotes, {intent.payload['needed']} needed")
    return min(good, key=lambda q: q["price"])


def code_first(client: Client) -> str:
    outcomes = []
    for name, needed in {"all": 3, "any": 1, "quorum": 2}.items():
        submitted = client.submit(PURCHASER, "intent.demo.purchase.v1", {"item": "widgets", "needed": needed})
        done = client.wait_for(submitted.intent_id, timeout=30)
        if done.status == "COMPLETED":
            outcomes.append(f"{name} COMPLETED {done.result['supplier']} at {done.result['price']}")
        else:
            outcomes.append(f"{name} FAILED {done.error['message']}")
    return " | ".join(outcomes)


if __name__ == "__main__":
    run([quoter, buyers], declared, code_first)
