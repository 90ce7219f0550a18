"""``AccountWorkflow``: one customer account, for years: kickoff, onboarding, check-ins,
quarterly planning, QBRs and the renewal cycle.

Updates only change state (rules in the ``account_*_rules`` modules and ``account_steps``);
the main loop owns every side effect (``account_effects``). The module stays thin because the
sandbox re-runs it for each cached workflow. It continues as new at each renewal, and
whenever its history grows long.
"""

from __future__ import annotations

import dataclasses

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    # The payload converter resolves dataclass type hints through the sandbox's sys.modules:
    # every module whose dataclasses cross this workflow's boundary must be imported here.
    import schemas.account_changes
    import schemas.common
    import schemas.effects
    import schemas.health
    import schemas.opportunity  # noqa: F401
    from schemas import limits
    from schemas.account import (
        DEAL_CLOSED_SIGNAL,
        USAGE_REPORTED_SIGNAL,
        AccountActionAccepted,
        AccountHandOff,
        AccountStart,
        AccountState,
        ChangeCadence,
        ChangeTier,
        CompleteAccountStep,
        CompleteOnboarding,
        CompleteProfile,
        ExpandSeats,
        LifecycleStage,
        RecordFeatureRequest,
        RecordKickoffPlan,
        RecordRenewalAssessment,
        RecordRenewalCall,
        RecordRenewalOutcome,
        RenewalOutcome,
        ReportProductionReady,
        SubmitAccountPlan,
        UsageReport,
    )
    from schemas.account_changes import MoveRenewalDate, ReassignOwner
    from schemas.errors import RuleViolation
    from schemas.health import HEALTH_SIGNAL, HealthSignal, HealthView, SetHealth
    from schemas.steps import SNOOZE_STEP_UPDATE, SnoozeStep
    from schemas.todo import OpenSteps
    from workflows import account_changes as changes
    from workflows import account_feedback_rules as feedback
    from workflows import account_onboarding_rules as onboarding
    from workflows import account_plan_rules as plans
    from workflows import account_profile_rules as profile_rules
    from workflows import account_renewal_rules as renewals
    from workflows import account_schedule as schedule
    from workflows import account_snooze, hand_off_gaps, health_rules
    from workflows import account_steps as steps
    from workflows import account_views as views
    from workflows.account_effects import AccountEffects
    from workflows.owed_work import OwedWork, OwedWorkHandlers
    from workflows.signals import accepted
    from workflows.todo_views import account_open_steps
    from workflows.visibility import history_is_long
    from workflows.wake_up import WakeUpTimer

UNIQUE_CASE_IDS_PATCH = "red-account-case-ids-unique-per-account"
HANDOFF_FILLS_GAPS_PATCH = "repeated-hand-off-fills-gaps"
"""Runs that started before: a repeat of a known deal is dropped, even when it brings what
the account does not know (the owners the intake could not read)."""
CASE_LEARNS_OWNERS_PATCH = "open-case-learns-the-profiles-owners"
"""Runs that started before: a red-account case opened before the account's AE and CE were
known is not told them when a hand-off or the profile names them (it stays without owners)."""
RENEWAL_TELLS_CASE_PATCH = "renewal-tells-open-case-its-next-date"
"""Runs that started before: a renewal decided with a red-account case open told the case
nothing (it went on showing the renewal date just passed)."""
CHURNED_TAKES_NO_READING_PATCH = "churned-account-takes-no-health-reading"
"""Runs that started before: a churned account still writing its effects took health readings,
and a low one opened a red-account case for the customer who left."""
LEADER_OF_THE_DAY_REASSIGNS_PATCH = "reassigning-leader-is-the-leader-of-the-day"
"""Runs that started before: the CE leader the account last knew reassigns its AE or CE at
once, without asking the roster (a leader rotated out since still could)."""
MOVE_ENDS_SNOOZES_PATCH = "moved-renewal-work-ends-its-snooze"
"""Runs that started before: renewal work re-planned by a moved renewal date keeps the snooze
made for its old due date (brought a month closer, a proposal due today stays silent)."""


