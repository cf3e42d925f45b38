"""Signed approve/reject links over real HTTP, on both backends: the app served by uvicorn on a local
port (its access log on), a real SMTP server (aiosmtpd) that receives the task's mail, and a browser's
way through it: the link from the mail opens a confirmation page that decides nothing, the page's form
decides once, as the person the link was made for, and every later use fails clearly and changes
nothing. JSON clients get the API's error shape; a token never reaches the access log."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from intentd.model import now_us
from intentd.server import create_app
from intentd.wire import TaskAnswerResponse
from tests._support.servers import API_KEY, app_settings, child_environment, free_port, intentd_command
from tests.engine.test_notify import LINK, Mailbox, smtp_server, text_of

ALICE = "alice@acme.test"
AGENT = "agent://acme/prod/travel"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = dict[str, Any]


@dataclass
class Site:
    url: str
    mailbox: Mailbox
    admin: httpx.AsyncClient  # with the API key
    people: httpx.AsyncClient  # without one: what a person's browser is
    app: Any


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[Site]:
    """The app served over real HTTP by uvicorn (access log on), mailing through a real SMTP server,
    with links pointing at where it listens."""
    async with smtp_server() as (box, smtp_url):
        async for running in _serve(database_url, box, smtp_url):
            yield running


async def _serve(database_url: str, box: Mailbox, smtp_url: str) -> AsyncIterator[Site]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(app_settings(database_url, smtp_url=smtp_url, public_url=url))
    # log_config=None: uvicorn configures no logging of its own, so its access log reaches pytest's
    # capture (it writes the access log when a handler is there to take it).
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=True, lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                assert not serving.done(), "uvicorn stopped while starting"
                await asyncio.sleep(0.01)
        async with (
            httpx.AsyncClient(base_url=url, headers={"x-api-key": API_KEY}) as admin,
            httpx.AsyncClient(base_url=url) as people,
        ):
            yield Site(url, box, admin, people, app)
    finally:
        server.should_exit = True
        await serving


async def ask(site: Site, **human_task: Any) -> tuple[str, str]:
    """A gate for ``ALICE``; returns the intent's and the task's ids once her mail has arrived."""
    body = {
        "intent_type": "travel.booking.v1",
        "correlation_id": str(uuid.uuid4()),
        "to_agent": AGENT,
        "payload": {"city": "Lisbon"},
        "human_task": {
            "title": "Book the Lisbon offsite",
            "description": "12 people, two nights, €4,800.",
            "assignees": [ALICE],
            **human_task,
        },
    }
    created = await site.admin.post("/v1/intents", json=body)
    assert created.status_code == 200, created.text
    intent_id = created.json()["intent"]["intent_id"]
    listed = await site.admin.get("/v1/tasks", params={"intent_id": intent_id})
    [task] = listed.json()["tasks"]
    return intent_id, task["task_id"]


async def links_for(site: Site, task_id: str) -> dict[str, str]:
    """The links (outcome to URL) in ``ALICE``'s mail about ``task_id``."""
    async with asyncio.timeout(10):
        while True:
            mails = [m for m in site.mailbox.to(ALICE) if m["X-Intentd-Task-Id"] == task_id]
            if mails:
                return {outcome: url for outcome, url, _ in LINK.findall(text_of(mails[0]))}
            await site.mailbox.wait_for(len(site.mailbox.messages) + 1)


