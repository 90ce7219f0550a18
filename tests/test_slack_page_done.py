"""Issue 12's first "done when", as a newcomer does it: in the sandbox Slack page, the AE clicks
**Done** on a trial planning reminder; the step is done by them (their id in the update in the
workflow's history), the reminder shows who did it, and a second click answers that it is
already done and changes nothing. The Slack app runs over Socket Mode against the fake, the
trial on the time-skipping server."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from playwright.async_api import BrowserContext, expect

from dealcycle.fakes import SlackFake
from dealcycle.fakes.slack_page import SlackPage
from schemas.common import StepStatus
from tests.support.browser import browser, needs_chromium, open_as, sandbox_page
from tests.support.patience import settle
from tests.support.slack_app import accepted_update_inputs, socket_mode_app, update_ids
from tests.test_slack_app_buttons import step_status
from tests.test_trial_workflow import AE, start

# Fixtures, imported for the tests' parameters.
__all__ = ["browser", "sandbox_page"]

pytestmark = needs_chromium

STEP, STEP_TITLE = "user_survey", "User survey planning"


async def test_done_clicked_in_the_page_completes_the_trial_step_once_by_the_clicker(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: SlackFake,
    sandbox_page: SlackPage,
    browser: BrowserContext,
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006PAGEDONE")
        # Planning items fall due after 7 days and are reminded, by DM to their lead, at 8.
        await harness.env.sleep(timedelta(days=8, hours=1))
        [reminder] = [m for m in slack_fake.messages_in(AE) if STEP_TITLE in m.text]

        async with socket_mode_app(
            harness.client, harness.settings, slack_fake.app_token, slack_fake
        ):
            page = await browser.new_page()
            await open_as(page, sandbox_page.url, AE, AE)
            message = page.locator(f'.message[data-ts="{reminder.ts}"]')
            await expect(message).to_contain_text(STEP_TITLE)
            # Clicked twice, as an impatient person does: the second click is answered, to
            # the clicker only, that the step is already done, and changes nothing.
            await message.get_by_role("button", name="Done").dblclick()

            # The reminder is edited in place: who did it, and no Done button any more.
            await expect(message).to_contain_text(f"done by @{AE}")
            await expect(message.get_by_role("button", name="Done")).to_have_count(0)
            answer = page.locator("#messages .message.ephemeral")
            # The app's own check or the workflow's validator, whichever saw it first.
            await expect(answer).to_contain_text(re.compile(rf"already (done|completed) by .*{AE}"))
            await expect(answer).to_contain_text("Only visible to you")

        await settle(handle)
        assert await step_status(handle, STEP) is StepStatus.DONE
        assert len(await update_ids(handle)) == 1
        [update_input] = await accepted_update_inputs(handle)
        assert json.loads(update_input)["actor"] == AE
