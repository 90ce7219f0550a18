"""Scenarios after the deal closes: accounts, red-account cases and the closed-won intake.

The accounts are brought in the way ``dealcycle account start`` does (``tests.support.accounts``);
the one handed off by a won deal is recorded with the opportunities (``presales``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from temporalio.client import WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy

from schemas.account import (
    DEAL_CLOSED_SIGNAL,
    AccountHandOff,
    AccountStart,
    ChangeTier,
    CompleteAccountStep,
    CompleteProfile,
    LifecycleStage,
    RecordRenewalOutcome,
    account_workflow_id,
)
from schemas.account_changes import MoveRenewalDate, ReassignOwner
from schemas.common import Role
from schemas.effects import RetryEffect, SkipEffect
from schemas.health import (
    HealthSignal,
    RecordActionPlan,
    RecordAsk,
    SetHealth,
)
from schemas.intake import IntakeRun
from schemas.opportunity_lookup import OpportunityLookup
from schemas.steps import SnoozeStep
from tests.support.accounts import (
    AE,
    CE,
    CE_LEADER,
    DAY,
    VE,
    advance_to,
    do_what_is_asked,
    onboard,
    run_histories,
    start_account,
    state,
)
from tests.support.patience import settle
from tools.histories.stack import Handle, Recorder
from workflows.account import AccountWorkflow
from workflows.account_calendar import midnight, next_quarter, quarter_of, quarter_start
from workflows.intake import ClosedWonIntakeWorkflow
from workflows.opportunity_lookup import OpportunityLookupWorkflow
from workflows.red_account import RedAccountWorkflow

MINUTE = timedelta(minutes=1)


async def open_account(
    rec: Recorder,
    account_id: str,
    renewal_in: timedelta,
    *,
    stage: LifecycleStage = LifecycleStage.ADOPTION,
    tier: int = 1,
    history_limit: int = 8_000,
) -> Handle:
    return await start_account(
        rec.client,
        rec.env,
        rec.task_queue,
        rec.settings,
        rec.sandbox.salesforce,
        account_id,
        renewal_in,
        stage=stage,
        tier=tier,
        history_limit=history_limit,
        track=rec.track,
    )


async def in_renewal_window(rec: Recorder, account_id: str) -> Handle:
    """A Tier 2 account 60 days before its renewal, its value exercise done."""
    account = await open_account(rec, account_id, 60 * DAY, stage=LifecycleStage.RENEWAL, tier=2)
    view = await state(account)
    task = next(step for step in view.open_steps if step.kind == "value_realization")
    await account.execute_update(
        AccountWorkflow.complete_step, CompleteAccountStep(task.key, VE, Role.CE)
    )
    await settle(account)
    return account


async def churn(rec: Recorder, account: Handle, note: str) -> None:
    """The renewal outcome ``churned``; the account's workflow then completes."""
    await account.execute_update(
        AccountWorkflow.record_renewal_outcome,
        RecordRenewalOutcome("churned", AE, Role.AE, note=note),
    )
    for _ in range(200):
        if (await account.describe()).status is WorkflowExecutionStatus.COMPLETED:
            return
        await advance_to(rec.env, account, await rec.now())
    raise AssertionError(f"{account.id} did not complete")


async def accounts(rec: Recorder) -> None:
    # Tier 2 with a known renewal date: at T-90 the value exercise opens.
    tier_2 = await open_account(rec, "001HTIER2", 100 * DAY, tier=2)
    renewal = (await state(tier_2)).renewal_date
    assert renewal is not None
    await advance_to(rec.env, tier_2, renewal - 90 * DAY + MINUTE)
    await rec.save(tier_2, "tier-2-value-exercise-open")

    # Renewed with a new team: the expansion opportunity starts as the account's child.
    new_team = await in_renewal_window(rec, "001HNEWTEAM")
    rec.sandbox.salesforce.add_record("Opportunity", {"Id": "006HPLATFORM", "Name": "Platform"})
    await new_team.execute_update(
        AccountWorkflow.record_renewal_outcome,
        RecordRenewalOutcome(
            "new_team",
            AE,
            Role.AE,
            expansion_opportunity_id="006HPLATFORM",
            new_team_seats=25,
            note="platform",
        ),
    )
    expansion = await rec.started_by_now("opportunity-006HPLATFORM")
    # The renewal ends its run (a new cycle continues as new): that run is the one to keep.
    await rec.save(new_team, "renewed-new-team", run=-2)
    await rec.save(new_team, "after-renewal")
    await rec.save(expansion, "expansion-from-account")

    churned = await in_renewal_window(rec, "001HCHURN")
    await churn(rec, churned, "budget moved to a competitor")
    await rec.save(churned, "churned")

    await continued_as_new(rec)


