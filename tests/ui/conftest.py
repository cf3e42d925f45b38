"""The dashboard in a real browser: Playwright drives Debian's ``chromium`` package (never a browser
Playwright downloads) against a real ``intentd serve`` on each backend. Without chromium these tests
skip, saying how to install it, and under CI (``CI`` set) they fail: .ci/run installs it.

Each browser test is bounded: Playwright waits at most :data:`WAIT_MS` for what it expects, in an action
(the context's default timeout) and in an assertion (``expect``'s, which the context's does not set).
The wait is generous because the suite runs these beside others on two cores: a worker's answer can
take seconds under that load, and an assertion that waits less fails on a run that is merely slow.

Screenshots of each page go to docs/screenshots/ only when ``INTENTD_SCREENSHOTS=1`` asks (``make
screenshots``), so a test run leaves the tree as it found it."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from intentd.client import AsyncClient
from tests._support import databases
from tests._support.databases import IN_CI
from tests._support.servers import API_KEY, Server, module_server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WAIT_MS = 20_000  # what a page is expected to show, at most this long from now
expect.set_options(timeout=WAIT_MS)


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module", params=databases.BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One ``intentd serve`` per backend for the module; each test has agents of its own."""
    with module_server(request, tmp_path_factory.mktemp("ui")) as server:
        yield server


@pytest.fixture
def backend_name(live: Server) -> str:
    return "postgres" if (live.database_url or "").startswith("postgres") else "sqlite"


@pytest.fixture
async def sdk(live: Server) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(live.url, API_KEY) as client:
        yield client


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser, live: Server) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) on the server; confirmations (``hx-confirm``) accepted."""
    context = await browser.new_context(base_url=live.url, viewport={"width": 1360, "height": 860})
    context.set_default_timeout(WAIT_MS)
    opened = await context.new_page()
    opened.on("dialog", lambda dialog: dialog.accept())
    try:
        yield opened
    finally:
        await context.close()


async def sign_in(page: Page, api_key: str = API_KEY) -> None:
    await page.goto("/ui/login")
    await page.fill("#api_key", api_key)
    await page.click("button[type=submit]")


async def screenshot(page: Page, name: str, backend: str) -> None:
    """docs/screenshots/<name>.png, from the SQLite run only (one set in the docs), when asked for."""
    if backend == "sqlite" and os.environ.get("INTENTD_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def an_agent(name: str) -> str:
    return f"agent://ui/t{uuid.uuid4().hex[:10]}/{name}"
