"""Customer health and red-account cases on the time-skipping test server, with the real
activities against the Salesforce and Slack fakes and a fresh database."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.red_accounts import get_red_account_case, list_red_account_cases
from dealcycle.db.engine import make_engine
from schemas.account import LifecycleStage, RecordRenewalAssessment
from schemas.common import Role
from schemas.effects import RetryEffect, SkipEffect
from schemas.health import (
    HealthSignal,
    RecordActionPlan,
    RecordAsk,
    RedAccountState,
    SetHealth,
)
from schemas.search_attributes import ACCOUNT_ID
from starter.health import read_tracker, render_tracker_listing
from starter.tables import render_red_case
from tests.support.accounts import (
    AE,
    CE,
    CE_LEADER,
    DAY,
    advance_to,
    case_id,
    settle,
    start_account,
)
from tests.support.temporal import DealcycleHarness, terminate_running
from worker import build_activities, build_worker
from workflows.account import AccountWorkflow
from workflows.red_account import RedAccountWorkflow

CHANNEL = "#red-accounts"
HOUR = timedelta(hours=1)


async def open_account(harness: Any, salesforce_fake: Any, account_id: str) -> Any:
    return await start_account(
        harness.client,
        harness.env,
        harness.task_queue,
        harness.settings,
        salesforce_fake,
        account_id,
        200 * DAY,
        stage=LifecycleStage.ADOPTION,
        track=harness.track,
    )


async def readings(handle: Any, **values: float) -> None:
    for name, value in values.items():
        await handle.signal(AccountWorkflow.health_signal, HealthSignal(name, value, "analytics"))
    await settle(handle)


async def case_handle(harness: Any, account: Any, number: int) -> WorkflowHandle[Any, Any]:
    """The account's ``number``-th case, once its workflow has started."""
    handle = harness.client.get_workflow_handle_for(
        RedAccountWorkflow.run, case_id(account, number)
    )
    for _ in range(200):
        try:
            await handle.describe()
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            await asyncio.sleep(0.05)
            continue
        harness.track(handle)
        await settle(handle)
        return handle
    raise AssertionError(f"{handle.id} never started")


async def set_red(
    harness: Any, account: Any, by: str = AE, role: Role = Role.AE
) -> WorkflowHandle[Any, Any]:
    """The account's owner says red ("champion left"): its first case, settled."""
    await account.execute_update(
        AccountWorkflow.set_health, SetHealth("red", by, role, "champion left")
    )
    case = await case_handle(harness, account, 1)
    await settle(case)
    return case


async def finished(handle: WorkflowHandle[Any, Any]) -> Any:
    """The case's result once it has completed (asked only then: the Java test server's
    long poll for a result can miss the completion)."""
    # Generous: after a worker dies, its last workflow task times out (10 s) before retrying.
    for _ in range(1200):
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            return await handle.result()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} did not complete")


async def case_state(handle: WorkflowHandle[Any, Any]) -> RedAccountState:
    return await handle.query(RedAccountWorkflow.state)


async def effects_done(handle: WorkflowHandle[Any, Any]) -> RedAccountState:
    """The case's state once no effect is pending (effects run beside the main loop)."""
    for _ in range(200):
        await settle(handle)
        view = await case_state(handle)
        if all(effect.state != "pending" for effect in view.effects):
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"effects still pending: {view.effects}")


def post_states(state: RedAccountState) -> list[str]:
    return [effect.state for effect in state.effects if effect.name == "post"]


async def red_with_post_failed(
    harness: Any, salesforce_fake: Any, account_id: str
) -> WorkflowHandle[Any, Any]:
    """The account's first case, its post refused (the channel is archived) and failed."""
    case = await set_red(harness, await open_account(harness, salesforce_fake, account_id))
    assert post_states(await effects_done(case)) == ["failed"]
    return case


def thread(slack_fake: Any) -> list[str]:
    """The channel's top-level posts and, after each, its replies (in order)."""
    return [message.text for message in slack_fake.messages_in(CHANNEL)]


