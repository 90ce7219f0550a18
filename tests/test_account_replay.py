"""Changing AccountWorkflow must not break accounts already running for years.

``histories/account-before-kickoff-announcement.json`` was recorded (kickoff, onboarding, a
quarter's plan, weekly check-in briefs) by the account workflow as it was before it learned
to announce new customers in the account channel. That announcement is behind
``workflow.patched``: that the old history replays on today's code, and would not without the
guard, is ``tests/test_replay_histories.py``'s to check (it replays every recorded history).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.support.accounts import DAY, onboard, settle, start_account
from tests.support.codec import TEST_DATA_CONVERTER
from workflows.account import UNIQUE_CASE_IDS_PATCH, AccountWorkflow
from workflows.account_effects import KICKOFF_ANNOUNCEMENT_PATCH
from workflows.local_first import LOCAL_FIRST_PATCH
from workflows.owed_work import OWED_WORK_PATCH, QUIET_EFFECT_END_PATCH
from workflows.step_prompts import SLACK_DONE_UPDATE_PATCH
from workflows.visibility import TODO_ATTRIBUTES_PATCH
from workflows.wake_up import KEEP_WAKE_UP_TIMER_PATCH

RECORDED = Path(__file__).parent / "histories" / "account-before-kickoff-announcement.json"


def recorded_history() -> WorkflowHistory:
    return WorkflowHistory.from_json("account-001REPLAY", RECORDED.read_text())


def test_the_recorded_history_is_a_long_running_account() -> None:
    history = recorded_history()
    types = [event.event_type for event in history.events]
    assert len(types) > 300
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED in types
    assert EventType.EVENT_TYPE_TIMER_FIRED in types
    # Recorded before the change: no patch marker anywhere.
    assert EventType.EVENT_TYPE_MARKER_RECORDED not in types


async def test_a_new_account_announces_itself_and_its_history_replays(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start_account(
            harness.client,
            harness.env,
            harness.task_queue,
            harness.settings,
            salesforce_fake,
            "001PATCHED",
            400 * DAY,
            track=harness.track,
        )
        await onboard(handle)
        await settle(handle)
        history = await handle.fetch_history()
    posts = [m.text for m in slack_fake.messages_in("#customer-accounts")]
    assert len(posts) == 1 and posts[0].startswith("New customer Acme 001PATCHED")
    # Patch markers (a Slack effect tried in the workflow task leaves a local-activity one).
    markers = [
        event
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and event.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    # Patches guard a new account, each marked once: the kickoff announcement, effects as
    # owed work, case ids unique to the account's run, the kickoff prompt marked done, the
    # to-do list's search attributes, the wake-up timer kept while its deadline holds, Slack
    # effects tried once in the workflow task and the main loop left asleep when an effect
    # ends with no news.
    guards = (
        KICKOFF_ANNOUNCEMENT_PATCH,
        OWED_WORK_PATCH,
        UNIQUE_CASE_IDS_PATCH,
        SLACK_DONE_UPDATE_PATCH,
        TODO_ATTRIBUTES_PATCH,
        KEEP_WAKE_UP_TIMER_PATCH,
        LOCAL_FIRST_PATCH,
        QUIET_EFFECT_END_PATCH,
    )
    assert len(markers) == len(guards)
    recorded = [marker.SerializeToString() for marker in markers]
    for guard in guards:
        assert sum(guard.encode() in marker for marker in recorded) == 1, guard
    replayer = Replayer(workflows=[AccountWorkflow], data_converter=TEST_DATA_CONVERTER)
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None
