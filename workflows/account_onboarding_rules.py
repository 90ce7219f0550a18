"""Kickoff and onboarding: the kickoff plan and the check-in cadence it settles, production
infrastructure ready, the trainings, and onboarding complete."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from schemas import limits
from schemas.account import (
    CORE_TRAININGS,
    AccountSnapshot,
    AccountStep,
    ChangeCadence,
    CheckInCadence,
    CompleteOnboarding,
    KickoffPlan,
    LifecycleStage,
    RecordKickoffPlan,
    ReportProductionReady,
    StepKind,
)
from schemas.common import Role, StepStatus
from schemas.errors import RuleViolation
from workflows.account_calendar import month_of, next_quarter, plan_due_at, quarter_of, tier_in
from workflows.account_steps import (
    add_step,
    audit,
    check_actor,
    check_not_churned,
    check_profile_complete,
    complete,
    find,
)

KICKOFF_PLAN_STEP = "kickoff-plan"
TRAINING_STEP = "training-"
"""A training's step key: this, then its name as a slug."""
BROUGHT_IN = "brought in"
"""Who "recorded" the kickoff of a customer brought in past kickoff."""
_SLUG = re.compile(r"[^a-z0-9]+")


def check_kickoff_plan(s: AccountSnapshot, request: RecordKickoffPlan) -> CheckInCadence:
    check_not_churned(s)
    if request.role is not Role.CE:
        raise RuleViolation("the kickoff plan is recorded by the CE")
    check_actor(s, request.actor, request.role)
    check_profile_complete(s, "record the kickoff plan")
    if s.kickoff is not None and s.kickoff.recorded_by == BROUGHT_IN:
        raise RuleViolation(
            "this customer was brought in past kickoff: there is no kickoff plan to record;"
            " change the cadence with `dealcycle account cadence`"
        )
    if s.kickoff is not None:
        raise RuleViolation(
            f"the kickoff plan was already recorded by {s.kickoff.recorded_by}"
            f" on {s.kickoff.recorded_at.date().isoformat()}; change the cadence with"
            " `dealcycle account cadence`"
        )
    cadence = _cadence(request.cadence)
    for name in request.optional_trainings:
        if not _slug(name):
            raise RuleViolation(f"training name {name!r} is empty")
        if _slug(name) in CORE_TRAININGS:
            raise RuleViolation(
                f"training {name!r} is a core training (101, 102, Admin are always planned)"
            )
    return cadence


def check_training_keys(request: RecordKickoffPlan) -> None:
    """Each optional training's step key fits what `dealcycle account step` (and the Slack
    button) take: a longer one could never be marked done, nor onboarding complete. Asked for
    by the validator only: kickoff plans accepted before replay as they were."""
    longest = limits.STEP_KEY.max_chars - len(TRAINING_STEP)
    for name in request.optional_trainings:
        if len(_slug(name)) > longest:
            raise RuleViolation(
                f"training name {name!r} is too long: its step key would pass"
                f" {limits.STEP_KEY.max_chars} characters; shorten it to at most {longest}"
                " letters, digits and dashes"
            )


def apply_kickoff_plan(s: AccountSnapshot, request: RecordKickoffPlan, now: datetime) -> str:
    cadence = check_kickoff_plan(s, request)
    s.kickoff = KickoffPlan(
        cadence,
        list(request.optional_trainings),
        request.onboarding_integration_help,
        list(request.upcoming_initiatives),
        request.actor,
        now,
    )
    step = find(s, KICKOFF_PLAN_STEP)
    if step is not None:
        complete(step, request.actor, now, "")
    set_cadence(s, cadence, now)
    audit(
        s, now, request.actor, f"recorded the kickoff plan (check-ins {cadence.value})", request.via
    )
    return f"kickoff plan recorded: check-ins {cadence.value}" + _next_check_in(s)


def set_cadence(s: AccountSnapshot, cadence: CheckInCadence, now: datetime) -> None:
    s.cadence = cadence
    s.briefed_check_in_at = None  # the check-ins start over from now
    interval = cadence.interval_days
    s.next_check_in_at = None if interval is None else now + timedelta(days=interval)


def _next_check_in(s: AccountSnapshot) -> str:
    if s.next_check_in_at is None:
        return "; check-ins as needed, no schedule"
    return f"; next check-in {s.next_check_in_at.date().isoformat()}"


def check_production_ready(s: AccountSnapshot, request: ReportProductionReady) -> None:
    check_not_churned(s)
    check_actor(s, request.actor, request.role)
    if s.production_ready_at is not None:
        raise RuleViolation(
            f"production was already reported ready on {s.production_ready_at.date().isoformat()}"
        )
    if s.kickoff is None:
        raise RuleViolation(
            "record the kickoff plan first: onboarding follows the trainings it plans"
        )


