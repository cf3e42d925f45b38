"""One trace across processes (docs/operations.md, "Traces"), on both backends: a real ``intentd serve``
with ``INTENTD_OTEL=true``, three worker processes (tests/e2e/traced_agent.py, each writing its spans
to a file) and this process as the submitter, its spans in memory. The planner spawns the writer's
intent, the writer hands on to the reviewer with ``then``, the reviewer fails once and is retried;
every span of every process is asserted: one trace id, each handler's span the child of the span
that made its intent, the server's spans children of the spans whose requests they served.

And an agent in a process where OpenTelemetry cannot be imported at all does its work and sends none.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from intentd.client import AsyncClient, Status
from tests._support import traces
from tests._support.servers import API_KEY, REPO, Server, end, module_process
from tests._support.without import run_without
from tests.e2e.traced_agent import PLANNER, REVIEWER, WRITER

pytestmark = pytest.mark.slow
ROLES = ("planner", "writer", "reviewer")

# Run by the server's interpreter at start-up, before intentd, as `opentelemetry-instrument` does:
# a tracer provider set by the process, which intentd uses rather than setting up its own.
SITECUSTOMIZE = """\
import os
from pathlib import Path

from tests._support.traces import export_to_file

export_to_file(Path(os.environ["TRACES_TEST_SPANS_FILE"]))
"""


class TracedServer(Server):
    """``intentd serve`` with INTENTD_OTEL on, its spans written to ``spans``."""

    def __init__(self, cwd: Path, database_url: str, spans: Path) -> None:
        super().__init__(cwd, database_url, name="traced-server")
        self.spans = spans
        self.site = cwd / "site"
        self.site.mkdir()
        (self.site / "sitecustomize.py").write_text(SITECUSTOMIZE)

    def environment(self) -> dict[str, str]:
        return {
            **super().environment(),
            "INTENTD_OTEL": "true",
            "PYTHONPATH": os.pathsep.join([str(self.site), str(REPO)]),
            "TRACES_TEST_SPANS_FILE": str(self.spans),
        }


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[TracedServer]:
    started = TracedServer(tmp_path, database_url, tmp_path / "server.spans").start()
    try:
        yield started
    finally:  # before the database is dropped
        started.kill()
        print(f"==== server log ====\n{started.log_tail()}")


@pytest.fixture
def submitter() -> Iterator[InMemorySpanExporter]:
    with traces.recording() as exporter:
        yield exporter


def handled(spans: list[traces.SpanRecord], agent: str) -> list[traces.SpanRecord]:
    """The handler spans of ``agent``, in attempt order."""
    mine = [s for s in spans if s.name == f"intentd.handle {agent}"]
    return sorted(mine, key=lambda s: s.attributes["intentd.delivery.attempt"])


def served(spans: list[traces.SpanRecord], name: str, parent: traces.SpanRecord) -> traces.SpanRecord:
    """The server's span ``name`` of the request sent from inside ``parent``."""
    [span] = [s for s in spans if s.name == name and s.parent_id == parent.span_id]
    assert (span.kind, span.trace_id) == ("SERVER", parent.trace_id)
    return span