@workflow.defn(name="AccountWorkflow")
class AccountWorkflow(OwedWorkHandlers):
    @workflow.init
    def __init__(self, start: AccountStart) -> None:
        self._changed = False
        self._wake = WakeUpTimer()
        # Raised here, a violation would fail the workflow task for ever: run raises it.
        self._invalid: RuleViolation | None = None
        if start.carried is not None:
            s = start.carried
        else:
            info = workflow.info()
            try:
                s = profile_rules.new_snapshot(
                    start, workflow.now(), f"{info.workflow_id}/{info.first_execution_run_id}"
                )
            except RuleViolation as err:
                # An account that did not start owes nothing: its book is empty and never kept.
                self._invalid = err
                self._fx = OwedWork([], info.workflow_id, self._mark_changed)
                return
        # Added after accounts were running: their cases keep the ids their histories have.
        if not s.vitals.case_scope and workflow.patched(UNIQUE_CASE_IDS_PATCH):
            s.vitals.case_scope = health_rules.case_scope_of(s.effect_scope)
        self._s = s
        self._fx = OwedWork(
            s.effects,
            s.effect_scope,
            self._mark_changed,
            # The one thing an account's main loop waits for effects to end: a churned
            # account finishing once all it owes is written.
            wakes_when_idle=lambda: s.stage is LifecycleStage.CHURNED,
        )
        self._effects = AccountEffects(s, self._fx)

    def _mark_changed(self) -> None:
        self._changed = True

    def _accepted(self, message: str) -> AccountActionAccepted:
        self._changed = True
        return AccountActionAccepted(message, self._s.stage)

    # --- Signals (feeds) ---------------------------------------------------------------------

    @workflow.signal(name=DEAL_CLOSED_SIGNAL)
    def deal_closed(self, hand_off: AccountHandOff | None = None) -> None:
        checked = accepted(DEAL_CLOSED_SIGNAL, hand_off, AccountHandOff)
        if checked is None or self._invalid is not None:
            return
        owners = self._owners()
        # Hand-offs arrive at least once (CLI, schedule, opportunity): one per deal is kept.
        if hand_off_gaps.known_deal(self._s, checked.opportunity_id) is None:
            self._changed |= profile_rules.apply_hand_off(self._s, checked, workflow.now())
        elif hand_off_gaps.fills_gaps(self._s, checked) and workflow.patched(
            HANDOFF_FILLS_GAPS_PATCH
        ):
            # A completed profile opens the kickoff: commands a run from before never issued.
            self._changed |= hand_off_gaps.apply_repeat(self._s, checked, workflow.now())
        self._tell_case_of_owners(owners, f"deal {checked.opportunity_id} named them")

    def _owners(self) -> tuple[str, str]:
        return self._s.profile.ae_owner, self._s.profile.ce_owner

    def _tell_case_of_owners(self, before: tuple[str, str], why: str) -> None:
        """An open case learns the AE and CE the profile has come to know (a case opened
        before they were named has none: nobody could record its action plan)."""
        s = self._s
        ae, ce = self._owners()
        if s.vitals.open_case is None or (ae, ce) == before or not (ae and ce):
            return
        if workflow.patched(CASE_LEARNS_OWNERS_PATCH):
            health_rules.tell_case_of_owners(s.vitals, ae, ce, "dealcycle", why, workflow.now())

    @workflow.signal(name=USAGE_REPORTED_SIGNAL)
    def usage_reported(self, report: UsageReport | None = None) -> None:
        checked = accepted(USAGE_REPORTED_SIGNAL, report, UsageReport)
        if checked is not None and self._invalid is None:
            feedback.apply_usage(self._s, checked, workflow.now())

    @workflow.signal(name=HEALTH_SIGNAL)
    def health_signal(self, signal: HealthSignal | None = None) -> None:
        signal = accepted(HEALTH_SIGNAL, signal, HealthSignal)
        if signal is None or self._invalid is not None:
            return
        problem = health_rules.check_signal(signal)
        if problem is not None:  # a feed's bad reading: dropped, and said so in the log
            workflow.logger.warning("health signal dropped: %s", problem)
            return
        s = self._s
        # A churned account runs on only to write what it owes: a reading (the customer who
        # left reads as barely used) must not turn it red and open a case.
        if s.stage is LifecycleStage.CHURNED and workflow.patched(CHURNED_TAKES_NO_READING_PATCH):
            workflow.logger.info("health signal dropped: the customer churned")
            return
        if health_rules.apply_signal(s.vitals, signal, s.config.health, workflow.now()):
            self._changed = True

    @workflow.query
    def state(self) -> AccountState:
        view = views.state_view(self._s, workflow.now())
        return dataclasses.replace(view, effects=self._fx.view().effects)

    @workflow.query
    def open_steps(self) -> OpenSteps:
        return account_open_steps(self._s)

    @workflow.query
    def health(self) -> HealthView:
        return views.health_view(self._s)

    # --- Updates (CE and AE actions) ---------------------------------------------------------

    @workflow.update
    def record_kickoff_plan(self, request: RecordKickoffPlan) -> AccountActionAccepted:
        return self._accepted(onboarding.apply_kickoff_plan(self._s, request, workflow.now()))

    @record_kickoff_plan.validator
    def _check_kickoff_plan(self, request: RecordKickoffPlan) -> None:
        limits.check(request, workflow.now())
        onboarding.check_kickoff_plan(self._s, request)
        onboarding.check_training_keys(request)

    @workflow.update
    def report_production_ready(self, request: ReportProductionReady) -> AccountActionAccepted:
        return self._accepted(onboarding.apply_production_ready(self._s, request, workflow.now()))

    @report_production_ready.validator
    def _check_production_ready(self, request: ReportProductionReady) -> None:
        limits.check(request, workflow.now())
        onboarding.check_production_ready(self._s, request)
        onboarding.check_production_ready_before_onboarded(self._s)

    @workflow.update
    async def complete_step(self, request: CompleteAccountStep) -> AccountActionAccepted:
        # Only a request the validator refused before this existed looks the roster up (a
        # value exercise done by someone other than its owner); the rest apply at once.
        if steps.value_engineering_to_look_up(self._s, request):
            roster = await self._effects.roster.of_today()
            steps.take_over_value_exercise(
                self._s, request, roster.value_engineering, workflow.now()
            )
        return self._accepted(steps.apply_complete_step(self._s, request, workflow.now()))

    @complete_step.validator
    def _check_complete_step(self, request: CompleteAccountStep) -> None:
        limits.check(request, workflow.now())
        steps.check_complete_step(self._s, request, value_engineering_known=False)

    @workflow.update(name=SNOOZE_STEP_UPDATE)
    def snooze_step(self, request: SnoozeStep) -> AccountActionAccepted:
        return self._accepted(account_snooze.apply_snooze(self._s, request, workflow.now()))

    @snooze_step.validator
    def _check_snooze_step(self, request: SnoozeStep) -> None:
        account_snooze.check_snooze_request(self._s, request, workflow.now())

    @workflow.update
    def complete_onboarding(self, request: CompleteOnboarding) -> AccountActionAccepted:
        return self._accepted(
            onboarding.apply_complete_onboarding(self._s, request, workflow.now())
        )

    @complete_onboarding.validator
    def _check_complete_onboarding(self, request: CompleteOnboarding) -> None:
        limits.check(request, workflow.now())
        onboarding.check_complete_onboarding(self._s, request)

    @workflow.update
    def change_cadence(self, request: ChangeCadence) -> AccountActionAccepted:
        return self._accepted(onboarding.apply_change_cadence(self._s, request, workflow.now()))

    @change_cadence.validator
    def _check_change_cadence(self, request: ChangeCadence) -> None:
        limits.check(request, workflow.now())
        onboarding.check_change_cadence(self._s, request)

    @workflow.update
    def change_tier(self, request: ChangeTier) -> AccountActionAccepted:
        return self._accepted(plans.apply_change_tier(self._s, request, workflow.now()))

    @change_tier.validator
    def _check_change_tier(self, request: ChangeTier) -> None:
        limits.check(request, workflow.now())
        plans.check_change_tier(self._s, request, workflow.now())

    @workflow.update
    def complete_profile(self, request: CompleteProfile) -> AccountActionAccepted:
        owners = self._owners()
        message = profile_rules.apply_complete_profile(self._s, request, workflow.now())
        self._tell_case_of_owners(owners, f"the profile, completed by {request.actor}")
        return self._accepted(message)

    @complete_profile.validator
    def _check_complete_profile(self, request: CompleteProfile) -> None:
        limits.check(request, workflow.now())
        profile_rules.check_complete_profile(self._s, request, workflow.now())
        profile_rules.check_profile_renewal_ahead(self._s, request, workflow.now())

    @workflow.update
    def submit_account_plan(self, request: SubmitAccountPlan) -> AccountActionAccepted:
        return self._accepted(plans.apply_account_plan(self._s, request, workflow.now()))

    @submit_account_plan.validator
    def _check_account_plan(self, request: SubmitAccountPlan) -> None:
        limits.check(request, workflow.now())
        plans.check_account_plan(self._s, request)
        plans.check_plan_quarter_current(self._s, request)
        plans.check_plan_link_fits(request)

    @workflow.update
    def record_renewal_assessment(self, request: RecordRenewalAssessment) -> AccountActionAccepted:
        return self._accepted(renewals.apply_renewal_assessment(self._s, request, workflow.now()))

    @record_renewal_assessment.validator
    def _check_renewal_assessment(self, request: RecordRenewalAssessment) -> None:
        limits.check(request, workflow.now())
        renewals.check_renewal_assessment(self._s, request)

    @workflow.update
    def record_renewal_call(self, request: RecordRenewalCall) -> AccountActionAccepted:
        return self._accepted(renewals.apply_renewal_call(self._s, request, workflow.now()))

    @record_renewal_call.validator
    def _check_renewal_call(self, request: RecordRenewalCall) -> None:
        limits.check(request, workflow.now())
        renewals.check_renewal_call(self._s, request, workflow.now())

    @workflow.update
    def record_renewal_outcome(self, request: RecordRenewalOutcome) -> AccountActionAccepted:
        # Asked only when it matters: a renewal (not a churn) decided with a case open.
        tells = (
            self._s.vitals.open_case is not None
            and request.outcome != RenewalOutcome.CHURNED.value
            and workflow.patched(RENEWAL_TELLS_CASE_PATCH)
        )
        return self._accepted(
            renewals.apply_renewal_outcome(self._s, request, workflow.now(), tells_case=tells)
        )

    @record_renewal_outcome.validator
    def _check_renewal_outcome(self, request: RecordRenewalOutcome) -> None:
        limits.check(request, workflow.now())
        renewals.check_renewal_outcome(self._s, request, workflow.now())
        renewals.check_next_renewal_ahead(self._s, request, workflow.now())
        changes.check_new_team_seats(self._s, request)
        changes.check_outcome_fields(self._s, request)

    @workflow.update
    def move_renewal_date(self, request: MoveRenewalDate) -> AccountActionAccepted:
        # Asked only when it matters: a move of renewal work whose reminders are snoozed.
        ends = changes.moves_snoozed_work(self._s) and workflow.patched(MOVE_ENDS_SNOOZES_PATCH)
        return self._accepted(
            changes.apply_move_renewal_date(self._s, request, workflow.now(), ends_snoozes=ends)
        )

    @move_renewal_date.validator
    def _check_move_renewal_date(self, request: MoveRenewalDate) -> None:
        limits.check(request, workflow.now())
        changes.check_move_renewal_date(self._s, request, workflow.now())

    @workflow.update
    async def reassign_owner(self, request: ReassignOwner) -> AccountActionAccepted:
        # The outgoing owner applies at once; anyone else only as the CE leader of the day, so
        # the roster is asked (runs from before let the leader the account knew apply at once).
        if changes.leader_to_look_up(self._s, request) or (
            changes.leader_to_confirm(self._s, request)
            and workflow.patched(LEADER_OF_THE_DAY_REASSIGNS_PATCH)
        ):
            await self._effects.roster.of_today()  # remembered: the rules read the leader
        return self._accepted(changes.apply_reassign_owner(self._s, request, workflow.now()))

    @reassign_owner.validator
    def _check_reassign_owner(self, request: ReassignOwner) -> None:
        limits.check(request, workflow.now())
        # Who may (the CE leader of the day) is the handler's to check, after the roster.
        changes.check_reassign_owner(self._s, request, leader_known=False)

    @workflow.update
    def expand_seats(self, request: ExpandSeats) -> AccountActionAccepted:
        return self._accepted(profile_rules.apply_expand_seats(self._s, request, workflow.now()))

    @expand_seats.validator
    def _check_expand_seats(self, request: ExpandSeats) -> None:
        limits.check(request, workflow.now())
        profile_rules.check_expand_seats(self._s, request)

    @workflow.update
    def record_feature_request(self, request: RecordFeatureRequest) -> AccountActionAccepted:
        return self._accepted(feedback.apply_feature_request(self._s, request, workflow.now()))

    @record_feature_request.validator
    def _check_feature_request(self, request: RecordFeatureRequest) -> None:
        limits.check(request, workflow.now())
        feedback.check_feature_request(self._s, request)

    @workflow.update
    def set_health(self, request: SetHealth) -> AccountActionAccepted:
        s = self._s
        p = s.profile
        colour = health_rules.apply_set_health(
            s.vitals, request, p.ae_owner, p.ce_owner, workflow.now()
        )
        steps.audit(
            s,
            workflow.now(),
            request.actor,
            f"set health {colour.value}: {request.reason}",
            request.via,
        )
        case = f"; red-account case {s.vitals.open_case} opens" if s.vitals.open_case else ""
        return self._accepted(
            f"health is now {colour.value}{case if colour.value == 'red' else ''}"
        )

    @set_health.validator
    def _check_set_health(self, request: SetHealth) -> None:
        limits.check(request, workflow.now())
        steps.check_not_churned(self._s)
        p = self._s.profile
        health_rules.check_set_health(self._s.vitals, request, p.ae_owner, p.ce_owner)

    # --- Main loop ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, start: AccountStart) -> None:
        if self._invalid is not None:
            raise self._invalid
        s = self._s
        while True:
            self._changed = False
            await self._effects.catch_up()
            if self._effects.finished():
                break
            if self._effects.owes_renewal_restart():
                renewals.start_next_cycle(s)
                await self._continue_as_new(start)
            # The configured size is a ceiling: one loop's writes must still fit under it.
            if history_is_long(s.config.history_event_limit * 9 // 10):
                renewals.compact(s)
                await self._continue_as_new(start)
            wake_up = schedule.next_named_wake_up(
                s, workflow.now(), tier_before_planning=self._effects.tier_before_planning()
            )
            await self._wake.until(lambda: self._changed, wake_up)
        await workflow.wait_condition(workflow.all_handlers_finished)

    async def _continue_as_new(self, start: AccountStart) -> None:
        # Handlers are synchronous, but an update may be mid-validation: let it land;
        # effects in flight finish here (what waits is carried).
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and self._fx.idle())
        self._s.continued_as_new += 1
        self._fx.carry_over()
        workflow.continue_as_new(
            AccountStart(
                self._s.profile.account_id,
                self._s.profile.account_name,
                stage=self._s.stage,
                carried=self._s,
            )
        )
