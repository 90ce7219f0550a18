"""Changes to a running account on the time-skipping server, against the Salesforce and Slack
fakes: the renewal date moves, the CE changes hands, a new team's expansion is won."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import WorkflowUpdateFailedError

from dealcycle.db.engine import make_engine
from dealcycle.db.models import LicenseKey
from dealcycle.licensing import load_public_key, verify_license_key
from schemas import search_attributes as sa
from schemas.account import (
    AccountState,
    ChangeTier,
    CompleteAccountStep,
    LifecycleStage,
    RecordRenewalAssessment,
    RecordRenewalOutcome,
    StepView,
)
from schemas.account_changes import MoveRenewalDate, ReassignOwner
from schemas.common import Role
from schemas.effects import RetryEffect
from schemas.opportunity import (
    AdvanceStage,
    CloseOpportunity,
    CompleteTddPart,
    LinkTdd,
    Stage,
    TddPart,
)
from schemas.steps import SnoozeStep
from schemas.trial import CompleteStep
from tests.support.accounts import (
    AE,
    CE,
    CE_LEADER,
    DAY,
    VE,
    Handle,
    advance_to,
    settle,
    start_account,
    state,
)
from workflows.account import AccountWorkflow
from workflows.account_calendar import midnight, next_quarter, quarter_of, quarter_start
from workflows.opportunity import OpportunityWorkflow

NEW_CE = "U0CE00002"


async def account_in(
    harness: Any, salesforce_fake: Any, account_id: str, renewal_in: timedelta, stage: Any
) -> Handle:
    return await start_account(
        harness.client,
        harness.env,
        harness.task_queue,
        harness.settings,
        salesforce_fake,
        account_id,
        renewal_in,
        stage=stage,
        tier=2,
        track=harness.track,
    )


def texts(slack_fake: Any, channel: str) -> list[str]:
    return [message.text for message in slack_fake.messages_in(channel)]


def tasks_about(salesforce_fake: Any, subject: str) -> list[dict[str, Any]]:
    return [task for task in salesforce_fake.records("Task") if subject in task["Subject"]]


def open_step(view: AccountState, kind: str) -> StepView:
    [step] = [step for step in view.open_steps if step.kind == kind]
    return step


async def assess_the_month(handle: Handle) -> None:
    """The AE and the CE record the month's assessment, as they would."""
    for step in (await state(handle)).open_steps:
        if step.kind == "renewal_assessment":
            await handle.execute_update(
                AccountWorkflow.record_renewal_assessment,
                RecordRenewalAssessment(step.owner, Role(step.role)),
            )


