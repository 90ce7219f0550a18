"""The daily digest and the preference behind it.

A person who prefers the digest gets no reminder DMs (the Slack post activity holds them: an
effect done, nothing posted) and ONE digest DM a day with their overdue and this week's steps
(``DailyDigestWorkflow``, from the to-do list: on the dev server, which has visibility); a
person without a preference keeps getting each reminder."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import ScheduleActionStartWorkflow, ScheduleRange

from dealcycle.db.engine import make_engine
from dealcycle.db.models import ExternalEffect
from dealcycle.db.preferences import ReminderMode, ReminderPreferences
from dealcycle.settings import Settings, SettingsError
from schemas.digest import DIGEST_SCHEDULE_ID, DigestResult, DigestRun
from schemas.trial import TRIAL_PLANNING_ITEMS, TrialInput, TrialStart, trial_workflow_id
from starter.cli import main
from starter.digest import ensure_digest_schedule, render_digest_result
from tests.support.dev_temporal import dev_client, dev_harness_factory
from tests.test_todo import listed, people, start_trial
from workflows.digest import DailyDigestWorkflow
from workflows.trial import TrialWorkflow

__all__ = ["dev_client", "dev_harness_factory"]  # the dev-server fixtures, shared

CE, AE = "U0CE00001", "U0AE00001"
DAY = timedelta(days=1)


def prefer(settings: Settings, member_id: str, mode: ReminderMode) -> None:
    preferences = ReminderPreferences(make_engine(settings.database_url))
    preferences.set(member_id, mode, member_id, "test", datetime.now(UTC))


def dms(slack_fake: Any, member_id: str) -> list[str]:
    return [message.text for message in slack_fake.messages_in(member_id)]


async def test_reminders_for_a_digest_person_are_held_and_others_sent_one_by_one(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as h:
        prefer(h.settings, CE, ReminderMode.DIGEST)
        salesforce_fake.add_record("Opportunity", {"Id": "006HELD", "Name": "Acme 006HELD"})
        start = TrialStart("006HELD", "001ACME", "Acme", CE, AE, durations=h.settings.durations)
        h.track(
            await h.client.start_workflow(
                TrialWorkflow.run,
                TrialInput(start=start),
                id=trial_workflow_id("006HELD"),
                task_queue=h.task_queue,
            )
        )
        await h.env.sleep(8 * DAY + timedelta(hours=1))  # due at 7 days, reminded a day later

        # The AE (no preference: immediate) is reminded of each of their two steps.
        assert [text.startswith("Overdue:") for text in dms(slack_fake, AE)] == [True, True]
        # The CE's six reminders are held: done, in the ledger, and never posted.
        assert dms(slack_fake, CE) == []
        with Session(make_engine(h.settings.database_url)) as session:
            held = [
                row.idempotency_key
                for row in session.scalars(select(ExternalEffect))
                if "/reminder/" in row.idempotency_key
                and row.status == "done"
                and (row.result or {}).get("held_for_digest")
            ]
        assert len(held) == 6


async def test_one_digest_dm_a_day_with_the_overdue_and_this_weeks_steps(
    dev_harness_factory: Any, slack_fake: Any, tmp_path: Path
) -> None:
    ce, ae = people()
    async with dev_harness_factory() as h:
        prefer(h.settings, ce, ReminderMode.DIGEST)
        prefer(h.settings, ae, ReminderMode.IMMEDIATE)
        trial = await start_trial(h, f"006D{ce[-8:]}", ce, ae)
        await listed(h.client, ce, {trial.id}, datetime.now(UTC))

        async def digest() -> DigestResult:
            result: DigestResult = await h.client.execute_workflow(
                DailyDigestWorkflow.run,
                DigestRun(),
                id=f"digest-{uuid.uuid4()}",
                task_queue=h.task_queue,
            )
            return result

        first = await digest()
        again = await digest()  # the same day: nothing posted twice

    assert (first.sent, first.already_sent, first.not_sent) == ([ce], [], [])
    # The second run posted nothing and says so: the DM it found was the first run's.
    assert (again.sent, again.already_sent, again.not_sent) == ([], [ce], [])
    assert render_digest_result(first).splitlines()[:2] == [
        f"digest of {first.day}: 1 sent",
        f"  sent to {ce}",
    ]
    assert render_digest_result(again).splitlines()[0] == (
        f"digest of {again.day}: 0 sent; already sent today: {ce}"
    )
    assert f"sent to {ce}" not in render_digest_result(again)
    [text] = dms(slack_fake, ce)
    assert text.startswith(f"Your dealcycle digest for {first.day}: 0 overdue, 6 due this week.")
    ce_items = [item.title for item in TRIAL_PLANNING_ITEMS if item.lead.value == "CE"]
    assert all(title in text for title in ce_items) and trial.id in text
    # The AE takes reminders one by one: no digest for them.
    assert not any("digest" in message for message in dms(slack_fake, ae))


async def test_the_schedule_runs_the_digest_at_the_configured_hour_utc(
    dev_client: Any, test_settings: Settings
) -> None:
    settings = replace(test_settings, digest_hour=6, task_queue=f"tq-{uuid.uuid4()}")
    assert "created" in await ensure_digest_schedule(dev_client, settings)
    assert "updated" in await ensure_digest_schedule(dev_client, replace(settings, digest_hour=7))
    handle = dev_client.get_schedule_handle(DIGEST_SCHEDULE_ID)
    described = await handle.describe()
    await handle.delete()
    [calendar] = described.schedule.spec.calendars
    assert (
        list(calendar.hour) == [ScheduleRange(7)]
        and described.schedule.spec.time_zone_name == "UTC"
    )
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert action.workflow == "DailyDigestWorkflow"


def test_the_digest_hour_is_an_hour_of_the_day() -> None:
    assert Settings.from_env({"DEALCYCLE_DIGEST_HOUR": "17"}).digest_hour == 17
    assert Settings.from_env({}).digest_hour == 8
    with pytest.raises(SettingsError, match="not an hour of the day"):
        Settings.from_env({"DEALCYCLE_DIGEST_HOUR": "24"})


def test_the_preference_cli_refuses_bad_input_and_shows_who_chose_what(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'dealcycle.db'}")
    monkeypatch.setenv("DEALCYCLE_STATE_DIR", str(tmp_path / "state"))
    assert main(["digest", "prefer", "--user", CE, "weekly"]) == 1
    assert "must be digest or immediate (got 'weekly')" in capsys.readouterr().err
    assert main(["digest", "prefer", "--user", "bob", "digest"]) == 1
    assert "--user: a Slack member id" in capsys.readouterr().err
    assert main(["digest", "show"]) == 0
    assert "Nobody has chosen" in capsys.readouterr().out

    assert main(["digest", "prefer", "--user", CE, "Digest"]) == 0
    assert main(["digest", "prefer", "--user", AE, "immediate", "--by", CE]) == 0
    capsys.readouterr()
    assert main(["digest", "show"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[1].split()[:2] == [AE, "immediate"] and f"by {CE} via cli:" in shown[1]
    assert shown[2].split()[:2] == [CE, "digest"] and f"by {CE} via cli:" in shown[2]
