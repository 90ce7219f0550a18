"""``OpportunityWorkflow``: one opportunity from discovery to close.

Same shape as the trial: update handlers change state through ``opportunity_rules``; the main
loop does what is owed (sync the stage to Salesforce, start the child trial or security
review, hand a won deal to the account's workflow, announce) with idempotency keys.
Children report back by signal (the trial's technical win) or by their result.

How the trial and the security review are started, adopted (one already running for the deal),
refused, awaited and concluded with the opportunity: see ``opportunity_children``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from schemas import limits, start_summaries
    from schemas import search_attributes as sa
    from schemas.account import AccountHandOff, HandOffRequest, HandOffResult
    from schemas.effects import Effect, EffectKind, SalesforceFieldUpdate, SlackPost
    from schemas.errors import RuleViolation
    from schemas.opportunity import (
        AbandonOpportunity,
        AdvanceStage,
        CloseOpportunity,
        CompleteTddPart,
        LinkTdd,
        OpportunityAccepted,
        OpportunityInput,
        OpportunityResult,
        OpportunitySnapshot,
        OpportunityState,
        OpportunityStatus,
        ReceiveQuestionnaire,
        RecordDealReview,
        ReopenOpportunity,
        SecurityReviewEnded,
        Stage,
        StartOpportunityTrial,
        TechnicalWinChanged,
        TrialPhaseChanged,
    )
    from schemas.security_review import (
        SecurityReviewInput,
        SecurityReviewResult,
        security_review_workflow_id,
    )
    from schemas.trial import (
        TRIAL_WORKFLOW_TYPE,
        CompleteStep,
        TrialInput,
        TrialPhase,
        TrialResult,
        trial_workflow_id,
    )
    from workflows import effects
    from workflows import opportunity_rules as rules
    from workflows.mrkdwn import escape
    from workflows.opportunity_children import (
        OpportunityChildren,
        children_patched,
        security_review_start_of,
        trial_start_of,
    )
    from workflows.owed_work import OwedWork, OwedWorkHandlers
    from workflows.signals import accepted
    from workflows.visibility import (
        history_is_long,
        publish_current_details,
        publish_search_attributes,
    )

# A lost or abandoned opportunity may be reopened for this many business days, then it ends.
REOPEN_WINDOW_DAYS = 90


def _handed_off(result: HandOffResult | None) -> None:
    if result is not None:
        workflow.logger.info("handed off to %s", result.workflow_id)


@workflow.defn(name="OpportunityWorkflow")
class OpportunityWorkflow(OwedWorkHandlers):
    @workflow.init
    def __init__(self, input: OpportunityInput) -> None:
        info = workflow.info()
        # Raised here, a violation would fail the workflow task for ever: run raises it.
        self._invalid: RuleViolation | None = None
        self._changed = False
        self._published: dict[str, str] = {}
        self._children: set[asyncio.Task[Any]] = set()
        self._reopen_window_over = False
        if input.carried is not None:
            self._s: OpportunitySnapshot = input.carried
        elif input.start is None:
            self._invalid = RuleViolation("OpportunityInput needs start or carried")
        else:
            try:
                self._s = rules.new_snapshot(
                    input.start,
                    workflow.now(),
                    f"{info.workflow_id}/{info.first_execution_run_id}",
                )
            except RuleViolation as err:
                self._invalid = err
        # An opportunity that did not start owes nothing: its book is empty and never kept.
        if self._invalid is None:
            self._kids = OpportunityChildren(self._s, self._mark_changed)
            self._fx = OwedWork(
                self._s.effects,
                self._s.effect_scope,
                self._mark_changed,
                run_child=self._kids.run_child,
                refuses_retry=self._refuses_retry,
            )
        else:
            self._fx = OwedWork([], info.workflow_id, self._mark_changed)

    def _mark_changed(self) -> None:
        self._changed = True

    def _refuses_retry(self, effect: Effect) -> str:
        """A closed or abandoned deal wants its failed trial or security review no more: a
        retry would start it again, and its announcements and reminders (reopened, it may)."""
        if effect.kind is not EffectKind.CHILD_WORKFLOW:
            return ""
        child = "trial" if effect.activity == TRIAL_WORKFLOW_TYPE else "security review"
        return rules.child_retry_refused(self._s, child)

    # --- Updates -----------------------------------------------------------------------------

    def _accepted(self, message: str) -> OpportunityAccepted:
        self._changed = True
        return OpportunityAccepted(message, self._s.stage, self._s.status)

    @workflow.update
    def advance_stage(self, request: AdvanceStage) -> OpportunityAccepted:
        return self._accepted(rules.apply_advance(self._s, request, workflow.now()))

    @advance_stage.validator
    def _validate_advance_stage(self, request: AdvanceStage) -> None:
        limits.check(request, workflow.now())
        rules.check_advance(self._s, request)

    @workflow.update
    def complete_step(self, request: CompleteStep) -> OpportunityAccepted:
        return self._accepted(rules.apply_complete_step(self._s, request, workflow.now()))

    @complete_step.validator
    def _validate_complete_step(self, request: CompleteStep) -> None:
        limits.check(request, workflow.now())
        rules.check_complete_step(self._s, request)

    @workflow.update
    def link_tdd(self, request: LinkTdd) -> OpportunityAccepted:
        return self._accepted(rules.apply_link_tdd(self._s, request, workflow.now()))

    @link_tdd.validator
    def _validate_link_tdd(self, request: LinkTdd) -> None:
        limits.check(request, workflow.now())
        rules.check_link_tdd_request(self._s, request)

    @workflow.update
    def complete_tdd_part(self, request: CompleteTddPart) -> OpportunityAccepted:
        return self._accepted(rules.apply_tdd_part(self._s, request, workflow.now()))

    @complete_tdd_part.validator
    def _validate_complete_tdd_part(self, request: CompleteTddPart) -> None:
        limits.check(request, workflow.now())
        rules.check_tdd_part(self._s, request)

    @workflow.update
    def record_deal_review(self, request: RecordDealReview) -> OpportunityAccepted:
        return self._accepted(rules.apply_deal_review(self._s, request, workflow.now()))

    @record_deal_review.validator
    def _validate_record_deal_review(self, request: RecordDealReview) -> None:
        limits.check(request, workflow.now())
        rules.check_deal_review(self._s, request)

    @workflow.update
    async def start_trial(self, request: StartOpportunityTrial) -> OpportunityAccepted:
        if not children_patched():
            return self._accepted(rules.apply_start_trial(self._s, request, workflow.now()))
        # The answer says what happened: wait for the main loop to start or adopt it.
        rules.request_trial(self._s, request)
        self._changed = True
        await workflow.wait_condition(self._kids.trial_decided)
        return self._accepted(
            rules.trial_linked(self._s, request.actor, workflow.now(), request.via)
        )

    @start_trial.validator
    def _validate_start_trial(self, request: StartOpportunityTrial) -> None:
        limits.check(request, workflow.now())
        rules.check_start_trial(self._s, request)

    @workflow.update
    async def receive_questionnaire(self, request: ReceiveQuestionnaire) -> OpportunityAccepted:
        if not children_patched():
            return self._accepted(rules.apply_questionnaire(self._s, request, workflow.now()))
        rules.request_security_review(self._s, request)
        self._changed = True
        await workflow.wait_condition(self._kids.security_review_decided)
        return self._accepted(
            rules.security_review_linked(self._s, request.actor, workflow.now(), request.via)
        )

    @receive_questionnaire.validator
    def _validate_receive_questionnaire(self, request: ReceiveQuestionnaire) -> None:
        limits.check(request, workflow.now())
        rules.check_questionnaire(self._s, request)

    @workflow.update
    def close(self, request: CloseOpportunity) -> OpportunityAccepted:
        return self._accepted(rules.apply_close(self._s, request, workflow.now()))

    @close.validator
    def _validate_close(self, request: CloseOpportunity) -> None:
        limits.check(request, workflow.now())
        rules.check_close(self._s, request)

    @workflow.update
    def abandon(self, request: AbandonOpportunity) -> OpportunityAccepted:
        return self._accepted(rules.apply_abandon(self._s, request, workflow.now()))

    @abandon.validator
    def _validate_abandon(self, request: AbandonOpportunity) -> None:
        limits.check(request, workflow.now())
        rules.check_abandon(self._s, request)

    @workflow.update
    def reopen(self, request: ReopenOpportunity) -> OpportunityAccepted:
        return self._accepted(rules.apply_reopen(self._s, request, workflow.now()))

    @reopen.validator
    def _validate_reopen(self, request: ReopenOpportunity) -> None:
        limits.check(request, workflow.now())
        rules.check_reopen(self._s, request)

    @workflow.signal
    def technical_win_changed(self, change: TechnicalWinChanged | None = None) -> None:
        checked = accepted("technical_win_changed", change, TechnicalWinChanged)
        if checked is None or self._invalid is not None:
            return
        self._s.technical_win = checked.status
        self._changed = True

    @workflow.signal
    def trial_phase_changed(self, change: TrialPhaseChanged | None = None) -> None:
        checked = accepted("trial_phase_changed", change, TrialPhaseChanged)
        if checked is None or self._invalid is not None:
            return
        if checked.phase not in {phase.value for phase in TrialPhase}:
            workflow.logger.warning("signal trial_phase_changed dropped: phase %r", checked.phase)
            return
        self._s.trial_phase = checked.phase
        self._kids.trial_phase_told(checked.phase)
        self._changed = True

    @workflow.signal
    def security_review_ended(self, ended: SecurityReviewEnded | None = None) -> None:
        """From an adopted security review (a child's end is its result)."""
        checked = accepted("security_review_ended", ended, SecurityReviewEnded)
        if checked is None or self._invalid is not None:
            return
        self._kids.security_review_ended(checked.answered)
        self._changed = True

    @workflow.query
    def state(self) -> OpportunityState:
        view = rules.state_view(self._s, workflow.info().workflow_id)
        return dataclasses.replace(view, effects=self._fx.view().effects)

    # --- Main loop ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: OpportunityInput) -> OpportunityResult:
        if self._invalid is not None:
            raise self._invalid
        s = self._s
        while True:
            await self._catch_up()
            if (
                s.status is OpportunityStatus.WON
                and s.handed_off
                and s.close_announced
                and self._fx.settled()
            ):
                break
            if s.status in (OpportunityStatus.LOST, OpportunityStatus.ABANDONED):
                # Open for a reopen for a while; after that the history is the record.
                if not self._reopen_window_over:
                    window = timedelta(seconds=s.start.durations.day_seconds * REOPEN_WINDOW_DAYS)
                    try:
                        await workflow.wait_condition(
                            lambda: self._changed,
                            timeout=window,
                            timeout_summary="the window to reopen closes",
                        )
                        continue
                    except TimeoutError:
                        self._reopen_window_over = True  # nobody reopened it in time
                if self._fx.settled():
                    break
                # A failed effect still waits for a person to retry or skip it.
                await workflow.wait_condition(lambda: self._changed)
                continue
            self._reopen_window_over = False
            if self._history_is_long() and not self._children and not self._fx.children_running():
                # Effects in flight finish here (what waits is carried).
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and self._fx.idle()
                )
                self._fx.carry_over()
                workflow.continue_as_new(OpportunityInput(carried=s))
            await workflow.wait_condition(lambda: self._changed)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return rules.result_of(s)

    def _history_is_long(self) -> bool:
        return history_is_long(self._s.start.history_event_limit)

    async def _catch_up(self) -> None:
        self._changed = False
        await self._fx.resume()
        self._publish_search_attributes()
        await self._sync_stage()
        await self._start_trial_child()
        await self._start_security_review_child()
        await self._kids.conclude()
        await self._hand_off_if_won()
        await self._announce_close()
        self._publish_search_attributes()
        self._fx.publish_attention()

    def _key(self, *parts: object) -> str:
        return "/".join([self._s.effect_scope, *(str(part) for part in parts)])

    def _publish_search_attributes(self) -> None:
        s = self._s
        wanted = {
            sa.OPPORTUNITY_ID.name: s.start.opportunity_id,
            sa.ACCOUNT_ID.name: s.start.account_id,
            sa.LIFECYCLE_STAGE.name: s.stage.value,
            sa.TECHNICAL_WIN_STATUS.name: s.technical_win.value,
            sa.CE_OWNER.name: s.start.ce_owner,
            sa.AE_OWNER.name: s.start.ae_owner,
            sa.REGION.name: s.start.region.value,
        }
        publish_search_attributes(self._published, wanted)
        notes: list[str] = []
        if s.trial_phase:
            notes.append(f"trial {s.trial_phase}, technical win {s.technical_win.value}")
        if s.security_review_requested:
            notes.append(f"security review {'answered' if s.security_review_answered else 'open'}")
        phase = f"{s.stage.value} ({s.status.value})"
        publish_current_details(start_summaries.opportunity(s.start).summary, phase, None, notes)

    async def _sync_stage(self) -> None:
        s = self._s
        while s.stage_synced < s.stage_version:
            version = s.stage_version
            fields: dict[str, str | int | float | bool | None] = {"StageName": s.stage.value}
            if s.stage is Stage.CLOSED_LOST:
                fields["Closed_Lost_Reason__c"] = s.closed_reason
            elif s.last_open_stage is not None:
                # Closed once (a lost deal reopened): the reason it was lost no longer holds.
                # Only the activity's argument grows: the commands are the same.
                fields["Closed_Lost_Reason__c"] = None
            await effects.update_salesforce(
                self._fx,
                SalesforceFieldUpdate(
                    self._key("stage", version), "Opportunity", s.start.opportunity_id, fields
                ),
            )
            s.stage_synced = version

    async def _start_trial_child(self) -> None:
        s = self._s
        if not s.trial_requested or s.trial_workflow_id is not None:
            return
        if children_patched():
            await self._kids.owe_trial(self._fx)
            return
        start = trial_start_of(s)
        shown = start_summaries.trial(start)
        handle = await workflow.start_child_workflow(
            "TrialWorkflow",
            TrialInput(start=start),
            id=trial_workflow_id(s.start.opportunity_id),
            static_summary=shown.summary,
            static_details=shown.details,
            result_type=TrialResult,
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        s.trial_workflow_id = handle.id
        s.trial_phase = "planning"
        self._watch(self._trial_finished(handle))

    async def _trial_finished(self, handle: workflow.ChildWorkflowHandle[Any, TrialResult]) -> None:
        result = await handle
        self._s.technical_win = result.technical_win
        self._s.trial_phase = "ended"

    async def _start_security_review_child(self) -> None:
        s = self._s
        if not s.security_review_requested or s.security_review_workflow_id is not None:
            return
        if children_patched():
            await self._kids.owe_security_review(self._fx)
            return
        start = security_review_start_of(s)
        shown = start_summaries.security_review(start)
        handle = await workflow.start_child_workflow(
            "SecurityReviewWorkflow",
            SecurityReviewInput(start=start),
            id=security_review_workflow_id(s.start.opportunity_id),
            static_summary=shown.summary,
            static_details=shown.details,
            result_type=SecurityReviewResult,
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        s.security_review_workflow_id = handle.id
        self._watch(self._security_review_finished(handle))

    async def _security_review_finished(
        self, handle: workflow.ChildWorkflowHandle[Any, SecurityReviewResult]
    ) -> None:
        await handle
        self._s.security_review_answered = True

    def _watch(self, coroutine: Any) -> None:
        task: asyncio.Task[Any] = asyncio.create_task(coroutine)
        self._children.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._children.discard(finished)
            self._changed = True

        task.add_done_callback(done)

    async def _hand_off_if_won(self) -> None:
        s = self._s
        if s.status is not OpportunityStatus.WON or s.handed_off:
            return
        assert s.closed_at is not None
        # Signal-with-start of the account's workflow: repeating it changes nothing twice.
        await self._fx.owe(
            self._key("hand-off"),
            EffectKind.RECORD,
            effects.HAND_OFF_CLOSED_DEAL,
            HandOffRequest(
                AccountHandOff(
                    opportunity_id=s.start.opportunity_id,
                    account_id=s.start.account_id,
                    account_name=s.start.account_name,
                    kind=s.start.kind.value,
                    seats=s.start.seats,
                    ae_owner=s.start.ae_owner,
                    ce_owner=s.start.ce_owner,
                    tier=s.start.tier,
                    region=s.start.region.value,
                    closed_at=s.closed_at,
                    # Only the argument grows: the command (this activity) is the same.
                    deployment_type=s.start.deployment_type.value,
                )
            ),
            lane="hand-off",
            summary=f"hand {s.start.account_name} ({s.start.account_id}) to its account workflow",
            result_type=HandOffResult,
            then=_handed_off,
        )
        s.handed_off = True

    async def _announce_close(self) -> None:
        s = self._s
        if s.status not in (OpportunityStatus.WON, OpportunityStatus.LOST) or s.close_announced:
            return
        reason = f": {escape(s.closed_reason)}" if s.closed_reason else ""
        await effects.post_slack(
            self._fx,
            SlackPost(
                self._key("close", s.stage_version),
                s.start.announce_channel,
                f"{escape(s.start.account_name)} ({s.start.opportunity_id})"
                f" is {s.stage.value}{reason}."
                f" Technical win: {s.technical_win.label}.",
            ),
        )
        s.close_announced = True
