"""A red-account case across its account's life on the time-skipping test server: churn
closes it (and nothing is posted for it afterwards), and a case opened by a later run of the
same account is a case of its own."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.red_accounts import get_red_account_case, list_red_account_cases
from dealcycle.db.engine import make_engine
from schemas.account import LifecycleStage, RecordRenewalOutcome
from schemas.common import Role
from schemas.effects import RetryEffect, SkipEffect
from schemas.health import RecordAsk, SetHealth
from starter.health import record_ask
from starter.tables import render_red_case, render_tracker
from tests.support.accounts import AE, CE, DAY, advance_to, case_id, settle, start_account
from tests.test_account_renewal_outcomes import in_renewal_window
from tests.test_red_account_workflow import (
    CHANNEL,
    case_handle,
    case_state,
    finished,
    set_red,
)
from workflows.account import AccountWorkflow
from workflows.red_account import RedAccountWorkflow


def posts(slack_fake: Any) -> list[Any]:
    """Every chat.postMessage the Slack fake served, in order."""
    return [call for call in slack_fake.calls_to(r"chat\.postMessage") if not call.faulted]


async def test_churn_closes_the_open_case_and_nothing_posts_for_it_afterwards(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await in_renewal_window(harness, salesforce_fake, "001LEAVING")
        case = await set_red(harness, account)
        assert len(slack_fake.messages_in(CHANNEL)) == 1  # the case's post; no plan yet
        before = len(posts(slack_fake))

        await account.execute_update(
            AccountWorkflow.record_renewal_outcome, RecordRenewalOutcome("churned", AE, Role.AE)
        )
        result = await finished(case)
        assert result.case_id == case_id(account, 1) and result.resolved_colour == "red"
        for _ in range(200):
            if (await account.describe()).status is WorkflowExecutionStatus.COMPLETED:
                break
            await settle(account)
        assert (await account.describe()).status is WorkflowExecutionStatus.COMPLETED
        # Several reminder periods and the action plan's SLA go by: the case says nothing.
        await harness.env.sleep(6 * DAY)

        after = posts(slack_fake)[before:]
        assert [call.json["channel"] for call in after] == ["#customer-accounts"]
        assert "churned" in after[0].json["text"]
        assert (
            f"Red-account case {case_id(account, 1)} is closed (churned)" in (after[0].json["text"])
        )
        view = await case_state(case)
        assert view.resolved_at is not None and view.reminders_sent == 0 and not view.escalated
        row = get_red_account_case(make_engine(harness.settings.database_url), case_id(account, 1))
        assert row is not None and row.status == "closed" and row.resolution == "churned"
        health = await account.query(AccountWorkflow.health)
        assert health.open_case is None and health.latest_case == case_id(account, 1)
        # The tracker and the case say the customer left: the case was not resolved red.
        [listed] = render_tracker([row], view.resolved_at).splitlines()[2:]
        assert "churned" in listed.split() and "resolved" not in listed.split()
        shown = render_red_case(view, "COMPLETED", "http://ui", "default")
        assert "closed: the customer churned" in shown and ", red (" not in shown


async def test_a_churned_cases_failed_post_is_not_retried_but_skipped(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """The case's post failed (an archived channel), then the customer churned: a retry would
    post ':red_circle: … is red … record your plan' for a customer who left, where nothing is
    to be posted for the case any more. It is refused, saying to skip it; skipped, the case
    ends."""
    slack_fake.archive_channel(CHANNEL)
    try:
        async with harness_factory() as harness:
            account = await in_renewal_window(harness, salesforce_fake, "001LEFTQUIET")
            await account.execute_update(
                AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "champion left")
            )
            case = await case_handle(harness, account, 1)
            for _ in range(200):
                view = await case.query(RedAccountWorkflow.effects)
                if any(e.name == "post" and e.state == "failed" for e in view.effects):
                    break
                await settle(case)
            await account.execute_update(
                AccountWorkflow.record_renewal_outcome, RecordRenewalOutcome("churned", AE, Role.AE)
            )
            await settle(account)
            await settle(case)
            slack_fake.unarchive_channel(CHANNEL)
            assert (await case_state(case)).resolved_at is not None
            # The effects view says so first: `dealcycle effects list` suggests the skip.
            [post] = [e for e in (await case_state(case)).effects if e.name == "post"]
            assert post.retry_refused == f"the customer churned and case {case.id} is closed"

            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await case.execute_update(RedAccountWorkflow.retry_effect, RetryEffect("post", AE))
            assert isinstance(refused.value.cause, ApplicationError)
            assert "churned" in refused.value.cause.message
            assert f"effects skip {case.id} post" in refused.value.cause.message
            await case.execute_update(
                RedAccountWorkflow.skip_effect, SkipEffect("post", "the customer left", AE)
            )
            result = await finished(case)
            assert result.resolved_colour == "red"
            assert slack_fake.messages_in(CHANNEL) == []
    finally:
        slack_fake.unarchive_channel(CHANNEL)


async def test_a_case_of_a_restarted_account_is_its_own_case(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:

        async def account_run() -> Any:
            return await start_account(
                harness.client,
                harness.env,
                harness.task_queue,
                harness.settings,
                salesforce_fake,
                "001TWICE",
                200 * DAY,
                stage=LifecycleStage.ADOPTION,
            )

        first = harness.track(await account_run())
        await first.execute_update(
            AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "champion left")
        )
        first_case = await case_handle(harness, first, 1)
        await first.execute_update(
            AccountWorkflow.set_health, SetHealth("green", AE, Role.AE, "new champion")
        )
        await finished(first_case)
        await first.terminate("the account is brought in again")
        harness.started.remove(first)  # bound to the first run: it cannot end the second

        # The same account's workflow, started again: its first case must not be the old one.
        second = harness.track(await account_run())
        await advance_to(harness.env, second, await harness.env.get_current_time())
        await second.execute_update(
            AccountWorkflow.set_health, SetHealth("red", CE, Role.CE, "outage")
        )
        assert case_id(second, 1) != case_id(first, 1)
        second_case = await case_handle(harness, second, 1)
        await settle(second_case)
        parents = slack_fake.messages_in(CHANNEL, include_replies=False)
        assert len(parents) == 2 and "outage" in parents[1].text  # the new case is posted
        assert (await case_state(second_case)).thread_ts == parents[1].ts

        answer = await record_ask(harness.client, "001TWICE", "an SRE", actor=CE, role=Role.CE)
        assert answer.startswith(f"{case_id(second, 1)}: ask #1 recorded")
        await settle(second_case)
        replies = [m for m in slack_fake.messages_in(CHANNEL) if m.thread_ts == parents[1].ts]
        assert [reply.text for reply in replies if "an SRE" in reply.text]  # in its own thread
        old_thread = [m for m in slack_fake.messages_in(CHANNEL) if m.thread_ts == parents[0].ts]
        assert not [reply for reply in old_thread if "an SRE" in reply.text]

        engine = make_engine(harness.settings.database_url)
        assert [row.case_id for row in list_red_account_cases(engine, open_only=True)] == [
            case_id(second, 1)
        ]
        await second_case.execute_update(
            RedAccountWorkflow.record_ask, RecordAsk(AE, Role.AE, "exec sponsor")
        )
