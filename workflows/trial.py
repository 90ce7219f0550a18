"""``TrialWorkflow``: one customer trial, from planning to its outcome.

CE and AE actions are updates whose handlers only change state (the rules live in
``trial_rules``); the main loop owns every side effect. It compares what the state says is
owed (a license, an announcement, a reminder) with what was done, and does the rest, each with
an idempotency key derived from the workflow. Handlers never wait on I/O, so an action is
acknowledged at once and the order of external writes is the order of the actions.

A trial belongs to its deal's opportunity: the opportunity's child, or one started on its own
(``dealcycle trial start``) that the opportunity adopted later (signal
``adopted_by_opportunity``). Either way it reports its phase and technical win to that
opportunity, and ends when the opportunity closes or is abandoned (signal
``concluded_by_opportunity``, by rule only from the trial's own opportunity, and a no-op once
the trial has ended): its reminders stop, the reason is kept in its state and result, and it
posts nothing more to Slack (the opportunity's close announcement says it); Salesforce and the
outcome record still get the outcome. A trial with no opportunity is never concluded so.

Both signals are new: no recorded history holds one, so what they lead to needs no patch. The
mid-trial check-in prompt is not sent once the check-in is recorded; that change of commands
is guarded (``TRIAL_CHECK_IN_PROMPT_PATCH``).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas import limits, start_summaries
    from schemas import search_attributes as sa
    from schemas.common import StepStatus, TechnicalWinStatus
    from schemas.effects import (
        Effect,
        EffectKind,
        LicenseRequest,
        SalesforceFieldUpdate,
        SalesforceTaskRequest,
        SlackPost,
        TrialOutcomeRecord,
    )
    from schemas.errors import RuleViolation
    from schemas.opportunity import (
        AdoptedByOpportunity,
        ConcludedByOpportunity,
        TechnicalWinChanged,
        TrialPhaseChanged,
    )
    from schemas.steps import SNOOZE_STEP_UPDATE, SnoozeStep
    from schemas.todo import OpenSteps
    from schemas.trial import (
        MID_TRIAL_CHECK_IN,
        ActionAccepted,
        CompleteStep,
        ConcludeTrial,
        ExtendTrial,
        SetTechnicalWin,
        StartTrialOverride,
        TrialInput,
        TrialPhase,
        TrialResult,
        TrialSnapshot,
        TrialState,
        TrialStep,
    )
    from workflows import effects, step_prompts
    from workflows import trial_rules as rules
    from workflows.mrkdwn import escape
    from workflows.owed_work import OwedWork, OwedWorkHandlers
    from workflows.signals import accepted
    from workflows.slack_blocks import slack_date, step_prompt_blocks, workflow_url
    from workflows.todo_views import trial_open_steps
    from workflows.visibility import (
        history_is_long,
        publish_current_details,
        publish_open_steps,
        publish_search_attributes,
    )
    from workflows.wake_up import WakeUpTimer

TRIAL_CHECK_IN_PROMPT_PATCH = "trial-check-in-prompt-only-when-open"
"""Histories from before it sent the mid-trial prompt even when the check-in was recorded."""


def _date(moment: datetime) -> str:
    return moment.date().isoformat()


@workflow.defn(name="TrialWorkflow")
class TrialWorkflow(OwedWorkHandlers):
    @workflow.init
    def __init__(self, input: TrialInput) -> None:
        info = workflow.info()
        # Raised here, a violation would fail the workflow task for ever: run raises it.
        self._invalid: RuleViolation | None = None
        if input.carried is not None:
            self._s: TrialSnapshot = input.carried
        elif input.start is not None:
            scope = f"{info.workflow_id}/{info.first_execution_run_id}"
            try:
                self._s = rules.new_snapshot(input.start, workflow.now(), scope)
            except RuleViolation as err:
                self._invalid = err
        else:
            self._invalid = RuleViolation("TrialInput needs either start or carried")
        self._changed = False
        self._wake = WakeUpTimer()
        self._published: dict[str, str] = {}
        self._parent_told_phase: TrialPhase | None = None
        # An adopting opportunity is told the technical win it missed, once.
        self._adopter_told_win = True
        # A trial that did not start owes nothing: its book is empty and never kept.
        if self._invalid is None:
            self._fx = OwedWork(
                self._s.effects,
                self._s.effect_scope,
                self._mark_changed,
                refuses_retry=self._refuses_retry,
            )
        else:
            self._fx = OwedWork([], info.workflow_id, self._mark_changed)

    def _mark_changed(self) -> None:
        self._changed = True

    def _refuses_retry(self, effect: Effect) -> str:
        """A failed key is wanted no more once the trial has ended (issued now, it would outlive
        the trial: the signer keeps a key valid a day at least) or once a later key, for a
        later end, was issued (it would expire first, and its announcement would move the end
        back). Checked by the validator alone."""
        s = self._s
        if effect.kind is not EffectKind.LICENSE:
            return ""
        if s.phase is TrialPhase.ENDED:
            return (
                f"the trial has ended ({s.outcome.value if s.outcome else 'ended'}):"
                " a trial key issued now would outlive it"
            )
        keys = [self._key("license", index) for index in range(len(s.licenses))]
        if effect.key not in keys:
            return ""
        later = [
            index
            for index in range(keys.index(effect.key) + 1, len(s.licenses))
            if s.licenses[index].key_id
        ]
        if not later:
            return ""
        return (
            f"a later key (license/{later[-1]}) was issued since, for the trial's later end:"
            " this one would expire first"
        )

    # --- Updates -----------------------------------------------------------------------------

    @workflow.update
    def complete_step(self, request: CompleteStep) -> ActionAccepted:
        message = rules.apply_complete_step(self._s, request, workflow.now())
        if self._s.phase is TrialPhase.PLANNING and rules.planning_complete(self._s):
            rules.start_trial(self._s, workflow.now())
        return self._accepted(message)

    @complete_step.validator
    def _validate_complete_step(self, request: CompleteStep) -> None:
        limits.check(request, workflow.now())
        rules.check_complete_step(self._s, request)

    @workflow.update
    def start_with_override(self, request: StartTrialOverride) -> ActionAccepted:
        message = rules.apply_override(self._s, request, workflow.now())
        rules.start_trial(self._s, workflow.now())
        return self._accepted(message)

    @start_with_override.validator
    def _validate_start_with_override(self, request: StartTrialOverride) -> None:
        limits.check(request, workflow.now())
        rules.check_override(self._s, request)

    @workflow.update
    def extend_trial(self, request: ExtendTrial) -> ActionAccepted:
        return self._accepted(rules.apply_extend(self._s, request, workflow.now()))

    @extend_trial.validator
    def _validate_extend_trial(self, request: ExtendTrial) -> None:
        limits.check(request, workflow.now())
        rules.check_extend_request(self._s, request, workflow.now())

    @workflow.update
    def set_technical_win(self, request: SetTechnicalWin) -> ActionAccepted:
        return self._accepted(rules.apply_technical_win(self._s, request, workflow.now()))

    @set_technical_win.validator
    def _validate_set_technical_win(self, request: SetTechnicalWin) -> None:
        limits.check(request, workflow.now())
        rules.check_technical_win(self._s, request)

    @workflow.update
    def conclude_trial(self, request: ConcludeTrial) -> ActionAccepted:
        return self._accepted(rules.apply_conclude(self._s, request, workflow.now()))

    @conclude_trial.validator
    def _validate_conclude_trial(self, request: ConcludeTrial) -> None:
        limits.check(request, workflow.now())
        rules.check_conclude(self._s, request)

    @workflow.update(name=SNOOZE_STEP_UPDATE)
    def snooze_step(self, request: SnoozeStep) -> ActionAccepted:
        return self._accepted(rules.apply_snooze(self._s, request, workflow.now()))

    @snooze_step.validator
    def _validate_snooze_step(self, request: SnoozeStep) -> None:
        rules.check_snooze_request(self._s, request, workflow.now())

    @workflow.signal
    def adopted_by_opportunity(self, adoption: AdoptedByOpportunity | None = None) -> None:
        checked = accepted("adopted_by_opportunity", adoption, AdoptedByOpportunity)
        if checked is None or self._invalid is not None:
            return
        if not rules.adopt(self._s, checked):
            workflow.logger.warning(
                "signal adopted_by_opportunity dropped: %s is not the opportunity of %s",
                checked.opportunity_workflow_id,
                self._s.start.opportunity_id,
            )
            return
        # Whatever was told before went to nobody: the phase and the win are told again.
        self._parent_told_phase = None
        self._adopter_told_win = False
        self._changed = True

    @workflow.signal
    def concluded_by_opportunity(self, conclusion: ConcludedByOpportunity | None = None) -> None:
        checked = accepted("concluded_by_opportunity", conclusion, ConcludedByOpportunity)
        if checked is None or self._invalid is not None:
            return
        if rules.end_with_opportunity(self._s, checked, workflow.now()):
            self._changed = True
        else:
            workflow.logger.info(
                "signal concluded_by_opportunity changes nothing: the trial is %s (from %s)",
                self._s.phase.value,
                checked.opportunity_workflow_id,
            )

    @workflow.query
    def open_steps(self) -> OpenSteps:
        return trial_open_steps(self._s)

    @workflow.query
    def state(self) -> TrialState:
        view = rules.state_view(self._s, workflow.info().workflow_id, workflow.now())
        return dataclasses.replace(view, effects=self._fx.view().effects)

    def _accepted(self, message: str) -> ActionAccepted:
        self._changed = True
        return ActionAccepted(message, self._s.phase)

    # --- Main loop ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: TrialInput) -> TrialResult:
        if self._invalid is not None:
            raise self._invalid
        s = self._s
        while True:
            await self._catch_up()
            if s.phase is TrialPhase.ENDED and not self._owes_anything():
                break
            if self._history_is_long():
                # Handlers are synchronous, but an update may be mid-validation: let it land;
                # effects in flight finish here (what waits is carried).
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and self._fx.idle()
                )
                s.continued_as_new += 1
                self._fx.carry_over()
                workflow.continue_as_new(TrialInput(carried=s))
            await self._wake.until(lambda: self._changed, rules.next_named_wake_up(s))
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert s.outcome is not None and s.ended_at is not None
        return TrialResult(
            opportunity_id=s.start.opportunity_id,
            outcome=s.outcome,
            technical_win=s.technical_win,
            started_at=s.started_at,
            ended_at=s.ended_at,
            license_key_ids=[grant.key_id for grant in s.licenses if grant.key_id],
            conclusion_reason=s.conclusion_reason,
        )

    def _history_is_long(self) -> bool:
        return history_is_long(self._s.start.history_event_limit)

    def _owes_anything(self) -> bool:
        s = self._s
        return (
            any(grant.key_id is None for grant in s.licenses)
            or any(not change.announced for change in s.technical_win_changes)
            or s.trial_dates_synced < s.trial_dates_version
            or not s.outcome_recorded
            or not self._fx.settled()
        )

    async def _catch_up(self) -> None:
        """Do everything the state says is owed, until nothing is."""
        s = self._s
        # A change made while we await an activity below must wake the next wait at once.
        self._changed = False
        await self._fx.resume()
        now = workflow.now()
        if s.phase is TrialPhase.RUNNING and s.ends_at is not None and now >= s.ends_at:
            # The timer fires a moment after the end; the trial ended at its end date.
            rules.end_trial(s, s.ends_at)
        self._publish_search_attributes()
        await self._issue_owed_licenses()
        await self._sync_trial_dates()
        await self._announce_start()
        await self._announce_technical_win_changes()
        await self._prompt_check_in()
        await self._send_reminders()
        await step_prompts.mark_prompts_done(
            self._fx,
            s.steps,
            lambda step, ts: self._key("step", step.key, "prompt", ts, "done"),
            f"the {escape(s.start.account_name)} trial",
        )
        if s.phase is TrialPhase.ENDED:
            await self._record_outcome()
        self._publish_search_attributes()
        self._fx.publish_attention()
        await self._tell_parent_phase()
        await self._tell_adopter_win()

    def _publish_search_attributes(self) -> None:
        s = self._s
        wanted = {
            sa.OPPORTUNITY_ID.name: s.start.opportunity_id,
            sa.ACCOUNT_ID.name: s.start.account_id,
            sa.LIFECYCLE_STAGE.name: s.phase.lifecycle_stage,
            sa.TECHNICAL_WIN_STATUS.name: s.technical_win.value,
            sa.CE_OWNER.name: s.start.ce_owner,
            sa.AE_OWNER.name: s.start.ae_owner,
        }
        publish_search_attributes(self._published, wanted)
        view = trial_open_steps(s)
        publish_open_steps(view)
        ends = (
            f"ends {s.ends_at.date().isoformat()}"
            if s.ends_at
            else f"{rules.trial_length_days(s)} days"
        )
        headline = start_summaries.line("Trial", s.start.account_name, s.start.opportunity_id, ends)
        publish_current_details(headline, s.phase.value, view)

    def _key(self, *parts: object) -> str:
        return "/".join([self._s.effect_scope, *(str(part) for part in parts)])

    async def _issue_owed_licenses(self) -> None:
        s = self._s
        for index, grant in enumerate(s.licenses):
            if grant.key_id is None:
                await effects.issue_license_key(
                    self._fx,
                    LicenseRequest(
                        idempotency_key=self._key("license", index),
                        account_id=s.start.account_id,
                        customer=s.start.account_name,
                        kind="trial",
                        seats=s.start.seats,
                        expires_at=grant.expires_at,
                    ),
                    grant,
                )
            if grant.key_id and not grant.announced and not s.ended_with_opportunity:
                # The trial's end, not the key's expiry: the signer keeps a key valid for at
                # least a day, so a short (demo) day makes the key outlive the trial.
                extension = rules.extension_of_license(s, index)
                await effects.post_slack(
                    self._fx,
                    SlackPost(
                        self._key("license-announcement", index),
                        s.start.announce_channel,
                        f"Trial for {escape(s.start.account_name)}"
                        f" ({s.start.opportunity_id}) extended to"
                        f" {slack_date(extension.new_end)}: {escape(extension.reason)}."
                        f" New trial key {grant.key_id}.",
                    ),
                )
                grant.announced = True

    async def _sync_trial_dates(self) -> None:
        s = self._s
        while s.trial_dates_synced < s.trial_dates_version:
            version = s.trial_dates_version
            assert s.started_at is not None and s.ends_at is not None
            await effects.update_salesforce(
                self._fx,
                SalesforceFieldUpdate(
                    self._key("trial-dates", version),
                    "Opportunity",
                    s.start.opportunity_id,
                    {
                        "Trial_Start_Date__c": _date(s.started_at),
                        "Trial_End_Date__c": _date(s.ends_at),
                    },
                ),
            )
            s.trial_dates_synced = version

    async def _announce_start(self) -> None:
        s = self._s
        if s.started_at is None or s.start_announced or s.ended_with_opportunity:
            return
        assert s.ends_at is not None
        override = (
            f" Started by override of <@{s.override.actor}>: {escape(s.override.reason)}"
            f" (skipped: {', '.join(s.override.skipped_steps)})."
            if s.override
            else ""
        )
        await effects.post_slack(
            self._fx,
            SlackPost(
                self._key("trial-started"),
                s.start.announce_channel,
                f"Trial started for {escape(s.start.account_name)} ({s.start.opportunity_id}):"
                f" {rules.trial_length_days(s)} days, ends {_date(s.ends_at)}."
                f" CE <@{s.start.ce_owner}>, AE <@{s.start.ae_owner}>.{override}",
            ),
        )
        s.start_announced = True

    async def _announce_technical_win_changes(self) -> None:
        s = self._s
        for index, change in enumerate(s.technical_win_changes):
            if change.announced:
                continue
            await effects.update_salesforce(
                self._fx,
                SalesforceFieldUpdate(
                    self._key("technical-win", index, "salesforce"),
                    "Opportunity",
                    s.start.opportunity_id,
                    {"Technical_Win_Status__c": change.status.label},
                ),
            )
            note = f" {escape(change.note)}" if change.note else ""
            if not s.ended_with_opportunity:
                await effects.post_slack(
                    self._fx,
                    SlackPost(
                        self._key("technical-win", index, "slack"),
                        s.start.announce_channel,
                        f"Technical win for {escape(s.start.account_name)}"
                        f" ({s.start.opportunity_id}):"
                        f" {change.status.label} (set by <@{change.actor}>).{note}",
                    ),
                )
            change.announced = True
            await self._tell_parent(
                "technical_win_changed", TechnicalWinChanged(change.status, change.actor, change.at)
            )

    async def _tell_parent(self, signal: str, argument: object) -> None:
        """An opportunity that started (or adopted) this trial shows its technical win and
        phase."""
        parent = workflow.info().parent
        told = parent.workflow_id if parent is not None else self._s.opportunity_workflow_id
        if told is None:
            return
        try:
            await workflow.get_external_workflow_handle(told).signal(signal, argument)
        except Exception as err:  # the opportunity may have closed; the trial goes on
            workflow.logger.warning("could not tell %s about %s: %s", told, signal, err)

    async def _tell_adopter_win(self) -> None:
        s = self._s
        if self._adopter_told_win:
            return
        self._adopter_told_win = True
        last = s.technical_win_changes[-1] if s.technical_win_changes else None
        await self._tell_parent(
            "technical_win_changed",
            TechnicalWinChanged(
                s.technical_win,
                last.actor if last else s.start.ce_owner,
                last.at if last else workflow.now(),
            ),
        )

    async def _tell_parent_phase(self) -> None:
        if self._parent_told_phase is not self._s.phase:
            self._parent_told_phase = self._s.phase
            await self._tell_parent("trial_phase_changed", TrialPhaseChanged(self._s.phase.value))

    async def _prompt_check_in(self) -> None:
        s = self._s
        if (
            s.phase is not TrialPhase.RUNNING
            or s.check_in_prompted
            or s.midpoint_at is None
            or workflow.now() < s.midpoint_at
        ):
            return
        step = rules.find_step(s, MID_TRIAL_CHECK_IN.key)
        assert step is not None and step.due_at is not None
        if step.status is not StepStatus.PENDING and workflow.patched(TRIAL_CHECK_IN_PROMPT_PATCH):
            # Recorded before the midpoint: nothing to prompt, and nothing owed any more.
            s.check_in_prompted = True
            return
        prompt = (
            f"Mid-trial check-in for {escape(s.start.account_name)}"
            f" ({s.start.opportunity_id}) is due"
            f" by {_date(step.due_at)}."
        )
        await effects.post_slack(
            self._fx,
            self._step_prompt(self._key("check-in", "slack"), s.start.ce_owner, step, prompt),
            kind=EffectKind.REMINDER,
            then=step_prompts.remember_prompt(step),
        )
        await effects.create_salesforce_task(
            self._fx,
            SalesforceTaskRequest(
                idempotency_key=self._key("check-in", "task"),
                what_id=s.start.opportunity_id,
                subject=f"Mid-trial check-in: {s.start.account_name}",
                activity_date=_date(step.due_at),
                description="Review progress against the trial's use cases and success metrics.",
                owner_hint=s.start.ce_owner,
            ),
        )
        s.check_in_prompted = True

    async def _send_reminders(self) -> None:
        s = self._s
        now = workflow.now()
        for step in rules.reminders_due(s, now):
            assert step.due_at is not None
            prompt = (
                f"Overdue: {escape(repr(step.title))} for the {escape(s.start.account_name)} trial"
                f" ({s.start.opportunity_id}) was due {_date(step.due_at)}."
            )
            await effects.post_slack(
                self._fx,
                self._step_prompt(
                    self._key("reminder", step.key, step.reminders_sent + 1),
                    step.owner,
                    step,
                    prompt,
                ),
                kind=EffectKind.REMINDER,
                then=step_prompts.remember_prompt(step),
            )
            step.reminders_sent += 1
            step.last_reminded_at = now

    def _step_prompt(self, key: str, to: str, step: TrialStep, prompt: str) -> SlackPost:
        """A prompt with Done, Snooze and Open; the CLI command only in the fallback text."""
        info = workflow.info()
        cli = (
            f"dealcycle step complete {info.workflow_id} {step.key}"
            f" --by {step.owner} --role {step.lead.value}"
        )
        blocks = step_prompt_blocks(
            prompt,
            workflow_id=info.workflow_id,
            step=step.key,
            kind="trial",
            url=workflow_url(self._s.start.temporal_ui_url, info.namespace, info.workflow_id),
        )
        return SlackPost(key, to, f"{prompt} When it is done: {cli}", blocks=blocks)

    async def _record_outcome(self) -> None:
        s = self._s
        if s.outcome_recorded:
            return
        assert s.outcome is not None and s.ended_at is not None
        license_ids = [grant.key_id for grant in s.licenses if grant.key_id]
        await effects.record(
            self._fx,
            effects.RECORD_TRIAL_OUTCOME,
            TrialOutcomeRecord(
                idempotency_key=self._key("outcome", "record"),
                opportunity_id=s.start.opportunity_id,
                account_id=s.start.account_id,
                outcome=s.outcome.value,
                technical_win=s.technical_win.value,
                started_at=s.started_at,
                ended_at=s.ended_at,
                ce_owner=s.start.ce_owner,
                ae_owner=s.start.ae_owner,
                override_reason=s.override.reason if s.override else None,
                license_key_ids=license_ids,
            ),
            f"record the {s.outcome.value} outcome of the trial",
        )
        fields: dict[str, str | int | float | bool | None] = {"Trial_Outcome__c": s.outcome.value}
        if s.technical_win is not TechnicalWinStatus.NOT_STARTED:
            # Not started: nobody set one in the trial, which has nothing to tell. Writing it
            # would overwrite what the opportunity says (in progress since it started the
            # trial) when closing the deal ends the trial.
            fields["Technical_Win_Status__c"] = s.technical_win.label
        if s.ends_at is not None and s.ended_at < s.ends_at:
            # Concluded early (by its CE or AE, or with its opportunity): the end it had planned
            # is not when it ended. Only the write's fields grow: the commands are the same.
            fields["Trial_End_Date__c"] = _date(s.ended_at)
        await effects.update_salesforce(
            self._fx,
            SalesforceFieldUpdate(
                self._key("outcome", "salesforce"), "Opportunity", s.start.opportunity_id, fields
            ),
        )
        if not s.ended_with_opportunity:
            how = (
                f" (concluded early by <@{s.concluded_by}>: {escape(str(s.conclusion_reason))})"
                if s.concluded_by
                else ""
            )
            await effects.post_slack(
                self._fx,
                SlackPost(
                    self._key("outcome", "slack"),
                    s.start.announce_channel,
                    f"Trial ended for {escape(s.start.account_name)} ({s.start.opportunity_id}):"
                    f" {s.outcome.value.replace('_', ' ')}{how}.",
                ),
            )
        s.outcome_recorded = True
