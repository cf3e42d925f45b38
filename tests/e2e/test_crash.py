"""SIGKILL mid-flight, restart on the same database: nothing acknowledged is lost, nothing is
duplicated, every event log is gapless, and work leased at the crash is redelivered and finished.

Load comes from real HTTP clients in threads: submitters create intents with idempotency keys (a
retry after a lost answer must return the same intent), and a worker claims with a short lease and
completes most deliveries while keeping some in hand, as a worker does when its process dies too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests._support.http_api import all_intents, events_of, intent_body
from tests._support.servers import Server, Servers

pytestmark = pytest.mark.slow
AGENT = "agent://acme/e2e/crash"
SUBMITTERS = 3
LEASE_SECONDS = 1.5  # short, so work held at the crash is redelivered soon after the restart
PACE = 0.01  # seconds between one submitter's creates: enough load, few intents to check after


@dataclass
class Load:
    """What the clients were told before the crash (only 2xx answers count as told)."""

    stop: threading.Event = field(default_factory=threading.Event)
    # Held to read or change the fields below; notified on every change (see ``update``).
    lock: threading.Condition = field(default_factory=threading.Condition)
    acked: dict[str, str] = field(default_factory=dict)  # idempotency key -> intent id
    unacked: list[str] = field(default_factory=list)  # keys sent without a 2xx answer
    completed: set[str] = field(default_factory=set)  # completions the server acknowledged
    recovered: int = 0  # completions of a redelivery (a lease expired while the server ran)
    in_hand: dict[str, tuple[str, int]] = field(default_factory=dict)  # id -> (token, attempt)
    errors: list[BaseException] = field(default_factory=list)

    def body(self, key: str) -> dict[str, Any]:
        return intent_body(AGENT, payload={"key": key}, correlation_id=f"crash-{key}")

    @contextmanager
    def update(self) -> Iterator[None]:
        """Change what the clients were told, waking whoever waits on the load."""
        with self.lock:
            yield
            self.lock.notify_all()

    def enough(self) -> bool:
        with self.lock:
            return (
                len(self.acked) >= 40
                and len(self.completed) >= 10
                and self.recovered >= 1
                and len(self.in_hand) >= 2
            )


def submitter(server: Server, load: Load, name: str) -> None:
    with server.client(timeout=10) as http:
        for n in range(10_000):
            key = f"{name}-{n}"
            try:
                response = http.post("/v1/intents", json=load.body(key), headers={"Idempotency-Key": key})
            except httpx.TransportError:
                with load.update():
                    load.unacked.append(key)
                return  # the server is gone
            if response.status_code != 200:
                with load.update():
                    load.errors.append(AssertionError(f"create {key}: {response.text}"))
                return
            with load.update():
                load.acked[key] = response.json()["intent_id"]
            if load.stop.wait(PACE):  # a steady stream, so the crash lands amid creates
                return


def worker(server: Server, load: Load) -> None:
    """Keeps every third first delivery in hand (its lease runs out) and completes the rest."""
    claimed = 0
    with server.client(timeout=10) as http:
        while not load.stop.is_set():
            try:
                claim = http.post(
                    f"/v1/agents/{AGENT}/claims",
                    json={"max_intents": 4, "lease_seconds": LEASE_SECONDS, "wait_seconds": 1},
                )
                for delivery in claim.raise_for_status().json()["deliveries"]:
                    intent_id, lease = delivery["intent"]["intent_id"], delivery["lease"]
                    claimed += 1
                    with load.update():
                        load.in_hand[intent_id] = (lease["token"], lease["delivery_attempt"])
                    if lease["delivery_attempt"] == 1 and claimed % 3 == 0:
                        continue  # kept in hand: its lease runs out (before or after the crash)
                    done = http.post(
                        f"/v1/intents/{intent_id}/complete",
                        json={"lease_token": lease["token"], "result": {"ok": True}},
                    )
                    done.raise_for_status()
                    with load.update():
                        load.in_hand.pop(intent_id, None)
                        load.completed.add(intent_id)
                        load.recovered += lease["delivery_attempt"] > 1
            except httpx.TransportError:
                return  # the server is gone; what was in hand stays in hand
            except httpx.HTTPStatusError as exc:
                with load.update():
                    load.errors.append(AssertionError(f"{exc}: {exc.response.text}"))
                return


def run_until_crash(server: Server, load: Load) -> None:
    threads = [
        threading.Thread(target=submitter, args=(server, load, f"s{i}"), daemon=True)
        for i in range(SUBMITTERS)
    ]
    threads.append(threading.Thread(target=worker, args=(server, load), daemon=True))
    for thread in threads:
        thread.start()
    with load.lock:  # until the load has built up (or went wrong); each change notifies
        load.lock.wait_for(lambda: load.enough() or bool(load.errors), timeout=60)
    server.kill()  # mid-flight: submitters and the worker are still sending
    load.stop.set()
    for thread in threads:
        thread.join(30)
    assert not load.errors, load.errors
    assert load.enough(), f"load too small before the crash: {len(load.acked)} acked"


def test_sigkill_mid_flight_loses_and_duplicates_nothing(database_url: str, servers: Servers) -> None:
    server = servers.start(database_url)
    load = Load()
    run_until_crash(server, load)
    server.start()  # same database, same port

    with server.client() as http:
        check_acknowledged_creates_survived(http, load)
        check_resent_creates_are_not_duplicated(http, load)
        leased_at_crash = check_completions_survived(http, load)
        redeliver_and_finish(http, load, leased_at_crash)
        check_event_logs(http, load)


def check_acknowledged_creates_survived(http: httpx.Client, load: Load) -> None:
    """Sending an acknowledged create again answers the same intent (the listing check below
    proves every acknowledged intent is stored; a sample of re-sends keeps the test fast)."""
    for key, intent_id in list(load.acked.items())[::5]:
        again = http.post("/v1/intents", json=load.body(key), headers={"Idempotency-Key": key})
        assert again.status_code == 200, again.text
        assert again.json()["intent_id"] == intent_id, f"{key} lost or re-created"
        assert again.json()["idempotent_replay"] is True


def check_resent_creates_are_not_duplicated(http: httpx.Client, load: Load) -> None:
    """A client that got no answer sends again with the same key: whether or not the first send
    committed, exactly one intent exists per key afterwards."""
    by_key = dict(load.acked)
    for key in load.unacked:
        again = http.post("/v1/intents", json=load.body(key), headers={"Idempotency-Key": key})
        assert again.status_code == 200, again.text
        by_key[key] = again.json()["intent_id"]
    stored = all_intents(http, to_agent=AGENT)
    stored_ids = [i["intent_id"] for i in stored]
    assert len(stored_ids) == len(set(stored_ids))
    assert sorted(stored_ids) == sorted(by_key.values()), "an intent without a key, or a duplicate"
    load.acked = by_key


def check_completions_survived(http: httpx.Client, load: Load) -> dict[str, int]:
    """Acknowledged completions are durable. Returns the intents leased at the crash, with the last
    delivery attempt the database recorded for them."""
    for intent_id in load.completed:
        assert http.get(f"/v1/intents/{intent_id}").json()["intent"]["status"] == "COMPLETED"
    leased: dict[str, int] = {}
    for intent_id, (token, attempt) in load.in_hand.items():
        intent = http.get(f"/v1/intents/{intent_id}").json()["intent"]
        assert intent["delivery_attempt"] >= attempt
        if intent["status"] == "COMPLETED":
            # The completion committed but its answer was lost: sending it again is harmless.
            replay = http.post(
                f"/v1/intents/{intent_id}/complete", json={"lease_token": token, "result": {"ok": True}}
            )
            assert replay.status_code == 200 and replay.json()["replayed"] is True, replay.text
        else:
            leased[intent_id] = intent["delivery_attempt"]
    assert leased, "no intent was leased at the crash; the test proves nothing"
    return leased


def redeliver_and_finish(http: httpx.Client, load: Load, leased_at_crash: dict[str, int]) -> None:
    """Claim until every intent is done. Leases from before the crash expire on the restarted
    server's scheduler and come back as the next delivery attempt."""
    open_ids = {i["intent_id"] for i in all_intents(http, to_agent=AGENT) if i["status"] != "COMPLETED"}
    redelivered: dict[str, int] = {}
    deadline = time.monotonic() + 30
    while open_ids and time.monotonic() < deadline:
        claim = http.post(
            f"/v1/agents/{AGENT}/claims",
            json={"max_intents": 50, "lease_seconds": 60, "wait_seconds": LEASE_SECONDS + 2},
        )
        for delivery in claim.raise_for_status().json()["deliveries"]:
            intent_id, lease = delivery["intent"]["intent_id"], delivery["lease"]
            redelivered.setdefault(intent_id, lease["delivery_attempt"])
            if intent_id in leased_at_crash:
                check_old_lease_is_fenced(http, intent_id, load.in_hand[intent_id][0])
            done = http.post(
                f"/v1/intents/{intent_id}/complete",
                json={"lease_token": lease["token"], "result": {"ok": True}},
            )
            assert done.status_code == 200, done.text
            open_ids.discard(intent_id)
    assert not open_ids, f"{len(open_ids)} intents never came back"

    for intent_id, attempt in leased_at_crash.items():
        assert redelivered[intent_id] == attempt + 1


def check_old_lease_is_fenced(http: httpx.Client, intent_id: str, old_token: str) -> None:
    """The worker that held the lease before the crash (a zombie now) cannot complete the intent
    out from under its new holder."""
    stale = http.post(
        f"/v1/intents/{intent_id}/complete", json={"lease_token": old_token, "result": {"zombie": True}}
    )
    assert stale.status_code == 409, stale.text
    assert stale.json()["error"]["code"] == "stale_lease"


def check_event_logs(http: httpx.Client, load: Load) -> None:
    for intent_id in load.acked.values():
        events = events_of(http, intent_id)
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), intent_id
        kinds = [e["event_type"] for e in events]
        assert kinds[:2] == ["intent.created", "intent.submitted"]
        assert kinds.count("intent.completed") == 1 and kinds[-1] == "intent.completed"
        # Every delivery after the first was preceded by an expired or released lease.
        deliveries = kinds.count("intent.delivered")
        assert deliveries == 1 + kinds.count("intent.lease_expired") + kinds.count("intent.released")
