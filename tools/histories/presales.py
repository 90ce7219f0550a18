"""Scenarios before the deal closes: trials, security reviews, opportunities and their children.

Each scenario uses its own opportunity id, so its workflows' histories are its own. Phases of
one trajectory are saved as it passes them; phases that need another trajectory (a check-in
recorded early, a deal lost or abandoned) get another workflow.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from schemas.common import DeploymentType, Region, Role, TechnicalWinStatus
from schemas.opportunity import (
    AbandonOpportunity,
    AdvanceStage,
    CloseOpportunity,
    CompleteTddPart,
    LinkTdd,
    OpportunityInput,
    OpportunityKind,
    OpportunityStart,
    ReceiveQuestionnaire,
    Stage,
    StartOpportunityTrial,
    TddPart,
    opportunity_workflow_id,
)
from schemas.security_review import (
    CompleteSecurityStep,
    EscalateToSecurityPM,
    SecurityReviewInput,
    SecurityReviewStart,
    security_review_workflow_id,
)
from schemas.trial import (
    MID_TRIAL_CHECK_IN,
    TRIAL_PLANNING_ITEMS,
    CompleteStep,
    SetTechnicalWin,
    TrialInput,
    TrialStart,
    trial_workflow_id,
)
from tests.support.patience import settle
from tools.histories.stack import Handle, Recorder
from workflows.opportunity import OpportunityWorkflow
from workflows.security_review import SecurityReviewWorkflow
from workflows.trial import TrialWorkflow

CE, AE = "U0CE00001", "U0AE00001"
CHANNEL = "#dealcycle-trials"
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def _owner(role: Role) -> str:
    return CE if role is Role.CE else AE


# --- Trials ------------------------------------------------------------------------------------


async def start_trial(rec: Recorder, opportunity_id: str) -> Handle:
    rec.sandbox.salesforce.add_record(
        "Opportunity", {"Id": opportunity_id, "Name": f"Acme {opportunity_id}"}
    )
    start = TrialStart(
        opportunity_id=opportunity_id,
        account_id="001ACME",
        account_name="Acme",
        ce_owner=CE,
        ae_owner=AE,
        seats=40,
        durations=rec.settings.durations,
        announce_channel=CHANNEL,
    )
    return await rec.start(
        TrialWorkflow.run, TrialInput(start=start), trial_workflow_id(opportunity_id)
    )


async def complete_planning(trial: Handle, keys: set[str] | None = None) -> None:
    for item in TRIAL_PLANNING_ITEMS:
        if keys is None or item.key in keys:
            await trial.execute_update(
                TrialWorkflow.complete_step, CompleteStep(item.key, _owner(item.lead), item.lead)
            )
    await settle(trial)


async def set_technical_win(trial: Handle, status: TechnicalWinStatus) -> None:
    await trial.execute_update(TrialWorkflow.set_technical_win, SetTechnicalWin(status, CE))
    await settle(trial)


async def trials(rec: Recorder) -> None:
    # Planning with items pending, reminded: three of eight done, a day past their due date.
    planning = await start_trial(rec, "006HPLAN")
    await complete_planning(
        planning, {"technical_landscape", "use_cases_and_success_metrics", "user_survey"}
    )
    await rec.sleep(8 * DAY + HOUR, planning)
    await rec.save(planning, "planning-items-overdue")

    # Past the midpoint with the check-in not recorded (prompted), then won and ended.
    running = await start_trial(rec, "006HMID")
    await complete_planning(running)
    await set_technical_win(running, TechnicalWinStatus.IN_PROGRESS)
    await rec.sleep(16 * DAY, running)
    await rec.save(running, "check-in-prompted")
    await set_technical_win(running, TechnicalWinStatus.WON)
    await rec.save(running, "technical-win-recorded")
    await rec.sleep(15 * DAY, running)
    await rec.save(running, "ended")

    # The check-in recorded before the midpoint; the clock then passes the midpoint.
    early = await start_trial(rec, "006HEARLY")
    await complete_planning(early)
    await rec.sleep(3 * DAY, early)
    await early.execute_update(
        TrialWorkflow.complete_step,
        CompleteStep(MID_TRIAL_CHECK_IN.key, CE, Role.CE, "met the champion early"),
    )
    await rec.sleep(14 * DAY, early)
    await rec.save(early, "check-in-before-midpoint")


# --- Security reviews --------------------------------------------------------------------------


async def security_step(review: Handle, step: str, actor: str, **fields: Any) -> None:
    await review.execute_update(
        SecurityReviewWorkflow.complete_step, CompleteSecurityStep(step, actor, **fields)
    )
    await settle(review)


async def security_reviews(rec: Recorder) -> None:
    roster = rec.settings.security_roster
    security_ce = roster.us_west_apac
    start = SecurityReviewStart(
        opportunity_id="006HSEC",
        account_id="001ACME",
        account_name="Acme",
        ae_owner=AE,
        ce_owner=CE,
        region=Region.US_WEST_APAC,
        deployment_type=None,
        roster=roster,
        durations=rec.settings.durations,
        announce_channel=CHANNEL,
    )
    review = await rec.start(
        SecurityReviewWorkflow.run,
        SecurityReviewInput(start=start),
        security_review_workflow_id("006HSEC"),
    )
    await security_step(review, "grant_access", AE, note="portal access shared")
    await security_step(
        review, "note_deployment_type", CE, deployment_type=DeploymentType.SELF_HOSTED
    )
    await rec.save(review, "questionnaire-assigned")

    await security_step(review, "ce_first_pass", CE, note="60% answered")
    await review.execute_update(
        SecurityReviewWorkflow.escalate_to_security_pm,
        EscalateToSecurityPM(security_ce, "full questionnaire review needed"),
    )
    # The Security CE review (due day 8) is late: reminded twice, then the CE leader.
    await rec.sleep(13 * DAY + HOUR, review)
    await rec.save(review, "overdue-reminded-escalated")

    await security_step(review, "security_ce_review", security_ce)
    await security_step(review, "security_pm_review", roster.security_pm)
    await security_step(review, "answers_returned", AE)
    await rec.save(review, "answered")


# --- Opportunities -----------------------------------------------------------------------------


async def start_opportunity(
    rec: Recorder, opportunity_id: str, stage: Stage = Stage.DISCOVERY
) -> Handle:
    rec.sandbox.salesforce.add_record(
        "Opportunity", {"Id": opportunity_id, "Name": f"Globex {opportunity_id}"}
    )
    rec.sandbox.salesforce.add_record("Account", {"Id": "001GLOBEX", "Name": "Globex"})
    start = OpportunityStart(
        opportunity_id=opportunity_id,
        account_id="001GLOBEX",
        account_name="Globex",
        ae_owner=AE,
        ce_owner=CE,
        region=Region.US_EAST_EMEA,
        deployment_type=DeploymentType.SELF_HOSTED,
        tier=1,
        kind=OpportunityKind.NEW,
        complex_engagement=False,
        roster=rec.settings.security_roster,
        seats=120,
        stage=stage,
        durations=rec.settings.durations,
        announce_channel=CHANNEL,
    )
    return await rec.start(
        OpportunityWorkflow.run,
        OpportunityInput(start=start),
        opportunity_workflow_id(opportunity_id),
    )


async def with_trial(rec: Recorder, opp: Handle, opportunity_id: str) -> Handle:
    """Link the TDD and start the trial; its planning done. The child trial's handle."""
    await opp.execute_update(
        OpportunityWorkflow.link_tdd, LinkTdd(f"https://docs/tdd/{opportunity_id}", CE, Role.CE)
    )
    await opp.execute_update(OpportunityWorkflow.start_trial, StartOpportunityTrial(CE, Role.CE))
    trial = await rec.started_by_now(trial_workflow_id(opportunity_id))
    await complete_planning(trial)
    await settle(opp)
    return trial


