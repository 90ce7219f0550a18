"""TrialWorkflow on the time-skipping test server, with the real activities against the fakes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.errors import non_retryable
from activities.licensing import LicenseActivities
from dealcycle.db.engine import make_engine
from dealcycle.db.models import LicenseKey, TrialOutcome
from dealcycle.licensing import load_public_key, verify_license_key
from schemas.common import Durations, Role, StepStatus, TechnicalWinStatus
from schemas.effects import RetryEffect, SkipEffect
from schemas.trial import (
    MID_TRIAL_CHECK_IN,
    TRIAL_PLANNING_ITEMS,
    CompleteStep,
    ConcludeTrial,
    ExtendTrial,
    SetTechnicalWin,
    StartTrialOverride,
    TrialInput,
    TrialPhase,
    TrialStart,
    TrialState,
    trial_workflow_id,
)
from starter.trials import CommandError, act
from workflows.trial import TrialWorkflow

CE, AE = "U0CE00001", "U0AE00001"
CHANNEL = "#dealcycle-trials"
DAY = timedelta(days=1)


def trial_start(opportunity_id: str, harness: Any, **overrides: Any) -> TrialStart:
    fields: dict[str, Any] = {
        "opportunity_id": opportunity_id,
        "account_id": "001ACME",
        "account_name": "Acme",
        "ce_owner": CE,
        "ae_owner": AE,
        "seats": 40,
        "durations": harness.settings.durations,
        "announce_channel": CHANNEL,
    }
    fields.update(overrides)
    return TrialStart(**fields)


async def start(
    harness: Any, salesforce_fake: Any, opportunity_id: str, **overrides: Any
) -> WorkflowHandle[Any, Any]:
    salesforce_fake.add_record(
        "Opportunity", {"Id": opportunity_id, "Name": f"Acme {opportunity_id}"}
    )
    handle = await harness.client.start_workflow(
        TrialWorkflow.run,
        TrialInput(start=trial_start(opportunity_id, harness, **overrides)),
        id=trial_workflow_id(opportunity_id),
        task_queue=harness.task_queue,
    )
    return harness.track(handle)


async def complete_planning(handle: WorkflowHandle[Any, Any]) -> None:
    for item in TRIAL_PLANNING_ITEMS:
        await handle.execute_update(
            TrialWorkflow.complete_step,
            CompleteStep(item.key, CE if item.lead is Role.CE else AE, item.lead),
        )


async def state(handle: WorkflowHandle[Any, Any]) -> TrialState:
    return await handle.query(TrialWorkflow.state)


async def settled_state(handle: WorkflowHandle[Any, Any]) -> TrialState:
    """The state once the trial's first license key is issued (just after the trial starts)."""
    for _ in range(100):
        view = await state(handle)
        if view.license_key_ids:
            return view
        await asyncio.sleep(0.05)
    raise AssertionError("the trial's license key was never issued")


def texts(slack_fake: Any, channel: str) -> list[str]:
    return [message.text for message in slack_fake.messages_in(channel)]