async def continued_as_new(rec: Recorder) -> None:
    """A Tier 1 account onboarded, then a few months of the team's work with a low history
    ceiling: its current run began with continue-as-new."""
    account = await open_account(
        rec, "001HCAN", 365 * DAY, stage=LifecycleStage.KICKOFF, history_limit=200
    )
    await onboard(account)
    await settle(account)
    moment = await rec.now()
    runs_after = 0
    for _ in range(12):  # the second day of each month: its assessments are open
        moment = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 2, tzinfo=UTC)
        await advance_to(rec.env, account, moment)
        if await do_what_is_asked(account, {}):
            await settle(account)
        if len(await run_histories(account, rec.client)) > 1:
            runs_after += 1
            if runs_after == 2:  # a month's work done in the new run
                break
    assert runs_after, "the account never continued as new"
    await rec.save(account, "before-continue-as-new", run=0)
    await rec.save(account, "after-continue-as-new")


# --- Red-account cases -------------------------------------------------------------------------


async def case_of(rec: Recorder, account: Handle) -> Handle:
    """The account's open (else latest) red case, by the id the account gave it (its ids
    carry the account run's scope since ``UNIQUE_CASE_IDS_PATCH``)."""
    view = await account.query(AccountWorkflow.health)
    case_id = view.open_case or view.latest_case
    assert case_id, f"{account.id} opened no red case"
    return await rec.started_by_now(case_id)


async def readings(account: Handle, **values: float) -> None:
    for name, value in values.items():
        await account.signal(AccountWorkflow.health_signal, HealthSignal(name, value, "analytics"))
    await settle(account)


async def red_accounts(rec: Recorder) -> None:
    account = await open_account(rec, "001HRED", 200 * DAY)
    await readings(account, usage=80, adoption=75, sentiment=70)
    await readings(account, usage=20, adoption=30)  # red: a case opens
    case = await case_of(rec, account)
    await rec.save(account, "health-red-case-open")
    await rec.save(case, "opened")

    await case.execute_update(
        RedAccountWorkflow.record_action_plan,
        RecordActionPlan(CE, Role.CE, "usage halved", "SSO fix", "weekly office hours"),
    )
    opened = (await case.query(RedAccountWorkflow.state)).opened_at
    # The AE is late: reminded a day in, the CE leader at the three-day SLA.
    await advance_to(rec.env, case, opened + DAY + MINUTE)
    await advance_to(rec.env, case, opened + 3 * DAY + MINUTE)
    await rec.save(case, "action-plan-overdue-escalated")

    await case.execute_update(
        RedAccountWorkflow.record_action_plan,
        RecordActionPlan(AE, Role.AE, "renewal at risk", "exec sponsor", "EBR in 2 weeks"),
    )
    await case.execute_update(
        RedAccountWorkflow.record_ask, RecordAsk(AE, Role.AE, "VP Eng to join the EBR")
    )
    await settle(case)
    await readings(account, usage=90, adoption=85, sentiment=80)  # recovered: resolved
    await settle(case)
    await rec.save(case, "resolved")
    await rec.save(account, "red-case-resolved")

    # Churned with its red case open: the case goes on (issue 11), recorded six days on.
    churning = await in_renewal_window(rec, "001HREDCHURN")
    await churning.execute_update(
        AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "champion left")
    )
    await settle(churning)
    open_case = await case_of(rec, churning)
    await churn(rec, churning, "no budget")
    await rec.save(churning, "churned-with-red-case-open")
    await rec.sleep(6 * DAY, open_case)
    await rec.save(open_case, "after-account-churned")


