"""A real browser for tests of the sandbox Slack page: Debian's Chromium (installed by
``scripts/ensure-chromium``, which ``make test`` runs) driven by Playwright with its executable
path set; Playwright's own browser download is never used.

Import the fixtures where they are used: ``from tests.support.browser import browser,
sandbox_page, needs_chromium``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from dealcycle.fakes import SlackFake
from dealcycle.fakes.slack_page import SlackPage

CHROMIUM = os.environ.get("DEALCYCLE_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this
# machine's closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"no Chromium at {CHROMIUM}: scripts/ensure-chromium (run by make test) installs "
    "Debian's chromium; elsewhere set DEALCYCLE_CHROMIUM",
)


@pytest.fixture
def sandbox_page(slack_fake: SlackFake) -> Iterator[SlackPage]:
    """The page, showing the test's Slack fake."""
    with SlackPage(slack_fake.url, port=0) as page:
        yield page


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """Chromium with a fresh profile of its own."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
        )
        try:
            yield context
        finally:
            await context.close()


async def open_as(page: Page, url: str, user: str, conversation: str) -> None:
    """Open the page and act as ``user``, picked from the people the messages mention, in the
    channel or DM named ``conversation``."""
    await page.goto(url)
    await page.get_by_label("You are").select_option(user)
    await page.locator("nav").get_by_text(conversation, exact=False).click()