def check_production_ready_before_onboarded(s: AccountSnapshot) -> None:
    """Production is reported ready only before onboarding is complete: a customer brought in
    at adoption or renewal (its onboarding done before) would go back to onboarding, with
    trainings no `onboarding-complete` could ever close. Asked for by the validator only:
    reports accepted before replay as they were."""
    if s.onboarding_completed_at is not None:
        raise RuleViolation(
            "onboarding was already completed on"
            f" {s.onboarding_completed_at.date().isoformat()}: production is long ready"
            f" (the account is at {s.stage.value})"
        )


def apply_production_ready(
    s: AccountSnapshot, request: ReportProductionReady, now: datetime
) -> str:
    check_production_ready(s, request)
    s.production_ready_at = now
    s.stage = LifecycleStage.ONBOARDING
    open_training_steps(s, now)
    audit(s, now, request.actor, "reported production infrastructure ready", request.via)
    trainings = ", ".join(step.key for step in s.steps if step.kind is StepKind.TRAINING)
    return f"onboarding started; trainings planned: {trainings}"


def open_training_steps(s: AccountSnapshot, now: datetime) -> None:
    optional = s.kickoff.optional_trainings if s.kickoff else []
    names = [*CORE_TRAININGS, *(_slug(name) for name in optional)]
    for name in dict.fromkeys(names):
        add_step(
            s,
            AccountStep(
                key=f"{TRAINING_STEP}{name}",
                kind=StepKind.TRAINING,
                title=f"Training: {'Admin' if name == 'admin' else name}",
                owner=s.profile.ce_owner,
                role=Role.CE.value,
                due_at=None,
                created_at=now,
            ),
        )


def check_complete_onboarding(s: AccountSnapshot, request: CompleteOnboarding) -> None:
    check_not_churned(s)
    check_actor(s, request.actor, request.role)
    if s.onboarding_completed_at is not None:
        raise RuleViolation(
            f"onboarding was already completed on {s.onboarding_completed_at.date().isoformat()}"
        )
    if s.stage is not LifecycleStage.ONBOARDING:
        raise RuleViolation(
            "onboarding has not started: report production infrastructure ready first"
        )
    open_trainings = [
        step.key
        for step in s.steps
        if step.kind is StepKind.TRAINING and step.status is StepStatus.PENDING
    ]
    if open_trainings:
        raise RuleViolation(
            "onboarding cannot complete while trainings are open: " + ", ".join(open_trainings)
        )


def apply_complete_onboarding(
    s: AccountSnapshot, request: CompleteOnboarding, now: datetime
) -> str:
    check_complete_onboarding(s, request)
    finish_onboarding(s, now)
    audit(s, now, request.actor, "completed onboarding", request.via)
    first = s.first_planning_quarter
    assert first is not None
    due = plan_due_at(first, tier_in(s, first), s)
    return (
        f"onboarding complete; the first account plan is for {first}, due {due.date().isoformat()}"
    )


def finish_onboarding(s: AccountSnapshot, now: datetime) -> None:
    s.onboarding_completed_at = now
    s.stage = LifecycleStage.ADOPTION
    # Planning looks at the quarter ahead: the first plan is the next quarter's.
    s.first_planning_quarter = next_quarter(quarter_of(now))
    s.assessed_months = [month_of(now)]


def check_change_cadence(s: AccountSnapshot, request: ChangeCadence) -> CheckInCadence:
    check_not_churned(s)
    check_actor(s, request.actor, request.role)
    cadence = _cadence(request.cadence)
    if s.kickoff is None:
        raise RuleViolation("the cadence is set by the kickoff plan: record it first")
    if cadence is s.cadence:
        raise RuleViolation(f"check-ins are already {cadence.value}")
    return cadence


def apply_change_cadence(s: AccountSnapshot, request: ChangeCadence, now: datetime) -> str:
    cadence = check_change_cadence(s, request)
    set_cadence(s, cadence, now)
    audit(s, now, request.actor, f"changed check-ins to {cadence.value}", request.via)
    return f"check-ins are now {cadence.value}" + _next_check_in(s)


def _slug(name: str) -> str:
    return _SLUG.sub("-", name.strip().lower()).strip("-")


def unknown_cadence(raw: str) -> str:
    return f"unknown check-in cadence {raw!r}; use one of " + ", ".join(
        item.value for item in CheckInCadence
    )


def _cadence(raw: str) -> CheckInCadence:
    try:
        return CheckInCadence(raw.strip().lower())
    except ValueError:
        raise RuleViolation(unknown_cadence(raw)) from None
