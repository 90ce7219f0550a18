"""OpportunityWorkflow on the time-skipping server: the whole pre-sales journey."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from dealcycle.db.engine import make_engine
from dealcycle.db.models import TrialOutcome
from schemas.account import AccountState, account_workflow_id
from schemas.common import DeploymentType, Region, Role, TechnicalWinStatus
from schemas.opportunity import (
    AdvanceStage,
    CloseOpportunity,
    CompleteTddPart,
    LinkTdd,
    OpportunityInput,
    OpportunityKind,
    OpportunityStart,
    OpportunityState,
    OpportunityStatus,
    ReceiveQuestionnaire,
    RecordDealReview,
    ReopenOpportunity,
    Stage,
    StartOpportunityTrial,
    TddPart,
    opportunity_workflow_id,
)
from schemas.security_review import CompleteSecurityStep, EscalateToSecurityPM
from schemas.trial import (
    TRIAL_PLANNING_ITEMS,
    CompleteStep,
    ExtendTrial,
    SetTechnicalWin,
    TrialPhase,
)
from starter.trials import CommandError, act
from workflows.account import AccountWorkflow
from workflows.opportunity import OpportunityWorkflow
from workflows.security_review import SecurityReviewWorkflow
from workflows.trial import TrialWorkflow

CE, AE = "U0CE00003", "U0AE00003"
CHANNEL = "#dealcycle-trials"
DAY = timedelta(days=1)


async def start_opportunity(
    harness: Any, salesforce_fake: Any, opportunity_id: str, **overrides: Any
) -> Any:
    salesforce_fake.add_record(
        "Opportunity", {"Id": opportunity_id, "Name": f"Globex {opportunity_id}"}
    )
    fields: dict[str, Any] = {
        "opportunity_id": opportunity_id,
        "account_id": "001GLOBEX",
        "account_name": "Globex",
        "ae_owner": AE,
        "ce_owner": CE,
        "region": Region.US_EAST_EMEA,
        "deployment_type": DeploymentType.SELF_HOSTED,
        "tier": 1,
        "kind": OpportunityKind.NEW,
        "complex_engagement": True,
        "roster": harness.settings.security_roster,
        "seats": 120,
        "durations": harness.settings.durations,
        "announce_channel": CHANNEL,
    }
    fields.update(overrides)
    handle = await harness.client.start_workflow(
        OpportunityWorkflow.run,
        OpportunityInput(start=OpportunityStart(**fields)),
        id=opportunity_workflow_id(opportunity_id),
        task_queue=harness.task_queue,
    )
    return harness.track(handle)


async def eventually(check: Any, within: float = 10.0) -> Any:
    """Poll ``check`` (an async callable) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.1)


async def opportunity_state(handle: WorkflowHandle[Any, Any]) -> OpportunityState:
    return await handle.query(OpportunityWorkflow.state)


async def effects_done(handle: WorkflowHandle[Any, Any]) -> OpportunityState:
    """The state once no effect is pending (the stage sync runs beside the main loop)."""

    async def quiet() -> OpportunityState | None:
        view = await opportunity_state(handle)
        return view if all(e.state != "pending" for e in view.effects) else None

    found: OpportunityState = await eventually(quiet)
    return found


