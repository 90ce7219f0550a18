"""The hand-off of a won deal on the time-skipping test server: it carries what the deal knew
(read in one SOQL query), a repeat of the deal from its opportunity brings the owners the
intake could not read, a kickoff whose owners came weeks late is due counted from them, an
old deal of a churned account starts nothing, and an account that cannot answer a query
holds up nothing."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from activities.handoff import hand_off
from schemas import search_attributes as sa
from schemas.account import (
    ACCOUNT_WORKFLOW_TYPE,
    DEAL_CLOSED_SIGNAL,
    AccountHandOff,
    AccountState,
    CompleteProfile,
    HandOffRequest,
    RecordRenewalOutcome,
    account_workflow_id,
)
from schemas.common import Role
from starter.intake import render_intake_result
from tests.support.accounts import AE, CE, CE_LEADER, DAY, advance_to, settle
from tests.test_account_renewal_outcomes import in_renewal_window
from tests.test_intake import close_deal
from tests.test_intake import run_intake as run_intake_skipping_time
from workflows.account import AccountWorkflow
from workflows.account_calendar import add_years


async def run_intake(harness: Any, name: str) -> Any:
    """One intake run in real time: while its activities run, the test server would otherwise
    skip to the next timer, and an idle account's only timer is the test server's ten-year
    run timeout."""
    with harness.env.auto_time_skipping_disabled():
        return await run_intake_skipping_time(harness, name)


def close_date(moment: datetime) -> str:
    return moment.date().isoformat()


def midnight_of(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


async def account_state(harness: Any, account_id: str) -> AccountState:
    handle = harness.client.get_workflow_handle_for(
        AccountWorkflow.run, account_workflow_id(account_id)
    )
    harness.track(handle)
    await settle(handle)
    view: AccountState = await handle.query(AccountWorkflow.state)
    return view


async def test_a_handed_off_account_knows_what_the_deal_knew(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    salesforce_fake.add_record(
        "Account",
        {
            "Id": "001FULL",
            "Name": "Full Stack Inc",
            "Region__c": "US West / APAC",
            "Deployment_Type__c": "cloud",
            "Tier__c": "2",
        },
    )
    async with harness_factory() as harness:
        now = await harness.env.get_current_time()
        closed = now - 40 * DAY
        salesforce_fake.add_record(
            "Opportunity",
            {
                "Id": "006FULL",
                "AccountId": "001FULL",
                "StageName": "Closed Won",
                "Type": "new",
                "CloseDate": close_date(closed),
                "Amount": 120000.0,
                "Seats__c": 150.0,
            },
        )
        result = await run_intake(harness, f"full-{uuid.uuid4()}")
        assert result.handed_off == ["006FULL"]
        # One query for the deal and its account: no Account read per deal.
        assert salesforce_fake.calls_to(r"/sobjects/Account") == []
        assert len(salesforce_fake.calls_to(r"/query")) == 1

        view = await account_state(harness, "001FULL")
        [deal] = view.hand_offs
        assert (deal.account_name, deal.seats, deal.tier, deal.amount) == (
            "Full Stack Inc",
            150,
            2,
            120000.0,
        )
        assert (deal.region, deal.deployment_type) == ("US West / APAC", "cloud")
        assert deal.closed_at == midnight_of(closed)
        assert view.profile is not None
        p = view.profile
        assert (p.seats, p.tier, p.region, p.deployment_type) == (
            150,
            2,
            "US West / APAC",
            "cloud",
        )
        # The first renewal: CloseDate plus the contract term (not LastModifiedDate, not today).
        assert p.renewal_date == add_years(midnight_of(closed), 365)
        handle = harness.client.get_workflow_handle(account_workflow_id("001FULL"))
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(sa.REGION) == "US West / APAC"

        # `dealcycle deal-closed` reads the same query: its CloseDate, not the CLI's clock.
        later = now - 10 * DAY
        salesforce_fake.add_record(
            "Opportunity",
            {
                "Id": "006MORE",
                "AccountId": "001FULL",
                "StageName": "Closed Won",
                "Type": "expansion",
                "CloseDate": close_date(later),
                "Seats__c": 20.0,
            },
        )
        message = await close_deal(harness, "006MORE")
        assert message.startswith("handed 006MORE to account-001FULL")
        view = await account_state(harness, "001FULL")
        more = next(d for d in view.hand_offs if d.opportunity_id == "006MORE")
        assert (more.closed_at, more.seats) == (midnight_of(later), 20)
        assert salesforce_fake.calls_to(r"/sobjects/Account") == []


async def test_the_opportunitys_hand_off_after_the_intakes_brings_the_owners(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    salesforce_fake.add_record(
        "Account",
        {
            "Id": "001OWNED",
            "Name": "Owned Later Ltd",
            "Tier__c": "1",
            "Region__c": "US West / APAC",
        },
    )
    async with harness_factory() as harness:
        now = await harness.env.get_current_time()
        salesforce_fake.add_record(
            "Opportunity",
            {
                "Id": "006OWNED",
                "AccountId": "001OWNED",
                "StageName": "Closed Won",
                "Type": "new",
                "CloseDate": close_date(now - DAY),
                "Amount": 50000.0,
                "Seats__c": 40.0,
            },
        )
        # The intake runs before the opportunity's workflow hands the deal off: Salesforce
        # knows no Slack members, so the account learns everything but its owners.
        result = await run_intake(harness, f"owned-{uuid.uuid4()}")
        assert result.handed_off == ["006OWNED"]
        view = await account_state(harness, "001OWNED")
        assert view.missing_profile == ["AE", "CE"]
        assert (view.open_steps, view.license_key_ids) == ([], [])
        [from_intake] = view.hand_offs

        # The opportunity's hand-off of the same deal (its activity's signal-with-start): the
        # owners, and no amount (the opportunity does not know it).
        from_opportunity = replace(from_intake, ae_owner=AE, ce_owner=CE, amount=0.0)
        config = harness.settings.account_config()
        await hand_off(harness.client, harness.task_queue, HandOffRequest(from_opportunity), config)
        view = await account_state(harness, "001OWNED")
        assert view.profile is not None and view.missing_profile == []
        p = view.profile
        assert (p.ae_owner, p.ce_owner, p.tier, p.seats, p.region) == (
            AE,
            CE,
            1,
            40,
            "US West / APAC",
        )
        [deal] = view.hand_offs  # still one per deal, now with everything either said
        assert (deal.ae_owner, deal.ce_owner, deal.amount) == (AE, CE, 50000.0)
        # The profile is complete: the kickoff begins, with the CE, and one license key.
        assert [(step.key, step.owner) for step in view.open_steps] == [("kickoff-plan", CE)]
        assert len(view.license_key_ids) == 1
        to_ce = [message.text for message in slack_fake.messages_in(CE)]
        assert any("kickoff" in text.lower() for text in to_ce), to_ce
        assert any("New license key" in text for text in to_ce), to_ce

        # Either hand-off again brings nothing new: nothing changes, nothing is granted twice.
        for again in (from_opportunity, from_intake):
            await hand_off(harness.client, harness.task_queue, HandOffRequest(again), config)
        again_view = await account_state(harness, "001OWNED")
        assert again_view.license_key_ids == view.license_key_ids
        assert again_view.profile == view.profile and again_view.hand_offs == view.hand_offs
        filled = [entry.action for entry in again_view.recent_activity if "again" in entry.action]
        assert filled == ["deal 006OWNED handed off again: filled in AE, CE"]
        assert [message.text for message in slack_fake.messages_in(CE)] == to_ce


@pytest.mark.parametrize("named_by", ["profile", "opportunity"])
async def test_a_kickoff_whose_owners_came_weeks_late_is_due_from_when_they_came(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, named_by: str
) -> None:
    account_id = f"001LATE{named_by.upper()}"
    salesforce_fake.add_record("Account", {"Id": account_id, "Name": "Late Owners Ltd"})
    async with harness_factory() as harness:
        config = harness.settings.account_config()
        durations = config.durations
        start = await harness.env.get_current_time()
        # As the intake hands it off: Salesforce knows no Slack members, so no AE, no CE.
        deal = AccountHandOff(
            f"006LATE{named_by.upper()}",
            account_id,
            "Late Owners Ltd",
            "new",
            30,
            "",
            "",
            2,
            "",
            start,
        )
        await hand_off(harness.client, harness.task_queue, HandOffRequest(deal), config)
        assert (await account_state(harness, account_id)).missing_profile == ["AE", "CE"]

        # Three weeks on, past the kickoff's days counted from the hand-off, the owners are
        # named: by the CE leader (`dealcycle account profile`) or the opportunity's hand-off.
        await harness.env.sleep(durations.kickoff_plan_due_days * DAY + 7 * DAY)
        account = harness.client.get_workflow_handle_for(
            AccountWorkflow.run, account_workflow_id(account_id)
        )
        if named_by == "profile":
            await account.execute_update(
                AccountWorkflow.complete_profile,
                CompleteProfile(CE_LEADER, Role.CE, ae_owner=AE, ce_owner=CE),
            )
        else:
            named = HandOffRequest(replace(deal, ae_owner=AE, ce_owner=CE))
            await hand_off(harness.client, harness.task_queue, named, config)
        owned = await harness.env.get_current_time()
        view = await account_state(harness, account_id)
        [kickoff] = [step for step in view.open_steps if step.key == "kickoff-plan"]
        due = midnight_of(owned) + durations.kickoff_plan_due_days * DAY
        assert (kickoff.owner, kickoff.due_at, kickoff.overdue) == (CE, due, False)

        def overdue_to_ce() -> list[str]:
            texts = [message.text for message in slack_fake.messages_in(CE)]
            return [text for text in texts if "Overdue" in text or "overdue" in text]

        # Nothing overdue reaches the new CE (nor escalates) before the kickoff's days pass.
        reminded_at = due + timedelta(seconds=durations.overdue_reminder_delay_seconds)
        await advance_to(harness.env, account, reminded_at - timedelta(minutes=5))
        view = await account_state(harness, account_id)
        [kickoff] = [step for step in view.open_steps if step.key == "kickoff-plan"]
        assert (kickoff.reminders_sent, kickoff.escalated) == (0, False)
        assert overdue_to_ce() == []
        # Then the kickoff is reminded as any step is: from its own due date.
        await advance_to(harness.env, account, reminded_at + timedelta(minutes=5))
        assert len(overdue_to_ce()) == 1, overdue_to_ce()


async def churn(harness: Any, account: Any) -> None:
    await account.execute_update(
        AccountWorkflow.record_renewal_outcome, RecordRenewalOutcome("churned", AE, Role.AE)
    )
    for _ in range(200):
        if (await account.describe()).status is WorkflowExecutionStatus.COMPLETED:
            return
        await settle(account)
    raise AssertionError(f"{account.id} did not complete after churning")


async def test_an_old_deal_of_a_churned_account_starts_nothing_and_says_why(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await in_renewal_window(harness, salesforce_fake, "001GONE")
        await churn(harness, account)
        ended = await account.describe()
        assert ended.close_time is not None
        # Someone edits the account's old Closed Won deal: the intake reads it again.
        salesforce_fake.add_record(
            "Opportunity",
            {
                "Id": "006OLDWIN",
                "AccountId": "001GONE",
                "StageName": "Closed Won",
                "CloseDate": close_date(ended.close_time - 300 * DAY),
            },
        )
        result = await run_intake(harness, f"old-{uuid.uuid4()}")
        assert (result.handed_off, result.skipped) == ([], ["006OLDWIN"])
        [decision] = result.decisions
        assert decision.decision == "skipped"
        assert "account-001GONE ended (completed)" in decision.why
        assert "006OLDWIN closed on" in decision.why and "before that" in decision.why
        assert "006OLDWIN  skipped (account-001GONE): account-001GONE ended" in (
            render_intake_result(result)
        )
        message = await close_deal(harness, "006OLDWIN")
        assert message.startswith("skipped 006OLDWIN: account-001GONE ended (completed)")
        still = await harness.client.get_workflow_handle(account_workflow_id("001GONE")).describe()
        assert (still.run_id, still.status) == (ended.run_id, WorkflowExecutionStatus.COMPLETED)

        # The customer comes back: a deal closed after the account ended starts a new run.
        await harness.env.sleep(timedelta(days=2))
        now = await harness.env.get_current_time()
        salesforce_fake.add_record(
            "Opportunity",
            {
                "Id": "006BACK",
                "AccountId": "001GONE",
                "StageName": "Closed Won",
                "CloseDate": close_date(now - DAY),
            },
        )
        result = await run_intake(harness, f"back-{uuid.uuid4()}")
        assert (result.handed_off, result.skipped) == (["006BACK"], [])
        view = await account_state(harness, "001GONE")
        assert [deal.opportunity_id for deal in view.hand_offs] == ["006BACK"]
        back = await harness.client.get_workflow_handle(account_workflow_id("001GONE")).describe()
        assert back.run_id != ended.run_id and back.status is WorkflowExecutionStatus.RUNNING
        # The harness's handle is bound to the first run: this one it cannot end.
        await harness.client.get_workflow_handle(
            account_workflow_id("001GONE"), run_id=back.run_id
        ).terminate("test finished")


@workflow.defn(name=ACCOUNT_WORKFLOW_TYPE, sandboxed=False)
class AccountThatCannotAnswer:
    """An account whose queries fail (its code broken, say) but which takes signals."""

    def __init__(self) -> None:
        self.deals = 0

    @workflow.run
    async def run(self, start: Any) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal(name=DEAL_CLOSED_SIGNAL)
    def deal_closed(self, deal: Any) -> None:
        self.deals += 1

    @workflow.query(name="state")
    def state(self) -> Any:
        raise RuntimeError("this account cannot answer")

    @workflow.query(name="deals_received")
    def deals_received(self) -> int:
        return self.deals


async def test_an_account_whose_query_fails_holds_up_no_hand_off(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    for account_id in ("001MUTE", "001FINE"):
        salesforce_fake.add_record("Account", {"Id": account_id, "Name": account_id})
        salesforce_fake.add_record(
            "Opportunity",
            {"Id": f"006{account_id[3:]}", "AccountId": account_id, "StageName": "Closed Won"},
        )
    async with harness_factory() as harness:
        queue = f"mute-{uuid.uuid4()}"
        async with Worker(harness.client, task_queue=queue, workflows=[AccountThatCannotAnswer]):
            mute = await harness.client.start_workflow(
                ACCOUNT_WORKFLOW_TYPE, None, id=account_workflow_id("001MUTE"), task_queue=queue
            )
            harness.track(mute)
            result = await run_intake(harness, f"mute-{uuid.uuid4()}")
            assert sorted(result.handed_off) == ["006FINE", "006MUTE"]
            assert await mute.query("deals_received") == 1
            await mute.terminate("test finished")
        assert [
            deal.opportunity_id for deal in (await account_state(harness, "001FINE")).hand_offs
        ] == ["006FINE"]
