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
from schemas.account import RecordKickoffPlan
from schemas.common import Role
from schemas.security_review import CompleteSecurityStep
from schemas.steps import SNOOZE_STEP_UPDATE, SnoozeStep
from schemas.trial import CompleteStep
from starter import cli, cli_common
from starter.trials import CommandError, act
from tests.support.accounts import AE as ACCOUNT_AE
from tests.support.accounts import CE as ACCOUNT_CE
from tests.support.accounts import advance_to as account_advance_to
from tests.support.accounts import state as account_state
from tests.support.patience import settle
from tests.support.slack_app import eventually, fake_control, update_ids
from tests.test_account_workflow import start_account
from tests.test_security_review_workflow import start as start_review
from tests.test_slack_app_buttons import CE_STEP
from tests.test_slack_app_fake_delivery import app_in
from tests.test_trial_workflow import AE, CE, start
from workflows.account import AccountWorkflow
from workflows.account_onboarding_rules import KICKOFF_PLAN_STEP
from workflows.security_review import SecurityReviewWorkflow
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


def as_stored(slack_fake: SlackFake, message: SlackMessage) -> SlackMessage:
    """The message as the fake holds it now (edited in place by chat.update)."""
    (stored,) = [m for m in slack_fake.messages_in(message.channel) if m.ts == message.ts]
    return stored


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
        edited = as_stored(slack_fake, reminder)
        assert edited.edited is not None and f"done by <@{AE}>" in edited.text
        assert edited.blocks == blocks  # no buttons left
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