async def red_plan_repeated(rec: Recorder) -> None:
    """A case whose AE sends the same action plan twice (a retried command), then the CE its
    part. The code before ``REPEATED_PLAN_PATCH`` posted the repeat in the thread again;
    today's changes nothing for it, so this run's post of the repeat is a command it does not
    issue. The CE's part follows the task that took the repeat, so a replay compares it."""
    account = await open_account(rec, "001HREDPLAN", 200 * DAY)
    await account.execute_update(
        AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "champion left")
    )
    await settle(account)
    case = await case_of(rec, account)
    await settle(case)
    for actor, role in ((AE, Role.AE), (AE, Role.AE), (CE, Role.CE)):
        await case.execute_update(
            RedAccountWorkflow.record_action_plan,
            RecordActionPlan(actor, role, "bad", "help", "call"),
        )
        await settle(case)
    await rec.save(case, "action-plan-repeated")


@asynccontextmanager
async def red_in_an_archived_channel(rec: Recorder, account_id: str) -> AsyncIterator[Handle]:
    """A new account turned red while ``#red-accounts`` is archived: its case, its post
    refused; the channel is unarchived when the block ends."""
    slack = rec.sandbox.slack
    account = await open_account(rec, account_id, 200 * DAY)
    slack.archive_channel("#red-accounts")
    try:
        await account.execute_update(
            AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "champion left")
        )
        await settle(account)
        case = await case_of(rec, account)
        await settle(case)
        yield case
    finally:
        slack.unarchive_channel("#red-accounts")


async def red_case_without_thread(rec: Recorder) -> None:
    """A case whose post Slack refused (an archived channel) and a person gave up with
    `effects skip`: no thread. The code before ``NO_THREAD_DMS_PATCH`` sent its reminders and
    its escalation nowhere (the thread replies had no thread); today's sends them as DMs, so
    this run's quiet reminder rounds are commands it does not issue."""
    async with red_in_an_archived_channel(rec, "001HREDNOTHREAD") as case:
        await case.execute_update(
            RedAccountWorkflow.skip_effect, SkipEffect("post", "channel archived", AE)
        )
        await settle(case)
    opened = (await case.query(RedAccountWorkflow.state)).opened_at
    await advance_to(rec.env, case, opened + DAY + MINUTE)
    await advance_to(rec.env, case, opened + 3 * DAY + MINUTE)
    await rec.save(case, "without-thread-reminded-escalated")


async def red_post_retried(rec: Recorder) -> None:
    """A case whose post Slack refused (an archived channel) while the CE recorded a plan, then
    retried once the channel was unarchived. The code before ``EARLY_TRACKER_PATCH`` opened
    the case's tracker row only once the post had its thread; today's opens it with the case
    (no thread link yet), so this run's first task lacks a command it issues."""
    async with red_in_an_archived_channel(rec, "001HREDRETRIED") as case:
        await case.execute_update(
            RedAccountWorkflow.record_action_plan,
            RecordActionPlan(CE, Role.CE, "usage halved", "SSO fix", "weekly office hours"),
        )
        await settle(case)
    await case.execute_update(RedAccountWorkflow.retry_effect, RetryEffect("post", AE))
    await settle(case)
    await rec.sleep(MINUTE, case)
    await rec.save(case, "post-retried")


# --- Closed-won intake -------------------------------------------------------------------------


