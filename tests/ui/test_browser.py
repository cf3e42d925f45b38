"""The dashboard end to end in chromium, against ``intentd serve`` on both backends, with workers in
this process: sign in (and a wrong key refused), find an intent and watch it complete live, approve a
person's task and see the run go on, kill an agent and see its work stop, then resume it. Each page
is photographed into docs/screenshots/ on the SQLite run."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Page, expect

from intentd.client import AsyncClient, Status
from intentd.model import AgentKilled
from intentd.worker import Context
from tests._support.servers import API_KEY, Server
from tests._support.workers import quick_worker, running, until
from tests.ui.conftest import an_agent, screenshot, sign_in

pytestmark = pytest.mark.slow
FORM = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "title": "Amount", "minimum": 1},
        "currency": {"enum": ["EUR", "USD"]},
        "urgent": {"type": "boolean"},
    },
    "required": ["amount", "currency"],
}


async def test_a_wrong_key_is_refused_and_the_right_one_signs_in(page: Page, backend_name: str) -> None:
    await page.goto("/ui/intents")
    await expect(page).to_have_url("/ui/login")  # no session: to the sign-in page
    await screenshot(page, "login", backend_name)

    await sign_in(page, "itd_not_a_key_of_this_server")
    await expect(page.get_by_role("alert")).to_have_text("That key was not accepted.")
    assert await page.context.cookies() == []

    await sign_in(page)
    await expect(page).to_have_url("/ui/intents")
    [cookie] = await page.context.cookies()
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/ui")
    assert API_KEY not in page.url and cookie["value"] != API_KEY

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url("/ui/login")
    await page.goto("/ui/fleet")
    await expect(page).to_have_url("/ui/login")  # the session is over


async def test_an_intent_is_found_and_completes_live(page: Page, sdk: AsyncClient, backend_name: str) -> None:
    agent = an_agent("writer")
    intent = await sdk.submit(agent, "intent.draft.v1", {"topic": "leases", "notes": "x" * 800})
    await sign_in(page)

    await page.fill("input[name=q]", intent.correlation_id)
    await page.get_by_role("button", name="Filter").click()
    row = page.locator(f"tr[data-intent-id='{intent.intent_id}']")
    await expect(row).to_contain_text("SUBMITTED")
    await screenshot(page, "intents", backend_name)
    await row.get_by_role("link", name=intent.intent_id).click()
    await expect(page.locator("h1 .badge")).to_have_text("SUBMITTED")

    async def write(ctx: Context, got: Any) -> dict[str, Any]:
        return {"draft": f"on {got.payload['topic']}", "words": 812}

    worker = quick_worker(sdk)
    worker.agent(agent)(write)
    async with running(worker):  # the page is open: it follows the intent to its end
        await expect(page.locator("h1 .badge")).to_have_text("COMPLETED")
    await expect(page.locator("[data-field=result]")).to_contain_text("on leases")
    await expect(page.locator(".timeline li[data-event='intent.completed']")).to_contain_text("by")
    await expect(page.locator("details > summary", has_text="payload")).to_be_visible()  # collapsed
    await screenshot(page, "intent", backend_name)


async def test_a_person_approves_and_the_run_goes_on(
    page: Page, sdk: AsyncClient, live: Server, backend_name: str
) -> None:
    agent = an_agent("payments")
    body = {
        "intent_type": "intent.refund.v1",
        "to_agent": agent,
        "payload": {"order": "A-17"},
        "correlation_id": f"refund-{agent.rsplit('/', 2)[1]}",
        "human_task": {"title": "Refund order A-17?", "form_schema": FORM},
    }
    with live.client() as http:
        made = http.post("/v1/intents", json=body)
    assert made.status_code == 200, made.text
    gated = made.json()["intent"]
    assert gated["status"] == "WAITING"

    async def refund(ctx: Context, got: Any) -> dict[str, Any]:
        return {"refunded": got.payload["order"]}

    worker = quick_worker(sdk)
    worker.agent(agent)(refund)
    async with running(worker):
        await sign_in(page)
        await page.get_by_role("link", name="Humans").click()
        task_row = page.locator("tr", has_text="Refund order A-17?")
        await expect(task_row).to_contain_text("yours to decide")
        await screenshot(page, "humans", backend_name)
        await task_row.get_by_role("link", name="Refund order A-17?").click()

        await page.fill("input[name='data.amount']", "0")
        await page.select_option("select[name='data.currency']", label="EUR")
        await page.get_by_role("button", name="Approved").click()
        await expect(page.get_by_role("alert")).to_contain_text("data.amount")  # the schema's minimum
        await page.fill("input[name='data.amount']", "40")
        await page.select_option("select[name='data.currency']", label="EUR")
        await page.fill("textarea[name=comment]", "customer called")
        await screenshot(page, "task", backend_name)
        await page.get_by_role("button", name="Approved").click()

        await expect(page).to_have_url(f"/ui/intents/{gated['intent_id']}")
        await expect(page.locator("h1 .badge")).to_have_text("COMPLETED")  # the agent got it and did it
    done = await sdk.get(gated["intent_id"])
    assert done.result == {"refunded": "A-17"}
    [task] = await sdk.tasks("any", intent_id=gated["intent_id"])
    assert task.decision is not None
    decision = task.decision
    assert (decision.outcome, decision.comment, decision.via) == ("approved", "customer called", "dashboard")
    assert decision.data == {"amount": 40, "currency": "EUR", "urgent": False}


async def test_an_agent_killed_from_the_fleet_stops_and_resumes(
    page: Page, sdk: AsyncClient, backend_name: str
) -> None:
    agent = an_agent("crawler")
    started: list[int] = []
    release = asyncio.Event()

    async def crawl(ctx: Context, got: Any) -> dict[str, Any]:
        started.append(ctx.attempt)
        await release.wait()
        return {"pages": 3}

    worker = quick_worker(sdk)
    worker.agent(agent)(crawl)
    async with running(worker):
        intent = await sdk.submit(agent, "intent.crawl.v1", {"site": "example.org"})
        await until(lambda: _true(bool(started)), "the crawler to start")
        await sign_in(page)
        await page.get_by_role("link", name="Fleet").click()
        row = page.locator(f"tr[data-agent='{agent}']")
        await expect(row.locator("[data-field=in_flight]")).to_have_text("1")
        await screenshot(page, "fleet", backend_name)

        await row.get_by_role("button", name="Kill").click()  # confirmed (the page fixture accepts)
        await expect(row.locator("[data-field=health]")).to_have_text("killed")
        await expect(row.locator("[data-field=in_flight]")).to_have_text("0")  # its lease is revoked
        await expect(page.locator("#flash")).to_contain_text(f"Killed {agent}")
        with pytest.raises(AgentKilled):
            await sdk.submit(agent, "intent.crawl.v1", {"site": "example.com"})  # new work refused
        release.set()  # the handler finishes, but its work was taken from it: nothing completes
        held = await sdk.get(intent.intent_id)
        assert held.status is Status.SUBMITTED

        await row.get_by_role("button", name="Resume").click()
        await expect(row.locator("[data-field=health]")).not_to_have_text("killed")
        done = await until(lambda: _completed(sdk, intent.intent_id), "the held work to be done")
    assert done.delivery_attempt == 2 and started == [1, 2]  # delivered again, after the resume


async def _true(value: bool) -> bool:
    return value


async def _completed(sdk: AsyncClient, intent_id: str) -> Any:
    found = await sdk.get(intent_id)
    return found if found.status is Status.COMPLETED else None


async def test_a_revoked_key_ends_its_session(page: Page, live: Server) -> None:
    with live.client() as http:
        made = http.post("/v1/keys", json={"name": "ops-temp", "role": "auditor"}).json()
    await sign_in(page, made["api_key"])
    await expect(page).to_have_url("/ui/intents")
    with live.client() as http:
        assert http.post(f"/v1/keys/{made['key']['key_id']}/revoke").status_code == 200
    await page.goto("/ui/intents")
    await expect(page).to_have_url("/ui/login")
