"""``intentd serve`` as users run it: a real subprocess, real HTTP, real SSE, restarts."""

from __future__ import annotations

import signal
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests._support.http_api import (
    events_of,
    intent_body,
    parse_rfc3339,
    rfc3339_in,
    sse_events,
    wait_terminal,
)
from tests._support.servers import RequestSent, Server, Servers, intentd_command

pytestmark = pytest.mark.slow
AGENT = "agent://acme/e2e/writer"


def test_submit_claim_complete_is_seen_live_on_the_event_stream(database_url: str, servers: Servers) -> None:
    server = servers.start(database_url)
    assert httpx.get(f"{server.url}/health").json()["ok"] is True  # no key needed
    assert httpx.get(f"{server.url}/v1/intents").status_code == 401  # the API needs one
    with server.client() as http, server.client() as watcher:
        created = http.post("/v1/intents", json=intent_body(AGENT, payload={"n": 1}))
        assert created.status_code == 200, created.text
        intent_id = created.json()["intent_id"]

        stream = f"/v1/intents/{intent_id}/events/stream"
        with watcher.stream("GET", stream, params={"wait_seconds": 30}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
            # The stream is open and caught up before the worker acts: what follows arrives live.
            assert [next(events)[0], next(events)[0]] == ["intent.created", "intent.submitted"]

            claim = http.post(f"/v1/agents/{AGENT}/claims", json={"lease_seconds": 30})
            (delivery,) = claim.raise_for_status().json()["deliveries"]
            assert delivery["intent"]["intent_id"] == intent_id
            assert delivery["lease"]["delivery_attempt"] == 1
            done = http.post(
                f"/v1/intents/{intent_id}/complete",
                json={"lease_token": delivery["lease"]["token"], "result": {"answer": 42}},
            )
            assert done.status_code == 200, done.text

            live = list(events)  # the server closes the stream after the terminal event
    assert [name for name, _ in live] == ["intent.delivered", "intent.completed"]
    assert live[-1][1]["status"] == "COMPLETED"
    assert live[-1][1]["details"]["result"] == {"answer": 42}
    assert [data["seq"] for _, data in live] == [3, 4]


def test_fresh_directory_gets_an_admin_key_file_on_first_start(tmp_path: Path, servers: Servers) -> None:
    server = servers.start(None, api_key=None)  # default database: a SQLite file in the cwd
    key_file = tmp_path / ".intentd-key"
    assert key_file.exists(), server.log_tail()
    secret = key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # a secret: owner only
    assert (tmp_path / "intentd.db").exists()

    with server.client(api_key=secret) as http:
        assert http.get("/v1/intents").status_code == 200
    with server.client(api_key="itd_not_a_key") as http:
        assert http.get("/v1/intents").status_code == 401

    # A restart keeps the key: no second admin key, the file is not rewritten.
    server.stop()
    server.start()
    assert key_file.read_text().strip() == secret
    with server.client(api_key=secret) as http:
        assert http.get("/v1/intents").status_code == 200


def test_second_serve_on_the_same_sqlite_file_is_refused(tmp_path: Path, servers: Servers) -> None:
    database_url = f"sqlite:///{tmp_path / 'shared.db'}"
    first = servers.start(database_url)
    intruder = Server(tmp_path, database_url, name="intruder")
    result = subprocess.run(
        intentd_command("serve"),
        cwd=tmp_path,
        env=intruder.environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "another intentd server is already using" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr  # one clear line, not a stack
    with first.client() as http:  # the first server is untouched
        assert http.get("/health").status_code == 200
        assert http.post("/v1/intents", json=intent_body(AGENT)).status_code == 200


def test_deadline_that_passes_while_stopped_fires_soon_after_restart(
    database_url: str, servers: Servers
) -> None:
    server = servers.start(database_url)
    with server.client() as http:
        created = http.post("/v1/intents", json=intent_body(AGENT, deadline_at=rfc3339_in(2.0)))
        intent = created.raise_for_status().json()["intent"]
    deadline = parse_rfc3339(intent["deadline_at"])
    # A graceful stop: uvicorn shuts down cleanly, then re-raises SIGTERM as its exit status.
    assert server.stop() in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.log_tail()
    stopped_at = time.time()
    assert stopped_at < deadline, "the server took too long to stop; the test proves nothing"
    # Real time must pass the deadline with no server running; there is no clock to fake in a
    # separate process, and the wait is bounded by the 2 s deadline above.
    time.sleep(max(0.0, deadline - time.time()) + 0.1)

    server.start()
    restarted_at = time.time()
    with server.client() as http:
        seen = wait_terminal(http, intent["intent_id"], timeout=10)
        assert seen[-1]["event_type"] == "intent.timed_out"
        assert seen[-1]["details"]["error"]["code"] == "intent_timeout"
        fired_at = parse_rfc3339(seen[-1]["at"])
        assert fired_at >= stopped_at  # fired by the restarted server, not before the stop
        assert fired_at - restarted_at < 3.0  # overdue timers fire on start
        assert [e["event_type"] for e in events_of(http, intent["intent_id"])] == [
            "intent.created",
            "intent.submitted",
            "intent.timed_out",
        ]
        assert http.get(f"/v1/intents/{intent['intent_id']}").json()["intent"]["status"] == ("TIMED_OUT")


def test_sigterm_answers_waiting_claims_and_streams_and_stops_at_once(
    database_url: str, servers: Servers
) -> None:
    """A graceful stop does not wait out long polls: they answer now (an empty claim, a
    stream.timeout), so a deploy restarts in well under their wait_seconds."""
    from concurrent.futures import ThreadPoolExecutor

    server = servers.start(database_url)
    claim_sent, streaming = RequestSent(), threading.Event()
    with server.client() as http, ThreadPoolExecutor(2) as pool:
        intent_id = http.post("/v1/intents", json=intent_body(AGENT)).json()["intent_id"]
        claim = pool.submit(
            lambda: http.post(
                "/v1/agents/acme/e2e/idle/claims", json={"wait_seconds": 60}, extensions={"trace": claim_sent}
            ).json()
        )
        assert claim_sent.wait(10)

        def follow() -> list[str]:
            names = []
            with http.stream(
                "GET", f"/v1/intents/{intent_id}/events/stream", params={"wait_seconds": 60}
            ) as response:
                for name, _ in sse_events(response):
                    names.append(name)
                    streaming.set()
            return names

        stream = pool.submit(follow)
        # The stream is being served, and the claim sent before it has been read: the server sees
        # both sockets in one event loop and answered the later one. Both now wait (a claim not yet
        # parked when the stop comes answers at once too: the stop closes the wake-ups first).
        assert streaming.wait(10)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 5
        assert claim.result(5) == {"ok": True, "deliveries": []}
        assert stream.result(5)[-1] == "stream.timeout"


def test_a_claim_whose_worker_hung_up_takes_nothing(database_url: str, servers: Servers) -> None:
    """A worker shutting down drops its long polls, then releases its intents: the server must not
    hand them to the dropped claims (they would sit leased to nobody until the lease expired)."""
    server = servers.start(database_url)
    assert server.api_key is not None
    body = b'{"worker_id": "gone", "wait_seconds": 30}'
    head = (
        f"POST /v1/agents/{AGENT.removeprefix('agent://')}/claims HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"x-api-key: {server.api_key}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port)) as doomed:
        doomed.sendall(head.encode() + body)
        time.sleep(0.5)  # parked on the server, waiting for work
    time.sleep(0.5)  # the worker hung up; the server notices
    with server.client() as http:
        intent_id = http.post("/v1/intents", json=intent_body(AGENT)).raise_for_status().json()["intent_id"]
        claim = http.post(f"/v1/agents/{AGENT}/claims", json={"wait_seconds": 5}).raise_for_status()
        (delivery,) = claim.json()["deliveries"]
    assert delivery["intent"]["intent_id"] == intent_id
    assert delivery["lease"]["delivery_attempt"] == 1  # first delivered to this live claim
