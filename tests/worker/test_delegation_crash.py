"""A supervisor's worker killed with SIGKILL mid-handler, after its children were spawned and had
finished: another worker runs the handler again from the top, gets every child's result from the
journal and creates none twice. Real server, real worker processes (``intentd worker run``)."""

from __future__ import annotations

import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests._support.http_api import events_of
from tests._support.servers import Server, Servers, child_environment, intentd_command, wait_until

pytestmark = pytest.mark.slow
EDITOR = "agent://crash/test/editor"
TOPICS = ["a", "b", "c"]

AGENTS = textwrap.dedent("""
    import os
    import time
    from pathlib import Path

    from intentd.worker import Worker

    worker = Worker(concurrency=4, lease_seconds=1.5, claim_wait_seconds=1.0, shutdown_grace_seconds=5.0)
    MARKS = Path(os.environ["MARKS"])

    @worker.agent("agent://crash/test/editor")
    def edit(ctx, intent):
        topics = intent.payload["topics"]
        drafts = ctx.gather(*(ctx.spawn("agent://crash/test/writer", {"topic": t}, key=f"draft-{t}")
                              for t in topics))

        def publish():
            (MARKS / f"publish-{os.getpid()}").write_text(str(ctx.attempt))
            if os.environ.get("HANG") == "1":
                time.sleep(600)  # killed long before this returns
            return {"published": len(drafts)}

        return {"drafts": drafts, **ctx.step("publish", publish)}

    @worker.agent("agent://crash/test/writer")
    def write(ctx, intent):
        topic = intent.payload["topic"]
        (MARKS / f"draft-{topic}-{os.getpid()}-{ctx.attempt}").write_text(topic)
        return {"draft": topic.upper()}
""")


def start_worker(server: Server, workdir: Path, *, hang: bool) -> subprocess.Popen[bytes]:
    env = child_environment(url=server.url, api_key=server.api_key)
    env.update({"MARKS": str(workdir / "marks"), "HANG": "1" if hang else "0"})
    with (workdir / f"worker-{'hang' if hang else 'ok'}.log").open("ab") as log:
        return subprocess.Popen(
            intentd_command("worker", "run", "delegation_agents:worker"),
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_a_supervisor_killed_mid_handler_creates_no_child_twice(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "delegation_agents.py").write_text(AGENTS)
    marks = tmp_path / "marks"
    marks.mkdir()
    with Servers(tmp_path) as servers:
        server = servers.start(database_url)
        with server.client() as http:
            first = start_worker(server, tmp_path, hang=True)
            try:
                created = http.post(
                    "/v1/intents",
                    json={
                        "intent_type": "intent.edit.v1",
                        "correlation_id": "crash-deleg",
                        "to_agent": EDITOR,
                        "payload": {"topics": TOPICS},
                        "max_delivery_attempts": 10,
                    },
                ).json()
                parent_id = created["intent_id"]
                # The handler reaches the step after its gather: the children were spawned (in an
                # earlier run, which parked) and have finished.
                wait_until(lambda: any(marks.glob("publish-*")), 30, "the handler to reach its step")
                first.send_signal(signal.SIGKILL)
                first.wait(10)
            finally:
                first.kill()
            second = start_worker(server, tmp_path, hang=False)
            try:
                wait_until(
                    lambda: http.get(f"/v1/intents/{parent_id}").json()["intent"]["status"] == "COMPLETED",
                    30,
                    "the second worker to complete the parent",
                )
                second.send_signal(signal.SIGTERM)
                assert second.wait(15) == 0
            finally:
                second.kill()
            parent = http.get(f"/v1/intents/{parent_id}").json()["intent"]
            journal = http.get(f"/v1/intents/{parent_id}/journal").json()["entries"]
            tree = http.get(f"/v1/intents/{parent_id}/tree").json()["intents"]
            parent_events = [e["event_type"] for e in events_of(http, parent_id)]
            child_events = {c["intent_id"]: events_of(http, c["intent_id"]) for c in tree[1:]}

    assert parent["result"] == {"drafts": [{"draft": t.upper()} for t in TOPICS], "published": len(TOPICS)}
    assert "intent.lease_expired" in parent_events and parent_events.count("intent.completed") == 1
    keys = [f"draft-{t}" for t in TOPICS]
    assert [e["key"] for e in journal] == [*keys, "publish"]
    children = [i for i in tree if i["parent_intent_id"] == parent_id]
    assert sorted(c["step_key"] for c in children) == keys  # one child per key: none created twice
    assert {c["intent_id"] for c in children} == {e["child_intent_id"] for e in journal[:-1]}
    for events in child_events.values():
        assert [e["event_type"] for e in events].count("intent.completed") == 1
    assert sorted(m.read_text() for m in marks.glob("draft-*")) == TOPICS  # each writer ran once
    publishes = sorted(marks.glob("publish-*"))
    assert len(publishes) == 2  # the killed worker's run, and the second worker's