async def test_an_account_step_prompt_is_snoozed_by_the_ae_and_marked_done_by_the_kickoff(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        account = await start_account(harness, salesforce_fake, "001BLOCKS", 300 * DAY)
        (announcement,) = reminders_for(slack_fake, ACCOUNT_CE, "Kickoff call")
        # The kickoff is done by recording its plan, so the prompt has no Done button: it
        # offers the Slack app's kickoff form instead.
        fill_in, snooze, open_ = buttons(announcement)
        assert [b["action_id"] for b in (fill_in, snooze, open_)] == [
            "dealcycle_open_modal_kickoff",
            "dealcycle_snooze",
            "dealcycle_open",
        ]
        value = {"workflow_id": "account-001BLOCKS", "step": KICKOFF_PLAN_STEP, "kind": "account"}
        assert all(json.loads(b["value"]) == value for b in (fill_in, snooze, open_))
        assert open_["url"].endswith("/namespaces/default/workflows/account-001BLOCKS")
        assert "dealcycle account kickoff 001BLOCKS" in announcement.text

        with pytest.raises(WorkflowUpdateFailedError) as raised:
            await account.execute_update(
                AccountWorkflow.snooze_step, SnoozeStep(KICKOFF_PLAN_STEP, "U0STRANGER1")
            )
        assert isinstance(raised.value.cause, ApplicationError)
        assert "U0STRANGER1 may not snooze 'kickoff-plan'" in raised.value.cause.message
        # The AE of record may snooze the CE's step.
        await account.execute_update(
            AccountWorkflow.snooze_step, SnoozeStep(KICKOFF_PLAN_STEP, ACCOUNT_AE, days=2)
        )
        (step,) = (await account_state(account)).open_steps
        assert step.due_at is not None
        usual = step.due_at + DAY  # the first reminder, a day after the due date
        snoozed = business_days_after(usual, 2, harness.settings.durations.day_seconds)

        await account_advance_to(harness.env, account, usual + HOUR)
        assert len(reminders_for(slack_fake, ACCOUNT_CE, "Kickoff call")) == 1
        await account_advance_to(harness.env, account, snoozed + HOUR)
        _, reminder = reminders_for(slack_fake, ACCOUNT_CE, "Kickoff call")
        assert reminder.text.startswith("Overdue: Kickoff call")
        assert chat_updates(slack_fake) == []

        await account.execute_update(
            AccountWorkflow.record_kickoff_plan,
            RecordKickoffPlan(ACCOUNT_CE, Role.CE, "weekly", [], False, []),
        )
        await settle(account)
        await account_advance_to(harness.env, account, snoozed + 3 * DAY)

        updates = chat_updates(slack_fake)
        assert sorted((u["channel"], u["ts"]) for u in updates) == sorted(
            (m.channel, m.ts) for m in (announcement, reminder)
        )
        assert all(f"done by <@{ACCOUNT_CE}> at" in u["text"] for u in updates)
        assert all("Kickoff call" in u["text"] for u in updates)
        for message in (announcement, reminder):
            edited = as_stored(slack_fake, message)
            assert edited.edited is not None
            assert [block["type"] for block in edited.blocks or []] == ["section"]


async def test_the_cli_snooze_sends_the_update_and_prints_a_refusal(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        await start(harness, salesforce_fake, "006CLISNOOZE")
        with pytest.raises(CommandError, match="rejected: U0STRANGER1 may not snooze"):
            await act(
                harness.client,
                "trial-006CLISNOOZE",
                SNOOZE_STEP_UPDATE,
                SnoozeStep("user_survey", "U0STRANGER1"),
            )
        answer = await act(
            harness.client,
            "trial-006CLISNOOZE",
            SNOOZE_STEP_UPDATE,
            SnoozeStep("user_survey", AE, 2),
        )
        assert answer.startswith("User survey planning: next reminder ")


def test_trial_snooze_parses_into_the_update(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, str, object]] = []

    async def fake_act(
        _client: object, workflow_id: str, update: str, request: object, *_: object
    ) -> str:
        sent.append((workflow_id, update, request))
        return "snoozed"

    async def connect(_settings: object) -> object:
        return object()

    monkeypatch.setattr(cli_common, "act", fake_act)
    monkeypatch.setattr(cli_common, "connect", connect)
    monkeypatch.setattr(cli_common, "configure_logging", lambda *_args: None)
    argv = ["trial", "snooze", "trial-006X", "user_survey", "--by", AE, "--days", "2"]
    assert cli.main(argv) == 0
    assert sent == [("trial-006X", "snooze_step", SnoozeStep("user_survey", AE, 2))]


async def test_a_security_review_reminder_is_snoozed_then_marked_done(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        review = await start_review(harness, "006SECBLOCKS")
        started = await harness.env.get_current_time()
        with pytest.raises(WorkflowUpdateFailedError) as raised:
            await review.execute_update(
                SecurityReviewWorkflow.snooze_step, SnoozeStep("grant_access", "U0STRANGER1")
            )
        assert isinstance(raised.value.cause, ApplicationError)
        assert "U0STRANGER1 may not snooze 'grant_access'" in raised.value.cause.message
        # The CE of record snoozes the AE's step; its first reminder was due on day 2.
        await review.execute_update(
            SecurityReviewWorkflow.snooze_step, SnoozeStep("grant_access", CE)
        )
        usual = started + 2 * DAY
        snoozed = business_days_after(usual, 1, harness.settings.durations.day_seconds)

        await harness.env.sleep(2 * DAY + HOUR)
        await settle(review)
        assert reminders_for(slack_fake, AE, "Grant access") == []
        await harness.env.sleep(snoozed - usual)
        await settle(review)
        (reminder,) = reminders_for(slack_fake, AE, "Grant access")
        done, _, open_ = buttons(reminder)
        value = {"workflow_id": "security-review-006SECBLOCKS", "step": "grant_access"}
        assert json.loads(done["value"]) == {**value, "kind": "security_review"}
        assert open_["url"].endswith("/workflows/security-review-006SECBLOCKS")

        await review.execute_update(
            SecurityReviewWorkflow.complete_step, CompleteSecurityStep("grant_access", AE)
        )
        await settle(review)
        await harness.env.sleep(DAY)
        await settle(review)
        (update,) = chat_updates(slack_fake)
        assert (update["channel"], update["ts"]) == (reminder.channel, reminder.ts)
        assert f"done by <@{AE}> at" in update["text"]


async def test_a_security_review_step_escalated_to_the_ce_leader_can_still_be_snoozed(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    """A security review step's reminders go on after its escalation to the CE leader (each
    with its Snooze button): a snooze then moves the next one, as before the escalation."""
    async with harness_factory() as harness:
        review = await start_review(harness, "006SECSNOOZELATE")
        started = await harness.env.get_current_time()
        # Access is due on day 1: reminded on days 2 and 4, escalated on day 6, reminded on 8.
        await harness.env.sleep(6 * DAY + HOUR)
        await settle(review)
        view = await review.query(SecurityReviewWorkflow.state)
        access = next(step for step in view.steps if step.key == "grant_access")
        assert (access.reminders_sent, access.escalated_to_leader) == (2, True)
        assert len(reminders_for(slack_fake, AE, "Grant access")) == 2

        accepted = await review.execute_update(
            SecurityReviewWorkflow.snooze_step, SnoozeStep("grant_access", AE)
        )
        usual = started + 8 * DAY
        snoozed = business_days_after(usual, 1, harness.settings.durations.day_seconds)
        assert snoozed > usual and "next reminder" in accepted.message

        await harness.env.sleep(usual - started - 6 * DAY)
        await settle(review)
        assert len(reminders_for(slack_fake, AE, "Grant access")) == 2
        await harness.env.sleep(snoozed - usual)
        await settle(review)
        assert len(reminders_for(slack_fake, AE, "Grant access")) == 3


@pytest.mark.parametrize("mode", ["socket", "http"])
async def test_done_clicked_on_the_workflows_own_reminder_edits_that_reminder_once(
    mode: str, harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006CLICKED")
        await harness.env.sleep(8 * DAY + HOUR)
        (reminder,) = reminders_for(slack_fake, CE, CE_STEP.title)
        click = {"channel": reminder.channel, "ts": reminder.ts, "action_id": "dealcycle_done"}
        async with app_in(mode, harness, slack_fake):
            await fake_control(slack_fake.url, "click", {**click, "user": CE})

            async def edited() -> SlackMessage | None:
                stored = as_stored(slack_fake, reminder)
                return stored if stored.edited is not None else None

            message = await eventually(edited)

        await settle(handle)
        assert f"done by <@{CE}> at" in message.text
        # The buttons are gone: the message cannot be clicked again.
        assert [block["type"] for block in message.blocks or []] == ["section"]
        assert len(chat_updates(slack_fake)) == 1
        assert len(await update_ids(handle)) == 1


async def test_snoozes_add_up_to_fourteen_business_days_past_the_scheduled_reminder(
    harness_factory: Any, salesforce_fake: Any, slack_fake: SlackFake
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006SNOOZEMAX")
        started = await harness.env.get_current_time()
        day_seconds = harness.settings.durations.day_seconds
        await handle.execute_update(TrialWorkflow.snooze_step, SnoozeStep("user_survey", AE, 10))
        await handle.execute_update(TrialWorkflow.snooze_step, SnoozeStep("user_survey", CE, 4))
        # Fourteen in all: one more business day, by anyone, is refused and changes nothing.
        with pytest.raises(WorkflowUpdateFailedError) as raised:
            await handle.execute_update(TrialWorkflow.snooze_step, SnoozeStep("user_survey", AE, 1))
        assert isinstance(raised.value.cause, ApplicationError)
        assert "snoozes add up to at most 14 business days" in raised.value.cause.message
        # Its first reminder was due 8 days after the start; snoozed 14 business days from it.
        usual = started + 8 * DAY
        snoozed = business_days_after(usual, 14, day_seconds)
        await harness.env.sleep(snoozed - started - HOUR)
        await settle(handle)
        assert reminders_for(slack_fake, AE, "User survey planning") == []
        await harness.env.sleep(2 * HOUR)
        await settle(handle)
        assert len(reminders_for(slack_fake, AE, "User survey planning")) == 1
