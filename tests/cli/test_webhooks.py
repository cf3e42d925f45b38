"""``intentd agents bind --delivery-mode http`` and ``intentd webhooks`` against a real ``intentd serve``
on both backends, with a real receiver: an agent bound to a callback URL (its generated secret shown
once) gets its intent POSTed, signed; a failing receiver makes a dead letter that ``webhooks
deliveries`` lists and ``webhooks replay`` sends again; subscriptions round trip (subscribe, list,
replay an event, revoke); ``--json`` outputs parse; refusals name the field or the code."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from intentd.webhooks import verify
from tests._support import databases
from tests._support.http_api import intent_body
from tests._support.receiver import Receiver, receiving
from tests._support.servers import API_KEY, Server, Servers, wait_until
from tests.cli._run import as_json, intentd, succeeded

pytestmark = pytest.mark.slow
SECRET = "whsec-cli-0123456789"
WIDE = 250  # columns: table rows are never folded, so an id is found whole
ONCE = "will not be shown again"


class HookServer(Server):
    """``intentd serve`` that may call back 127.0.0.1 (the receiver), retrying quick and few."""

    def environment(self) -> dict[str, str]:
        return {
            **super().environment(),
            "INTENTD_ALLOW_PRIVATE_CALLBACKS": "1",
            "INTENTD_WEBHOOK_FIRST_RETRY_SECONDS": "0.05",
            "INTENTD_WEBHOOK_MAX_RETRY_SECONDS": "0.1",
            "INTENTD_WEBHOOK_MAX_ATTEMPTS": "2",
        }


@pytest.fixture(scope="module", params=databases.BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("cli-webhooks")
    with ExitStack() as stack:
        if request.param == "postgres":
            template: str = request.getfixturevalue("pg_template")
            url = stack.enter_context(databases.cloned_database(template, prefix="intentd_cliwh"))
        else:
            url = databases.sqlite_url(workdir)
        servers = stack.enter_context(Servers(workdir))  # exits first: the server ends before the drop
        started = HookServer(workdir, url, name="server1")
        servers.started.append(started)
        yield started.start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as started:
        yield started


def cli(server: Server, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``intentd --url … --api-key … *args`` in a wide terminal."""
    return intentd(cwd, "--url", server.url, "--api-key", API_KEY, *args, columns=WIDE)


def bind_http(
    server: Server, cwd: Path, agent: str, url: str, *more: str
) -> subprocess.CompletedProcess[str]:
    """``intentd agents bind AGENT --delivery-mode http --callback-url URL *more``."""
    return cli(server, cwd, "agents", "bind", agent, "--delivery-mode", "http", "--callback-url", url, *more)


def api_get(server: Server, path: str, **params: Any) -> Any:
    with server.client() as http:
        answer = http.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def deliveries_of(server: Server, subject: str, status: str) -> list[dict[str, Any]]:
    found = api_get(server, "/v1/webhooks/deliveries", status=status)["deliveries"]
    return [d for d in found if d["subject"] == subject]


def secret_line(shown: str) -> str:
    [line] = [line for line in shown.splitlines() if line.startswith("secret: ")]
    return line.removeprefix("secret: ").strip()


# --- the http binding -------------------------------------------------------------------------------


def test_an_http_agent_bound_from_the_cli_gets_its_intent_posted_signed(
    server: Server, tmp_path: Path, receiver: Receiver
) -> None:
    agent = "agent://acme/cli/pushed"
    shown = succeeded(bind_http(server, tmp_path, agent, receiver.url))
    secret = secret_line(shown)
    assert len(secret) >= 16 and ONCE in shown
    assert "callback_url" in shown and receiver.url in shown and "http" in shown

    again = succeeded(cli(server, tmp_path, "agents", "binding", agent))
    assert receiver.url in again and secret not in again and ONCE not in again  # shown that once
    read = as_json(cli(server, tmp_path, "agents", "binding", agent, "--json"))["binding"]
    assert (read["delivery_mode"], read["callback_url"]) == ("http", receiver.url) and "secret" not in read

    submitted = cli(server, tmp_path, "submit", "--to", agent, "--type", "intent.push.v1", "--json")
    intent_id = as_json(submitted)["intent_id"]
    [post] = receiver.wait_for(1)
    verify(secret, post.body, post.headers)
    assert post.json["intent"]["intent_id"] == intent_id

    rebound = as_json(bind_http(server, tmp_path, agent, receiver.url, "--json"))
    assert rebound["binding"]["secret"] not in (None, secret)  # a new one, in the JSON answer only
    given = bind_http(server, tmp_path, agent, receiver.url, "--secret", SECRET)
    assert ONCE not in succeeded(given) and SECRET not in given.stdout  # given, so not shown back


