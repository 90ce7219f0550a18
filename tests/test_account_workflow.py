"""AccountWorkflow on the time-skipping test server, with the real activities against the fakes.

The long test lives three years of one Tier 1 account: the team does what is asked of it each
month (assessments, plans, QBRs, the renewal work), and the test checks what reached
Salesforce, Slack, the database and the license signer, and how long each run's history got.
The driving (start, settle, advance, the team's answers, the three-year loop) lives in
``tests/support/accounts.py``; ``bench/account_years.py`` runs the same loop and reports its
wall time, which is never asserted here.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from activities.accounts import list_account_plans, list_feature_requests
from dealcycle.db.engine import make_engine
from dealcycle.db.models import LicenseKey
from dealcycle.licensing import load_public_key, verify_license_key
from schemas.account import (
    ChangeCadence,
    CompleteAccountStep,
    LifecycleStage,
    PlanContacts,
    RecordKickoffPlan,
    RecordRenewalCall,
    RecordRenewalOutcome,
    ReportProductionReady,
)
from schemas.common import Role
from starter.cli import build_parser
from tests.support import accounts
from tests.support.accounts import (
    AE,
    CE,
    CE_LEADER,
    DAY,
    HISTORY_LIMIT,
    VE,
    a_plan,
    live_three_years,
    run_lengths,
    settle,
    state,
)
from workflows.account import AccountWorkflow
from workflows.account_calendar import add_years, midnight, quarter_of


async def start_account(
    harness: Any,
    salesforce_fake: Any,
    account_id: str,
    renewal_in: timedelta,
    *,
    stage: LifecycleStage = LifecycleStage.KICKOFF,
    tier: int = 1,
) -> WorkflowHandle[Any, Any]:
    """``tests.support.accounts.start_account`` on the harness's worker, tracked by it."""
    return await accounts.start_account(
        harness.client,
        harness.env,
        harness.task_queue,
        harness.settings,
        salesforce_fake,
        account_id,
        renewal_in,
        stage=stage,
        tier=tier,
        track=harness.track,
    )


async def advance_to(harness: Any, handle: WorkflowHandle[Any, Any], moment: datetime) -> None:
    await accounts.advance_to(harness.env, handle, moment)


WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
}


async def assert_only_workflow_tasks_since(handle: WorkflowHandle[Any, Any], before: Any) -> None:
    """A rejected update leaves no update, activity or timer in the history. (The Java test
    server records the workflow task that ran the validator; a real server drops it.)"""
    events = (await handle.fetch_history()).events[len(before.events) :]
    assert {event.event_type for event in events} <= WORKFLOW_TASK_EVENTS, [
        EventType.Name(event.event_type) for event in events
    ]


def texts(slack_fake: Any, channel: str) -> list[str]:
    return [message.text for message in slack_fake.messages_in(channel)]


