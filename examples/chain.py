"""A three-agent chain: researcher → writer → reviewer, each a handler of one worker.

Each handler completes its intent and, in the same request, hands the work to the next agent
(`Result(..., then=[...])`): one round trip and one commit per handoff. The requester waits for the
whole run on the id it submitted (`wait_for_run`) and reads the answer where the run ended.

Start a server first (`make serve`), then: `.venv/bin/python examples/chain.py "durable agents"`.
"""

import sys

from intentd.client import Client, IntentSpec
from intentd.worker import Result, Worker

worker = Worker(concurrency=8)


@worker.agent("agent://demo/local/researcher")
def research(ctx, intent):
    ctx.progress("collecting sources")
    notes = [f"{intent.payload['topic']}: finding {n}" for n in (1, 2, 3)]
    return Result(
        {"notes": notes}, then=[IntentSpec("agent://demo/local/writer", "intent.draft.v1", {"notes": notes})]
    )


@worker.agent("agent://demo/local/writer")
def write(ctx, intent):
    draft = " ".join(intent.payload["notes"])
    ctx.report_usage(tokens=len(draft.split()))
    return Result(
        {"draft": draft},
        then=[IntentSpec("agent://demo/local/reviewer", "intent.review.v1", {"draft": draft})],
    )


@worker.agent("agent://demo/local/reviewer")
def review(ctx, intent):
    return {"approved": True, "final": intent.payload["draft"].upper()}


def run_chain(client: Client, topic: str) -> dict:
    first = client.submit("agent://demo/local/researcher", "intent.research.v1", {"topic": topic})
    run = client.wait_for_run(first.intent_id, timeout=30)  # every step ended: nothing more can follow
    [last] = run.leaves  # the reviewer's intent
    return last.result or {}


if __name__ == "__main__":
    worker.start()
    with Client() as client:
        print(run_chain(client, sys.argv[1] if len(sys.argv) > 1 else "durable agents"))
    worker.stop()