async def intake(rec: Recorder) -> None:
    salesforce = rec.sandbox.salesforce
    salesforce.add_record("Account", {"Id": "001HHOOLI", "Name": "Hooli"})
    for deal in ("006HW1", "006HW2"):
        salesforce.add_record(
            "Opportunity", {"Id": deal, "AccountId": "001HHOOLI", "StageName": "Closed Won"}
        )
    for phase in ("two-deals-handed-off", "nothing-new"):
        # The fake's LastModifiedDate is real time; the test server's clock may be ahead.
        lookback = IntakeRun(first_poll_lookback_days=36500)
        # Started and settled, not awaited: a client waiting on a result lets the test server
        # skip to the next timer of any workflow, here the account's ten-year time-out.
        run = await rec.start(ClosedWonIntakeWorkflow.run, lookback, f"intake-{phase}")
        await rec.save(run, phase)
    account = await rec.started_by_now(account_workflow_id("001HHOOLI"))
    await rec.save(account, "two-deals-from-intake")


async def opportunity_lookups(rec: Recorder) -> None:
    """``renewal-outcome … new_team``'s lookup: an Opportunity Salesforce has, one it has not,
    and a read Salesforce refuses (a 403 other than the rate limit: not retried)."""
    salesforce = rec.sandbox.salesforce
    salesforce.add_record("Opportunity", {"Id": "006HTEAM", "Name": "Platform team"})
    salesforce.fail_next(
        "GET",
        r"/sobjects/Opportunity/006HDENIED$",
        403,
        [{"errorCode": "INSUFFICIENT_ACCESS", "message": "no access to this record"}],
    )
    for phase, opportunity_id in (
        ("found", "006HTEAM"),
        ("not-found", "006HNONE"),
        ("refused", "006HDENIED"),
    ):
        run = await rec.start(
            OpportunityLookupWorkflow.run, OpportunityLookup(opportunity_id), f"lookup-{phase}"
        )
        await rec.save(run, phase)


async def hand_off(rec: Recorder, deal: AccountHandOff) -> None:
    """The deal's hand-off as ``hand_off_closed_deal`` sends it: one signal-with-start."""
    handle = await rec.client.start_workflow(
        AccountWorkflow.run,
        AccountStart(deal.account_id, deal.account_name, config=rec.settings.account_config()),
        id=account_workflow_id(deal.account_id),
        task_queue=rec.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        start_signal=DEAL_CLOSED_SIGNAL,
        start_signal_args=[deal],
    )
    rec.track(handle)
    await settle(handle)


# --- Region, learnt after the first hand-off ---------------------------------------------------


async def region_later(rec: Recorder) -> None:
    """An account handed off without a region (the intake before it read one), then a deal
    that says only the region (``deal-closed`` of a deal made outside dealcycle). Today's code
    upserts Region alone where this run upserted nothing, and the history still replays: an
    upsert of search attributes is not matched against history, so it needs no guard."""
    account_id = "001HREGION"
    workflow_id = account_workflow_id(account_id)
    now = await rec.env.get_current_time()
    # The second deal again (a repeat changes nothing): its events follow the task that
    # learnt the region, so a replay compares that task's commands.
    for number, region in ((1, ""), (2, "US West / APAC"), (2, "US West / APAC")):
        deal = AccountHandOff(
            opportunity_id=f"006HREGION{number}",
            account_id=account_id,
            account_name="Regional",
            kind="new",
            seats=0,
            ae_owner="",
            ce_owner="",
            tier=0,
            region=region,
            closed_at=now,
        )
        await hand_off(rec, deal)
    await rec.save(rec.handle(workflow_id), "region-from-a-later-deal")


# --- Owners, learnt from a repeat of the same deal ---------------------------------------------