def test_an_http_binding_without_a_callback_url_is_refused_with_its_field(
    server: Server, tmp_path: Path
) -> None:
    refused = cli(server, tmp_path, "agents", "bind", "agent://acme/cli/nowhere", "--delivery-mode", "http")
    assert refused.returncode == 1 and "422" in refused.stderr and "callback_url" in refused.stderr
    short = bind_http(
        server, tmp_path, "agent://acme/cli/nowhere", "https://agents.example.com/w", "--secret", "short"
    )
    assert short.returncode == 1 and "secret" in short.stderr


# --- dead letters -----------------------------------------------------------------------------------


def test_a_dead_letter_is_listed_and_replayed_from_the_cli(
    server: Server, tmp_path: Path, receiver: Receiver
) -> None:
    agent = "agent://acme/cli/unlucky"
    bound = as_json(bind_http(server, tmp_path, agent, receiver.url, "--secret", SECRET, "--json"))
    assert "secret" not in bound["binding"]
    receiver.status = 500
    with server.client() as http:
        created = http.post("/v1/intents", json=intent_body(agent, max_delivery_attempts=2))
    assert created.status_code == 200, created.text
    intent_id = created.json()["intent_id"]
    wait_until(lambda: bool(deliveries_of(server, intent_id, "dead")), 15, "the dead letter")
    assert len(receiver.wait_for(2)) == 2  # both attempts answered 500

    listed = as_json(cli(server, tmp_path, "webhooks", "deliveries", "--json"))
    [dead] = [d for d in listed["deliveries"] if d["subject"] == intent_id]
    assert (dead["kind"], dead["recipient"], dead["status"], dead["attempts"]) == ("http", agent, "dead", 2)
    assert dead["last_error"] == "callback answered HTTP 500"
    table = succeeded(cli(server, tmp_path, "webhooks", "deliveries"))
    [row] = [line for line in table.splitlines() if dead["delivery_id"] in line]
    for shown in ("http", agent, intent_id, "dead", "2", "callback answered HTTP 500"):
        assert shown in row, (shown, row)
    for column in ("delivery_id", "kind", "recipient", "subject", "status", "attempts", "last_error"):
        assert column in table
    pending = as_json(cli(server, tmp_path, "webhooks", "deliveries", "--status", "pending", "--json"))
    assert [d for d in pending["deliveries"] if d["subject"] == intent_id] == []

    receiver.status = 200
    replayed = succeeded(cli(server, tmp_path, "webhooks", "replay", dead["delivery_id"]))
    assert f"replayed {dead['delivery_id']}" in replayed and "pending" in replayed
    third = receiver.wait_for(3)[2]
    verify(SECRET, third.body, third.headers)
    assert third.json["intent_id"] == intent_id
    wait_until(lambda: bool(deliveries_of(server, intent_id, "sent")), 15, "the replay to be recorded")
    sent = as_json(
        cli(server, tmp_path, "webhooks", "deliveries", "--status", "sent", "--limit", "1000", "--json")
    )
    assert [d["delivery_id"] for d in sent["deliveries"] if d["subject"] == intent_id] == [
        dead["delivery_id"]
    ]

    twice = cli(server, tmp_path, "webhooks", "replay", dead["delivery_id"])
    assert twice.returncode == 1 and "409 conflict" in twice.stderr
    missing = cli(server, tmp_path, "webhooks", "replay", "no-such-delivery")
    assert missing.returncode == 1 and "404 delivery_not_found" in missing.stderr


# --- subscriptions ----------------------------------------------------------------------------------


