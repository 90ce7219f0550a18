"""Prompts and reminders as Block Kit with Done, Snooze and Open; a done step's prompt edited
in place once; ``snooze_step``: on the time-skipping server, against the Slack fake."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from dealcycle.fakes import SlackFake
from dealcycle.fakes.slack import SlackMessage
from schemas.common import Role
from schemas.steps import SnoozeStep
from schemas.trial import CompleteStep
from tests.support.patience import settle
from tests.test_trial_workflow import AE, start
from workflows.step_snooze import business_days_after
from workflows.trial import TrialWorkflow

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def reminders_for(slack_fake: SlackFake, member: str, step_title: str) -> list[SlackMessage]:
    return [m for m in slack_fake.messages_in(member) if step_title in m.text]


def buttons(message: SlackMessage) -> list[dict[str, Any]]:
    assert message.blocks is not None, message.text
    actions = [block for block in message.blocks if block["type"] == "actions"]
    assert len(actions) == 1
    elements: list[dict[str, Any]] = actions[0]["elements"]
    return elements


def decoded(value: Any) -> Any:
    # A form-encoded call carries structured params as JSON strings.
    return json.loads(value) if isinstance(value, str) else value


def chat_updates(slack_fake: SlackFake) -> list[dict[str, Any]]:
    return [call.json for call in slack_fake.calls_to(r"chat\.update$")]


async def complete(handle: WorkflowHandle[Any, Any], step: str, by: str, role: Role) -> None:
    await handle.execute_update(TrialWorkflow.complete_step, CompleteStep(step, by, role))


async def test_a_trial_reminder_has_buttons_and_is_marked_done_once_when_the_step_is(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006BLOCKS")
        await harness.env.sleep(8 * DAY + HOUR)  # planning items due at 7 days, reminded at 8
        (reminder,) = reminders_for(slack_fake, AE, "User survey planning")

        done, snooze, open_ = buttons(reminder)
        assert [b["action_id"] for b in (done, snooze, open_)] == [
            "dealcycle_done",
            "dealcycle_snooze",
            "dealcycle_open",
        ]
        assert [b["text"]["text"] for b in (done, snooze, open_)] == [
            "Done",
            "Snooze 1 day",
            "Open",
        ]
        value = {"workflow_id": "trial-006BLOCKS", "step": "user_survey", "kind": "trial"}
        assert all(json.loads(b["value"]) == value for b in (done, snooze, open_))
        assert open_["url"] == "http://localhost:8233/namespaces/default/workflows/trial-006BLOCKS"
        # The CLI stays in the notification's fallback text only.
        assert "dealcycle step complete trial-006BLOCKS user_survey" in reminder.text
        assert "dealcycle step complete" not in json.dumps(reminder.blocks)
        assert chat_updates(slack_fake) == []

        await complete(handle, "user_survey", AE, Role.AE)
        await settle(handle)
        await harness.env.sleep(2 * DAY + HOUR)  # another round of reminders for the rest
        await settle(handle)

        (update,) = chat_updates(slack_fake)
        assert (update["channel"], update["ts"]) == (reminder.channel, reminder.ts)
        assert "User survey planning" in update["text"]
        assert f"done by <@{AE}> at <!date^" in update["text"]
        blocks = decoded(update["blocks"])
        assert [block["type"] for block in blocks] == ["section"]
        assert f"done by <@{AE}>" in blocks[0]["text"]["text"]
        # The other steps were reminded again, and the done one was not.
        assert len(reminders_for(slack_fake, AE, "User survey planning")) == 1
        assert len(reminders_for(slack_fake, AE, "Business value assessment planning")) == 2


async def test_a_snoozed_trial_step_is_reminded_a_business_day_later(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006SNOOZE")
        started = await harness.env.get_current_time()
        accepted = await handle.execute_update(
            TrialWorkflow.snooze_step, SnoozeStep("user_survey", AE)
        )
        assert "next reminder" in accepted.message
        # Its first reminder was due 8 days after the start (7 to the due date, 1 after).
        usual = started + 8 * DAY
        snoozed = business_days_after(usual, 1, harness.settings.durations.day_seconds)

        await harness.env.sleep(8 * DAY + HOUR)
        assert reminders_for(slack_fake, AE, "User survey planning") == []
        assert len(reminders_for(slack_fake, AE, "Business value assessment planning")) == 1

        await harness.env.sleep(snoozed - usual)
        await settle(handle)
        assert len(reminders_for(slack_fake, AE, "User survey planning")) == 1


async def test_a_stranger_cannot_snooze_a_trial_step(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    who = "U0STRANGER1"
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006NOSNOOZE")
        with pytest.raises(WorkflowUpdateFailedError) as raised:
            await handle.execute_update(TrialWorkflow.snooze_step, SnoozeStep("user_survey", who))
        assert isinstance(raised.value.cause, ApplicationError)
        assert f"{who} may not snooze 'user_survey'" in raised.value.cause.message
        with pytest.raises(WorkflowUpdateFailedError) as raised:
            await handle.execute_update(
                TrialWorkflow.snooze_step, SnoozeStep("user_survey", AE, days=15)
            )
        assert isinstance(raised.value.cause, ApplicationError)
        assert "days: a whole number from 1 to 14" in raised.value.cause.message