async def owners_from_a_repeat(rec: Recorder) -> None:
    """An account handed off by the intake (Salesforce knows no Slack members: no AE, no CE),
    then the same deal again from its opportunity's workflow, with the owners. The code before
    ``HANDOFF_FILLS_GAPS_PATCH`` dropped the repeat (the account waited for ``dealcycle account
    profile``); today's fills the owners in, the profile completes and the kickoff begins,
    commands this run did not issue."""
    account_id = "001HOWNERS"
    workflow_id = account_workflow_id(account_id)
    now = await rec.env.get_current_time()
    # The opportunity's hand-off again (a repeat that brings nothing new): its events follow
    # the task that took the owners, so a replay compares that task's commands.
    for ae_owner, ce_owner in (("", ""), (AE, CE), (AE, CE)):
        deal = AccountHandOff(
            opportunity_id="006HOWNERS",
            account_id=account_id,
            account_name="Owned Later",
            kind="new",
            seats=120,
            ae_owner=ae_owner,
            ce_owner=ce_owner,
            tier=2,
            region="US East / EMEA",
            closed_at=now,
            deployment_type="cloud",
        )
        await hand_off(rec, deal)
    # What the account waited for: the owners from ``dealcycle account profile``. Its kickoff
    # follows, after the task that took the repeat.
    account = rec.handle(workflow_id)
    await account.execute_update(
        AccountWorkflow.complete_profile,
        CompleteProfile(CE_LEADER, Role.CE, ae_owner=AE, ce_owner=CE),
    )
    await settle(account)
    await rec.save(account, "owners-from-a-repeated-deal")


# --- A red case opened before the account's owners were known ------------------------------------


async def case_before_owners(rec: Recorder) -> None:
    """An account handed off by the intake (no AE, no CE) that a reading turns red: its case
    opens without owners. Then ``dealcycle account profile`` names them. The code before
    ``CASE_LEARNS_OWNERS_PATCH`` told the case nothing (nobody could record its action plan);
    today's signals it the owners, a command this run did not issue. The kickoff the completed
    profile opens follows in the same task, so a replay compares it."""
    account_id = "001HNOBODY"
    now = await rec.env.get_current_time()
    # As the intake reads it: Salesforce knows no Slack members.
    deal = AccountHandOff("006HNOBODY", account_id, "Nobody Yet", "new", 40, "", "", 2, "", now)
    await hand_off(rec, deal)
    account = rec.handle(account_workflow_id(account_id))
    await readings(account, usage=5, adoption=3, sentiment=40)
    await settle(account)
    case = await case_of(rec, account)
    await settle(case)
    await account.execute_update(
        AccountWorkflow.complete_profile,
        CompleteProfile(CE_LEADER, Role.CE, ae_owner=AE, ce_owner=CE),
    )
    await settle(account)
    await rec.save(account, "case-opened-before-the-owners")


# --- The kickoff of an account whose owners came weeks after its hand-off ---------------------


async def kickoff_after_late_owners(rec: Recorder) -> None:
    """An account handed off by the intake (no AE, no CE), its owners named by ``dealcycle
    account profile`` three weeks later. The code before ``KICKOFF_DUE_FROM_OWNERS_PATCH``
    counted the kickoff plan's days from the hand-off: the CE's step opened overdue, reminded
    at once. Today's counts them from the owners: due two weeks on, no reminder, a command this
    run issued and today's does not."""
    account_id = "001HLATEOWNERS"
    now = await rec.env.get_current_time()
    # As the intake reads it: Salesforce knows no Slack members.
    deal = AccountHandOff("006HLATEOWNERS", account_id, "Owned Late", "new", 60, "", "", 2, "", now)
    await hand_off(rec, deal)
    account = rec.handle(account_workflow_id(account_id))
    await rec.sleep(21 * DAY, account)
    await account.execute_update(
        AccountWorkflow.complete_profile,
        CompleteProfile(CE_LEADER, Role.CE, ae_owner=AE, ce_owner=CE),
    )
    await settle(account)
    await rec.save(account, "kickoff-after-late-owners")


# --- Renewal work snoozed, then the renewal moved a month closer ------------------------------