async def test_a_renewal_moved_six_months_later_carries_the_open_value_exercise(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await account_in(
            harness, salesforce_fake, "001MOVE", 60 * DAY, LifecycleStage.RENEWAL
        )
        began = await harness.env.get_current_time()
        old = midnight(began + 60 * DAY)
        old_tag = old.date().isoformat()
        before = await state(account)
        assert open_step(before, "value_realization").key == f"value-realization-{old_tag}"
        assert len(tasks_about(salesforce_fake, "Value-realization")) == 1

        new = midnight(old + 183 * DAY)  # six months later: a co-termed contract
        new_tag = new.date().isoformat()
        accepted = await account.execute_update(
            AccountWorkflow.move_renewal_date,
            MoveRenewalDate(new, AE, Role.AE, "co-terming with the EMEA contract"),
        )
        assert accepted.message.startswith(f"renewal moved from {old_tag} to {new_tag}")
        await settle(account)
        moved = await state(account)
        posted_by_the_move = len(slack_fake.messages)

        # The work opened for the old date is carried to the new one, not opened again.
        assert moved.renewal_date == new and moved.profile is not None
        assert moved.profile.renewal_date == new
        assert moved.stage is LifecycleStage.ADOPTION  # the new window opens at new - 90 days
        value = open_step(moved, "value_realization")
        proposal = open_step(moved, "renewal_proposal")
        outcome = open_step(moved, "renewal_outcome")
        assert (value.key, value.owner, value.due_at) == (
            f"value-realization-{new_tag}",
            VE,
            new - 60 * DAY,
        )
        assert (proposal.key, proposal.due_at) == (f"renewal-proposal-{new_tag}", new - 45 * DAY)
        assert (outcome.key, outcome.due_at) == (f"renewal-outcome-{new_tag}", new)
        assert not [step.key for step in moved.open_steps if old_tag in step.key + step.title]

        # Salesforce: the same Tasks, due on the new dates; the account's renewal date.
        [value_task] = tasks_about(salesforce_fake, "Value-realization")
        assert value_task["ActivityDate"] == (new - 60 * DAY).date().isoformat()
        assert new_tag in value_task["Subject"] and old_tag not in value_task["Subject"]
        [proposal_task] = tasks_about(salesforce_fake, "Renewal proposal")
        assert proposal_task["ActivityDate"] == (new - 45 * DAY).date().isoformat()
        assert salesforce_fake.get_record("Account", "001MOVE")["Renewal_Date__c"] == new_tag
        attributes = (await account.describe()).typed_search_attributes
        assert attributes.get(sa.RENEWAL_DATE) == new
        assert attributes.get(sa.LIFECYCLE_STAGE) == "adoption"

        # The owners are told, once each; the account's channel hears it.
        move = f"moved from {old_tag} to {new_tag}"
        [told_ve] = [text for text in texts(slack_fake, VE) if move in text]
        assert "Value-realization" in told_ve and (new - 60 * DAY).date().isoformat() in told_ve
        [told_ae] = [text for text in texts(slack_fake, AE) if move in text]
        assert "Renewal proposal" in told_ae and "Record the outcome" in told_ae
        assert len([t for t in texts(slack_fake, "#customer-accounts") if move in t]) == 1
        # Keys expire at the renewal: a key valid until the new date.
        assert len(moved.license_key_ids) == 1
        assert any(f"valid until {new_tag}" in text for text in texts(slack_fake, CE))

        # Through the old date, month by month: nothing fires for it.
        month = datetime(began.year, began.month, 1, tzinfo=UTC)
        while month < old + 10 * DAY:
            month = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
            await advance_to(harness.env, account, min(month + DAY, old + 10 * DAY))
            await assess_the_month(account)
        assessments = [
            message.text
            for message in slack_fake.messages
            if "renewal health assessment" in message.text
        ]
        assert assessments and all(f"the {new_tag} renewal" in text for text in assessments)
        after_move = [message.text for message in slack_fake.messages[posted_by_the_move:]]
        assert [text for text in after_move if old_tag in text] == []
        renewal_work = ("Value-realization", "Renewal proposal", "Record the outcome")
        chased = [text for text in after_move if text.startswith(("Overdue", "Escalation"))]
        assert [text for text in chased if any(work in text for work in renewal_work)] == []
        assert (await state(account)).stage is LifecycleStage.ADOPTION

        # The new date's window opens with the carried work: still one value exercise.
        await advance_to(harness.env, account, new - 90 * DAY + timedelta(minutes=1))
        reopened = await state(account)
        assert reopened.stage is LifecycleStage.RENEWAL
        assert open_step(reopened, "value_realization").key == f"value-realization-{new_tag}"
        assert len(tasks_about(salesforce_fake, "Value-realization")) == 1
        assert len([t for t in texts(slack_fake, VE) if t.startswith("Value-realization")]) == 1
        await account.execute_update(
            AccountWorkflow.complete_step,
            CompleteAccountStep(f"value-realization-{new_tag}", VE, Role.CE),
        )

        # The proposal is late by its new date, and only then.
        await advance_to(harness.env, account, new - 45 * DAY)
        assert not [t for t in texts(slack_fake, AE) if t.startswith("Overdue: Renewal proposal")]
        await advance_to(harness.env, account, new - 44 * DAY + timedelta(hours=1))
        [late] = [t for t in texts(slack_fake, AE) if t.startswith("Overdue: Renewal proposal")]
        assert new_tag in late
        assert all(old_tag not in task["Subject"] for task in salesforce_fake.records("Task"))
        assert len(tasks_about(salesforce_fake, "Renewal proposal")) == 1


async def test_a_task_revision_revised_again_since_is_not_retried_over_the_newer_one(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """The first move's revision of the value exercise's Task failed; the second move's landed.
    A retry of the first would put the Task back on the first move's due date: refused."""
    invalid = [{"errorCode": "INVALID_FIELD", "message": "No such column 'ActivityDate'"}]
    async with harness_factory() as harness:
        account = await account_in(
            harness, salesforce_fake, "001TWICE", 60 * DAY, LifecycleStage.RENEWAL
        )
        old = midnight(await harness.env.get_current_time() + 60 * DAY)
        await settle(account)
        [task] = tasks_about(salesforce_fake, "Value-realization")
        salesforce_fake.fail_next("PATCH", r"/sobjects/Task/", 400, invalid, count=1)
        first, second = midnight(old + 30 * DAY), midnight(old + 60 * DAY)
        await account.execute_update(
            AccountWorkflow.move_renewal_date, MoveRenewalDate(first, AE, Role.AE, "first")
        )
        await settle(account)
        failed = [e.name for e in (await state(account)).effects if e.state == "failed"]
        assert failed, (await state(account)).effects
        await account.execute_update(
            AccountWorkflow.move_renewal_date, MoveRenewalDate(second, AE, Role.AE, "second")
        )
        await settle(account)
        [moved] = tasks_about(salesforce_fake, "Value-realization")
        due = (second - 60 * DAY).date().isoformat()
        assert moved["ActivityDate"] == due

        for name in failed:
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await account.execute_update(
                    AccountWorkflow.retry_effect, RetryEffect(name, "U0OPS0001")
                )
            assert "the Task account-001TWICE/" in str(refused.value.cause), name
            assert "was written since by change/2/task/" in str(refused.value.cause), name
        [kept] = tasks_about(salesforce_fake, "Value-realization")
        assert (kept["Id"], kept["ActivityDate"]) == (task["Id"], due)


async def test_a_step_re_keyed_by_a_move_is_completed_by_the_key_its_prompt_carries(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """The value exercise's first prompt (a Done button) names the old date's key: after the
    move it still completes the step, now keyed by the new date."""
    async with harness_factory() as harness:
        account = await account_in(
            harness, salesforce_fake, "001MOVEKEY", 60 * DAY, LifecycleStage.RENEWAL
        )
        began = await harness.env.get_current_time()
        old = midnight(began + 60 * DAY)
        opened_as = open_step(await state(account), "value_realization").key
        new = midnight(old + 120 * DAY)
        await account.execute_update(
            AccountWorkflow.move_renewal_date, MoveRenewalDate(new, AE, Role.AE, "late signature")
        )
        await settle(account)

        done = await account.execute_update(
            AccountWorkflow.complete_step, CompleteAccountStep(opened_as, VE, Role.CE)
        )

        new_key = f"value-realization-{new.date().isoformat()}"
        assert done.message == f"{new_key} done"
        view = await state(account)
        assert [step.key for step in view.open_steps if step.kind == "value_realization"] == []
        assert view.value_exercise_done
        with pytest.raises(WorkflowUpdateFailedError) as again:
            await account.execute_update(
                AccountWorkflow.complete_step, CompleteAccountStep(opened_as, VE, Role.CE)
            )
        assert f"step {new_key!r} was already completed by {VE}" in str(again.value.cause)


async def test_a_move_that_brings_the_renewal_closer_ends_the_snooze_of_the_moved_work(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """The AE snoozed the proposal's reminders for the date it had; the renewal then moved a
    month closer, the proposal due today. Its reminders start over with the new due date: the
    old snooze, made for a reminder weeks away, no longer silences it until days before the
    renewal."""
    async with harness_factory() as harness:
        account = await account_in(
            harness, salesforce_fake, "001SNOOZEMOVE", 60 * DAY, LifecycleStage.RENEWAL
        )
        began = await harness.env.get_current_time()
        proposal = open_step(await state(account), "renewal_proposal")
        snoozed = await account.execute_update(
            AccountWorkflow.snooze_step, SnoozeStep(proposal.key, AE, 14)
        )
        assert "next reminder" in snoozed.message
        new = midnight(began + 40 * DAY)
        await account.execute_update(
            AccountWorkflow.move_renewal_date, MoveRenewalDate(new, AE, Role.AE, "co-terming")
        )
        await settle(account)
        moved = open_step(await state(account), "renewal_proposal")
        assert moved.due_at == midnight(began) and moved.overdue

        await advance_to(harness.env, account, midnight(began) + 2 * DAY)

        [reminded] = [t for t in texts(slack_fake, AE) if t.startswith("Overdue: Renewal proposal")]
        assert new.date().isoformat() in reminded


async def test_a_tier_change_during_onboarding_takes_effect_from_its_quarter(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    """The tier changes from next quarter, whether or not the account plans yet: an account
    still onboarding then is of the new tier, in its view and in Salesforce, from that
    quarter on (not from its first plan's, a quarter or more later)."""
    async with harness_factory() as harness:
        account = await account_in(
            harness, salesforce_fake, "001TIERONB", 300 * DAY, LifecycleStage.ONBOARDING
        )
        now = await harness.env.get_current_time()
        accepted = await account.execute_update(
            AccountWorkflow.change_tier, ChangeTier(1, AE, Role.AE, "strategic")
        )
        quarter = next_quarter(quarter_of(now))
        assert accepted.message == f"tier 1 takes effect from {quarter}"

        await advance_to(harness.env, account, quarter_start(quarter) + DAY)

        view = await state(account)
        assert view.stage is LifecycleStage.ONBOARDING
        assert view.profile is not None and view.profile.tier == 1
        assert (view.next_tier, view.next_tier_from) == (None, None)
        assert salesforce_fake.get_record("Account", "001TIERONB")["Tier__c"] == "1"
        attributes = (await account.describe()).typed_search_attributes
        assert attributes.get(sa.ACCOUNT_TIER) == 1


async def test_a_renewal_date_move_is_checked_before_anything_changes(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await account_in(
            harness, salesforce_fake, "001NOMOVE", 200 * DAY, LifecycleStage.ADOPTION
        )
        now = await harness.env.get_current_time()
        renewal = midnight(now + 200 * DAY)
        before = await state(account)

        async def refused(request: MoveRenewalDate) -> str:
            with pytest.raises(WorkflowUpdateFailedError) as rejected:
                await account.execute_update(AccountWorkflow.move_renewal_date, request)
            return str(rejected.value.cause)

        assert "is not in the future" in await refused(
            MoveRenewalDate(midnight(now - DAY), AE, Role.AE, "late")
        )
        assert "more than 5 years ahead" in await refused(
            MoveRenewalDate(renewal + 6 * 365 * DAY, AE, Role.AE, "far")
        )
        assert "already on" in await refused(MoveRenewalDate(renewal, AE, Role.AE, "same"))
        assert "needs a reason" in await refused(
            MoveRenewalDate(renewal + 30 * DAY, AE, Role.AE, " ")
        )
        assert f"{CE} is not the account's AE" in await refused(
            MoveRenewalDate(renewal + 30 * DAY, CE, Role.AE, "not mine")
        )
        assert await state(account) == before


async def test_a_new_ce_takes_over_open_work_and_both_are_told_once(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await account_in(
            harness, salesforce_fake, "001HANDS", 300 * DAY, LifecycleStage.ADOPTION
        )
        now = await harness.env.get_current_time()
        quarter_month = ((now.month - 1) // 3 + 1) * 3 + 1
        next_quarter = datetime(
            now.year + (quarter_month > 12), (quarter_month - 1) % 12 + 1, 1, tzinfo=UTC
        )
        await advance_to(harness.env, account, next_quarter + timedelta(hours=1))
        plan = open_step(await state(account), "account_plan")
        assert plan.owner == CE

        with pytest.raises(WorkflowUpdateFailedError) as not_allowed:
            await account.execute_update(
                AccountWorkflow.reassign_owner, ReassignOwner(Role.CE, NEW_CE, AE)
            )
        assert f"{AE} cannot reassign the CE" in str(not_allowed.value.cause)
        with pytest.raises(WorkflowUpdateFailedError) as same_person:
            await account.execute_update(
                AccountWorkflow.reassign_owner, ReassignOwner(Role.CE, AE, CE_LEADER)
            )
        assert "must be different people" in str(same_person.value.cause)

        accepted = await account.execute_update(
            AccountWorkflow.reassign_owner,
            ReassignOwner(Role.CE, NEW_CE, CE_LEADER, "territories re-cut"),
        )
        assert accepted.message.startswith(f"{NEW_CE} is now the CE")
        await settle(account)
        view = await state(account)
        # The outgoing CE asking again is told it is done (not that they may no longer ask).
        with pytest.raises(WorkflowUpdateFailedError) as again:
            await account.execute_update(
                AccountWorkflow.reassign_owner, ReassignOwner(Role.CE, NEW_CE, CE)
            )
        assert str(again.value.cause) == (
            f"RuleViolation: {NEW_CE} is already the account's CE; nothing to reassign"
        )
        assert await state(account) == view
        assert view.profile is not None and view.profile.ce_owner == NEW_CE
        assert open_step(view, "account_plan").owner == NEW_CE
        ce_steps = [step for step in view.open_steps if step.role == "CE"]
        assert ce_steps and all(step.owner == NEW_CE for step in ce_steps)
        assert (await account.describe()).typed_search_attributes.get(sa.CE_OWNER) == NEW_CE
        [plan_task] = tasks_about(salesforce_fake, "account plan")
        assert f"Owner (dealcycle): {NEW_CE}" in plan_task["Description"]
        [told_old] = [t for t in texts(slack_fake, CE) if "no longer the CE" in t]
        [told_new] = [t for t in texts(slack_fake, NEW_CE) if "now the CE" in t]
        assert NEW_CE in told_old and "territories re-cut" in told_new
        assert plan.key.removeprefix("account-plan-") in told_new

        # The late plan reminds the new CE, never the old one.
        assert plan.due_at is not None
        await advance_to(harness.env, account, plan.due_at + 2 * DAY)
        assert [t for t in texts(slack_fake, NEW_CE) if t.startswith("Overdue")]
        assert not [t for t in texts(slack_fake, CE) if t.startswith("Overdue")]
        assert len([t for t in texts(slack_fake, CE) if "no longer the CE" in t]) == 1


async def win(opportunity: Handle) -> None:
    """The expansion's team does the minimum a deal needs to close won."""
    for step in ("discovery_call", "tailored_demo"):
        await opportunity.execute_update(
            OpportunityWorkflow.complete_step, CompleteStep(step, CE, Role.CE)
        )
    await opportunity.execute_update(
        OpportunityWorkflow.advance_stage, AdvanceStage(Stage.QUALIFICATION, AE, Role.AE)
    )
    await opportunity.execute_update(
        OpportunityWorkflow.link_tdd, LinkTdd("https://docs/tdd/platform", CE, Role.CE)
    )
    for stage in (Stage.SOLUTION, Stage.VALIDATION):
        await opportunity.execute_update(
            OpportunityWorkflow.advance_stage, AdvanceStage(stage, AE, Role.AE)
        )
    for part in TddPart:
        await opportunity.execute_update(
            OpportunityWorkflow.complete_tdd_part, CompleteTddPart(part, CE, Role.CE)
        )
    await opportunity.execute_update(
        OpportunityWorkflow.advance_stage, AdvanceStage(Stage.NEGOTIATION, AE, Role.AE)
    )
    await opportunity.execute_update(OpportunityWorkflow.close, CloseOpportunity(True, AE, Role.AE))


async def test_a_won_new_team_expansion_adds_exactly_the_new_teams_seats(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await account_in(
            harness, salesforce_fake, "001TEAM", 60 * DAY, LifecycleStage.RENEWAL
        )
        value = open_step(await state(account), "value_realization")
        await account.execute_update(
            AccountWorkflow.complete_step, CompleteAccountStep(value.key, VE, Role.CE)
        )
        salesforce_fake.add_record("Opportunity", {"Id": "006TEAM", "Name": "Platform team"})
        with pytest.raises(WorkflowUpdateFailedError) as no_seats:
            await account.execute_update(
                AccountWorkflow.record_renewal_outcome,
                RecordRenewalOutcome("new_team", AE, Role.AE, expansion_opportunity_id="006TEAM"),
            )
        assert "needs the new team's seat count" in str(no_seats.value.cause)

        accepted = await account.execute_update(
            AccountWorkflow.record_renewal_outcome,
            RecordRenewalOutcome(
                "new_team", AE, Role.AE, expansion_opportunity_id="006TEAM", new_team_seats=20
            ),
        )
        assert "a new team of 20 seats" in accepted.message
        opportunity = harness.client.get_workflow_handle_for(
            OpportunityWorkflow.run, "opportunity-006TEAM"
        )
        harness.track(opportunity)
        await settle(account)
        await settle(opportunity)

        await win(opportunity)
        await opportunity.result()
        await settle(account)
        view = await state(account)
        assert view.profile is not None and view.profile.seats == 120
        # The expansion started with the new team's seats, and handed off just those.
        assert [(h.opportunity_id, h.kind, h.seats) for h in view.hand_offs] == [
            ("006TEAM", "expansion", 20)
        ]
        engine = make_engine(harness.settings.database_url)
        with Session(engine) as session:
            stored = [
                key.license_key
                for key in session.execute(
                    select(LicenseKey)
                    .where(LicenseKey.account_id == "001TEAM")
                    .order_by(LicenseKey.issued_at)
                ).scalars()
            ]
        public_key = load_public_key(harness.settings.license_public_key_file)
        seats = [verify_license_key(key, public_key).seats for key in stored]
        assert seats == [100, 120]  # the renewal's key, then the won expansion's: 100 + 20
