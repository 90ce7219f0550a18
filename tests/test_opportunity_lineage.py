"""An opportunity and its children end together (time-skipping server): the opportunity adopts
a trial already running for its deal or refuses one that ended, awaits its children (a failed
child is a failed effect), and concludes the trial and the security review when it closes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer

from schemas.common import Role, TechnicalWinStatus
from schemas.effects import RetryEffect, SkipEffect
from schemas.opportunity import (
    AbandonOpportunity,
    ChildLinkKind,
    CloseOpportunity,
    CompleteTddPart,
    ConcludedByOpportunity,
    LinkTdd,
    OpportunityEnd,
    OpportunityState,
    ReceiveQuestionnaire,
    RecordDealReview,
    StartOpportunityTrial,
    TddPart,
)
from schemas.security_review import SecurityReviewPhase
from schemas.trial import (
    TRIAL_PLANNING_ITEMS,
    CompleteStep,
    ConcludeTrial,
    SetTechnicalWin,
    StartTrialOverride,
    TrialInput,
    TrialPhase,
    TrialStart,
    trial_workflow_id,
)
from starter.effects import render_effects
from starter.opportunities import render_opportunity_status, start_opportunity_trial
from starter.trials import CommandError, act
from tests.support.codec import TEST_DATA_CONVERTER
from tests.support.patience import settle
from tests.test_opportunity_workflow import AE, CE, eventually, start_opportunity
from workflows.opportunity import OpportunityWorkflow
from workflows.security_review import SecurityReviewWorkflow
from workflows.trial import TrialWorkflow

DAY = timedelta(days=1)


async def ready_for_a_trial(harness: Any, salesforce_fake: Any, opportunity_id: str) -> Any:
    """An opportunity whose gates let a trial start (TDD linked, deal review recorded)."""
    opp = await start_opportunity(harness, salesforce_fake, opportunity_id)
    await opp.execute_update(
        OpportunityWorkflow.link_tdd, LinkTdd(f"https://docs/tdd/{opportunity_id}", CE, Role.CE)
    )
    await opp.execute_update(
        OpportunityWorkflow.record_deal_review, RecordDealReview(CE, Role.CE, "feasible")
    )
    return opp


async def start_trial_on_its_own(
    harness: Any, salesforce_fake: Any, opportunity_id: str, ce_owner: str = CE
) -> WorkflowHandle[Any, Any]:
    """What `dealcycle trial start` does: a TrialWorkflow with no parent."""
    salesforce_fake.add_record("Opportunity", {"Id": opportunity_id, "Name": "Globex"})
    handle = await harness.client.start_workflow(
        TrialWorkflow.run,
        TrialInput(
            start=TrialStart(
                opportunity_id=opportunity_id,
                account_id="001GLOBEX",
                account_name="Globex",
                ce_owner=ce_owner,
                ae_owner=AE,
                durations=harness.settings.durations,
                announce_channel="#dealcycle-trials",
            )
        ),
        id=trial_workflow_id(opportunity_id),
        task_queue=harness.task_queue,
    )
    return harness.track(handle)


async def view(handle: WorkflowHandle[Any, Any]) -> OpportunityState:
    return await handle.query(OpportunityWorkflow.state)


async def complete_planning(trial: WorkflowHandle[Any, Any]) -> None:
    for item in TRIAL_PLANNING_ITEMS:
        await trial.execute_update(
            TrialWorkflow.complete_step,
            CompleteStep(item.key, CE if item.lead is Role.CE else AE, item.lead),
        )


async def with_its_trial_planned(
    harness: Any, salesforce_fake: Any, opportunity_id: str
) -> tuple[Any, WorkflowHandle[Any, Any]]:
    """An opportunity that started its trial, whose planning is complete."""
    opp = await ready_for_a_trial(harness, salesforce_fake, opportunity_id)
    await opp.execute_update(OpportunityWorkflow.start_trial, StartOpportunityTrial(CE, Role.CE))
    trial = harness.client.get_workflow_handle_for(TrialWorkflow.run, f"trial-{opportunity_id}")
    await complete_planning(trial)
    return opp, trial


async def test_an_opportunity_adopts_the_trial_already_running_for_its_deal(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        trial = await start_trial_on_its_own(harness, salesforce_fake, "006ADOPT")
        await trial.execute_update(
            TrialWorkflow.set_technical_win,
            SetTechnicalWin(TechnicalWinStatus.AT_RISK, CE, "scale doubts"),
        )
        opp = await ready_for_a_trial(harness, salesforce_fake, "006ADOPT")

        answer = await start_opportunity_trial(
            harness.client, opp.id, StartOpportunityTrial(CE, Role.CE)
        )

        assert answer.startswith("adopted the running trial trial-006ADOPT")
        assert "differ" not in answer  # the same CE and AE: nothing to say
        # The trial tells its adopter what a child tells its parent: the win it had, its phase.
        adopted = await eventually(
            lambda: _state_where(opp, lambda v: v.technical_win is TechnicalWinStatus.AT_RISK)
        )
        assert adopted.trial_link is not None
        assert (adopted.trial_link.how, adopted.trial_workflow_id, adopted.trial_phase) == (
            ChildLinkKind.ADOPTED,
            "trial-006ADOPT",
            "planning",
        )
        await complete_planning(trial)
        await eventually(lambda: _state_where(opp, lambda v: v.trial_phase == "running"))
        assert (await opp.describe()).status == WorkflowExecutionStatus.RUNNING
        assert [entry.action for entry in adopted.audit][-1].startswith("adopted the running")
        with pytest.raises(CommandError, match="a trial was already started"):
            await act(
                harness.client,
                opp.id,
                "start_trial",
                StartOpportunityTrial(CE, Role.CE),
                ("OpportunityWorkflow",),
            )


async def test_adopting_a_trial_of_other_owners_says_who_they_are_and_changes_none(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    other_ce = "U0CE00001"
    async with harness_factory() as harness:
        trial = await start_trial_on_its_own(harness, salesforce_fake, "006OWNERS", other_ce)
        opp = await ready_for_a_trial(harness, salesforce_fake, "006OWNERS")

        answer = await start_opportunity_trial(
            harness.client, opp.id, StartOpportunityTrial(CE, Role.CE)
        )

        adopted, owners = answer.split("\n")
        assert adopted.startswith("adopted the running trial trial-006OWNERS")
        assert owners == (
            "its owners differ from this opportunity's: the trial's CE is U0CE00001, this"
            " opportunity's CE is U0CE00003. The trial's steps stay with its owners; nothing"
            " was reassigned."
        )
        trial_state = await trial.query(TrialWorkflow.state)
        assert trial_state.ce_owner == other_ce
        assert {step.owner for step in trial_state.steps} == {other_ce, AE}


async def test_adopting_a_trial_says_the_length_asked_for_was_not_applied(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        trial = await start_trial_on_its_own(harness, salesforce_fake, "006LENGTH")
        opp = await ready_for_a_trial(harness, salesforce_fake, "006LENGTH")

        answer = await start_opportunity_trial(
            harness.client, opp.id, StartOpportunityTrial(CE, Role.CE, length_days=20)
        )

        adopted, length = answer.split("\n")
        assert adopted.startswith("adopted the running trial trial-006LENGTH")
        assert length == (
            "--length-days 20 was not applied: an adopted trial keeps the length it was started"
            " with; `dealcycle trial extend trial-006LENGTH` moves its end once it runs."
        )
        assert (await trial.query(TrialWorkflow.state)).ends_at is None


async def test_the_opportunitys_status_shows_its_trials_failed_effects(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """`dealcycle status opportunity-…` shows the trial's steps: a write the trial could not
    make is shown there too, with how to retry it, not only by `effects list`."""
    async with harness_factory() as harness:
        opp = await ready_for_a_trial(harness, salesforce_fake, "006KIDFAIL")
        await start_opportunity_trial(harness.client, opp.id, StartOpportunityTrial(CE, Role.CE))
        trial = harness.client.get_workflow_handle(trial_workflow_id("006KIDFAIL"))
        slack_fake.archive_channel("#dealcycle-trials")
        await trial.execute_update(
            TrialWorkflow.start_with_override, StartTrialOverride(CE, Role.CE, "customer ready")
        )

        async def failed() -> bool:
            view = await trial.query(TrialWorkflow.effects)
            return any(e.name == "trial-started" and e.state == "failed" for e in view.effects)

        await eventually(failed)
        shown = await render_opportunity_status(harness.client, opp.id, "http://ui", "default")
    trial_part = shown[shown.index("trial-006KIDFAIL  TrialWorkflow") :]
    assert "Failed effects (1), needs attention:" in trial_part
    assert "why: SlackPostRejected: is_archived" in trial_part
    assert "dealcycle effects retry trial-006KIDFAIL trial-started" in trial_part


async def test_a_trial_that_already_ended_is_refused_by_name_and_changes_nothing(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        trial = await start_trial_on_its_own(harness, salesforce_fake, "006ENDED")
        await trial.execute_update(
            TrialWorkflow.start_with_override, StartTrialOverride(CE, Role.CE, "pilot first")
        )
        await trial.execute_update(
            TrialWorkflow.conclude_trial, ConcludeTrial(CE, Role.CE, "customer decided")
        )
        await trial.result()
        opp = await ready_for_a_trial(harness, salesforce_fake, "006ENDED")

        for _ in range(2):  # the workflow finds it out, then the validator knows it
            with pytest.raises(CommandError) as refused:
                await act(
                    harness.client,
                    opp.id,
                    "start_trial",
                    StartOpportunityTrial(CE, Role.CE),
                    ("OpportunityWorkflow",),
                )
            assert "the trial trial-006ENDED of this deal has already ended" in str(refused.value)

        state = await view(opp)
        assert (state.trial_workflow_id, state.trial_phase, state.technical_win) == (
            None,
            None,
            TechnicalWinStatus.NOT_STARTED,
        )
        assert not any("trial" in entry.action for entry in state.audit)
        assert (await opp.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_a_cancelled_trial_is_a_failed_effect_and_a_retry_starts_it_again(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        opp = await ready_for_a_trial(harness, salesforce_fake, "006FAILS")
        answer = await opp.execute_update(
            OpportunityWorkflow.start_trial, StartOpportunityTrial(CE, Role.CE)
        )
        assert answer.message == "started the trial trial-006FAILS"
        trial = harness.client.get_workflow_handle("trial-006FAILS")
        first_run = (await trial.describe()).run_id
        # Cancelled, not terminated: the Java test server does not tell a parent that its child
        # was terminated (sdk-java#2921); a real server does, and it is the same failure here.
        # Cancelled once the trial is quiet: a cancel that arrives while the trial awaits its
        # signal to the opportunity is absorbed by the SDK (1.35) when the signal completes.
        await settle(trial)
        await trial.cancel()

        failed = await eventually(lambda: _state_where(opp, lambda v: v.trial_phase == "failed"))
        [effect] = [e for e in failed.effects if e.name == "child/trial"]
        assert effect.state == "failed"
        assert "trial-006FAILS" in effect.cause and "ancel" in effect.cause
        assert failed.trial_link is not None and "ancel" in failed.trial_link.failed
        effects = await opp.query(OpportunityWorkflow.effects)
        assert effects.needs_attention

        await opp.execute_update(
            OpportunityWorkflow.retry_effect, RetryEffect("child/trial", "U0OPS0001")
        )
        again = await eventually(lambda: _state_where(opp, lambda v: v.trial_phase == "planning"))
        assert again.trial_link is not None and again.trial_link.failed == ""
        description = await trial.describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        assert description.run_id != first_run
        assert not (await opp.query(OpportunityWorkflow.effects)).needs_attention


async def test_a_failed_trial_of_a_closed_opportunity_is_not_started_again_by_a_retry(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    """Closed lost, the deal needs no trial: a retry would start one, and its reminders."""
    async with harness_factory() as harness:
        opp = await ready_for_a_trial(harness, salesforce_fake, "006DEADKID")
        await opp.execute_update(
            OpportunityWorkflow.start_trial, StartOpportunityTrial(CE, Role.CE)
        )
        trial = harness.client.get_workflow_handle("trial-006DEADKID")
        await settle(trial)
        await trial.cancel()  # as above: the test server does not report a termination
        await eventually(lambda: _state_where(opp, lambda v: v.trial_phase == "failed"))
        await opp.execute_update(
            OpportunityWorkflow.close, CloseOpportunity(False, AE, Role.AE, "no budget")
        )

        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await opp.execute_update(
                OpportunityWorkflow.retry_effect, RetryEffect("child/trial", "U0OPS0001")
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.message == (
            "the opportunity is closed (Closed Lost): it needs its trial no more, and a retry"
            " would start it again; skip it instead: dealcycle effects skip"
            " opportunity-006DEADKID child/trial --reason … --by U…"
        )
        assert (await trial.describe()).status == WorkflowExecutionStatus.CANCELED
        # The effects view says so before anyone tries: `status` suggests the skip.
        view = await opp.query(OpportunityWorkflow.effects)
        [child] = [effect for effect in view.effects if effect.name == "child/trial"]
        assert child.retry_refused.startswith("the opportunity is closed (Closed Lost)")
        shown = render_effects(view)
        assert f"skip it: dealcycle effects skip {opp.id} child/trial --reason" in shown
        assert "effects retry" not in shown
        await opp.execute_update(
            OpportunityWorkflow.skip_effect, SkipEffect("child/trial", "deal lost", "U0OPS0001")
        )
        assert not (await opp.query(OpportunityWorkflow.effects)).needs_attention
        # Its status says so, not to look in `effects list`, which names it no more.
        shown = await render_opportunity_status(harness.client, opp.id, "http://ui", "default")
    [trial_line] = [line for line in shown.splitlines() if line.startswith("Trial ")]
    assert "; given up by U0OPS0001: deal lost" in trial_line
    assert "effects list" not in trial_line


async def test_closing_lost_concludes_the_trial_and_the_security_review_with_the_reason(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        opp, trial = await with_its_trial_planned(harness, salesforce_fake, "006LOST")
        answer = await opp.execute_update(
            OpportunityWorkflow.receive_questionnaire, ReceiveQuestionnaire(AE, Role.AE)
        )
        assert answer.message.endswith("started the security review security-review-006LOST")
        review = harness.client.get_workflow_handle_for(
            SecurityReviewWorkflow.run, "security-review-006LOST"
        )
        # Let both run long enough to remind: the planning is done, the review's steps are late.
        await harness.env.sleep(3 * DAY)
        await eventually(lambda: _state_where(opp, lambda v: v.trial_phase == "running"))
        before_close = len(slack_fake.messages)
        assert any("Overdue" in m.text for m in slack_fake.messages)

        await opp.execute_update(
            OpportunityWorkflow.close,
            CloseOpportunity(False, AE, Role.AE, "went with a competitor"),
        )
        trial_result = await trial.result()
        review_result = await review.result()
        # Weeks pass: the trial's end, its check-in and the review's reminders would all be due.
        await harness.env.sleep(40 * DAY)

        reason = "the opportunity was closed lost: went with a competitor"
        assert trial_result.conclusion_reason == reason
        assert review_result.conclusion_reason == reason and review_result.answered_at is None
        trial_state = await trial.query(TrialWorkflow.state)
        assert (trial_state.phase, trial_state.concluded_by, trial_state.conclusion_reason) == (
            TrialPhase.ENDED,
            "opportunity-006LOST",
            reason,
        )
        review_state = await review.query(SecurityReviewWorkflow.state)
        assert review_state.phase is SecurityReviewPhase.CONCLUDED
        assert review_state.conclusion_reason == reason
        # After the close, only the opportunity's own announcement was posted.
        after = [m.text for m in slack_fake.messages[before_close:]]
        assert after == [
            "Globex (006LOST) is Closed Lost: went with a competitor. Technical win: In progress."
        ]
        state = await view(opp)
        assert state.trial_link is not None and state.security_review_link is not None
        assert (
            state.trial_link.concluded == reason and state.security_review_link.concluded == reason
        )
        assert state.trial_phase == "ended"  # the awaited result, not a stale phase
        assert not state.security_review_answered

        # Exactly once, across a worker restart too: the histories replay as they are (a
        # restarted worker rebuilds the state from them and issues nothing new).
        histories = [await handle.fetch_history() for handle in (opp, trial, review)]
        replayer = Replayer(
            workflows=[OpportunityWorkflow, TrialWorkflow, SecurityReviewWorkflow],
            data_converter=TEST_DATA_CONVERTER,
        )
        for history in histories:
            await replayer.replay_workflow(history)
        conclusions = [
            event
            for event in histories[0].events
            if event.HasField("signal_external_workflow_execution_initiated_event_attributes")
            and event.signal_external_workflow_execution_initiated_event_attributes.signal_name
            == "concluded_by_opportunity"
        ]
        assert len(conclusions) == 2


async def test_closing_won_keeps_the_technical_win_the_opportunity_showed(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """Nobody set a technical win in the trial: the opportunity said in progress while it ran,
    and still says so once the close has ended the trial (whose result says not started)."""
    async with harness_factory() as harness:
        opp, trial = await with_its_trial_planned(harness, salesforce_fake, "006KEEP")
        await eventually(lambda: _state_where(opp, lambda v: v.trial_phase == "running"))
        for part in TddPart:
            await opp.execute_update(
                OpportunityWorkflow.complete_tdd_part, CompleteTddPart(part, CE, Role.CE)
            )
        assert (await view(opp)).technical_win is TechnicalWinStatus.IN_PROGRESS

        await opp.execute_update(OpportunityWorkflow.close, CloseOpportunity(True, AE, Role.AE))
        trial_result = await trial.result()
        result = await opp.result()

        assert trial_result.technical_win is TechnicalWinStatus.NOT_STARTED
        assert result.technical_win is TechnicalWinStatus.IN_PROGRESS
        state = await view(opp)
        assert (state.trial_phase, state.technical_win) == (
            "ended",
            TechnicalWinStatus.IN_PROGRESS,
        )
        announced = [m.text for m in slack_fake.messages if "is Closed Won" in m.text]
        assert announced == ["Globex (006KEEP) is Closed Won. Technical win: In progress."]
        # Salesforce is told the trial's outcome, not a technical win nobody set in it.
        record = salesforce_fake.get_record("Opportunity", "006KEEP")
        assert record["Trial_Outcome__c"] == trial_result.outcome.value
        assert record.get("Technical_Win_Status__c") is None


async def test_abandoning_concludes_an_adopted_trial_and_a_standalone_trial_is_left_alone(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        adopted = await start_trial_on_its_own(harness, salesforce_fake, "006ABANDON")
        alone = await start_trial_on_its_own(harness, salesforce_fake, "006ALONE")
        opp = await ready_for_a_trial(harness, salesforce_fake, "006ABANDON")
        await opp.execute_update(
            OpportunityWorkflow.start_trial, StartOpportunityTrial(CE, Role.CE)
        )
        await opp.execute_update(
            OpportunityWorkflow.abandon, AbandonOpportunity(AE, Role.AE, "budget frozen")
        )

        result = await adopted.result()
        assert result.conclusion_reason == "the opportunity was abandoned: budget frozen"
        ended = await eventually(lambda: _state_where(opp, lambda v: v.trial_phase == "ended"))
        assert ended.trial_link is not None and ended.trial_link.ended
        # A conclusion from another deal's opportunity changes nothing.
        await alone.signal(
            TrialWorkflow.concluded_by_opportunity,
            ConcludedByOpportunity("opportunity-006ABANDON", OpportunityEnd.LOST, "not yours"),
        )
        assert (await alone.query(TrialWorkflow.state)).phase is TrialPhase.PLANNING


async def _state_where(handle: WorkflowHandle[Any, Any], wanted: Any) -> OpportunityState | None:
    state = await view(handle)
    return state if wanted(state) else None
