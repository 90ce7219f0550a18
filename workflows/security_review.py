"""``SecurityReviewWorkflow``: one customer security questionnaire, from arrival to answers.

A child of the opportunity, id ``security-review-{opportunity_id}``. Actions are updates whose
handlers only change state (the rules live in ``security_review_rules``); the main loop owns
every side effect: it compares what the state says is owed (the due-date announcement, an
escalation notice, a reminder) with what was done, and does the rest, each with an idempotency
key derived from the workflow. The workflow returns ``SecurityReviewResult`` once the AE has
returned the answers.

When the opportunity closes or is abandoned first, it concludes the review (signal
``concluded_by_opportunity``, by rule only from the review's own opportunity, a no-op once the
review has ended): the review ends unanswered with the reason in its state and result, its
reminders stop and it posts nothing more. An opportunity that finds the review already running
(started by an earlier run of it) adopts it (signal ``adopted_by_opportunity``) and is told when
it ends. Both signals are new, so no recorded history holds one: what they lead to needs no
patch.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas import limits, start_summaries
    from schemas import search_attributes as sa
    from schemas.common import StepStatus
    from schemas.effects import Effect, EffectKind, SlackPost
    from schemas.errors import RuleViolation
    from schemas.opportunity import (
        AdoptedByOpportunity,
        ConcludedByOpportunity,
        SecurityReviewEnded,
    )
    from schemas.roster import Roster
    from schemas.security_review import (
        NOTE_DEPLOYMENT_TYPE,
        CompleteSecurityStep,
        DeclineFirstPass,
        EscalateToSecurityPM,
        SecurityReviewAccepted,
        SecurityReviewInput,
        SecurityReviewPhase,
        SecurityReviewResult,
        SecurityReviewSnapshot,
        SecurityReviewState,
        SecurityStep,
    )
    from schemas.steps import SNOOZE_STEP_UPDATE, SnoozeStep
    from schemas.todo import OpenSteps
    from workflows import effects, security_review_snooze, step_prompts
    from workflows import security_review_rules as rules
    from workflows.mrkdwn import escape
    from workflows.owed_work import OwedWork, OwedWorkHandlers
    from workflows.roster import RosterLookup
    from workflows.signals import accepted
    from workflows.slack_blocks import step_prompt_blocks, workflow_url
    from workflows.summaries import utc_minute
    from workflows.todo_views import security_review_open_steps
    from workflows.visibility import (
        history_is_long,
        publish_current_details,
        publish_open_steps,
        publish_search_attributes,
    )
    from workflows.wake_up import WakeUpTimer


def _when(moment: datetime) -> str:
    return utc_minute(moment)


def _mention(*members: str) -> str:
    return " ".join(f"<@{member}>" for member in dict.fromkeys(members))


@workflow.defn(name="SecurityReviewWorkflow")
class SecurityReviewWorkflow(OwedWorkHandlers):
    @workflow.init
    def __init__(self, input: SecurityReviewInput) -> None:
        info = workflow.info()
        self._s: SecurityReviewSnapshot | None = None
        self._start_error: str | None = None
        if input.carried is not None:
            self._s = input.carried
        elif input.start is not None:
            scope = f"{info.workflow_id}/{info.first_execution_run_id}"
            try:
                self._s = rules.new_snapshot(input.start, workflow.now(), scope)
            except RuleViolation as err:
                # Raising here would fail the workflow task over and over; run fails the workflow.
                self._start_error = err.message
        else:
            self._start_error = "SecurityReviewInput needs either start or carried"
        self._changed = False
        self._wake = WakeUpTimer()
        self._published: dict[str, str] = {}
        # A review that did not start owes nothing: its book is empty and never kept.
        book = self._s.effects if self._s is not None else []
        scope = self._s.effect_scope if self._s is not None else info.workflow_id
        self._fx = OwedWork(book, scope, self._mark_changed, refuses_retry=self._refuses_retry)
        self._roster = RosterLookup(
            lambda: Roster.carried(self._snapshot().start.roster), self._remember_roster
        )

    def _remember_roster(self, roster: Roster) -> None:
        s = self._snapshot()
        s.start = dataclasses.replace(s.start, roster=roster.security())

    def _mark_changed(self) -> None:
        self._changed = True

    def _refuses_retry(self, effect: Effect) -> str:
        """A concluded review (its deal closed or abandoned) posts nothing more: a retry of a
        failed post would announce, remind or escalate a review that is over."""
        s = self._s
        if s is None or s.phase is not SecurityReviewPhase.CONCLUDED:
            return ""
        if effect.activity != effects.POST_SLACK_MESSAGE:
            return ""
        return (
            f"the security review was concluded ({s.conclusion_reason}): effect {effect.name}"
            " would post for a review that is over"
        )

    def _snapshot(self) -> SecurityReviewSnapshot:
        if self._s is None:
            raise RuleViolation(f"the security review did not start: {self._start_error}")
        return self._s

    # --- Updates -----------------------------------------------------------------------------

    @workflow.update
    def complete_step(self, request: CompleteSecurityStep) -> SecurityReviewAccepted:
        return self._accepted(rules.apply_complete_step(self._snapshot(), request, workflow.now()))

    @complete_step.validator
    def _validate_complete_step(self, request: CompleteSecurityStep) -> None:
        limits.check(request, workflow.now())
        rules.check_complete_step(self._snapshot(), request)

    @workflow.update(name=SNOOZE_STEP_UPDATE)
    def snooze_step(self, request: SnoozeStep) -> SecurityReviewAccepted:
        return self._accepted(
            security_review_snooze.apply_snooze(self._snapshot(), request, workflow.now())
        )

    @snooze_step.validator
    def _validate_snooze_step(self, request: SnoozeStep) -> None:
        security_review_snooze.check_snooze_request(self._snapshot(), request, workflow.now())

    @workflow.update
    def decline_first_pass(self, request: DeclineFirstPass) -> SecurityReviewAccepted:
        return self._accepted(
            rules.apply_decline_first_pass(self._snapshot(), request, workflow.now())
        )

    @decline_first_pass.validator
    def _validate_decline_first_pass(self, request: DeclineFirstPass) -> None:
        limits.check(request, workflow.now())
        rules.check_decline_first_pass(self._snapshot(), request)

    @workflow.update
    def escalate_to_security_pm(self, request: EscalateToSecurityPM) -> SecurityReviewAccepted:
        return self._accepted(rules.apply_escalate(self._snapshot(), request, workflow.now()))

    @escalate_to_security_pm.validator
    def _validate_escalate_to_security_pm(self, request: EscalateToSecurityPM) -> None:
        limits.check(request, workflow.now())
        rules.check_escalate(self._snapshot(), request)

    @workflow.signal
    def adopted_by_opportunity(self, adoption: AdoptedByOpportunity | None = None) -> None:
        checked = accepted("adopted_by_opportunity", adoption, AdoptedByOpportunity)
        if checked is None or self._s is None:
            return
        if rules.adopt(self._s, checked):
            self._changed = True
        else:
            workflow.logger.warning(
                "signal adopted_by_opportunity dropped: %s is not the opportunity of %s",
                checked.opportunity_workflow_id,
                self._s.start.opportunity_id,
            )

    @workflow.signal
    def concluded_by_opportunity(self, conclusion: ConcludedByOpportunity | None = None) -> None:
        checked = accepted("concluded_by_opportunity", conclusion, ConcludedByOpportunity)
        if checked is None or self._s is None:
            return
        if rules.conclude(self._s, checked, workflow.now()):
            self._changed = True
        else:
            workflow.logger.info(
                "signal concluded_by_opportunity changes nothing: the review is %s (from %s)",
                self._s.phase.value,
                checked.opportunity_workflow_id,
            )

    @workflow.query
    def open_steps(self) -> OpenSteps:
        return security_review_open_steps(self._snapshot())

    @workflow.query
    def state(self) -> SecurityReviewState:
        view = rules.state_view(self._snapshot(), workflow.info().workflow_id, workflow.now())
        return dataclasses.replace(view, effects=self._fx.view().effects)

    def _accepted(self, message: str) -> SecurityReviewAccepted:
        self._changed = True
        s = self._snapshot()
        return SecurityReviewAccepted(message, s.phase, s.due_at)

    # --- Main loop ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: SecurityReviewInput) -> SecurityReviewResult:
        if self._s is None:
            raise RuleViolation(f"the security review did not start: {self._start_error}")
        s = self._s
        while True:
            await self._catch_up()
            if s.phase is not SecurityReviewPhase.OPEN and not self._owes_anything():
                break
            if self._history_is_long():
                # Handlers are synchronous, but an update may be mid-validation: let it land;
                # effects in flight finish here (what waits is carried).
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and self._fx.idle()
                )
                s.continued_as_new += 1
                self._fx.carry_over()
                workflow.continue_as_new(SecurityReviewInput(carried=s))
            await self._wake.until(lambda: self._changed, rules.next_named_wake_up(s))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return rules.result_of(s)

    def _history_is_long(self) -> bool:
        assert self._s is not None
        return history_is_long(self._s.start.history_event_limit)

    def _owes_anything(self) -> bool:
        s = self._snapshot()
        concluded = s.phase is SecurityReviewPhase.CONCLUDED
        return (
            (not s.start_announced and not concluded)
            or (s.escalation is not None and not s.escalation.announced and not concluded)
            or (s.phase is SecurityReviewPhase.ANSWERED and not s.answers_announced)
            or not self._fx.settled()
        )

    async def _catch_up(self) -> None:
        """Do everything the state says is owed, until nothing is."""
        # A change made while we await an activity below must wake the next wait at once.
        self._changed = False
        self._roster.new_wake_up()
        await self._fx.resume()
        self._publish_search_attributes()
        await self._announce_start()
        await self._announce_escalation()
        await self._send_reminders()
        await step_prompts.mark_prompts_done(
            self._fx,
            self._snapshot().steps,
            lambda step, ts: self._key("step", step.key, "prompt", ts, "done"),
            f"the {self._subject()}",
        )
        await self._announce_answers()
        self._publish_search_attributes()
        self._fx.publish_attention()
        await self._tell_adopter()

    async def _tell_adopter(self) -> None:
        s = self._snapshot()
        if (
            s.opportunity_workflow_id is None
            or s.adopter_told
            or s.phase is SecurityReviewPhase.OPEN
        ):
            return
        s.adopter_told = True
        ended = SecurityReviewEnded(answered=s.phase is SecurityReviewPhase.ANSWERED)
        try:
            await workflow.get_external_workflow_handle(s.opportunity_workflow_id).signal(
                "security_review_ended", ended
            )
        except Exception as err:  # the opportunity may have ended; the review is over anyway
            workflow.logger.warning("could not tell %s: %s", s.opportunity_workflow_id, err)

    def _publish_search_attributes(self) -> None:
        s = self._snapshot()
        wanted = {
            sa.OPPORTUNITY_ID.name: s.start.opportunity_id,
            sa.ACCOUNT_ID.name: s.start.account_id,
            sa.LIFECYCLE_STAGE.name: s.phase.lifecycle_stage,
            sa.AE_OWNER.name: s.start.ae_owner,
            sa.CE_OWNER.name: s.start.ce_owner,
            sa.REGION.name: s.start.region.value,
        }
        publish_search_attributes(self._published, wanted)
        view = security_review_open_steps(s)
        publish_open_steps(view)
        headline = start_summaries.security_review(s.start).summary
        publish_current_details(headline, s.phase.value, view)

    def _key(self, *parts: object) -> str:
        return "/".join([self._snapshot().effect_scope, *(str(part) for part in parts)])

    def _subject(self) -> str:
        s = self._snapshot()
        # Only ever shown in Slack posts: the name is Salesforce's.
        return f"security review for {escape(s.start.account_name)} ({s.start.opportunity_id})"

    async def _announce_start(self) -> None:
        s = self._snapshot()
        if s.start_announced or s.phase is SecurityReviewPhase.CONCLUDED:
            return
        rules.assign_security_ce(s, (await self._roster.current()).security_ce_for(s.start.region))
        timeline = "; ".join(
            f"{step.title} by {_when(step.due_at)} (<@{step.owner}>)"
            if step.status is not StepStatus.DONE
            else f"{step.title}: done ({step.note})"
            for step in s.steps
        )
        await effects.post_slack(
            self._fx,
            SlackPost(
                self._key("announce", "start"),
                s.start.announce_channel,
                f"Security questionnaire received: {self._subject()}. Answers are due"
                f" {_when(s.due_at)}. {_mention(s.start.ae_owner, s.start.ce_owner, s.security_ce)}"
                f" ({s.start.region.value} Security CE <@{s.security_ce}>). Timeline: {timeline}.",
            ),
        )
        s.start_announced = True

    async def _announce_escalation(self) -> None:
        s = self._snapshot()
        escalation = s.escalation
        if escalation is None or escalation.announced or s.phase is SecurityReviewPhase.CONCLUDED:
            return
        pm = (await self._roster.current()).security_pm
        rules.assign_security_pm(s, pm)
        await effects.post_slack(
            self._fx,
            SlackPost(
                self._key("announce", "security-pm"),
                s.start.announce_channel,
                f"The {self._subject()} is escalated to the Security PM <@{pm}> by"
                f" <@{escalation.actor}>: {escape(escalation.reason)}. Answers are now due"
                f" {_when(escalation.new_due_at)} (was {_when(escalation.previous_due_at)})."
                f" {_mention(s.start.ae_owner, s.start.ce_owner, s.security_ce, pm)}",
            ),
        )
        escalation.announced = True

    async def _send_reminders(self) -> None:
        s = self._snapshot()
        now = workflow.now()
        for step in rules.reminders_due(s, now):
            if rules.escalates_now(s, step):
                await self._escalate_to_leader(step)
            else:
                await effects.post_slack(
                    self._fx,
                    self._reminder(step),
                    kind=EffectKind.REMINDER,
                    then=step_prompts.remember_prompt(step),
                )
            rules.record_reminder(s, step, now)

    def _reminder(self, step: SecurityStep) -> SlackPost:
        """An overdue step's reminder with Done (unless it needs the deployment type),
        Snooze and Open; the CLI command only in the fallback text."""
        s = self._snapshot()
        workflow_id = workflow.info().workflow_id
        prompt = (
            f"Overdue: {escape(repr(step.title))} of the {self._subject()} was due"
            f" {_when(step.due_at)}; the answers are due {_when(s.due_at)}."
        )
        blocks = step_prompt_blocks(
            prompt,
            workflow_id=workflow_id,
            step=step.key,
            kind="security_review",
            url=workflow_url(s.start.temporal_ui_url, workflow.info().namespace, workflow_id),
            done=step.key != NOTE_DEPLOYMENT_TYPE.key,
        )
        cli = f"dealcycle security step {workflow_id} {step.key} --by {step.owner}"
        return SlackPost(
            self._key("reminder", step.key, step.reminders_sent + 1),
            step.owner,
            f"{prompt} When it is done: {cli}",
            blocks=blocks,
        )

    async def _escalate_to_leader(self, step: SecurityStep) -> None:
        s = self._snapshot()
        leader = (await self._roster.current()).ce_leader
        await effects.post_slack(
            self._fx,
            SlackPost(
                self._key("leader-escalation", step.key),
                s.start.announce_channel,
                f"Escalation to the CE leader <@{leader}>: {escape(repr(step.title))} of"
                f" the {self._subject()} was due {_when(step.due_at)} and is still open after"
                f" {step.reminders_sent} reminder(s) to <@{step.owner}> ({step.role.value})."
                f" The answers are due {_when(s.due_at)}.",
            ),
        )

    async def _announce_answers(self) -> None:
        s = self._snapshot()
        if s.phase is not SecurityReviewPhase.ANSWERED or s.answers_announced:
            return
        assert s.answered_at is not None
        late = " (late)" if s.answered_at > s.due_at else ""
        involved = [s.start.ae_owner, s.start.ce_owner, s.security_ce]
        if s.escalation is not None:
            involved.append(s.start.roster.security_pm)
        await effects.post_slack(
            self._fx,
            SlackPost(
                self._key("announce", "answered"),
                s.start.announce_channel,
                f"Answers returned: the {self._subject()} is complete, {_when(s.answered_at)}"
                f"{late}; due {_when(s.due_at)}."
                f" {_mention(*involved)}",
            ),
        )
        s.answers_announced = True
