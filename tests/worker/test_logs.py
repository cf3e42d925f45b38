"""JSON logs of ``intentd worker run`` (``INTENTD_LOG_FORMAT=json``), against a real server on both
backends: what a handler logs with the standard library's ``logging`` carries the intent id, the
correlation id and the agent of the delivery it runs for, from a sync handler (run in a thread) and an
async one alike, and so do the worker's own lines about a delivery; lines about no delivery carry none.
Every line the worker writes is one JSON object."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._support.servers import Servers, end, wait_until, worker_process

pytestmark = pytest.mark.slow
SYNC_AGENT = "agent://logs/test/sync"
ASYNC_AGENT = "agent://logs/test/async"

AGENTS = textwrap.dedent("""
    import logging

    from intentd.worker import FatalError, Worker

    worker = Worker(concurrency=4, claim_wait_seconds=1.0)
    log = logging.getLogger("acme.agents")

    @worker.agent("agent://logs/test/sync")
    def in_a_thread(ctx, intent):
        log.info("sync handler working on %s", intent.payload["n"])
        return {"done": True}

    @worker.agent("agent://logs/test/async")
    async def on_the_loop(ctx, intent):
        log.info("async handler working on %s", intent.payload["n"])
        raise FatalError("refused on purpose")  # the worker then logs a line about this delivery
""")


def submit(http: httpx.Client, agent: str, n: int) -> tuple[str, str]:
    correlation_id = f"corr-{uuid.uuid4().hex[:8]}"
    body = {
        "intent_type": "logs.v1",
        "correlation_id": correlation_id,
        "to_agent": agent,
        "payload": {"n": n},
    }
    answer = http.post("/v1/intents", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["intent_id"], correlation_id


def settled(http: httpx.Client, intent_ids: list[str]) -> bool:
    statuses = {http.get(f"/v1/intents/{i}").json()["intent"]["status"] for i in intent_ids}
    return statuses <= {"COMPLETED", "FAILED"}


def test_a_handlers_own_log_lines_carry_its_intent_and_correlation_ids(
    database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "log_agents.py").write_text(AGENTS)
    with Servers(tmp_path) as servers:
        server = servers.start(database_url)
        process = worker_process(
            server, tmp_path, "log_agents:worker", "worker.log", INTENTD_LOG_FORMAT="json"
        )
        try:
            with server.client() as http:
                sent = {
                    submit(http, agent, n): agent for n, agent in enumerate([SYNC_AGENT, ASYNC_AGENT] * 2)
                }
                wait_until(lambda: settled(http, [i for i, _ in sent]), 30, "every intent to be handled")
        finally:
            end(process)

    lines: list[dict[str, Any]] = [
        json.loads(line) for line in (tmp_path / "worker.log").read_text().splitlines()
    ]
    for (intent_id, correlation_id), agent in sent.items():
        about = [line for line in lines if line.get("intent_id") == intent_id]
        stamped = {(line["correlation_id"], line["agent"]) for line in about}
        assert stamped == {(correlation_id, agent)}, about
        handler = "sync" if agent == SYNC_AGENT else "async"
        assert any(line["message"].startswith(f"{handler} handler working") for line in about), lines
        if agent == ASYNC_AGENT:  # the worker's own line about the failure it reports
            assert any(line["logger"] == "intentd.worker" and "raised" in line["message"] for line in about)
    unrelated = [line for line in lines if line["logger"] == "httpx" and "/deliveries" in line["message"]]
    assert all("intent_id" not in line for line in unrelated)
