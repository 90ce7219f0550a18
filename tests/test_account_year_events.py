"""A Tier 1 account-year stays within its history budget (issue 14): counted, not timed.

The year is ``bench.account_year_events``' (the bench prints the same figures against the
target): an established Tier 1 account with bi-weekly check-ins, its team doing what is asked
each month and at the renewal, which it then continues as new from.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType

from bench.account_year_events import (
    EVENTS_PER_ACCOUNT_YEAR,
    HEALTH_FEED_HEADROOM,
    live_account_year,
    year_events,
)
from tests.support.accounts import DAY, onboard, start_account
from tests.support.patience import settle
from workflows.account import AccountWorkflow


async def test_a_tier_1_account_year_keeps_its_timer_and_its_event_budget(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        histories = await live_account_year(
            harness.env, harness.task_queue, settings=harness.settings, salesforce=salesforce_fake
        )
    year = year_events(histories)
    # The year happened: two runs (renewed, continued as new), every effect done.
    assert year.runs == 2
    assert year.events["WORKFLOW_EXECUTION_UPDATE_COMPLETED"] >= 30
    assert year.events["ACTIVITY_TASK_COMPLETED"] == year.events["ACTIVITY_TASK_SCHEDULED"]
    # A timer is cancelled only when the next deadline moved (a step done earlier than its
    # reminder): never for an update, a signal or an effect that left the deadline where it
    # was (before: 147 timers cancelled in the year, 1,463 events).
    assert year.events["TIMER_CANCELED"] <= 12
    assert year.events["TIMER_STARTED"] <= year.events["TIMER_FIRED"] + 12
    # Within the target with room for the usage feed's health signals (before: 1,463 events;
    # with the timer kept alone, 1,199: Slack effects tried in the workflow task do the rest).
    assert year.total + HEALTH_FEED_HEADROOM <= EVENTS_PER_ACCOUNT_YEAR


async def test_a_slack_post_whose_first_try_fails_is_posted_by_the_durable_activity(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start_account(
            harness.client,
            harness.env,
            harness.task_queue,
            harness.settings,
            salesforce_fake,
            "001LOCALFIRST",
            400 * DAY,
            track=harness.track,
        )
        # The kickoff announcement's one try in the workflow task meets a Slack hiccup.
        slack_fake.fail_next(
            "POST", r"chat\.postMessage", 200, {"ok": False, "error": "internal_error"}
        )
        await onboard(handle)
        await settle(handle)
        history = await handle.fetch_history()
        view = await handle.query(AccountWorkflow.effects)
    posts = [m.text for m in slack_fake.messages_in("#customer-accounts")]
    assert len(posts) == 1 and posts[0].startswith("New customer Acme 001LOCALFIRST")
    announcement = [e for e in view.effects if e.name == "kickoff/announcement"]
    assert [e.state for e in announcement] == ["done"]
    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    # Only the post that failed locally became an activity; every other Slack post or edit
    # of the onboarding was done in its workflow task.
    assert scheduled.count("post_slack_message") == 1
    assert "update_slack_message" not in scheduled


async def test_a_slack_refusal_on_the_first_try_fails_the_effect_at_once(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start_account(
            harness.client,
            harness.env,
            harness.task_queue,
            harness.settings,
            salesforce_fake,
            "001REFUSED",
            400 * DAY,
            track=harness.track,
        )
        # Revoked credentials on the onboarding's first post, tried in the workflow task: a
        # refusal no retry mends, so no activity tries it again (one fault, used up).
        slack_fake.fail_next(
            "POST", r"chat\.postMessage", 200, {"ok": False, "error": "invalid_auth"}
        )
        await onboard(handle)
        await settle(handle)
        view = await handle.query(AccountWorkflow.effects)
        history = await handle.fetch_history()
    failed = [e for e in view.effects if e.state == "failed"]
    assert len(failed) == 1 and "invalid_auth" in failed[0].cause
    assert failed[0].kind in ("announcement", "reminder")
    assert view.needs_attention
    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert "post_slack_message" not in scheduled