def test_subscriptions_round_trip_from_the_cli(server: Server, tmp_path: Path, receiver: Receiver) -> None:
    other_url = receiver.url + "/other"
    made = succeeded(
        cli(
            server,
            tmp_path,
            "webhooks",
            "subscribe",
            receiver.url,
            "--event",
            "invoice.paid",
            "--event",
            "invoice.void",
            "--description",
            "billing",
        )
    )
    secret = secret_line(made)
    assert ONCE in made and "invoice.paid, invoice.void" in made and "billing" in made
    given = as_json(
        cli(
            server,
            tmp_path,
            "webhooks",
            "subscribe",
            other_url,
            "--event",
            "parcel.sent",
            "--secret",
            SECRET,
            "--json",
        )
    )["subscription"]
    assert "secret" not in given and given["secret_hint"] == f"****{SECRET[-4:]}"

    listed = as_json(cli(server, tmp_path, "webhooks", "subscriptions", "--json"))["subscriptions"]
    by_url = {s["callback_url"]: s for s in listed}
    assert set(by_url) >= {receiver.url, other_url} and all("secret" not in s for s in listed)
    first = by_url[receiver.url]
    assert (first["event_types"], first["description"]) == (["invoice.paid", "invoice.void"], "billing")
    table = succeeded(cli(server, tmp_path, "webhooks", "subscriptions"))
    assert first["subscription_id"] in table and given["subscription_id"] in table and secret not in table

    with server.client() as http:
        event = {"event_type": "invoice.paid", "source": "billing", "payload": {"amount": 3}}
        published = http.post("/v1/webhooks/events", json=event).json()
    [post] = receiver.wait_for(1)
    verify(secret, post.body, post.headers)
    wait_until(lambda: bool(deliveries_of(server, published["event_id"], "sent")), 15, "the event sent")
    replayed = as_json(cli(server, tmp_path, "webhooks", "replay-event", published["event_id"], "--json"))
    assert (replayed["event_id"], replayed["queued_deliveries"], replayed["delivered"]) == (
        published["event_id"],
        1,
        1,
    )
    assert receiver.wait_for(2)[1].json["event_id"] == published["event_id"]
    counters = succeeded(cli(server, tmp_path, "webhooks", "replay-event", published["event_id"]))
    assert "queued_deliveries" in counters and published["event_id"] in counters
    unknown = cli(server, tmp_path, "webhooks", "replay-event", "no-such-event")
    assert unknown.returncode == 1 and "404 webhook_event_not_found" in unknown.stderr

    for sub in (first, given):
        revoked = succeeded(cli(server, tmp_path, "webhooks", "revoke", sub["subscription_id"]))
        assert f"revoked {sub['subscription_id']} at " in revoked
    active = as_json(cli(server, tmp_path, "webhooks", "subscriptions", "--json"))["subscriptions"]
    assert {s["subscription_id"] for s in active}.isdisjoint(
        {first["subscription_id"], given["subscription_id"]}
    )
    everything = as_json(cli(server, tmp_path, "webhooks", "subscriptions", "--all", "--json"))
    kept = {s["subscription_id"]: s for s in everything["subscriptions"]}
    assert kept[first["subscription_id"]]["active"] is False and kept[first["subscription_id"]]["revoked_at"]
    again = as_json(cli(server, tmp_path, "webhooks", "revoke", first["subscription_id"], "--json"))
    assert again["revoked_at"] == kept[first["subscription_id"]]["revoked_at"]  # revoked once
    missing = cli(server, tmp_path, "webhooks", "revoke", "no-such-subscription")
    assert missing.returncode == 1 and "404 subscription_not_found" in missing.stderr


def test_bad_webhook_commands_are_refused_before_anything_is_sent(server: Server, tmp_path: Path) -> None:
    for args in (
        ("webhooks", "deliveries", "--status", "lost"),
        ("webhooks", "deliveries", "--limit", "0"),
        ("webhooks", "subscribe", "https://hooks.example.com/x"),  # no --event
        ("webhooks", "replay"),
    ):
        refused = cli(server, tmp_path, *args)
        assert refused.returncode == 2, (args, refused.stdout, refused.stderr)
    refused = cli(server, tmp_path, "webhooks", "subscribe", "https://hooks.example.com/x", "--event", "a b")
    assert refused.returncode == 1 and "422" in refused.stderr and "event_types" in refused.stderr
