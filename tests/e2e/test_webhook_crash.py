"""The webhook outbox across a crash, with real processes: POSTs committed with their changes (an
http-bound agent's pushes, a subscription's lifecycle events) and not yet delivered when ``intentd
serve`` is SIGKILLed are all delivered by the server started again on the same database, signed, under
the ids they had; each pushed intent is leased once its POST is acknowledged; nothing is left dead or
pending. The receiver fails every POST until the kill, so nothing was delivered before it: the kill
comes once every first attempt has failed and been settled, before the retries fall due, so every row
waits in the database alone."""

from __future__ import annotations

from pathlib import Path

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


class HookServer(Server):
    """``intentd serve`` that may POST to 127.0.0.1, retrying after 1.5 to 3 seconds (jitter), long
    enough to kill it before a retry, short enough for the test."""

    first_retry = "3"

    def environment(self) -> dict[str, str]:
        return {
            **super().environment(),
            "INTENTD_ALLOW_PRIVATE_CALLBACKS": "1",
            "INTENTD_WEBHOOK_FIRST_RETRY_SECONDS": self.first_retry,
            "INTENTD_WEBHOOK_MAX_RETRY_SECONDS": self.first_retry,
        }


def pushes(received: list[Received]) -> set[str]:
    return {r.json["intent_id"] for r in received if r.path.endswith("/push")}


def events(received: list[Received]) -> set[str]:
    return {r.json["event_id"] for r in received if r.path.endswith("/events")}


def test_posts_committed_before_a_sigkill_are_all_delivered_after_the_restart(
    database_url: str, tmp_path: Path
) -> None:
    with receiving() as receiver, Servers(tmp_path) as servers:
        server = HookServer(tmp_path, database_url, name="hooks")
        servers.started.append(server)
        server.start()
        receiver.status = 503
        submitted = seed(server, receiver)
        before = receiver.wait_for(2 * INTENTS)  # every first attempt failed
        assert pushes(before) == submitted and len(events(before)) == INTENTS
        with server.client() as http:  # and was settled: each row waits for its retry
            wait_until(lambda: waiting(http) == 2 * INTENTS, 10, "the failed attempts to settle")

        server.kill()
        receiver.status = 200
        server.start()  # the same database and port

        def delivered_all() -> bool:
            after = receiver.received[len(before) :]
            return pushes(after) == submitted and events(after) == events(before)

        wait_until(delivered_all, 30, "every committed POST to arrive after the restart")
        for post in receiver.received:
            verify(SECRET, post.body, post.headers)  # signed as before, with the same secret
        with server.client() as http:
            wait_until(lambda: all_delivered(http, submitted), 30, "the acknowledged pushes to lease")
            for status in ("dead", "pending"):
                left = http.get("/v1/webhooks/deliveries", params={"status": status}).json()
                assert left["deliveries"] == [], status


def seed(server: Server, receiver: Receiver) -> set[str]:
    """The subscription, the http binding and the intents whose POSTs the crash must not lose."""
    with server.client() as http:
        subscription = {
            "callback_url": receiver.url.replace("/hook", "/events"),
            "event_types": ["intent.created"],
            "secret": SECRET,
        }
        assert http.post("/v1/webhooks/subscriptions", json=subscription).status_code == 200
        binding = {
            "delivery_mode": "http",
            "callback_url": receiver.url.replace("/hook", "/push"),
            "secret": SECRET,
        }
        bound = http.put(f"/v1/agents/{AGENT.removeprefix('agent://')}/binding", json=binding)
        assert bound.status_code == 200, bound.text
        return {
            http.post("/v1/intents", json=intent_body(AGENT, correlation_id=f"c{n}")).json()["intent_id"]
            for n in range(INTENTS)
        }


def waiting(http: httpx.Client) -> int:
    rows = http.get("/v1/webhooks/deliveries", params={"status": "pending"}).json()["deliveries"]
    return sum(1 for row in rows if row["attempts"] == 1)


def all_delivered(http: httpx.Client, intent_ids: set[str]) -> bool:
    statuses = {http.get(f"/v1/intents/{i}").json()["intent"]["status"] for i in intent_ids}
    return statuses == {"DELIVERED"}
