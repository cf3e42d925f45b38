"""A worker killed with SIGKILL mid-handler: its intent is redelivered after the lease expires and
completed by another worker, exactly once in the intent's final state. Real server, real worker
processes started with ``intentd worker run``, taking work on a held delivery stream and by claims."""

from __future__ import annotations

import signal
import subprocess
import textwrap
from pathlib import Path

import httpx
import pytest

from tests._support.http_api import events_of
from tests._support.servers import Server, Servers, wait_until, worker_process

pytestmark = pytest.mark.slow

AGENTS = textwrap.dedent("""
    import os
    import time
    from pathlib import Path

    from intentd.worker import Worker

    worker = Worker(concurrency=2, lease_seconds=1.5, claim_wait_seconds=1.0,
                    shutdown_grace_seconds=5.0, delivery=os.environ["DELIVERY"])

    @worker.agent("agent://crash/test/slow")
    def slow(ctx, intent):
        Path(os.environ["MARKS"], f"{os.getpid()}-{ctx.attempt}").write_text(ctx.idempotency_key)
        if os.environ.get("HANG") == "1":
            time.sleep(600)  # killed long before this returns
        return {"worker_pid": os.getpid(), "attempt": ctx.attempt}
""")


def start_worker(server: Server, workdir: Path, *, hang: bool, delivery: str) -> subprocess.Popen[bytes]:
    marks = str(workdir / "marks")
    log = f"worker-{'hang' if hang else 'ok'}.log"
    hanging = "1" if hang else "0"
    return worker_process(
        server, workdir, "crash_agents:worker", log, MARKS=marks, HANG=hanging, DELIVERY=delivery
    )


def kill_a_worker_mid_handler(server: Server, http: httpx.Client, workdir: Path, delivery: str) -> str:
    first = start_worker(server, workdir, hang=True, delivery=delivery)
    try:
        created = http.post(
            "/v1/intents",
            json={
                "intent_type": "intent.slow.v1",
                "correlation_id": "crash-1",
                "to_agent": "agent://crash/test/slow",
                "payload": {},
            },
        ).json()
        # A mark with its key in it: killed between creating the file and writing it, the worker
        # would leave an empty one, and the check on the keys below would fail for the wrong reason.
        marks = workdir / "marks"
        wait_until(lambda: any(m.read_text() for m in marks.iterdir()), 30, "the first handler to start")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    return str(created["intent_id"])


@pytest.mark.parametrize("delivery", ["stream", "claim"])
def test_a_killed_worker_s_intent_is_completed_once_by_another(
    database_url: str, tmp_path: Path, delivery: str
) -> None:
    (tmp_path / "crash_agents.py").write_text(AGENTS)
    marks = tmp_path / "marks"
    marks.mkdir()  # each handler start leaves a file: <pid>-<attempt>, holding its idempotency key
    with Servers(tmp_path) as servers:
        server = servers.start(database_url)
        with server.client() as http:
            intent_id = kill_a_worker_mid_handler(server, http, tmp_path, delivery)
            second = start_worker(server, tmp_path, hang=False, delivery=delivery)
            try:
                wait_until(
                    lambda: http.get(f"/v1/intents/{intent_id}").json()["intent"]["status"] == "COMPLETED",
                    30,
                    "the second worker to complete the intent",
                )
                second.send_signal(signal.SIGTERM)
                assert second.wait(15) == 0  # graceful shutdown exits cleanly
            finally:
                second.kill()
            intent = http.get(f"/v1/intents/{intent_id}").json()["intent"]
            events = events_of(http, intent_id)

    types = [e["event_type"] for e in events]
    assert intent["result"] == {"worker_pid": second.pid, "attempt": 2}
    assert types.count("intent.completed") == 1 and types[-1] == "intent.completed"
    assert types.count("intent.delivered") == 2 and "intent.lease_expired" in types
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    keys = {path.read_text() for path in marks.iterdir()}
    assert len(keys) == 1  # both attempts saw the same idempotency key
