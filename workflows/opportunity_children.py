"""An opportunity's children, its trial and its security review: started or adopted, awaited,
and concluded with the opportunity. Used by ``OpportunityWorkflow``.

The rules:

- **Start.** Asked for a trial (or sent a questionnaire), the opportunity starts the child under
  the deal's id (``trial-{opportunity}``, ``security-review-{opportunity}``) as owed work of kind
  ``child_workflow``: the effect lasts as long as the child, and the child's result (the
  technical win, the answers) becomes the opportunity's in the same step that ends the effect;
  but a trial that ended with no technical win set (not started) leaves the opportunity's (the
  in progress it set when it started the trial) as it is.
  A child that fails, is terminated or times out is a failed effect of the opportunity (its
  ``effects`` query, ``NeedsAttention``, a notice to operations), and the opportunity's view
  says so (``trial_phase`` "failed"); ``dealcycle effects retry`` starts it again under the
  same id (the reuse policy allows a new run only after a failed one), ``effects skip`` gives
  it up.
- **Adopt.** If a workflow with that id is already running (a trial started by ``dealcycle
  trial start``, or a child of an earlier run of this opportunity), the start fails with
  "already started" and the opportunity adopts it: it signals ``adopted_by_opportunity``, and
  from then on the child reports to the opportunity as to a parent (the trial its phase and
  technical win, at once and on every change; the review when it ends). A signal reaches only a
  running workflow, so the signal's success is the proof that the child runs: no describe or
  query in an activity is needed, and there is nothing to be stale or to fail but the signal.
- **Refuse.** If that signal fails, the workflow with that id has ended (a completed trial is
  never started again: a deal has one trial): nothing is started, the request is refused
  saying which workflow and why, and every later request is refused by the validator.
- The update that asked waits for that decision, so its answer says what happened: started,
  adopted, or refused (as a failed update, before which the opportunity's state is restored).
- **Conclude.** Closing won or lost, or abandoning, concludes every started or adopted child
  that has not ended, with the reason (signal ``concluded_by_opportunity``); the state records
  that it was told, so it is told once, across worker restarts and continue-as-new too.

What it cannot see: an adopted child is not the opportunity's child, so a termination of it is
not reported (its normal end is, by its signal).

Guards: ``OPPORTUNITY_CHILDREN_PATCH`` (how a child is started and awaited, and the update
that waits), ``OPPORTUNITY_CONCLUDES_CHILDREN_PATCH`` (the conclusion signals) and
``OPPORTUNITY_KEEPS_TECHNICAL_WIN_PATCH`` (the trial's unset technical win taken or not: the
search attribute upserted or not); histories from before any of them keep the old commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ChildWorkflowError, FailureError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from schemas import start_summaries
    from schemas.common import TechnicalWinStatus
    from schemas.effects import Effect, EffectKind
    from schemas.opportunity import (
        SECURITY_REVIEW_CHILD,
        TRIAL_CHILD,
        AdoptedByOpportunity,
        ChildLink,
        ChildLinkKind,
        ConcludedByOpportunity,
        OpportunityEnd,
        OpportunitySnapshot,
        OpportunityStatus,
        child_effect_name,
    )
    from schemas.security_review import (
        SECURITY_REVIEW_WORKFLOW_TYPE,
        SecurityReviewInput,
        SecurityReviewResult,
        SecurityReviewStart,
        security_review_workflow_id,
    )
    from schemas.trial import (
        TRIAL_WORKFLOW_TYPE,
        TrialInput,
        TrialPhase,
        TrialResult,
        TrialStart,
        trial_workflow_id,
    )
    from workflows import opportunity_rules
    from workflows.owed_work import OwedWork
    from workflows.security_review import SecurityReviewWorkflow
    from workflows.trial import TrialWorkflow

OPPORTUNITY_CHILDREN_PATCH = "opportunity-children-as-owed-work"
"""Before it, a child was started inline and awaited by a task whose failure was only logged."""
OPPORTUNITY_CONCLUDES_CHILDREN_PATCH = "opportunity-concludes-children"
"""Before it, closing or abandoning left the trial and the security review running."""
OPPORTUNITY_KEEPS_TECHNICAL_WIN_PATCH = "opportunity-keeps-technical-win"
"""Before it, a trial that ended with no technical win set reset the opportunity's in progress
to not started (upserting the search attribute): closing a deal did so to every such trial."""
FAILED_PHASE = "failed"

_END_OF = {
    OpportunityStatus.WON: OpportunityEnd.WON,
    OpportunityStatus.LOST: OpportunityEnd.LOST,
    OpportunityStatus.ABANDONED: OpportunityEnd.ABANDONED,
}


def children_patched() -> bool:
    """Decided once per run (memoized by the SDK): the first call in a run records it."""
    return workflow.patched(OPPORTUNITY_CHILDREN_PATCH)


@dataclass(frozen=True)
class _Child:
    name: str
    """As people say it: "trial", "security review"."""
    key: str
    workflow_id: str
    result_type: type


class OpportunityChildren:
    """Starts, adopts, awaits and concludes the children of one opportunity run."""

    def __init__(self, s: OpportunitySnapshot, mark_changed: Callable[[], None]) -> None:
        self._s = s
        self._mark_changed = mark_changed
        opportunity = s.start.opportunity_id
        self._trial = _Child("trial", TRIAL_CHILD, trial_workflow_id(opportunity), TrialResult)
        self._review = _Child(
            "security review",
            SECURITY_REVIEW_CHILD,
            security_review_workflow_id(opportunity),
            SecurityReviewResult,
        )

    # --- Owing a child -----------------------------------------------------------------------

    async def owe_trial(self, fx: OwedWork) -> None:
        start = trial_start_of(self._s)
        await self._owe(fx, self._trial, TRIAL_WORKFLOW_TYPE, TrialInput(start=start))

    async def owe_security_review(self, fx: OwedWork) -> None:
        start = security_review_start_of(self._s)
        await self._owe(
            fx, self._review, SECURITY_REVIEW_WORKFLOW_TYPE, SecurityReviewInput(start=start)
        )

    async def _owe(self, fx: OwedWork, child: _Child, workflow_type: str, argument: object) -> None:
        await fx.owe(
            fx.key(child_effect_name(child.key)),
            EffectKind.CHILD_WORKFLOW,
            workflow_type,
            argument,
            lane=f"child:{child.workflow_id}",
            summary=f"run the {child.name} {child.workflow_id} to its end",
        )

    # --- Running a child (OwedWork's ``run_child``) ------------------------------------------

    async def run_child(self, effect: Effect, argument: Any, _: type | None) -> None:
        child = self._trial if effect.activity == TRIAL_WORKFLOW_TYPE else self._review
        shown = (
            start_summaries.trial(trial_start_of(self._s))
            if child is self._trial
            else start_summaries.security_review(security_review_start_of(self._s))
        )
        try:
            handle: workflow.ChildWorkflowHandle[Any, Any] = await workflow.start_child_workflow(
                effect.activity,
                argument,
                id=child.workflow_id,
                static_summary=shown.summary,
                static_details=shown.details,
                result_type=child.result_type,
                parent_close_policy=ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )
        except WorkflowAlreadyStartedError:
            await self._adopt_or_refuse(child)
            return
        self._link(child, ChildLink(child.workflow_id, ChildLinkKind.STARTED))
        try:
            result = await handle
        except ChildWorkflowError as err:
            link = self._link_of(child)
            assert link is not None
            link.failed = str(err.cause or err)
            if child is self._trial:
                self._s.trial_phase = FAILED_PHASE
            self._mark_changed()
            raise
        self._finished(child, result)

    async def _adopt_or_refuse(self, child: _Child) -> None:
        adoption = AdoptedByOpportunity(workflow.info().workflow_id)
        external = workflow.get_external_workflow_handle(child.workflow_id)
        try:
            if child is self._trial:
                await external.signal(TrialWorkflow.adopted_by_opportunity, adoption)
            else:
                await external.signal(SecurityReviewWorkflow.adopted_by_opportunity, adoption)
        except FailureError as err:
            workflow.logger.info("%s cannot be adopted: %s", child.workflow_id, err)
            why = (
                f"the {child.name} {child.workflow_id} of this deal has already ended, and a deal"
                f" has one {child.name}: an opportunity adopts only a running one"
                f" (see `dealcycle status {child.workflow_id}`)"
            )
            self._link(child, ChildLink(child.workflow_id, ChildLinkKind.REFUSED, why=why))
            return
        self._link(child, ChildLink(child.workflow_id, ChildLinkKind.ADOPTED))

    def _link_of(self, child: _Child) -> ChildLink | None:
        return self._s.trial_link if child is self._trial else self._s.security_review_link

    def _link(self, child: _Child, link: ChildLink) -> None:
        s = self._s
        linked = link.how is not ChildLinkKind.REFUSED
        if child is self._trial:
            s.trial_link = link
            s.trial_requested = linked
            if linked:
                s.trial_workflow_id = link.workflow_id
            if link.how is ChildLinkKind.STARTED:
                s.trial_phase = TrialPhase.PLANNING.value
                if s.technical_win is TechnicalWinStatus.NOT_STARTED:
                    s.technical_win = TechnicalWinStatus.IN_PROGRESS
        else:
            s.security_review_link = link
            s.security_review_requested = linked
            if linked:
                s.security_review_workflow_id = link.workflow_id
        self._mark_changed()

    def _finished(self, child: _Child, result: object) -> None:
        s = self._s
        link = self._link_of(child)
        assert link is not None
        link.ended = True
        if isinstance(result, TrialResult):
            kept = opportunity_rules.keeps_its_technical_win(s, result.technical_win)
            if not (kept and workflow.patched(OPPORTUNITY_KEEPS_TECHNICAL_WIN_PATCH)):
                s.technical_win = result.technical_win
            s.trial_phase = TrialPhase.ENDED.value
        elif isinstance(result, SecurityReviewResult):
            s.security_review_answered = result.answered_at is not None
        self._mark_changed()

    # --- What the adopted children say -------------------------------------------------------

    def trial_phase_told(self, phase: str) -> None:
        if self._s.trial_link is not None and phase == TrialPhase.ENDED.value:
            self._s.trial_link.ended = True

    def security_review_ended(self, answered: bool) -> None:
        s = self._s
        s.security_review_answered = answered
        if s.security_review_link is not None:
            s.security_review_link.ended = True

    # --- Waiting for the decision (the updates that asked) -----------------------------------

    def trial_decided(self) -> bool:
        return self._s.trial_link is not None

    def security_review_decided(self) -> bool:
        return self._s.security_review_link is not None

    # --- Concluding with the opportunity -----------------------------------------------------

    def _legacy_links(self) -> None:
        """A child started before the patch has an id and no link: it is one we started."""
        s = self._s
        if s.trial_link is None and s.trial_workflow_id is not None:
            s.trial_link = ChildLink(s.trial_workflow_id, ChildLinkKind.STARTED)
        if s.security_review_link is None and s.security_review_workflow_id is not None:
            s.security_review_link = ChildLink(s.security_review_workflow_id, ChildLinkKind.STARTED)

    def _to_conclude(self) -> list[tuple[_Child, ChildLink]]:
        s = self._s
        self._legacy_links()
        found = []
        for child, link, ended in (
            (self._trial, s.trial_link, s.trial_phase == TrialPhase.ENDED.value),
            (self._review, s.security_review_link, s.security_review_answered),
        ):
            if link is None or link.how is ChildLinkKind.REFUSED:
                continue
            if link.ended or ended or link.concluded:
                continue
            found.append((child, link))
        return found

    async def conclude(self) -> None:
        """Tell each running child that the opportunity closed or was abandoned, once."""
        s = self._s
        if s.status is OpportunityStatus.OPEN:
            return
        due = self._to_conclude()
        if not due or not workflow.patched(OPPORTUNITY_CONCLUDES_CHILDREN_PATCH):
            return
        conclusion = ConcludedByOpportunity(
            workflow.info().workflow_id, _END_OF[s.status], s.closed_reason or ""
        )
        for child, link in due:
            external = workflow.get_external_workflow_handle(link.workflow_id)
            try:
                if child is self._trial:
                    await external.signal(TrialWorkflow.concluded_by_opportunity, conclusion)
                else:
                    await external.signal(
                        SecurityReviewWorkflow.concluded_by_opportunity, conclusion
                    )
            except FailureError as err:  # it ended meanwhile: nothing left to conclude
                workflow.logger.info("%s was not told: %s", link.workflow_id, err)
            link.concluded = conclusion.describe()
        self._mark_changed()


def trial_start_of(s: OpportunitySnapshot) -> TrialStart:
    """The trial an opportunity starts: what the deal knows of the customer and its people."""
    return TrialStart(
        opportunity_id=s.start.opportunity_id,
        account_id=s.start.account_id,
        account_name=s.start.account_name,
        ce_owner=s.start.ce_owner,
        ae_owner=s.start.ae_owner,
        seats=s.start.seats,
        length_days=s.trial_length_days,
        durations=s.start.durations,
        announce_channel=s.start.announce_channel,
    )


def security_review_start_of(s: OpportunitySnapshot) -> SecurityReviewStart:
    """The security review an opportunity starts when a questionnaire arrives."""
    return SecurityReviewStart(
        opportunity_id=s.start.opportunity_id,
        account_id=s.start.account_id,
        account_name=s.start.account_name,
        ae_owner=s.start.ae_owner,
        ce_owner=s.start.ce_owner,
        region=s.start.region,
        deployment_type=s.start.deployment_type,
        roster=s.start.roster,
        durations=s.start.durations,
        announce_channel=s.start.announce_channel,
    )