async def test_a_30_day_trial_with_a_14_day_extension_runs_to_its_outcome(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006TRIAL1")
        await complete_planning(handle)
        started = await state(handle)
        assert started.phase is TrialPhase.RUNNING
        assert started.started_at is not None and started.ends_at == started.started_at + 30 * DAY
        t0 = started.started_at

        await handle.execute_update(
            TrialWorkflow.set_technical_win, SetTechnicalWin(TechnicalWinStatus.IN_PROGRESS, CE)
        )
        await harness.env.sleep(16 * DAY)  # past the midpoint: the check-in is prompted
        await handle.execute_update(
            TrialWorkflow.complete_step,
            CompleteStep(MID_TRIAL_CHECK_IN.key, CE, Role.CE, "on track"),
        )
        accepted = await handle.execute_update(
            TrialWorkflow.extend_trial, ExtendTrial(14, "security review pending", AE, Role.AE)
        )
        assert "extended by 14 day(s)" in accepted.message
        await handle.execute_update(
            TrialWorkflow.set_technical_win,
            SetTechnicalWin(TechnicalWinStatus.WON, CE, "all use cases met"),
        )

        result = await handle.result()  # time skips to the moved end

        assert result.outcome.value == "technical_win"
        assert result.ended_at == t0 + 44 * DAY
        assert len(result.license_key_ids) == 2

        # Salesforce: trial dates, technical win, outcome, one check-in task.
        opportunity = salesforce_fake.get_record("Opportunity", "006TRIAL1")
        assert opportunity["Trial_Start_Date__c"] == t0.date().isoformat()
        assert opportunity["Trial_End_Date__c"] == (t0 + 44 * DAY).date().isoformat()
        assert opportunity["Technical_Win_Status__c"] == "Won"
        assert opportunity["Trial_Outcome__c"] == "technical_win"
        tasks = salesforce_fake.records("Task")
        assert [(task["Subject"], task["WhatId"]) for task in tasks] == [
            ("Mid-trial check-in: Acme", "006TRIAL1")
        ]
        assert tasks[0]["ActivityDate"] == (t0 + 17 * DAY).date().isoformat()
        win_writes = [
            call.json.get("Technical_Win_Status__c")
            for call in salesforce_fake.calls
            if call.method == "PATCH"
            and call.status < 300
            and call.json
            and "Technical_Win_Status__c" in call.json
        ]
        assert win_writes == ["In progress", "Won", "Won"]  # two changes, then the outcome

        # Slack: the announcements in the channel, the check-in nudge to the CE. The extension's
        # post waits for its new key, so it may follow the technical win made just after it.
        channel = texts(slack_fake, CHANNEL)
        assert len(channel) == 5
        assert channel[0].startswith("Trial started for Acme (006TRIAL1): 30 days")
        assert "Technical win for Acme (006TRIAL1): In progress" in channel[1]
        extended = [text for text in channel[2:4] if "extended to" in text]
        assert len(extended) == 1 and "security review pending" in extended[0]
        assert any("Technical win for Acme (006TRIAL1): Won" in text for text in channel[2:4])
        assert channel[4].startswith("Trial ended for Acme (006TRIAL1): technical win")
        nudges = texts(slack_fake, CE)
        assert len(nudges) == 1 and "Mid-trial check-in" in nudges[0]

        # Database: the outcome row and two keys that verify, expiring at the old and new end.
        engine = make_engine(harness.settings.database_url)
        with Session(engine) as session:
            outcome = session.execute(select(TrialOutcome)).scalar_one()
            keys = (
                session.execute(select(LicenseKey).order_by(LicenseKey.expires_at)).scalars().all()
            )
        assert (outcome.opportunity_id, outcome.outcome, outcome.technical_win) == (
            "006TRIAL1",
            "technical_win",
            "won",
        )
        assert sorted(outcome.license_key_ids) == sorted(result.license_key_ids)
        public_key = load_public_key(harness.settings.license_public_key_file)
        payloads = [verify_license_key(key.license_key, public_key) for key in keys]
        assert [payload.kind for payload in payloads] == ["trial", "trial"]
        assert [payload.seats for payload in payloads] == [40, 40]
        assert [payload.expires for payload in payloads] == [t0 + 30 * DAY, t0 + 44 * DAY]
        assert {payload.key_id for payload in payloads} == set(result.license_key_ids)
        assert all(payload.account == "001ACME" for payload in payloads)


async def test_overdue_planning_items_remind_their_owners_and_an_override_starts_the_trial(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006LATE")
        await handle.execute_update(
            TrialWorkflow.complete_step, CompleteStep("technical_landscape", CE, Role.CE)
        )
        await harness.env.sleep(8 * DAY + timedelta(hours=1))  # due at 7 days, reminded a day later
        view = await state(handle)
        overdue = {step.key for step in view.steps if step.status is StepStatus.OVERDUE}
        assert len(overdue) == 7 and "technical_landscape" not in overdue
        ce_reminders, ae_reminders = texts(slack_fake, CE), texts(slack_fake, AE)
        assert len(ce_reminders) == 5 and len(ae_reminders) == 2
        assert all(text.startswith("Overdue:") for text in ce_reminders + ae_reminders)
        assert any("'User survey planning'" in text for text in ae_reminders)

        await harness.env.sleep(2 * DAY)  # the reminders repeat every two days
        assert len(texts(slack_fake, CE)) == 10

        await handle.execute_update(
            TrialWorkflow.start_with_override, StartTrialOverride(AE, Role.AE, "customer deadline")
        )
        view = await state(handle)
        assert view.phase is TrialPhase.RUNNING
        assert view.override_reason == "customer deadline"
        assert sum(step.status is StepStatus.SKIPPED for step in view.steps) == 7
        await handle.execute_update(
            TrialWorkflow.conclude_trial, ConcludeTrial(CE, Role.CE, "customer bought early")
        )
        result = await handle.result()
        assert result.outcome.value == "no_decision"
        channel = texts(slack_fake, CHANNEL)
        assert "Started by override of <@U0AE00001>: customer deadline" in channel[0]
        assert "concluded early by <@U0CE00001>: customer bought early" in channel[-1]


async def _accepted_update_count(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(
        event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        for event in history.events
    )


@pytest.mark.parametrize(
    ("update", "request_", "message"),
    [
        ("complete_step", CompleteStep("no_such_step", CE, Role.CE), "unknown step 'no_such_step'"),
        ("complete_step", CompleteStep("user_survey", CE, Role.CE), "led by the AE, not the CE"),
        (
            "complete_step",
            CompleteStep("technical_landscape", CE, Role.CE),
            "already completed by U0CE00001",
        ),
        (
            "extend_trial",
            ExtendTrial(0, "why", CE, Role.CE),
            "days: a whole number from 1 to 365 (got 0)",
        ),
        (
            "extend_trial",
            ExtendTrial(-5, "why", CE, Role.CE),
            "days: a whole number from 1 to 365 (got -5)",
        ),
        (
            "set_technical_win",
            SetTechnicalWin(TechnicalWinStatus.WON, AE),
            "U0AE00001 is not the CE",
        ),
    ],
)
async def test_bad_actions_are_rejected_with_a_clear_message_and_leave_no_trace(
    harness_factory: Any, salesforce_fake: Any, update: str, request_: object, message: str
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006BAD")
        await complete_planning(handle)  # the trial runs, so extensions are possible
        before = await settled_state(handle)
        accepted_before = await _accepted_update_count(handle)

        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update(update, request_)

        assert isinstance(rejected.value.cause, ApplicationError)
        assert message in rejected.value.cause.message
        after = await state(handle)
        assert (after.steps, after.ends_at, after.technical_win, after.license_key_ids) == (
            before.steps,
            before.ends_at,
            before.technical_win,
            before.license_key_ids,
        )
        assert await _accepted_update_count(handle) == accepted_before


async def test_actions_after_the_trial_ended_are_refused_and_change_nothing(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006OVER", length_days=10)
        await complete_planning(handle)
        # Past the end first: waiting on a result alone has been seen to hang the Java test
        # server now and then (its time skipping waits on the long poll).
        await harness.env.sleep(11 * DAY)
        await handle.result()
        # The CLI's path: a closed trial is refused before any update is sent.
        with pytest.raises(
            CommandError, match="trial-006OVER is completed; it accepts no more actions"
        ):
            await act(
                harness.client, handle.id, "extend_trial", ExtendTrial(3, "late", CE, Role.CE)
            )
        final = await state(handle)
        assert final.phase is TrialPhase.ENDED and final.extensions == []
        assert len(final.license_key_ids) == 1


async def test_a_check_in_recorded_before_the_midpoint_is_not_prompted(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006EARLY", length_days=10)
        await complete_planning(handle)
        await harness.env.sleep(2 * DAY)  # before the midpoint (day 5)
        await handle.execute_update(
            TrialWorkflow.complete_step,
            CompleteStep(MID_TRIAL_CHECK_IN.key, CE, Role.CE, "met early: on track"),
        )
        await harness.env.sleep(9 * DAY)  # past the midpoint and the end
        result = await handle.result()

        assert result.outcome.value == "no_decision"
        assert not any("Mid-trial check-in" in text for text in texts(slack_fake, CE))
        assert salesforce_fake.records("Task") == []
        final = await state(handle)
        [check_in] = [step for step in final.steps if step.key == MID_TRIAL_CHECK_IN.key]
        assert (check_in.status, check_in.note) == (StepStatus.DONE, "met early: on track")


async def test_retried_writes_reach_slack_and_salesforce_exactly_once(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006RETRY")
        slack_fake.rate_limit_next(1, retry_after=1)
        # The post's own 500: the retries look for an earlier post first (the 429 left the
        # ledger entry started), and a fault on any method would hit that lookup.
        slack_fake.server_error_next(1, api_method="chat.postMessage")
        salesforce_fake.rate_limit_next(1)
        salesforce_fake.server_error_next(1)
        await handle.execute_update(
            TrialWorkflow.set_technical_win,
            SetTechnicalWin(TechnicalWinStatus.AT_RISK, CE, "no SSO"),
        )
        await harness.env.sleep(timedelta(minutes=5))
        channel = texts(slack_fake, CHANNEL)
        assert channel == [
            "Technical win for Acme (006RETRY): At risk (set by <@U0CE00001>). no SSO"
        ]
        slack_statuses = [
            call.status for call in slack_fake.calls if call.path.endswith("chat.postMessage")
        ]
        assert slack_statuses == [429, 500, 200]
        win_patches = [
            call.status
            for call in salesforce_fake.calls
            if call.method == "PATCH" and call.json and "Technical_Win_Status__c" in call.json
        ]
        assert win_patches == [403, 500, 204]
        assert (
            salesforce_fake.get_record("Opportunity", "006RETRY")["Technical_Win_Status__c"]
            == "At risk"
        )


async def test_a_long_history_continues_as_new_carrying_the_state(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    hour = timedelta(hours=1)
    durations = Durations(
        planning_item_due_seconds=3600,
        overdue_reminder_delay_seconds=3600,
        overdue_reminder_repeat_seconds=3600,
    )
    async with harness_factory(durations=durations) as harness:
        handle = await start(harness, salesforce_fake, "006LONG", history_event_limit=60)
        first_run = handle.result_run_id
        await handle.execute_update(
            TrialWorkflow.complete_step, CompleteStep("technical_landscape", CE, Role.CE, "kept")
        )
        await harness.env.sleep(10 * hour + hour / 2)  # reminder rounds at 2h, 3h, ... 10h

        latest = harness.client.get_workflow_handle_for(TrialWorkflow.run, handle.id)
        description = await latest.describe()
        assert description.run_id != first_run  # it continued as new at least once
        view = await state(latest)
        kept = next(step for step in view.steps if step.key == "technical_landscape")
        assert (kept.status, kept.completed_by, kept.note) == (StepStatus.DONE, CE, "kept")
        # Nine rounds of seven reminders, none lost or repeated across the new runs.
        reminders = texts(slack_fake, CE) + texts(slack_fake, AE)
        assert len(reminders) == 9 * 7
        assert len(set(message.ts for message in slack_fake.messages)) == len(slack_fake.messages)

        await complete_planning_except(latest, "technical_landscape")
        await latest.execute_update(
            TrialWorkflow.conclude_trial, ConcludeTrial(CE, Role.CE, "enough")
        )
        result = await latest.result()
        assert result.outcome.value == "no_decision" and len(result.license_key_ids) == 1
        assert len(texts(slack_fake, CHANNEL)) == 2  # started, ended: once each


async def complete_planning_except(handle: WorkflowHandle[Any, Any], done: str) -> None:
    for item in TRIAL_PLANNING_ITEMS:
        if item.key != done:
            await handle.execute_update(
                TrialWorkflow.complete_step,
                CompleteStep(item.key, CE if item.lead is Role.CE else AE, item.lead),
            )


async def test_a_trial_key_the_signer_refused_is_not_issued_by_a_retry_once_the_trial_ended(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, monkeypatch: Any
) -> None:
    def refuse(self: Any, request: Any) -> Any:
        raise non_retryable("the signer refused: HSM offline", "SignerRefused")

    monkeypatch.setattr(LicenseActivities, "_issue", refuse)
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006NOKEY")
        await complete_planning(handle)
        await handle.execute_update(
            TrialWorkflow.extend_trial, ExtendTrial(10, "more use cases", AE, Role.AE)
        )
        await handle.execute_update(
            TrialWorkflow.conclude_trial, ConcludeTrial(CE, Role.CE, "customer chose early")
        )
        failed: list[str] = []
        for _ in range(100):
            failed = [e.name for e in (await state(handle)).effects if e.state == "failed"]
            if len(failed) == 2:
                break
            await asyncio.sleep(0.05)
        assert failed == ["license/0", "license/1"]

        monkeypatch.undo()  # the signer is back, but the trial has ended
        for name in failed:
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(
                    TrialWorkflow.retry_effect, RetryEffect(name, "U0OPS0001")
                )
            assert isinstance(refused.value.cause, ApplicationError)
            assert "the trial has ended" in refused.value.cause.message
            assert "skip it instead" in refused.value.cause.message
            await handle.execute_update(
                TrialWorkflow.skip_effect, SkipEffect(name, "trial over", "U0OPS0001")
            )
        result = await handle.result()
        assert result.license_key_ids == []
        with Session(make_engine(harness.settings.database_url)) as session:
            assert session.scalars(select(LicenseKey)).all() == []
        assert not any("New trial key" in text for text in texts(slack_fake, CHANNEL))


async def test_a_trial_concluded_early_shows_its_real_end_in_salesforce(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006SHORT")
        await complete_planning(handle)
        await harness.env.sleep(3 * DAY)
        await handle.execute_update(
            TrialWorkflow.conclude_trial, ConcludeTrial(CE, Role.CE, "they signed early")
        )
        result = await handle.result()
        opportunity = salesforce_fake.get_record("Opportunity", "006SHORT")
        assert opportunity["Trial_Outcome__c"] == "no_decision"
        assert opportunity["Trial_End_Date__c"] == result.ended_at.date().isoformat()


async def test_a_refused_extension_key_is_not_retried_once_a_later_extension_has_its_key(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, monkeypatch: Any
) -> None:
    real = LicenseActivities._issue
    refusing = {"on": False}

    def issue(self: Any, request: Any) -> Any:
        if refusing["on"]:
            raise non_retryable("the signer refused: HSM offline", "SignerRefused")
        return real(self, request)

    monkeypatch.setattr(LicenseActivities, "_issue", issue)
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006LATER")
        await complete_planning(handle)
        await settled_state(handle)
        refusing["on"] = True
        await handle.execute_update(
            TrialWorkflow.extend_trial, ExtendTrial(5, "first ask", AE, Role.AE)
        )
        for _ in range(100):
            if any(
                e.name == "license/1" and e.state == "failed" for e in (await state(handle)).effects
            ):
                break
            await asyncio.sleep(0.05)
        refusing["on"] = False
        await handle.execute_update(
            TrialWorkflow.extend_trial, ExtendTrial(10, "second ask", AE, Role.AE)
        )
        for _ in range(100):
            if len((await state(handle)).license_key_ids) == 2:
                break
            await asyncio.sleep(0.05)

        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                TrialWorkflow.retry_effect, RetryEffect("license/1", "U0OPS0001")
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert "license/2" in refused.value.cause.message
        assert "skip it instead" in refused.value.cause.message
        assert [text for text in texts(slack_fake, CHANNEL) if "extended to" in text] == [
            next(text for text in texts(slack_fake, CHANNEL) if "second ask" in text)
        ]