async def test_a_red_account_case_from_falling_scores_to_resolution(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await open_account(harness, salesforce_fake, "001RED")
        await readings(account, usage=80, adoption=75, sentiment=70)
        health = await account.query(AccountWorkflow.health)
        assert health.colour == "green" and health.score == 75.8
        assert salesforce_fake.get_record("Account", "001RED").get("Customer_Health__c") is None

        await readings(account, usage=50)  # 63.8: yellow
        assert salesforce_fake.get_record("Account", "001RED")["Customer_Health__c"] == "Yellow"
        assert thread(slack_fake) == []
        await readings(account, usage=20, adoption=30)  # 36: red
        health = await account.query(AccountWorkflow.health)
        assert health.colour == "red" and health.open_case == case_id(account, 1)
        assert [change.colour.value for change in health.history] == ["yellow", "red"]

        case = await case_handle(harness, account, 1)
        await settle(case)
        assert salesforce_fake.get_record("Account", "001RED")["Customer_Health__c"] == "Red"
        [post] = slack_fake.messages_in(CHANNEL, include_replies=False)
        for expected in ("Acme 001RED", "Tier 1", "<@U0AE00001>", "<@U0CE00001>", "score 36"):
            assert expected in post.text
        assert "/namespaces/default/workflows/account-001RED" in post.text
        engine = make_engine(harness.settings.database_url)
        row = get_red_account_case(engine, case_id(account, 1))
        assert row is not None and row.status == "open" and row.slack_ts == post.ts

        accepted = await case.execute_update(
            RedAccountWorkflow.record_action_plan,
            RecordActionPlan(CE, Role.CE, "usage halved", "SSO fix", "weekly office hours"),
        )
        assert not accepted.action_plan_complete
        # The AE is late: a reminder in the thread a day in, the CE leader at the SLA.
        opened = (await case_state(case)).opened_at
        await advance_to(harness.env, case, opened + DAY + timedelta(minutes=1))
        await advance_to(harness.env, case, opened + 3 * DAY + timedelta(minutes=1))
        state = await case_state(case)
        assert state.missing_from == ["AE"] and state.escalated
        accepted = await case.execute_update(
            RedAccountWorkflow.record_action_plan,
            RecordActionPlan(AE, Role.AE, "renewal at risk", "exec sponsor", "EBR in 2 weeks"),
        )
        assert accepted.action_plan_complete
        await case.execute_update(
            RedAccountWorkflow.record_ask, RecordAsk(AE, Role.AE, "VP Eng to join the EBR")
        )
        await settle(case)

        # Usage recovers first: 64 is yellow, a promotion, which resolves the case.
        await readings(account, usage=90, adoption=85, sentiment=80)
        result = await finished(case)
        assert result.resolved_colour == "yellow"
        assert salesforce_fake.get_record("Account", "001RED")["Customer_Health__c"] == "Green"

        replies = [m for m in slack_fake.messages_in(CHANNEL) if m.thread_ts == post.ts]
        texts = [reply.text for reply in replies]
        assert [text.split(" ")[0] for text in texts] == [
            "Action",  # the CE's part
            "Reminder:",
            "Reminder:",
            "Escalation",
            "Action",  # the AE's part
            "Ask",
            ":large_yellow_circle:",
        ]
        assert "<@U0AE00001>" in texts[1] and "<@U0CE00001>" not in texts[1]
        assert f"<@{CE_LEADER}>" in texts[3]
        assert "VP Eng to join the EBR" in texts[5]
        row = get_red_account_case(engine, case_id(account, 1))
        assert row is not None and row.status == "closed" and row.escalated
        assert row.time_to_resolution_seconds == int((result.resolved_at - opened).total_seconds())
        assert (await account.query(AccountWorkflow.health)).open_case is None

        # Red again: a new case, a new post.
        await account.execute_update(
            AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "champion left")
        )
        second = await case_handle(harness, account, 2)
        await settle(second)
        posts = slack_fake.messages_in(CHANNEL, include_replies=False)
        assert len(posts) == 2 and "champion left" in posts[1].text
        assert [row.case_id for row in list_red_account_cases(engine, open_only=True)] == [
            case_id(account, 2)
        ]


