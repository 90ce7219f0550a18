"""Each kind of effect has a time budget that fits what it means: a Salesforce sync keeps
trying for days without holding back anything else; a reminder not sent within its window
expires; an announcement that cannot be made fails and is surfaced (time-skipping server)."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowExecutionStatus

from schemas.common import Role
from schemas.trial import StartTrialOverride
from tests.test_owed_work import by_name, effects_of, needs_attention
from tests.test_trial_workflow import AE, CE, CHANNEL, DAY, start, texts
from workflows.trial import TrialWorkflow

HOUR = DAY / 24
UNAVAILABLE = [{"errorCode": "SERVER_UNAVAILABLE", "message": "maintenance"}]


async def test_a_stuck_salesforce_sync_holds_back_no_slack_post_and_fails_after_its_budget(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006STUCK", length_days=4)
        salesforce_fake.fail_next("*", r"/sobjects/", 503, UNAVAILABLE, count=100_000)
        await handle.execute_update(
            TrialWorkflow.start_with_override,
            StartTrialOverride(AE, Role.AE, "customer is ready"),
        )
        await harness.env.sleep(2 * DAY + 6 * HOUR)  # past the midpoint: the check-in prompt

        assert [text[:25] for text in texts(slack_fake, CHANNEL)] == ["Trial started for Acme (0"]
        assert any("Mid-trial check-in" in text for text in texts(slack_fake, CE))
        view = await effects_of(handle)
        assert by_name(view, "trial-dates/1").state == "pending"
        assert by_name(view, "check-in/task").state == "pending"
        assert await needs_attention(handle) is None  # never set: nothing has failed yet

        await harness.env.sleep(DAY)  # the sync's three days are spent
        view = await effects_of(handle)
        failed = by_name(view, "trial-dates/1")
        assert failed.state == "failed" and "not done within its budget of 3 days" in failed.cause
        assert "SERVER_UNAVAILABLE" in failed.cause
        assert await needs_attention(handle) is True
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING


async def test_a_reminder_expires_but_an_announcement_fails_when_slack_is_down_for_a_day(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006SLACKDOWN", length_days=4)
        await handle.execute_update(
            TrialWorkflow.start_with_override,
            StartTrialOverride(AE, Role.AE, "customer is ready"),
        )
        await harness.env.sleep(HOUR)
        assert len(texts(slack_fake, CHANNEL)) == 1
        slack_fake.fail_next(
            "POST", r"chat\.postMessage", 200, {"ok": False, "error": "fatal_error"}, count=100_000
        )
        await harness.env.sleep(2 * DAY + 7 * HOUR)  # past the midpoint and the prompt's window

        view = await effects_of(handle)
        prompt = by_name(view, "check-in/slack")
        assert prompt.state == "expired" and "fatal_error" in prompt.cause
        assert not view.needs_attention  # the next reminder carries on; nothing to repair
        assert by_name(view, "check-in/task").state == "done"  # Salesforce was not held back

        await harness.env.sleep(3 * DAY)  # the trial ends on day 4; its post gets one day
        slack_fake.clear_faults()
        view = await effects_of(handle)
        assert by_name(view, "outcome/slack").state == "failed"
        assert await needs_attention(handle) is True
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
