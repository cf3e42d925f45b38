"""A server restarted while a worker holds its delivery stream: the worker opens the stream again and
every intent, submitted before and after the restart, is completed exactly once, whether the server
stopped gracefully or was killed. Real server and worker processes."""

from __future__ import annotations

import signal
import subprocess
import textwrap
from pathlib import Path

import httpx
import pytest

from tests._support.http_api import events_of
from tests._support.servers import Server, Servers, child_environment, intentd_command, wait_until

pytestmark = pytest.mark.slow

AGENT = "agent://restart/test/echo"
WORKER = textwrap.dedent(f"""
    from intentd.worker import Worker

    worker = Worker(concurrency=4, lease_seconds=5, delivery="stream")

    @worker.agent("{AGENT}")
    def echo(ctx, intent):
        return {{"n": intent.payload["n"]}}
""")


def start_worker(server: Server, workdir: Path) -> subprocess.Popen[bytes]:
    env = child_environment(url=server.url, api_key=server.api_key)
    with (workdir / "worker.log").open("ab") as log:
        return subprocess.Popen(
            intentd_command("worker", "run", "stream_worker:worker"),
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def submit(http: httpx.Client, n: int) -> str:
    body = {
        "intent_type": "intent.echo.v1",
        "correlation_id": f"c-{n}",
        "to_agent": AGENT,
        "payload": {"n": n},
    }
    return str(http.post("/v1/intents", json=body).json()["intent_id"])


def all_completed(http: httpx.Client, ids: list[str]) -> bool:
    return all(http.get(f"/v1/intents/{i}").json()["intent"]["status"] == "COMPLETED" for i in ids)


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_a_restarted_server_loses_and_duplicates_nothing_for_a_held_stream(
    database_url: str, tmp_path: Path, stop: str
) -> None:
    (tmp_path / "stream_worker.py").write_text(WORKER)
    with Servers(tmp_path) as servers:
        server = servers.start(database_url)
        worker = start_worker(server, tmp_path)
        try:
            with server.client() as http:
                ids = [submit(http, n) for n in range(5)]
                wait_until(lambda: all_completed(http, ids), 30, "the first intents to complete")
            server.stop() if stop == "sigterm" else server.kill()
            server.start()
            with server.client() as http:
                ids += [submit(http, n) for n in range(5, 10)]
                wait_until(lambda: all_completed(http, ids), 30, "the worker to come back and complete")
                results = [http.get(f"/v1/intents/{i}").json()["intent"]["result"] for i in ids]
                completions = [
                    [e["event_type"] for e in events_of(http, i)].count("intent.completed") for i in ids
                ]
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(15) == 0
        finally:
            worker.kill()
    assert results == [{"n": n} for n in range(10)]
    assert completions == [1] * 10