async def test_a_red_signal_while_a_case_is_open_adds_to_it(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await open_account(harness, salesforce_fake, "001AGAIN")
        case = await set_red(harness, account, CE, Role.CE)
        await readings(account, usage=10, adoption=10, sentiment=10)  # the score says red too
        # The monthly assessment raises risks and says red: it joins the open case.
        # Half a day off the case's daily reminder: a timer due just after the skip lands fires
        # (the test server's clock runs at real pace between skips) while the task that the
        # update's signal starts cancels it, and the Java test server refuses that completion
        # and never sends the task again (temporalio/sdk-java#3088).
        skip_to = (await harness.env.get_current_time()) + 40 * DAY - 12 * HOUR
        await advance_to(harness.env, account, skip_to)
        await settle(case)
        await account.execute_update(
            AccountWorkflow.record_renewal_assessment,
            RecordRenewalAssessment(AE, Role.AE, ["budget cut"], turns_red=True),
        )
        await settle(account)
        await settle(case)
        with pytest.raises(WorkflowUpdateFailedError) as already:
            await account.execute_update(
                AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "still bad")
            )
        assert "health is already red" in str(already.value.cause)
        health = await account.query(AccountWorkflow.health)
        assert health.cases_opened == 1 and health.open_case == case_id(account, 1)
        state = await case_state(case)
        assert state.reasons == ["champion left", "renewal assessment (AE): budget cut"]
        assert len(slack_fake.messages_in(CHANNEL, include_replies=False)) == 1
        rows = list_red_account_cases(make_engine(harness.settings.database_url))
        assert [row.reasons for row in rows] == [state.reasons]