async def snoozed_work_moved_closer(rec: Recorder) -> None:
    """A renewal proposal snoozed by its AE for 14 business days, then the renewal moved a
    month closer (the proposal due at once). The code before ``MOVE_ENDS_SNOOZES_PATCH`` kept
    the snooze: no reminder for weeks. Today's ends it: the proposal is reminded a day on, a
    timer and a post this run did not have."""
    account = await open_account(rec, "001HSNOOZEMOVE", 60 * DAY, stage=LifecycleStage.RENEWAL)
    now = await rec.env.get_current_time()
    view = await state(account)
    proposal = next(step for step in view.open_steps if step.kind == "renewal_proposal")
    await account.execute_update(AccountWorkflow.snooze_step, SnoozeStep(proposal.key, AE, 14))
    await account.execute_update(
        AccountWorkflow.move_renewal_date,
        MoveRenewalDate(midnight(now + 40 * DAY), AE, Role.AE, "co-terming"),
    )
    await settle(account)
    await rec.sleep(3 * DAY, account)
    await rec.save(account, "snoozed-work-moved-closer")


async def renewed_with_a_red_case_open(rec: Recorder) -> None:
    """An account renewed while its red-account case is open. The code before
    ``RENEWAL_TELLS_CASE_PATCH`` told the case nothing (it kept the renewal just decided);
    today's tells it the next renewal date: a signal this run did not send."""
    account = await in_renewal_window(rec, "001HREDRENEW")
    await account.execute_update(
        AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "champion left")
    )
    await settle(account)
    await case_of(rec, account)
    await account.execute_update(
        AccountWorkflow.record_renewal_outcome, RecordRenewalOutcome("renewed", AE, Role.AE)
    )
    await settle(account)
    await rec.save(account, "renewed-with-red-case-open", run=-2)


async def churned_then_read_low(rec: Recorder) -> None:
    """An account churned while ``#customer-accounts`` is archived (its churn post refused, so
    it runs on), then read barely used. The code before ``CHURNED_TAKES_NO_READING_PATCH``
    turned it red and opened a case; today's drops the readings: a case this run started."""
    slack = rec.sandbox.slack
    account = await in_renewal_window(rec, "001HCHURNREAD")
    slack.archive_channel("#customer-accounts")
    try:
        await account.execute_update(
            AccountWorkflow.record_renewal_outcome, RecordRenewalOutcome("churned", AE, Role.AE)
        )
        await settle(account)
        await readings(account, usage=5, adoption=5, sentiment=5)
        await settle(account)
        await rec.save(account, "churned-then-read-low")
    finally:
        slack.unarchive_channel("#customer-accounts")


# --- A tier change while the account onboards -------------------------------------------------


async def tier_change_while_onboarding(rec: Recorder) -> None:
    """A Tier 2 account changed to Tier 1 while it onboards (after its first check-in brief),
    then its quarter comes. The code before ``TIER_BEFORE_PLANNING_PATCH`` left the tier for
    the first plan's quarter: at the brief after the quarter's start, no Salesforce write.
    Today's writes Tier 1 then (it wakes at the quarter's start)."""
    account = await open_account(
        rec, "001HTIERONB", 300 * DAY, stage=LifecycleStage.ONBOARDING, tier=2
    )
    await rec.sleep(28 * DAY, account)  # past the first brief: the next comes before the quarter
    await account.execute_update(
        AccountWorkflow.change_tier, ChangeTier(1, AE, Role.AE, "strategic account")
    )
    await settle(account)
    quarter = next_quarter(quarter_of(await rec.now()))
    await rec.sleep(quarter_start(quarter) + 30 * DAY - await rec.now(), account)
    await rec.save(account, "tier-change-while-onboarding")


# --- The CE leader reassigns a CE ---------------------------------------------------------------


async def leader_reassigns(rec: Recorder) -> None:
    """The CE leader the account knows hands its CE's work to another CE. The code before
    ``LEADER_OF_THE_DAY_REASSIGNS_PATCH`` applied it at once; today's asks the roster first
    (a leader rotated out since may not), an activity this run did not have. In its renewal
    window: it has looked the roster up already (for the value exercise)."""
    account = await open_account(
        rec, "001HLEADREASSIGN", 60 * DAY, stage=LifecycleStage.RENEWAL, tier=2
    )
    await account.execute_update(
        AccountWorkflow.reassign_owner,
        ReassignOwner(Role.CE, "U0CE00002", CE_LEADER, "the CE left"),
    )
    await settle(account)
    await rec.save(account, "leader-reassigns")
