"""Secrets never reach a log, on both backends: a real ``intentd serve`` at debug level on a fresh
database makes its first admin key, ``intentd keys create`` makes another, and a whole run goes through
it (submit, claim, complete; a human task approved through a signed link, its page shown first; a
webhook subscription and an http binding whose POSTs are attempted; a request with a wrong key, in
each header a key is read from); then everything the server wrote, stdout
and stderr, is searched for every key and token the test made or sent. None may appear, whole or as
the token's signature."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from intentd.engine.notify.links import LinkClaims, link_key, sign_token
from intentd.model import now_us
from tests._support import databases
from tests._support.http_api import WRITER, intent_body
from tests._support.servers import Server, Servers, child_environment, intentd_command, wait_until

LINK_SECRET = "link-secret-for-the-secrets-test-" + "0" * 16
ALICE = "alice@acme.test"
HOOK = "whsec-never-logged-" + uuid.uuid4().hex
pytestmark = pytest.mark.timeout(120)


class DebugServer(Server):
    """``intentd serve`` at debug level, with a link secret the test signs with too."""

    def environment(self) -> dict[str, str]:
        return {
            **super().environment(),
            "INTENTD_LOG_LEVEL": "debug",
            "INTENTD_LINK_SECRET": LINK_SECRET,
        }


@pytest.fixture
def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    if backend == "postgres":
        with databases.cloned_database(request.getfixturevalue("pg_template"), prefix="intentd_s") as url:
            yield url
    else:
        yield databases.sqlite_url(tmp_path)


def keys_create(database: str, cwd: Path, name: str) -> str:
    done = subprocess.run(
        intentd_command("--database", database, "keys", "create", "--name", name, "--json"),
        cwd=cwd,
        env=child_environment(),
        capture_output=True,
        check=True,
        timeout=60,
    )
    secret: str = json.loads(done.stdout)["api_key"]
    return secret


def attempted(client: httpx.Client, count: int) -> bool:
    """At least ``count`` POSTs tried once (they wait for their retry, or are dead)."""
    rows = [
        row
        for status in ("pending", "dead", "sent")
        for row in client.get("/v1/webhooks/deliveries", params={"status": status}).json()["deliveries"]
    ]
    return sum(1 for row in rows if row["attempts"] >= 1) >= count


def test_no_key_or_link_token_is_ever_logged(database: str, tmp_path: Path) -> None:
    with Servers(tmp_path) as servers:
        server = DebugServer(tmp_path, database, api_key=None, name="debug")
        servers.started.append(server)
        server.start()
        first = (tmp_path / ".intentd-key").read_text().strip()  # made by serve on the fresh database
        made = keys_create(database, tmp_path, "ops")
        wrong = "itd_" + uuid.uuid4().hex + uuid.uuid4().hex
        secrets = {"first key": first, "CLI key": made, "wrong key": wrong, "webhook secret": HOOK}

        with server.client(api_key=made) as client:
            intent_id = client.post("/v1/intents", json=intent_body(WRITER)).json()["intent_id"]
            claimed = client.post(
                f"/v1/agents/{WRITER.removeprefix('agent://')}/claims", json={"worker_id": "w"}
            )
            [delivery] = claimed.json()["deliveries"]
            assert delivery["intent"]["intent_id"] == intent_id
            token = delivery["lease"]["token"]
            done = client.post(f"/v1/intents/{intent_id}/complete", json={"lease_token": token, "result": {}})
            assert done.status_code == 200, done.text

            gated = client.post(
                "/v1/intents", json=intent_body(WRITER, human_task={"title": "Approve", "assignees": [ALICE]})
            ).json()["intent"]["intent_id"]
            [task] = client.get("/v1/tasks", params={"intent_id": gated}).json()["tasks"]

            # Webhook secrets: one given, one generated; the POSTs they sign are attempted (and fail:
            # the hosts are never reached) while the server logs at debug level.
            hook = {
                "callback_url": "https://hooks.example.com/in",
                "event_types": ["intent.*"],
                "secret": HOOK,
            }
            assert client.post("/v1/webhooks/subscriptions", json=hook).status_code == 200
            bind = {"delivery_mode": "http", "callback_url": "https://fn.example.com/run"}
            bound = client.put("/v1/agents/acme/test/pushed/binding", json=bind)
            secrets["generated push secret"] = bound.json()["binding"]["secret"]
            pushed = client.post("/v1/intents", json=intent_body("agent://acme/test/pushed"))
            assert pushed.status_code == 200, pushed.text
            wait_until(lambda: attempted(client, 3), 30, "the push and webhook POSTs to be attempted")
        with server.client(api_key=first) as client:
            assert client.get("/v1/intents").status_code == 200

        claims = LinkClaims("default", task["task_id"], ALICE, "approved", now_us() + 3_600_000_000, "n1")
        link = sign_token(link_key(LINK_SECRET), claims)
        secrets |= {"link token": link, "link signature": link.split(".")[1]}
        with server.client(api_key=wrong) as people:
            assert people.get(f"/v1/links/{link}", headers={"accept": "text/html"}).status_code == 200
            approved = people.post(f"/v1/links/{link}", json={"comment": "fine"})
            assert approved.status_code == 200, approved.text

            refused = people.get("/v1/intents")
            assert refused.json()["error"]["code"] == "invalid_api_key"
            bearer = people.get("/v1/intents", headers={"x-api-key": "", "authorization": f"Bearer {wrong}"})
            assert bearer.status_code == 401

        server.stop()  # everything it would write is written
        logged = server.log_path.read_text(errors="replace")

    assert "DEBUG" in logged, "the server did not log at debug level: this test proves nothing"
    leaked = [what for what, secret in secrets.items() if secret in logged]
    assert not leaked, f"{', '.join(leaked)} found in the server's log:\n{logged[-3000:]}"