async def test_bad_health_input_is_rejected_and_changes_nothing(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await open_account(harness, salesforce_fake, "001BADH")

        async def rejected(handle: Any, update: Any, request: Any) -> str:
            with pytest.raises(WorkflowUpdateFailedError) as failure:
                await handle.execute_update(update, request)
            return str(failure.value.cause)

        set_health = AccountWorkflow.set_health
        assert "unknown health colour 'purple'" in await rejected(
            account, set_health, SetHealth("purple", AE, Role.AE, "why not")
        )
        assert "needs a reason" in await rejected(
            account, set_health, SetHealth("red", AE, Role.AE, "  ")
        )
        assert "is not the account's AE" in await rejected(
            account, set_health, SetHealth("red", "U0STRANGER", Role.AE, "hunch")
        )
        await account.signal(AccountWorkflow.health_signal, HealthSignal("mood", 5))
        await account.signal(AccountWorkflow.health_signal, HealthSignal("usage", 500))
        await settle(account)
        health = await account.query(AccountWorkflow.health)
        assert health.colour == "green" and health.readings == {} and health.history == []

        await account.execute_update(set_health, SetHealth("red", AE, Role.AE, "champion left"))
        case = await case_handle(harness, account, 1)
        before = await effects_done(case)
        message = await rejected(
            case,
            RedAccountWorkflow.record_action_plan,
            RecordActionPlan("U0STRANGER", Role.AE, "a", "b", "c"),
        )
        assert "neither the AE (U0AE00001) nor the CE (U0CE00001)" in message
        assert "intended actions is empty" in await rejected(
            case, RedAccountWorkflow.record_action_plan, RecordActionPlan(CE, Role.CE, "a", "b", "")
        )
        assert await case_state(case) == before
        assert len(thread(slack_fake)) == 1


async def test_an_identical_plan_again_posts_nothing_and_a_changed_one_is_posted(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await open_account(harness, salesforce_fake, "001REPEAT")
        case = await set_red(harness, account)
        await effects_done(case)

        def plan(status: str) -> RecordActionPlan:
            return RecordActionPlan(AE, Role.AE, status, "help", "call", via="cli:someone")

        first = await case.execute_update(RedAccountWorkflow.record_action_plan, plan("bad"))
        assert first.message == "AE part recorded; waiting for the CE"
        recorded = await effects_done(case)
        # The command retried: accepted, and nothing changes or is posted.
        again = await case.execute_update(RedAccountWorkflow.record_action_plan, plan("bad"))
        assert again.message == (
            "AE part already recorded as given; nothing changed; waiting for the CE"
        )
        assert not again.action_plan_complete
        assert await effects_done(case) == recorded
        posted = [text for text in thread(slack_fake) if text.startswith("Action plan from")]
        assert posted == [
            "Action plan from the AE <@U0AE00001>. Status: bad Needs: help Intended actions: call"
        ]

        # A changed plan from the same role is recorded and posted as before.
        changed = await case.execute_update(RedAccountWorkflow.record_action_plan, plan("worse"))
        assert changed.message == "AE part recorded; waiting for the CE"
        await effects_done(case)
        posted = [text for text in thread(slack_fake) if text.startswith("Action plan from")]
        assert [text.split(" Needs:")[0] for text in posted] == [
            "Action plan from the AE <@U0AE00001>. Status: bad",
            "Action plan from the AE <@U0AE00001>. Status: worse",
        ]


async def test_a_worker_restart_in_the_middle_of_a_case_loses_and_repeats_nothing(
    time_skipping_env: Any,
    test_settings: Any,
    task_queue: str,
    salesforce_fake: Any,
    slack_fake: Any,
) -> None:
    settings = replace(test_settings, task_queue=task_queue)
    client = time_skipping_env.client

    def a_worker(cached: int) -> Worker:
        return build_worker(
            client, settings, build_activities(settings), max_cached_workflows=cached
        )

    harness = DealcycleHarness(time_skipping_env, settings, task_queue, None)
    try:
        # The first worker keeps nothing cached: when it dies, its tasks are not held on a
        # sticky queue the Java test server would never release.
        async with a_worker(0):
            account = await open_account(harness, salesforce_fake, "001RESTART")
            await readings(account, usage=10, adoption=10, sentiment=10)
            case = await case_handle(harness, account, 1)
            await case.execute_update(
                RedAccountWorkflow.record_action_plan,
                RecordActionPlan(CE, Role.CE, "usage gone", "a fix", "daily calls"),
            )
            # The worker dies now, perhaps while the CE's part is being posted.
        await readings_while_down(account, usage=95, adoption=95, sentiment=95)
        async with a_worker(1000):  # a fresh worker: it replays both histories
            await settle(account)
            result = await finished(case)
            assert result.resolved_colour == "yellow"  # usage came back first: 63.3
    finally:
        await terminate_running(client, harness.started)
    posts = slack_fake.messages_in(CHANNEL, include_replies=False)
    assert len(posts) == 1
    replies = [m.text for m in slack_fake.messages_in(CHANNEL) if m.thread_ts == posts[0].ts]
    assert sum(text.startswith("Action plan from the CE") for text in replies) == 1
    assert sum(text.startswith(":large_yellow_circle:") for text in replies) == 1
    assert len(replies) == len(set(replies))
    row = get_red_account_case(make_engine(settings.database_url), case_id(account, 1))
    assert row is not None and row.status == "closed"


async def readings_while_down(handle: Any, **values: float) -> None:
    """Signals are accepted by the server with no worker running; they wait in the history."""
    for name, value in values.items():
        await handle.signal(AccountWorkflow.health_signal, HealthSignal(name, value))
    await asyncio.sleep(0)


def test_red_account_start_config_is_settings_driven(test_settings: Any) -> None:
    config = replace(test_settings, temporal_ui_url="https://temporal.example.com").account_config()
    assert config.health.red_accounts_channel == CHANNEL
    assert config.temporal_ui_url == "https://temporal.example.com"


async def test_a_case_whose_post_was_skipped_reminds_and_escalates_by_dm(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """The case's post refused (an archived channel) and given up with `effects skip`: there is
    no thread for its reminders and its escalation, which went nowhere (and were counted as
    sent, with its thread 'not posted yet'). They go to their people by DM."""
    slack_fake.archive_channel(CHANNEL)
    try:
        async with harness_factory() as harness:
            case = await red_with_post_failed(harness, salesforce_fake, "001REDSKIP")
            await case.execute_update(
                RedAccountWorkflow.skip_effect,
                SkipEffect("post", "channel archived; the owners were called", "U0OPS0001"),
            )
            await settle(case)
            await case.execute_update(
                RedAccountWorkflow.record_action_plan,
                RecordActionPlan(CE, Role.CE, "usage halved", "SSO fix", "weekly office hours"),
            )
            opened = (await case_state(case)).opened_at
            await advance_to(harness.env, case, opened + DAY + timedelta(minutes=1))
            await advance_to(harness.env, case, opened + 3 * DAY + timedelta(minutes=1))

            state = await effects_done(case)
            assert state.missing_from == ["AE"] and state.escalated
            assert thread(slack_fake) == []
            reminders = [m.text for m in slack_fake.messages_in(AE) if "action plan" in m.text]
            assert len(reminders) == 2 == state.reminders_sent
            assert reminders[0].startswith("Reminder: record your part (AE) of the action plan")
            assert "has no thread" in reminders[0]
            assert [m.text for m in slack_fake.messages_in(CE) if "action plan" in m.text] == []
            [escalation] = [m.text for m in slack_fake.messages_in(CE_LEADER)]
            assert escalation.startswith(f"Escalation to <@{CE_LEADER}>: the action plan for")
            assert "still missing from <@U0AE00001>" in escalation
            shown = render_red_case(state, "RUNNING", "http://ui", "default")
            assert "not posted yet" not in shown
            assert "Reminders    2 sent" in shown
            # An ask has no thread to go to either: the answer says so.
            asked = await case.execute_update(
                RedAccountWorkflow.record_ask, RecordAsk(AE, Role.AE, "VP Eng to call them")
            )
            assert asked.message.startswith("ask #1 recorded; the case has no thread")
    finally:
        slack_fake.unarchive_channel(CHANNEL)


async def test_a_case_whose_post_is_failing_is_in_the_tracker_and_linked_once_it_lands(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """The case's post refused (an archived channel): the case is in the Account Tracker
    (`red list`) all the same, with no thread yet, and not only once the post lands (it waited
    for the thread, for days if Slack was down, for ever if the post was skipped). Once the
    channel is unarchived and the post retried, the row links its thread."""
    slack_fake.archive_channel(CHANNEL)
    try:
        async with harness_factory() as harness:
            case = await red_with_post_failed(harness, salesforce_fake, "001REDFAILING")
            url = harness.settings.database_url
            [row] = read_tracker(url)
            assert (row.case_id, row.status, row.slack_ts) == (case.id, "open", "")
            listing = render_tracker_listing(
                read_tracker(url), await harness.env.get_current_time()
            )
            assert case.id in listing and "champion left" in listing

            slack_fake.unarchive_channel(CHANNEL)
            await case.execute_update(
                RedAccountWorkflow.retry_effect, RetryEffect("post", "U0OPS0001")
            )
            state = await effects_done(case)
            assert post_states(state) == ["done"]
            [post] = slack_fake.messages_in(CHANNEL, include_replies=False)
            assert state.thread_ts == post.ts
            [row] = read_tracker(url)
            assert (row.case_id, row.status, row.slack_ts) == (case.id, "open", post.ts)
            assert row.reasons == ["champion left"]
    finally:
        slack_fake.unarchive_channel(CHANNEL)


async def test_a_case_is_found_by_its_accounts_id_in_the_web_ui(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """`AccountId = "…"` in the Web UI lists the account's red-account case beside the
    account: the case starts with the attribute (an id: it never changes)."""
    async with harness_factory() as harness:
        account = await open_account(harness, salesforce_fake, "001FINDME")
        case = await set_red(harness, account)
        attributes = (await case.describe()).typed_search_attributes
    assert attributes.get(ACCOUNT_ID) == "001FINDME"
