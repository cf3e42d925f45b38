"""The kill switch against real processes on both backends: three ``intentd worker run`` processes
are running an agent's handlers when it is killed; every handler is stopped (a held stream is told at
once; a claiming worker learns it on its next lease heartbeat), the work is canceled, the agent is
refused new work until resumed, and then it works again."""

from __future__ import annotations

import signal
import subprocess
import textwrap
from pathlib import Path

import httpx
import pytest

from tests._support.servers import Server, Servers, wait_until, worker_process

pytestmark = pytest.mark.slow
AGENT = "agent://kill/test/busy"
WORKERS, RUNNING_EACH = 3, 2

AGENTS = textwrap.dedent("""
    import asyncio
    import os
    from pathlib import Path

    from intentd.worker import Worker

    worker = Worker(concurrency=2, lease_seconds=3.0, claim_wait_seconds=1.0,
                    shutdown_grace_seconds=2.0, delivery=os.environ["DELIVERY"])
    marks = Path(os.environ["MARKS"])

    @worker.agent("agent://kill/test/busy")
    async def busy(ctx, intent):
        if not intent.payload.get("hang"):
            return {"done": True}
        (marks / f"started-{intent.intent_id}").touch()
        try:
            await asyncio.sleep(600)  # until the kill stops it
        except asyncio.CancelledError:
            (marks / f"stopped-{intent.intent_id}").touch()
            raise
""")


def start_worker(server: Server, workdir: Path, delivery: str, n: int) -> subprocess.Popen[bytes]:
    marks = str(workdir / "marks")
    return worker_process(
        server, workdir, "kill_agents:worker", f"worker-{n}.log", MARKS=marks, DELIVERY=delivery
    )


def submit(http: httpx.Client, hang: bool) -> httpx.Response:
    body = {"intent_type": "busy.v1", "correlation_id": "k", "to_agent": AGENT, "payload": {"hang": hang}}
    return http.post("/v1/intents", json=body)


def marked(marks: Path, prefix: str) -> set[str]:
    return {p.name.removeprefix(prefix) for p in marks.iterdir() if p.name.startswith(prefix)}


@pytest.mark.parametrize("delivery", ["stream", "claim"])
def test_a_kill_stops_every_running_handler_and_resume_restores_the_agent(
    database_url: str, tmp_path: Path, delivery: str
) -> None:
    (tmp_path / "kill_agents.py").write_text(AGENTS)
    marks = tmp_path / "marks"
    marks.mkdir()
    with Servers(tmp_path) as servers:
        server = servers.start(database_url)
        workers = [start_worker(server, tmp_path, delivery, n) for n in range(WORKERS)]
        try:
            with server.client() as http:
                ids = {submit(http, hang=True).json()["intent_id"] for _ in range(WORKERS * RUNNING_EACH)}
                wait_until(lambda: marked(marks, "started-") == ids, 30, "every handler to start")

                killed = http.post(
                    "/v1/mesh/agents/kill/test/busy/kill", json={"in_flight": "cancel", "reason": "test"}
                ).json()
                # A held stream is told at once; a claiming worker on its next beat (a third of 3 s).
                wait_until(lambda: marked(marks, "stopped-") == ids, 10, "every handler to stop")

                statuses = {http.get(f"/v1/intents/{i}").json()["intent"]["status"] for i in ids}
                refused = submit(http, hang=False)
                agent = http.get("/v1/mesh/agents/kill/test/busy").json()["agent"]
                http.post("/v1/mesh/agents/kill/test/busy/resume")
                after = submit(http, hang=False).json()["intent_id"]
                wait_until(
                    lambda: http.get(f"/v1/intents/{after}").json()["intent"]["status"] == "COMPLETED",
                    30,
                    "the resumed agent to complete new work",
                )
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                try:
                    worker.wait(15)
                except subprocess.TimeoutExpired:
                    worker.kill()

    assert killed["swept"]["canceled"] == len(ids)
    assert statuses == {"CANCELED"}
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "agent_killed"
    assert agent["health_status"] == "killed"
    assert len({w["worker_id"] for w in agent["workers"]}) == WORKERS
    if delivery == "stream":
        logs = "".join((tmp_path / f"worker-{n}.log").read_text() for n in range(WORKERS))
        assert logs.count(f"agent {AGENT} was killed") == WORKERS  # each told on its stream
