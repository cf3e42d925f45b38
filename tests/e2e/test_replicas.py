"""Two ``intentd serve`` replicas on one PostgreSQL database (ARCHITECTURE.md §3, §6, §11): work
submitted to one is claimable from the other at once (LISTEN/NOTIFY wakes the waiting claim), and
both schedulers together fire each deadline exactly once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._support.http_api import events_of, intent_body, rfc3339_in, sse_events, wait_terminal
from tests._support.servers import RequestSent, Server, Servers

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
AGENT = "agent://acme/e2e/replicated"
CLAIM_WAIT = 20.0  # a claim that is not woken returns empty only after this long


@pytest.fixture
def replicas(pg_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with Servers(tmp_path) as started:
        yield started.start(pg_url, name="replica-a"), started.start(pg_url, name="replica-b")


def test_long_poll_claim_on_one_replica_wakes_for_work_created_on_the_other(
    replicas: tuple[Server, Server],
) -> None:
    a, b = replicas
    answer: dict[str, Any] = {}
    sent = RequestSent()

    def claim_on_b() -> None:
        with b.client() as http:
            response = http.post(
                f"/v1/agents/{AGENT}/claims",
                json={"lease_seconds": 30, "wait_seconds": CLAIM_WAIT},
                extensions={"trace": sent},
            )
            answer["at"] = time.monotonic()
            answer["body"] = response.raise_for_status().json()

    claimer = threading.Thread(target=claim_on_b)
    claimer.start()
    # B is another process with no signal for a parked claim; what shows from here: the claim has
    # gone out whole, and B has answered a request sent after it, so B has read the claim too (one
    # event loop sees both sockets). Its read of the empty queue follows at once; had it not yet
    # happened when A commits, the claim would find the intent there and pass without a NOTIFY.
    assert sent.wait()
    with b.client() as probe:
        assert probe.get("/health").status_code == 200
    with a.client() as http:
        created = http.post("/v1/intents", json=intent_body(AGENT)).raise_for_status().json()
    created_at = time.monotonic()
    claimer.join(CLAIM_WAIT + 10)

    (delivery,) = answer["body"]["deliveries"]
    assert delivery["intent"]["intent_id"] == created["intent_id"]
    # Woken by the other replica's NOTIFY, far sooner than the claim's own wait would end.
    assert answer["at"] - created_at < 2.0


def test_a_stream_on_one_replica_sees_a_completion_made_on_the_other(replicas: tuple[Server, Server]) -> None:
    a, b = replicas
    with a.client() as on_a, b.client() as on_b:
        intent_id = on_a.post("/v1/intents", json=intent_body(AGENT)).json()["intent_id"]
        stream = f"/v1/intents/{intent_id}/events/stream"
        with on_b.stream("GET", stream, params={"wait_seconds": CLAIM_WAIT}) as response:
            events = sse_events(response)
            assert next(events)[0] == "intent.created"
            assert next(events)[0] == "intent.submitted"
            started = time.monotonic()
            claim = on_a.post(f"/v1/agents/{AGENT}/claims", json={"lease_seconds": 30})
            token = claim.json()["deliveries"][0]["lease"]["token"]
            on_a.post(f"/v1/intents/{intent_id}/complete", json={"lease_token": token})
            assert [name for name, _ in events] == ["intent.delivered", "intent.completed"]
            assert time.monotonic() - started < 2.0


def test_deadlines_fire_exactly_once_across_both_schedulers(replicas: tuple[Server, Server]) -> None:
    a, b = replicas
    count = 30
    due = rfc3339_in(1.0)  # one instant for all: both schedulers find them due together
    ids = []
    with a.client() as on_a, b.client() as on_b:
        for n in range(count):
            target = on_a if n % 2 else on_b
            created = target.post("/v1/intents", json=intent_body(AGENT, deadline_at=due))
            ids.append(created.raise_for_status().json()["intent_id"])
        for n, intent_id in enumerate(ids):
            wait_terminal(on_b if n % 2 else on_a, intent_id, timeout=15)
        for intent_id in ids:
            kinds = [e["event_type"] for e in events_of(on_a, intent_id)]
            assert kinds == ["intent.created", "intent.submitted", "intent.timed_out"], intent_id
    assert both_answer(a, b)


def both_answer(*servers: Server) -> bool:
    """Both replicas are still up (no crash from a lost race over the same timer)."""
    return all(httpx.get(f"{s.url}/health").status_code == 200 for s in servers)