async def with_security_review(rec: Recorder, opp: Handle, opportunity_id: str) -> Handle:
    await opp.execute_update(
        OpportunityWorkflow.receive_questionnaire, ReceiveQuestionnaire(AE, Role.AE)
    )
    review = await rec.started_by_now(security_review_workflow_id(opportunity_id))
    await settle(opp)
    return review


async def opportunities(rec: Recorder) -> None:
    # Discovery, then a trial, then a security review; closed lost while both run.
    lost = await start_opportunity(rec, "006HLOST")
    await lost.execute_update(
        OpportunityWorkflow.complete_step, CompleteStep("discovery_call", CE, Role.CE)
    )
    await settle(lost)
    await rec.save(lost, "discovery")
    await lost.execute_update(
        OpportunityWorkflow.advance_stage, AdvanceStage(Stage.QUALIFICATION, AE, Role.AE)
    )
    trial = await with_trial(rec, lost, "006HLOST")
    await rec.save(lost, "trial-running")
    review = await with_security_review(rec, lost, "006HLOST")
    await rec.save(lost, "security-review-running")
    await lost.execute_update(
        OpportunityWorkflow.close, CloseOpportunity(False, AE, Role.AE, "went with a competitor")
    )
    await settle(lost)
    await rec.save(lost, "closed-lost-children-running")
    # The children go on reminding after the close (issue 11): what they did is recorded.
    await rec.sleep(16 * DAY, trial, review)
    await rec.save(trial, "after-parent-closed-lost")
    await rec.save(review, "after-parent-closed-lost")

    # Abandoned with its trial and security review running.
    abandoned = await start_opportunity(rec, "006HABANDON", Stage.QUALIFICATION)
    await with_trial(rec, abandoned, "006HABANDON")
    await with_security_review(rec, abandoned, "006HABANDON")
    await abandoned.execute_update(
        OpportunityWorkflow.abandon, AbandonOpportunity(AE, Role.AE, "customer went quiet")
    )
    await settle(abandoned)
    await rec.save(abandoned, "abandoned-children-running")

    await closed_won(rec)