async def test_three_years_of_a_tier_1_account(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        years = await live_three_years(
            harness.client,
            harness.env,
            harness.task_queue,
            harness.settings,
            salesforce_fake,
            account_id="001TIER1",
            history_limit=HISTORY_LIMIT,
            track=harness.track,
        )
        handle, began, renewals, handled = years.handle, years.began, years.renewals, years.handled
        assert renewals == [add_years(midnight(began), 365 * n) for n in (1, 2, 3)]
        first = years.first  # right after the start, before anyone acted
        assert first.stage is LifecycleStage.KICKOFF
        assert [step.key for step in first.open_steps] == ["kickoff-plan"]
        assert len(first.license_key_ids) == 1
        assert years.end == renewals[2] - 20 * DAY
        assert await harness.env.get_current_time() >= years.end

        view = await state(handle)
        assert view.renewals_completed == 2
        assert view.stage is LifecycleStage.RENEWAL  # the third renewal's window is open
        assert view.profile is not None and view.profile.seats == 150
        assert view.renewal_date == renewals[2]
        assert view.plans_submitted == 12  # carried across continue-as-new

        quarters = sorted(key.removeprefix("account-plan-") for key in handled if "plan" in key)
        assert len(quarters) == 12, quarters
        assert quarters[0] > f"{began.year}-Q{(began.month - 1) // 3 + 1}"
        assert sum(key.startswith("qbr-") for key in handled) == 12
        assert sum(key.startswith("value-realization-") for key in handled) == 3
        assert sum(key.startswith("renewal-outcome-") for key in handled) == 2

        # The database: twelve plans, the feature request.
        engine = make_engine(harness.settings.database_url)
        plans = list_account_plans(engine, "001TIER1")
        assert sorted(plan.quarter for plan in plans) == quarters
        assert all(plan.tier == 1 for plan in plans)
        requests = list_feature_requests(engine, "001TIER1")
        assert [request.title for request in requests] == ["Saved searches per team"]

        # License keys: kickoff (100 seats), first renewal, the seat expansion (150 seats).
        with Session(engine) as session:
            keys = session.execute(select(LicenseKey).order_by(LicenseKey.issued_at)).scalars()
            stored = [key.license_key for key in keys]
        public_key = load_public_key(harness.settings.license_public_key_file)
        payloads = [verify_license_key(key, public_key) for key in stored]
        assert [(p.kind, p.seats, p.expires) for p in payloads] == [
            ("full", 100, renewals[0]),
            ("full", 100, renewals[1]),
            ("full", 150, renewals[2]),
        ]

        # Salesforce: the latest plan's next steps and link, the renewal date, plan tasks.
        account = salesforce_fake.get_record("Account", "001TIER1")
        assert account is not None
        assert account["Notes_Next_Steps__c"] == f"{quarters[-1]}: schedule admin training refresh"
        assert account["Account_Plan_Link__c"].endswith(f"acme-{quarters[-1]}")
        assert account["Renewal_Date__c"] == renewals[2].date().isoformat()
        assert account["Tier__c"] == "1"
        subjects = [task["Subject"] for task in salesforce_fake.records("Task")]
        assert sum("account plan" in subject for subject in subjects) == 12
        assert sum("Value-realization" in subject for subject in subjects) == 3

        # Slack: Tier 1 plans shared for the 2:2 review and internal QBR; briefs before
        # bi-weekly check-ins; the renewals announced; the product channel told once.
        reviews = texts(slack_fake, "#account-reviews")
        assert len(reviews) == 12 and all("2:2 review" in text for text in reviews)
        ce_dms = texts(slack_fake, CE)
        briefs = [text for text in ce_dms if "Preparation brief" in text]
        assert 70 <= len(briefs) <= 80  # every 14 days for ~35 months
        assert "72 active users of 100 seats" in briefs[0] and "SSO login loop" in briefs[0]
        assert "Saved searches per team" in briefs[-1]
        announced = texts(slack_fake, "#customer-accounts")
        assert any("New customer Acme 001TIER1" in text for text in announced)
        assert sum(" renewed at " in text for text in announced) == 2
        assert any("platform team joins" in text for text in announced)
        assert len(texts(slack_fake, "#product-feedback")) == 1
        assert len([t for t in texts(slack_fake, VE) if "Value-realization" in t]) == 3
        # Nothing was late, so nobody was chased.
        assert [text for text in ce_dms if text.startswith("Overdue")] == []
        assert texts(slack_fake, CE_LEADER) == []

        # Every run stayed under the configured history size.
        lengths = await run_lengths(handle, harness.client)
        assert len(lengths) >= 3  # at least one run per renewal
        assert max(lengths) < HISTORY_LIMIT, lengths


async def test_tier_2_plans_go_to_the_ce_leader_and_overdue_plans_escalate(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start_account(
            harness, salesforce_fake, "001TIER2", 300 * DAY, stage=LifecycleStage.ADOPTION, tier=2
        )
        view = await state(handle)
        assert view.stage is LifecycleStage.ADOPTION and view.open_steps == []
        now = await harness.env.get_current_time()
        quarter_month = ((now.month - 1) // 3 + 1) * 3 + 1
        next_quarter = datetime(
            now.year + (quarter_month > 12), (quarter_month - 1) % 12 + 1, 1, tzinfo=UTC
        )
        await advance_to(harness, handle, next_quarter + timedelta(hours=1))
        view = await state(handle)
        plan = next(step for step in view.open_steps if step.kind == "account_plan")
        assert plan.due_at == next_quarter + 9 * DAY  # Tier 2: day 10 of the quarter
        # Late: a reminder a day after the due date, another two days later, then the leader.
        await advance_to(harness, handle, next_quarter + 9 * DAY + 6 * DAY)
        reminders = [t for t in texts(slack_fake, CE) if t.startswith("Overdue") and "plan" in t]
        assert len(reminders) == 2
        escalations = [t for t in texts(slack_fake, CE_LEADER) if "account plan" in t]
        assert len(escalations) == 1 and escalations[0].startswith("Escalation:")
        quarter = plan.key.removeprefix("account-plan-")
        await handle.execute_update(AccountWorkflow.submit_account_plan, a_plan(quarter))
        await settle(handle)
        shared = texts(slack_fake, CE_LEADER)[-1]
        assert "Tier 2 account plan" in shared and "1:1" in shared
        assert texts(slack_fake, "#account-reviews") == []


async def test_the_value_exercise_opens_at_t_minus_90_and_blocks_the_first_renewal_call(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start_account(
            harness, salesforce_fake, "001RENEW", 100 * DAY, stage=LifecycleStage.ADOPTION
        )
        began = await harness.env.get_current_time()
        renewal = midnight(began + 100 * DAY)
        await advance_to(harness, handle, renewal - 91 * DAY)
        view = await state(handle)
        assert not any(step.kind == "value_realization" for step in view.open_steps)
        assert view.stage is LifecycleStage.ADOPTION

        await advance_to(harness, handle, renewal - 90 * DAY + timedelta(minutes=1))
        view = await state(handle)
        assert view.stage is LifecycleStage.RENEWAL
        task = next(step for step in view.open_steps if step.kind == "value_realization")
        assert task.owner == VE
        [prompt] = [text for text in texts(slack_fake, VE) if "Value-realization" in text]
        # The command the prompt names is one the CLI takes (Value Engineering is no --role).
        how = shlex.split(prompt.split("When done: ")[1])
        parsed = build_parser().parse_args(how[1:])
        assert (parsed.step, parsed.actor, parsed.role) == (task.key, VE, "CE")

        before = await handle.fetch_history()
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update(
                AccountWorkflow.record_renewal_call, RecordRenewalCall(AE, Role.AE)
            )
        assert "waits for the value-realization exercise" in str(rejected.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as too_early:
            await handle.execute_update(
                AccountWorkflow.record_renewal_outcome,
                RecordRenewalOutcome("renewed", AE, Role.AE),
            )
        assert "before the value-realization exercise" in str(too_early.value.cause)
        await assert_only_workflow_tasks_since(handle, before)
        assert not (await state(handle)).renewal_call_recorded

        await handle.execute_update(
            AccountWorkflow.complete_step, CompleteAccountStep(task.key, VE, Role.CE)
        )
        accepted = await handle.execute_update(
            AccountWorkflow.record_renewal_call, RecordRenewalCall(AE, Role.AE)
        )
        assert accepted.message == "first renewal call recorded"
        assert (await state(handle)).renewal_call_recorded


async def test_bad_input_is_rejected_and_changes_nothing(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start_account(harness, salesforce_fake, "001BAD", 200 * DAY)
        before_state = await state(handle)
        before = await handle.fetch_history()

        async def rejected(update: Any, request: Any) -> str:
            with pytest.raises(WorkflowUpdateFailedError) as failure:
                await handle.execute_update(update, request)
            return str(failure.value.cause)

        message = await rejected(
            AccountWorkflow.record_kickoff_plan, RecordKickoffPlan(CE, Role.CE, "fortnightly")
        )
        assert "unknown check-in cadence 'fortnightly'" in message
        assert "weekly, bi-weekly, monthly, as-needed" in message
        message = await rejected(
            AccountWorkflow.record_renewal_outcome, RecordRenewalOutcome("renewed", AE, Role.AE)
        )
        assert "renewal window, which opens" in message
        message = await rejected(
            AccountWorkflow.submit_account_plan,
            replace(a_plan("2027-Q1"), risks=[], link="", contacts=PlanContacts("", "b", "c", "d")),
        )
        assert "missing sections: contacts.champion, risks, link" in message
        message = await rejected(
            AccountWorkflow.change_cadence, ChangeCadence("daily", CE, Role.CE)
        )
        assert "unknown check-in cadence 'daily'" in message
        message = await rejected(
            AccountWorkflow.record_kickoff_plan, RecordKickoffPlan(AE, Role.CE, "weekly")
        )
        assert f"{AE} is not the account's CE ({CE} is)" in message
        message = await rejected(
            AccountWorkflow.record_kickoff_plan,
            RecordKickoffPlan(CE, Role.CE, "weekly", optional_trainings=["x" * 92]),
        )
        assert "too long: its step key would pass 100 characters" in message

        await assert_only_workflow_tasks_since(handle, before)
        assert await state(handle) == before_state


async def test_a_customer_brought_in_at_adoption_is_not_sent_back_to_onboarding(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start_account(
            harness, salesforce_fake, "001ADOPT", 300 * DAY, stage=LifecycleStage.ADOPTION
        )
        before = await state(handle)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                AccountWorkflow.report_production_ready, ReportProductionReady(CE, Role.CE)
            )
        assert "onboarding was already completed on" in str(refused.value.cause)
        after = await state(handle)
        assert after == before and after.stage is LifecycleStage.ADOPTION


async def test_a_past_quarters_plan_sent_again_leaves_salesforce_with_the_current_plan(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start_account(
            harness, salesforce_fake, "001PLANS", 300 * DAY, stage=LifecycleStage.ADOPTION, tier=2
        )
        now = await harness.env.get_current_time()
        quarter = datetime(now.year, (now.month - 1) // 3 * 3 + 1, 1, tzinfo=UTC)
        first, second = (add_quarters(quarter, n) for n in (1, 2))
        await advance_to(harness, handle, first + DAY)
        first_label = quarter_of(first)
        await handle.execute_update(AccountWorkflow.submit_account_plan, a_plan(first_label))
        await advance_to(harness, handle, second + DAY)
        second_label = quarter_of(second)
        # The current quarter's plan is replaced as often as the CE likes.
        for _ in range(2):
            await handle.execute_update(AccountWorkflow.submit_account_plan, a_plan(second_label))
        await settle(handle)
        account = salesforce_fake.get_record("Account", "001PLANS")
        assert account["Notes_Next_Steps__c"] == a_plan(second_label).next_steps
        before = await state(handle)

        # Last quarter's, sent again (a typo fixed), would put its next steps back on top.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(AccountWorkflow.submit_account_plan, a_plan(first_label))
        assert str(refused.value.cause) == (
            f"RuleViolation: the {first_label} plan is closed: its quarter is over and the"
            f" {second_label} plan is the current one (its next steps and link are the ones in"
            " Salesforce)"
        )
        await settle(handle)
        assert await state(handle) == before
        account = salesforce_fake.get_record("Account", "001PLANS")
        assert account["Notes_Next_Steps__c"] == a_plan(second_label).next_steps
        assert account["Account_Plan_Link__c"] == a_plan(second_label).link

        # A link longer than Salesforce's field would reach it clipped: one that leads nowhere.
        long_link = replace(a_plan(second_label), link="https://docs.example.com/" + "x" * 300)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(AccountWorkflow.submit_account_plan, long_link)
        assert "Salesforce's Account Plan Link holds at most 255" in str(refused.value.cause)
        assert await state(handle) == before


def add_quarters(quarter: datetime, n: int) -> datetime:
    month = quarter.month - 1 + 3 * n
    return datetime(quarter.year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