async def task_state(site: Site, task_id: str) -> JSON:
    answer = await site.admin.get(f"/v1/tasks/{task_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_person_answers_from_the_mail_once(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    intent_id, task_id = await ask(site)
    links = await links_for(site, task_id)
    assert set(links) == {"approved", "rejected"} and links["approved"].startswith(f"{site.url}/v1/links/")

    page = await site.people.get(links["approved"], headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Book the Lisbon offsite" in page.text and "12 people, two nights, €4,800." in page.text
    assert '<span class="answer">approved</span>' in page.text and ALICE in page.text
    assert '<form method="post">' in page.text and "<script" not in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert (await task_state(site, task_id))["task"]["state"] == "open"  # opening decided nothing

    done = await site.people.post(links["approved"], data={"comment": "within budget"}, headers=HTML)
    assert done.status_code == 200, done.text
    assert "Your answer was recorded" in done.text and '<span class="answer">approved</span>' in done.text
    decided = await task_state(site, task_id)
    decision = decided["task"]["decision"]
    assert (decision["outcome"], decision["comment"]) == ("approved", "within budget")
    assert (decision["decided_by"], decision["via"]) == (ALICE, "link")
    assert decided["intent"]["status"] == "SUBMITTED"

    again = await site.people.post(links["approved"], data={"comment": "again"}, headers=HTML)
    assert again.status_code == 409 and again.headers["content-type"].startswith("text/html")
    other = await site.people.post(links["rejected"], headers=HTML)
    assert other.status_code == 409 and "This task is closed" in other.text
    assert "It was answered" in other.text
    reopened = await site.people.get(links["rejected"], headers=HTML)
    assert reopened.status_code == 409
    assert (await task_state(site, task_id)) == decided  # nothing changed
    assert intent_id == decided["intent"]["intent_id"]

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/v1/links/[redacted]" in logged
    assert not any(url.rsplit("/", 1)[1] in logged for url in links.values())


async def test_json_clients_get_the_api_answer_and_error_shape(site: Site) -> None:
    _, task_id = await ask(site)
    links = await links_for(site, task_id)

    shown = await site.people.get(links["rejected"])
    assert shown.status_code == 200 and shown.headers["content-type"] == "application/json"
    assert TaskAnswerResponse.model_validate(shown.json()).task.state == "open"

    decided = await site.people.post(links["rejected"], json={"comment": "not this quarter"})
    assert decided.status_code == 200, decided.text
    answer = TaskAnswerResponse.model_validate(decided.json())
    assert answer.task.decision is not None and answer.task.decision.outcome == "rejected"
    assert answer.task.decision.via == "link" and answer.intent.status == "CANCELED"

    replayed = await site.people.post(links["rejected"], json={})
    assert replayed.status_code == 409
    assert replayed.json()["error"]["code"] in ("link_used", "task_closed")
    assert replayed.json()["ok"] is False


async def test_a_changed_or_foreign_token_is_invalid(site: Site) -> None:
    _, task_id = await ask(site)
    links = await links_for(site, task_id)
    payload, signature = links["approved"].rsplit("/", 1)[1].split(".")
    tampered = f"{site.url}/v1/links/{payload}.{signature[::-1]}"
    for url in (tampered, f"{site.url}/v1/links/not-a-token", f"{site.url}/v1/links/{'x' * 5000}"):
        refused = await site.people.post(url, json={})
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "link_invalid"
    page = await site.people.get(tampered, headers=HTML)
    assert page.status_code == 403 and "This link is not valid" in page.text
    assert (await task_state(site, task_id))["task"]["state"] == "open"


async def test_an_expired_link_changes_nothing(site: Site) -> None:
    _, task_id = await ask(site)
    links = site.app.state.engine.notifier.links
    a_week_ago = now_us() - links.ttl_us - 1
    token = await links.sign(links.claims("default", task_id, ALICE, "approved", nonce="old", at=a_week_ago))

    refused = await site.people.post(f"/v1/links/{token}", json={})
    assert refused.status_code == 410 and refused.json()["error"]["code"] == "link_expired"
    page = await site.people.get(f"/v1/links/{token}", headers=HTML)
    assert page.status_code == 410 and "This link has expired" in page.text
    assert (await task_state(site, task_id))["task"]["state"] == "open"


async def test_a_required_comment_is_asked_for_on_the_page(site: Site) -> None:
    _, task_id = await ask(site, required_comment=True)
    links = await links_for(site, task_id)

    page = await site.people.get(links["approved"], headers=HTML)
    assert "Comment (required)" in page.text and " required>" in page.text
    missing = await site.people.post(links["approved"], data={"comment": "  "}, headers=HTML)
    assert missing.status_code == 422 and '<form method="post">' in missing.text
    assert 'class="problem"' in missing.text
    as_json = await site.people.post(links["approved"], json={})
    assert as_json.status_code == 422 and as_json.json()["error"]["details"]["field"] == "comment"
    too_long = await site.people.post(links["approved"], json={"comment": "x" * 5001})
    assert too_long.status_code == 422 and too_long.json()["error"]["details"]["field"] == "comment"
    assert (await task_state(site, task_id))["task"]["state"] == "open"

    done = await site.people.post(links["approved"], data={"comment": "booked"}, headers=HTML)
    assert done.status_code == 200, done.text
    assert (await task_state(site, task_id))["task"]["decision"]["comment"] == "booked"


async def test_links_take_no_api_key_and_say_so(site: Site) -> None:
    document = (await site.people.get("/openapi.json")).json()
    for method in ("get", "post"):
        assert document["paths"]["/v1/links/{token}"][method]["security"] == []
    assert document["paths"]["/v1/tasks/{task_id}"]["get"]["security"] != []


def test_a_server_whose_mail_cannot_work_refuses_to_start(tmp_path: Path) -> None:
    environment = child_environment(
        database_url=f"sqlite:///{tmp_path / 'intentd.db'}", smtp_url="smtp://mail.acme.test:25"
    )
    run = subprocess.run(
        intentd_command("serve"), cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 2
    assert "notifications: the SMTP URL needs the sender address: ?from=" in run.stderr
    assert "mail.acme.test" not in run.stderr  # nor any password a URL might hold