async def test_the_whole_journey_from_discovery_to_hand_off(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        opp = await start_opportunity(harness, salesforce_fake, "006JOURNEY")
        roster = harness.settings.security_roster
        for step in ("discovery_call", "tailored_demo"):
            await opp.execute_update(
                OpportunityWorkflow.complete_step, CompleteStep(step, CE, Role.CE)
            )
        await opp.execute_update(
            OpportunityWorkflow.advance_stage, AdvanceStage(Stage.QUALIFICATION, AE, Role.AE)
        )
        with pytest.raises(WorkflowUpdateFailedError) as gate:
            await opp.execute_update(
                OpportunityWorkflow.advance_stage, AdvanceStage(Stage.SOLUTION, AE, Role.AE)
            )
        assert isinstance(gate.value.cause, ApplicationError)
        assert "needs a Technical Design Document linked" in gate.value.cause.message
        await opp.execute_update(
            OpportunityWorkflow.link_tdd, LinkTdd("https://docs/tdd/globex", CE, Role.CE)
        )
        for stage in (Stage.SOLUTION, Stage.VALIDATION):
            await opp.execute_update(
                OpportunityWorkflow.advance_stage, AdvanceStage(stage, AE, Role.AE)
            )

        # A complex engagement: the deal review comes before the trial.
        await opp.execute_update(
            OpportunityWorkflow.record_deal_review,
            RecordDealReview(CE, Role.CE, "SSO, 5k repos: feasible"),
        )
        await opp.execute_update(
            OpportunityWorkflow.start_trial, StartOpportunityTrial(CE, Role.CE)
        )
        trial = harness.client.get_workflow_handle_for(TrialWorkflow.run, "trial-006JOURNEY")
        await eventually(lambda: _exists(trial))
        for item in TRIAL_PLANNING_ITEMS:
            await trial.execute_update(
                TrialWorkflow.complete_step,
                CompleteStep(item.key, CE if item.lead is Role.CE else AE, item.lead),
            )
        await trial.execute_update(
            TrialWorkflow.set_technical_win,
            SetTechnicalWin(TechnicalWinStatus.AT_RISK, CE, "scale doubts"),
        )
        # The child trial tells its parent by signal: its technical win and its phase.
        seen = await eventually(lambda: _win_is(opp, TechnicalWinStatus.AT_RISK))
        assert seen.technical_win is TechnicalWinStatus.AT_RISK
        await eventually(lambda: _phase_is(opp, "running"))

        # Security review with a Security PM escalation.
        await opp.execute_update(
            OpportunityWorkflow.receive_questionnaire, ReceiveQuestionnaire(AE, Role.AE)
        )
        review = harness.client.get_workflow_handle_for(
            SecurityReviewWorkflow.run, "security-review-006JOURNEY"
        )
        await eventually(lambda: _exists(review))
        await review.execute_update(
            SecurityReviewWorkflow.complete_step, CompleteSecurityStep("grant_access", AE)
        )
        # The deployment type came with the opportunity, so that step is done already.
        await review.execute_update(
            SecurityReviewWorkflow.complete_step, CompleteSecurityStep("ce_first_pass", CE)
        )
        await review.execute_update(
            SecurityReviewWorkflow.escalate_to_security_pm,
            EscalateToSecurityPM(CE, "data residency questions"),
        )
        await review.execute_update(
            SecurityReviewWorkflow.complete_step,
            CompleteSecurityStep("security_ce_review", roster.us_east_emea),
        )
        await review.execute_update(
            SecurityReviewWorkflow.complete_step,
            CompleteSecurityStep("security_pm_review", roster.security_pm),
        )
        await review.execute_update(
            SecurityReviewWorkflow.complete_step, CompleteSecurityStep("answers_returned", AE)
        )
        await review.result()
        await eventually(lambda: _answered(opp))

        # The trial is extended, then won; the technical win is the opportunity's.
        await harness.env.sleep(20 * DAY)
        await trial.execute_update(
            TrialWorkflow.extend_trial, ExtendTrial(14, "security review", AE, Role.AE)
        )
        await trial.execute_update(
            TrialWorkflow.set_technical_win, SetTechnicalWin(TechnicalWinStatus.WON, CE)
        )
        # Skip past the moved end first: on the Java test server, waiting on a child's result
        # from the client does not always skip time (it ends "no completion event found").
        await harness.env.sleep(30 * DAY)
        trial_result = await trial.result()
        assert trial_result.technical_win is TechnicalWinStatus.WON
        assert len(trial_result.license_key_ids) == 2
        final_trial = await eventually(lambda: _trial_ended(opp))
        assert final_trial.technical_win is TechnicalWinStatus.WON

        # TDD complete, Closed Won, hand-off to the account's workflow.
        with pytest.raises(WorkflowUpdateFailedError) as not_yet:
            await opp.execute_update(OpportunityWorkflow.close, CloseOpportunity(True, AE, Role.AE))
        assert "trial_design and production_design complete" in str(not_yet.value.cause)
        for part in TddPart:
            await opp.execute_update(
                OpportunityWorkflow.complete_tdd_part, CompleteTddPart(part, CE, Role.CE)
            )
        await opp.execute_update(
            OpportunityWorkflow.advance_stage, AdvanceStage(Stage.NEGOTIATION, AE, Role.AE)
        )
        await opp.execute_update(OpportunityWorkflow.close, CloseOpportunity(True, AE, Role.AE))
        result = await opp.result()
        assert (result.status, result.stage, result.technical_win) == (
            OpportunityStatus.WON,
            Stage.CLOSED_WON,
            TechnicalWinStatus.WON,
        )

        account = harness.client.get_workflow_handle_for(
            AccountWorkflow.run, account_workflow_id("001GLOBEX")
        )
        harness.track(account)
        account_state: AccountState = await account.query(AccountWorkflow.state)
        assert [(h.opportunity_id, h.seats, h.tier) for h in account_state.hand_offs] == [
            ("006JOURNEY", 120, 1)
        ]

        # Salesforce saw every stage in order; Slack heard the security due dates and the close.
        stages = [
            call.json["StageName"]
            for call in salesforce_fake.calls
            if call.method == "PATCH"
            and call.status < 300
            and call.json
            and "StageName" in call.json
        ]
        # Salesforce mirrors the current stage: stages passed between two syncs may be skipped,
        # but the writes go forward only and end at Closed Won.
        ranks = [Stage(stage).rank for stage in stages]
        assert ranks == sorted(set(ranks)) and stages[-1] == "Closed Won"
        assert salesforce_fake.get_record("Opportunity", "006JOURNEY")["StageName"] == "Closed Won"
        channel = [message.text for message in slack_fake.messages_in(CHANNEL)]
        assert channel[-1] == "Globex (006JOURNEY) is Closed Won. Technical win: Won."
        assert any(roster.security_pm in text and "due" in text.lower() for text in channel)
        engine = make_engine(harness.settings.database_url)
        with Session(engine) as session:
            outcome = session.get(TrialOutcome, "006JOURNEY")
        assert outcome is not None and (outcome.outcome, outcome.technical_win) == (
            "technical_win",
            "won",
        )
        history = await opportunity_state(opp)
        assert [entry.actor for entry in history.audit][:3] == [CE, CE, AE]


async def _exists(handle: WorkflowHandle[Any, Any]) -> bool:
    try:
        await handle.describe()
    except Exception:
        return False
    return True


async def _win_is(
    handle: WorkflowHandle[Any, Any], status: TechnicalWinStatus
) -> OpportunityState | None:
    state = await opportunity_state(handle)
    return state if state.technical_win is status else None


async def _phase_is(handle: WorkflowHandle[Any, Any], phase: str) -> bool:
    return (await opportunity_state(handle)).trial_phase == phase


async def _answered(handle: WorkflowHandle[Any, Any]) -> bool:
    return (await opportunity_state(handle)).security_review_answered


async def _trial_ended(handle: WorkflowHandle[Any, Any]) -> OpportunityState | None:
    state = await opportunity_state(handle)
    return state if state.trial_phase == TrialPhase.ENDED.value else None


@pytest.mark.parametrize(
    ("update", "request_", "message"),
    [
        (
            "advance_stage",
            AdvanceStage(Stage.DISCOVERY, AE, Role.AE),
            "cannot move back from Stage 2",
        ),
        (
            "advance_stage",
            AdvanceStage(Stage.SOLUTION, AE, Role.AE),
            "needs a Technical Design Document",
        ),
        ("advance_stage", AdvanceStage(Stage.SOLUTION, CE, Role.AE), "U0CE00003 is not the AE"),
        ("start_trial", StartOpportunityTrial(CE, Role.CE), "needs a Technical Design Document"),
        ("close", CloseOpportunity(True, AE, Role.AE), "cannot close it won"),
    ],
)
async def test_bad_opportunity_actions_are_rejected_and_change_nothing(
    harness_factory: Any, salesforce_fake: Any, update: str, request_: object, message: str
) -> None:
    async with harness_factory() as harness:
        opp = await start_opportunity(
            harness, salesforce_fake, "006GATES", stage=Stage.QUALIFICATION
        )
        before = await effects_done(opp)
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await opp.execute_update(update, request_)
        assert isinstance(rejected.value.cause, ApplicationError)
        assert message in rejected.value.cause.message
        assert await opportunity_state(opp) == before


async def test_an_unknown_opportunity_is_named(harness_factory: Any) -> None:
    async with harness_factory() as harness:
        with pytest.raises(CommandError, match="there is no workflow 'opportunity-NOPE'"):
            await act(
                harness.client,
                "opportunity-NOPE",
                "advance_stage",
                AdvanceStage(Stage.SOLUTION, AE, Role.AE),
            )


async def test_a_lost_deal_reopened_no_longer_shows_its_lost_reason_in_salesforce(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        opp = await start_opportunity(harness, salesforce_fake, "006RELOST")
        await opp.execute_update(
            OpportunityWorkflow.close, CloseOpportunity(False, AE, Role.AE, "budget cut")
        )
        await effects_done(opp)
        lost = salesforce_fake.get_record("Opportunity", "006RELOST")
        assert (lost["StageName"], lost["Closed_Lost_Reason__c"]) == ("Closed Lost", "budget cut")

        await opp.execute_update(
            OpportunityWorkflow.reopen, ReopenOpportunity(AE, Role.AE, "budget is back")
        )
        await effects_done(opp)
        reopened = salesforce_fake.get_record("Opportunity", "006RELOST")
        assert reopened["StageName"] == "Stage 1 - Discovery"
        assert reopened["Closed_Lost_Reason__c"] is None
