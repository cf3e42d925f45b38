"""The webhook outbox across a crash, with real processes: POSTs committed with their changes (an
http-bound agent's pushes, a subscription's lifecycle events) and not yet delivered when ``intentd
serve`` is SIGKILLed are all delivered by the server started again on the same database, signed, under
the ids they had, with the attempt the first process counted; each pushed intent is leased once its
POST is acknowledged (and that lease is an event the subscription receives too); nothing is left dead
or pending.

The receiver fails every POST until the kill, so nothing was delivered before it. The kill comes once
every first attempt has failed and been settled (a row claimed at the kill would wait out its claim,
a minute) and before any retry can fall due, so every row waits in the database alone."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from intentd.webhooks import verify
from tests._support.http_api import intent_body
from tests._support.receiver import Received, Receiver, receiving
from tests._support.servers import Server, Servers, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
AGENT = "agent://acme/e2e/pushed"
SECRET = "whsec-crash-0123456789"
INTENTS = 5
# A failed POST is retried 4 to 8 seconds later (jitter spreads it over the upper half): time enough
# to see every first attempt settled and kill the server before a retry, and little to wait after.
FIRST_RETRY = 8.0
DELIVERY_ID, EVENT_ID, ATTEMPT = "X-Intentd-Delivery-Id", "X-Intentd-Event-Id", "X-Intentd-Attempt"


class HookServer(Server):
    """``intentd serve`` that may POST to 127.0.0.1, retrying after FIRST_RETRY / 2 to FIRST_RETRY."""

    def environment(self) -> dict[str, str]:
        return {
            **super().environment(),
            "INTENTD_ALLOW_PRIVATE_CALLBACKS": "1",
            "INTENTD_WEBHOOK_FIRST_RETRY_SECONDS": str(FIRST_RETRY),
            "INTENTD_WEBHOOK_MAX_RETRY_SECONDS": str(FIRST_RETRY),
        }


def test_posts_committed_before_a_sigkill_are_all_delivered_after_the_restart(
    database_url: str, tmp_path: Path
) -> None:
    with receiving() as receiver, Servers(tmp_path) as servers:
        server = HookServer(tmp_path, database_url, name="hooks")
        servers.started.append(server)
        server.start()
        receiver.status = 503
        started = time.monotonic()  # before the first POST, so before any retry's countdown
        submitted = seed(server, receiver)
        with server.client() as http:  # committed with the intents: the rows the crash must not lose
            committed = wait_settled(http, receiver)
        pushed = {row["subject"] for row in committed.values() if row["kind"] == "http"}
        event_ids = {row["subject"] for row in committed.values() if row["kind"] == "subscription"}
        assert pushed == submitted and len(event_ids) >= INTENTS  # intent.created of each, at least
        elapsed = time.monotonic() - started
        assert elapsed < FIRST_RETRY / 2, f"{elapsed:.1f}s to settle: a retry may have been claimed"

        server.kill()
        before = len(receiver.received)
        assert before == len(committed), "a retry before the kill"
        receiver.status = 200
        server.start()  # the same database and port

        def delivered_all() -> bool:
            after = receiver.received[before:]
            leased = {
                e["payload"]["intent_id"] for e in events(after) if e["event_type"] == "intent.delivered"
            }
            return committed.keys() <= {r.json["delivery_id"] for r in after} and leased >= submitted

        wait_until(delivered_all, 30, "every committed POST, and each lease's event, after the restart")
        check_posts(receiver.received, committed, before)
        assert event_ids <= {e["event_id"] for e in events(receiver.received[before:])}
        with server.client() as http:
            wait_until(lambda: all_delivered(http, submitted), 10, "the acknowledged pushes to lease")
            wait_until(lambda: not deliveries(http, "pending"), 10, "no delivery left pending")
            assert deliveries(http, "dead") == []


def seed(server: Server, receiver: Receiver) -> set[str]:
    """The subscription to every lifecycle event, the http binding, and the intents whose POSTs the
    crash must not lose."""
    with server.client() as http:
        subscription = {
            "callback_url": receiver.url.replace("/hook", "/events"),
            "event_types": ["intent.*"],
            "secret": SECRET,
        }
        subscribed = http.post("/v1/webhooks/subscriptions", json=subscription)
        assert subscribed.status_code == 200, subscribed.text
        binding = {
            "delivery_mode": "http",
            "callback_url": receiver.url.replace("/hook", "/push"),
            "secret": SECRET,
            "lease_seconds": 600,  # no lease runs out, and pushes again, while the test looks
        }
        bound = http.put(f"/v1/agents/{AGENT.removeprefix('agent://')}/binding", json=binding)
        assert bound.status_code == 200, bound.text
        submitted = set()
        for n in range(INTENTS):
            created = http.post("/v1/intents", json=intent_body(AGENT, correlation_id=f"c{n}"))
            assert created.status_code == 200, created.text
            submitted.add(created.json()["intent_id"])
        return submitted


def wait_settled(http: httpx.Client, receiver: Receiver) -> dict[str, dict[str, Any]]:
    """The pending rows by delivery id, once each was POSTed once and that failure settled (counted
    and rescheduled with its error; a row being sent has the attempt counted and no error yet)."""
    found: dict[str, dict[str, Any]] = {}

    def settled() -> bool:
        rows = deliveries(http, "pending")
        found.clear()
        found.update((row["delivery_id"], row) for row in rows)
        return (
            bool(rows)
            and len(receiver.received) == len(rows)
            and all(row["attempts"] == 1 and row["last_error"] for row in rows)
        )

    wait_until(settled, 10, "every first attempt to fail and be settled")
    return found


def check_posts(received: list[Received], committed: dict[str, dict[str, Any]], restart: int) -> None:
    """Every POST is signed with the secret and names its row; the POSTs of one row are the same
    body, the row's; a committed row's POSTs are its first attempt before the kill and, after the
    restart, a later one (the count survived the crash; a duplicate would count on)."""
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for n, post in enumerate(received):
        verify(SECRET, post.body, post.headers)
        headers = httpx.Headers(post.headers)
        delivery_id = post.json["delivery_id"]
        assert headers[DELIVERY_ID] == delivery_id
        if post.path.endswith("/events"):
            assert headers[EVENT_ID] == post.json["event_id"]
        else:
            assert post.path.endswith("/push") and post.json["intent"]["to_agent"] == AGENT
        bodies[delivery_id].add(post.body)
        if delivery_id in committed:
            assert post.json == committed[delivery_id]["body"]
            assert (int(headers[ATTEMPT]) == 1) == (n < restart), (n, headers[ATTEMPT])
    assert all(len(same) == 1 for same in bodies.values()), "a row's POSTs differ"


def events(received: list[Received]) -> list[dict[str, Any]]:
    return [post.json for post in received if post.path.endswith("/events")]


def deliveries(http: httpx.Client, status: str) -> list[dict[str, Any]]:
    answer = http.get("/v1/webhooks/deliveries", params={"status": status, "limit": 1000})
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()["deliveries"]
    return rows


def all_delivered(http: httpx.Client, intent_ids: set[str]) -> bool:
    statuses = {http.get(f"/v1/intents/{i}").json()["intent"]["status"] for i in intent_ids}
    return statuses == {"DELIVERED"}
