"""The issue's done-when: a running account's page in the real Temporal Web UI (the dev
server's, in headless Chromium) reads like the handbook: its static summary, what each
activity writes, what each timer waits for, and its current details with the open steps.
The screenshots are kept in the test's tmp dir (``docs/images/web-ui-account.png`` is one).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, expect
from temporalio.client import Client

from dealcycle.payloads import data_converter_for
from dealcycle.settings import Settings
from starter.accounts import start_account
from tests.support.accounts import AE, CE
from tests.support.browser import browser, needs_chromium
from tests.support.patience import settle
from tests.support.web_ui import current_details, dev_server_with_ui, event_summaries, of_type
from workflows.account_calendar import midnight

# Fixtures, imported for the tests' parameters.
__all__ = ["browser"]

pytestmark = needs_chromium

ACCOUNT = "001WEBUI2"
UI_TIMEOUT_MS = 60_000
"""The UI's first load compiles nothing but fetches a lot; on a busy machine it is slow."""
MIN_SCREENSHOT_BYTES = 20_000
"""A blank or error page compresses to a few kilobytes; the history page is far more."""


async def screenshot(page: Page, path: Path) -> Path:
    png = await page.screenshot(path=str(path), full_page=True)
    assert png.startswith(b"\x89PNG") and len(png) > MIN_SCREENSHOT_BYTES, f"{path} looks empty"
    return path


async def text_with_frames(page: Page, wanted: list[str]) -> str:
    """The page's text and its frames', once it shows every line of ``wanted`` (or the UI's
    patience has run out: the caller's assertion then says what was shown)."""
    deadline = asyncio.get_running_loop().time() + UI_TIMEOUT_MS / 1000
    while True:
        texts = [await frame.locator("body").inner_text() for frame in page.frames]
        shown = "\n".join(texts)
        if all(line in shown for line in wanted) or asyncio.get_running_loop().time() > deadline:
            return shown
        await asyncio.sleep(0.5)


async def test_a_running_accounts_page_in_the_web_ui_shows_its_summaries(
    tmp_path: Path, test_settings: Settings, salesforce_fake: Any, browser: BrowserContext
) -> None:
    from worker import WORKFLOWS, build_activities, build_worker

    async with dev_server_with_ui(tmp_path / "temporal") as server:
        assert server.ui_url is not None
        settings = replace(test_settings, task_queue=f"tq-{uuid.uuid4()}")
        # The settings' converter: with the codec on, the page decodes through a codec server.
        client = await Client.connect(
            server.target,
            namespace=server.namespace,
            data_converter=data_converter_for(settings),
        )
        salesforce_fake.add_record("Account", {"Id": ACCOUNT, "Name": "Acme Corp"})
        renewal = midnight(datetime.now(UTC) + timedelta(days=400))
        async with build_worker(client, settings, build_activities(settings), workflows=WORKFLOWS):
            workflow_id = await start_account(
                client,
                settings,
                account_id=ACCOUNT,
                account_name="Acme Corp",
                tier=1,
                renewal_date=renewal,
                seats=100,
                ae_owner=AE,
                ce_owner=CE,
                region="US East / EMEA",
            )
            handle = client.get_workflow_handle(workflow_id)
            try:
                await settle(handle)
                found = await event_summaries(client, handle)
                # Slack posts run first as local activities (a marker); the license is an
                # activity, shown as one in the UI's history.
                [announcement] = [
                    s
                    for s in of_type(found, "ACTIVITY_TASK_SCHEDULED")
                    if s.startswith("issue a full license: Acme Corp")
                ]
                timer = of_type(found, "TIMER_STARTED")[-1]
                assert timer.startswith("next reminder: Kickoff call")
                details = await current_details(handle)
                headline = f"Acme Corp · Tier 1 · renews {renewal:%Y-%m-%d}"

                page = await browser.new_page()
                await page.set_viewport_size({"width": 1440, "height": 1100})
                run_id = (await handle.describe()).run_id
                url = f"{server.ui_url}/namespaces/default/workflows/{workflow_id}/{run_id}"
                await page.goto(f"{url}/history", timeout=UI_TIMEOUT_MS)
                body = page.locator("#content")
                for text in (headline, announcement, timer):
                    await expect(body).to_contain_text(text, timeout=UI_TIMEOUT_MS)
                shot = await screenshot(page, tmp_path / "web-ui-account-history.png")

                await page.get_by_text("User Metadata", exact=True).click()
                await expect(body).to_contain_text("Current Details", timeout=UI_TIMEOUT_MS)
                # The UI renders markdown (summary, details, current details) in frames.
                wanted = [headline, "phase kickoff · 1 open step", f"CE {CE} · due"]
                shown = await text_with_frames(page, wanted)
                assert all(line in shown for line in wanted), shown
                assert "phase **kickoff**" in details  # the markdown the page renders bold
                await screenshot(page, tmp_path / "web-ui-account-details.png")
                print(f"screenshots: {shot.parent}")
            finally:
                await handle.terminate("test finished")