async def test_one_trace_follows_the_intents_across_three_worker_processes(
    server: TracedServer, submitter: InMemorySpanExporter, tmp_path: Path
) -> None:
    files = {role: tmp_path / f"{role}.spans" for role in ROLES}
    workers = [
        module_process(
            "tests.e2e.traced_agent", role, server.url, API_KEY, str(path), log=tmp_path / f"{role}.log"
        )
        for role, path in files.items()
    ]
    try:
        async with AsyncClient(server.url, API_KEY) as client:
            with trace.get_tracer("the submitter").start_as_current_span("ask for a plan") as span:
                planned = await client.submit(PLANNER, "intent.plan.v1", {"topic": "traces"})
            run = await client.wait_for_run(planned.intent_id, timeout=90)
    finally:
        for process in workers:
            end(process)  # SIGTERM: each worker stops once its handlers have ended, their spans written
    assert {i.status for i in run.intents} == {Status.COMPLETED}
    intent = {i.to_agent: i for i in run.intents}

    submit = traces.span_record(span)
    assert traces.recorded(submitter) == [submit]  # the SDK adds no span of its own
    planner, writer, reviewer = (traces.read_spans(files[role]) for role in ROLES)
    every = planner + writer + reviewer
    assert {s.trace_id for s in every} == {submit.trace_id}

    # The planner: handled twice when it parks on the writer's child (and is handled again once the
    # child is done), or once when the writer finished before the planner asked for its result (the
    # await answers at once); each handling continues the submitter's span.
    plans = handled(planner, PLANNER)
    assert len(plans) in (1, 2)
    for plan in plans:
        assert (plan.kind, plan.parent_id, plan.status) == ("CONSUMER", submit.span_id, "UNSET")
        assert plan.attributes["intentd.intent.id"] == planned.intent_id
    spawning_plan, completing_plan = plans[0], plans[-1]
    # The writer: its intent was spawned from the planner's first handling; the span of its own code
    # (in the sync handler's thread) nests under its handler's span.
    [write] = handled(writer, WRITER)
    assert write.parent_id == spawning_plan.span_id
    assert write.attributes == {
        "intentd.intent.id": intent[WRITER].intent_id,
        "intentd.intent.type": "intent.task.v1",
        "intentd.correlation_id": planned.correlation_id,
        "intentd.agent": WRITER,
        "intentd.delivery.attempt": 1,
        "intentd.root_intent.id": planned.intent_id,
        "intentd.parent_intent.id": planned.intent_id,
        "messaging.system": "intentd",
        "messaging.operation.type": "process",
        "messaging.destination.name": WRITER,
        "messaging.message.id": intent[WRITER].intent_id,
    }
    [draft] = [s for s in writer if s.name == "write the draft"]
    assert (draft.kind, draft.parent_id) == ("INTERNAL", write.span_id)
    # The reviewer: handed on by the writer's completion, so both its attempts continue the
    # writer's span; the first failed.
    failed, retried = handled(reviewer, REVIEWER)
    assert [(s.parent_id, s.status) for s in (failed, retried)] == [
        (write.span_id, "ERROR"),
        (write.span_id, "UNSET"),
    ]
    assert failed.attributes["error.type"] == "RetryableError"
    assert [s.attributes["intentd.delivery.attempt"] for s in (failed, retried)] == [1, 2]
    assert {s.attributes["intentd.intent.id"] for s in (failed, retried)} == {intent[REVIEWER].intent_id}

    # The server: a span per request, each the child of the span it was sent from.
    on_server = traces.read_spans(server.spans)
    served(on_server, "POST /v1/intents", submit)
    served(on_server, "POST /v1/intents/{intent_id}/children", spawning_plan)
    served(on_server, "POST /v1/intents/{intent_id}/complete", write)
    served(on_server, "POST /v1/intents/{intent_id}/fail", failed)
    served(on_server, "POST /v1/intents/{intent_id}/complete", retried)
    served(on_server, "POST /v1/intents/{intent_id}/complete", completing_plan)


AGENT_WITHOUT_OPENTELEMETRY = """
    from intentd.client import Client, IntentSpec
    from intentd.worker import Result, Worker

    worker = Worker(concurrency=2)

    @worker.agent("agent://traces/e2e/plain")
    def plain(ctx, intent):
        return Result({"done": True}, then=[IntentSpec("agent://traces/e2e/next", "intent.next.v1")])

    @worker.agent("agent://traces/e2e/next")
    def next_one(ctx, intent):
        return {}

    worker.start()
    try:
        with Client() as client:
            submitted = client.submit("agent://traces/e2e/plain", "intent.plain.v1", {})
            run = client.wait_for_run(submitted.intent_id, timeout=60)
    finally:
        worker.stop()
    print(sorted((i.status.value, i.trace_context) for i in run.intents))
    print(sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED))
    """


def test_an_agent_without_opentelemetry_works_and_sends_no_trace(
    server: TracedServer, tmp_path: Path
) -> None:
    done = run_without({"opentelemetry"}, AGENT_WITHOUT_OPENTELEMETRY, url=server.url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[('COMPLETED', None), ('COMPLETED', None)]", "[]"]