async def closed_won(rec: Recorder) -> None:
    """Trial won and ended, security review answered, TDD complete, Closed Won, handed off;
    the account it started waits for its kickoff plan, reminding the CE."""
    won = await start_opportunity(rec, "006HWON", Stage.QUALIFICATION)
    trial = await with_trial(rec, won, "006HWON")
    await set_technical_win(trial, TechnicalWinStatus.WON)
    review = await with_security_review(rec, won, "006HWON")
    security_ce = rec.settings.security_roster.us_east_emea
    await security_step(review, "grant_access", AE)
    await security_step(review, "ce_first_pass", CE)
    await security_step(review, "security_ce_review", security_ce)
    await security_step(review, "answers_returned", AE)
    await rec.save(review, "answered-for-opportunity")
    await rec.sleep(31 * DAY, trial, won)
    await rec.save(trial, "ended-for-opportunity")
    for part in TddPart:
        await won.execute_update(
            OpportunityWorkflow.complete_tdd_part, CompleteTddPart(part, CE, Role.CE)
        )
    await won.execute_update(
        OpportunityWorkflow.advance_stage, AdvanceStage(Stage.NEGOTIATION, AE, Role.AE)
    )
    await won.execute_update(OpportunityWorkflow.close, CloseOpportunity(True, AE, Role.AE))
    await settle(won)
    await rec.save(won, "closed-won-handed-off")

    account = await rec.started_by_now("account-001GLOBEX")
    await rec.save(account, "handed-off")
    # The kickoff plan is due 14 days in: reminded on days 15 and 17.
    await rec.sleep(17 * DAY + HOUR, account)
    await rec.save(account, "kickoff-plan-overdue-reminded")
