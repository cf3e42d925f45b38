"""One agent of the traced chain of tests/e2e/test_traces.py, in a process of its own, with a tracer
provider that writes each finished span to a JSON-lines file:

    python -m tests.e2e.traced_agent <planner|writer|reviewer> <url> <api key> <spans file>

The planner (async) spawns the writer's intent and waits for it (its intent parks, and is handled
again once the draft is done, unless the draft was done before the planner asked for it); the writer
(sync, in a thread) drafts inside a span of its own and hands on to the reviewer with ``then``; the
reviewer (async) fails its first attempt, to be retried.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from opentelemetry import trace

from intentd.client import AsyncClient, IntentSpec
from intentd.worker import Result, RetryableError, RetryPolicy, Worker
from tests._support.traces import export_to_file

PLANNER = "agent://traces/e2e/planner"
WRITER = "agent://traces/e2e/writer"
REVIEWER = "agent://traces/e2e/reviewer"
tracer = trace.get_tracer("the agents' own code")


def planner(worker: Worker) -> None:
    @worker.agent(PLANNER)
    async def plan(ctx: Any, intent: Any) -> dict[str, Any]:
        draft = await ctx.spawn(WRITER, {"topic": intent.payload["topic"]}, key="draft")
        return {"plan": "publish", "draft": draft}


def writer(worker: Worker) -> None:
    @worker.agent(WRITER)
    def write(ctx: Any, intent: Any) -> Result:
        with tracer.start_as_current_span("write the draft"):  # a framework's span, in the handler's thread
            text = f"on {intent.payload['topic']}"
        return Result({"text": text}, then=[IntentSpec(REVIEWER, "intent.review.v1", {"text": text})])


def reviewer(worker: Worker) -> None:
    @worker.agent(REVIEWER)
    async def review(ctx: Any, intent: Any) -> dict[str, Any]:
        if ctx.attempt == 1:
            raise RetryableError("the reviewer's model timed out", retry_after=0.05)
        return {"approved": True}


ROLES = {"planner": planner, "writer": writer, "reviewer": reviewer}


def main(role: str, url: str, api_key: str, spans: str) -> None:
    export_to_file(Path(spans))
    worker = Worker(AsyncClient(url, api_key), retry=RetryPolicy(base_seconds=0.05, max_seconds=0.1))
    ROLES[role](worker)
    worker.run()  # until SIGTERM


if __name__ == "__main__":
    main(*sys.argv[1:])
