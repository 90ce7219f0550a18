"""The renewal cycle: monthly health assessments, renewal calls, the outcome, and the next
cycle (what is finished dropped from the carried state)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from schemas import limits
from schemas.account import (
    AccountSnapshot,
    AccountStep,
    LifecycleStage,
    RecordRenewalAssessment,
    RecordRenewalCall,
    RecordRenewalOutcome,
    RenewalCycle,
    RenewalOutcome,
    StepKind,
)
from schemas.common import StepStatus
from schemas.errors import RuleViolation
from workflows import health_rules
from workflows.account_calendar import add_years, month_start, next_month
from workflows.account_schedule import renewal_tag, renewal_window_opens_at, value_exercise_done
from workflows.account_steps import (
    AUDIT_KEPT,
    audit,
    check_actor,
    check_not_churned,
    complete,
    find,
    grant_license,
    open_of,
    profile_changed,
    skip,
)

FEATURE_REQUESTS_KEPT = 10


def check_renewal_assessment(s: AccountSnapshot, request: RecordRenewalAssessment) -> AccountStep:
    check_not_churned(s)
    check_actor(s, request.actor, request.role)
    open_steps = [
        step for step in open_of(s, StepKind.RENEWAL_ASSESSMENT) if step.role == request.role.value
    ]
    if not open_steps:
        upcoming = (
            month_start(next_month(s.assessed_months[-1])).date().isoformat()
            if s.assessed_months
            else "after onboarding"
        )
        raise RuleViolation(
            f"no renewal health assessment is open for the {request.role.value};"
            f" the next opens {upcoming}"
        )
    for risk in request.risks:
        if not risk.strip():
            raise RuleViolation("a risk is empty")
    if request.turns_red and not request.risks:
        raise RuleViolation("to turn the account red, name the risks that make it so")
    return open_steps[-1]


def apply_renewal_assessment(
    s: AccountSnapshot, request: RecordRenewalAssessment, now: datetime
) -> str:
    step = check_renewal_assessment(s, request)
    complete(step, request.actor, now, "; ".join(request.risks))
    if s.renewal is not None:
        s.renewal.assessment_risks = [
            *s.renewal.assessment_risks,
            *(f"{request.role.value}: {risk}" for risk in request.risks),
        ][-AUDIT_KEPT:]
    audit(s, now, request.actor, f"recorded {step.key} ({len(request.risks)} risks)", request.via)
    if request.turns_red:
        reason = f"renewal assessment ({request.role.value}): " + "; ".join(request.risks)
        if health_rules.turn_red(s.vitals, request.actor, reason, now):
            return f"{step.key} recorded; the account is now red and a case opens"
    return f"{step.key} recorded with {len(request.risks)} risk(s)"


def check_renewal_call(s: AccountSnapshot, request: RecordRenewalCall, now: datetime) -> None:
    check_not_churned(s)
    check_actor(s, request.actor, request.role)
    _check_renewal_window(s, now, "a renewal call")
    assert s.renewal is not None
    if not value_exercise_done(s):
        raise RuleViolation(
            f"the first renewal call waits for the value-realization exercise:"
            f" value-realization-{renewal_tag(s)} ({s.config.value_engineering}) is not done"
        )


def apply_renewal_call(s: AccountSnapshot, request: RecordRenewalCall, now: datetime) -> str:
    check_renewal_call(s, request, now)
    assert s.renewal is not None
    first = s.renewal.first_call_at is None
    if first:
        s.renewal.first_call_at = now
    note = f": {request.note.strip()}" if request.note.strip() else ""
    audit(s, now, request.actor, f"recorded a renewal call{note}", request.via)
    return "first renewal call recorded" if first else "renewal call recorded"


def _check_renewal_window(s: AccountSnapshot, now: datetime, what: str) -> None:
    opens = renewal_window_opens_at(s)
    if opens is None or s.renewal is None:
        raise RuleViolation(f"{what} needs the account's renewal date")
    if now < opens:
        raise RuleViolation(
            f"{what} belongs to the renewal window, which opens {opens.date().isoformat()}"
            f" ({s.config.durations.value_exercise_lead_days} days before the"
            f" {renewal_tag(s)} renewal)"
        )
    if s.renewal.outcome is not None:
        raise RuleViolation(
            f"the {renewal_tag(s)} renewal was already decided: {s.renewal.outcome.value}"
        )


def check_renewal_outcome(
    s: AccountSnapshot, request: RecordRenewalOutcome, now: datetime
) -> RenewalOutcome:
    check_not_churned(s)
    check_actor(s, request.actor, request.role)
    try:
        outcome = RenewalOutcome(request.outcome)
    except ValueError:
        raise RuleViolation(
            f"unknown renewal outcome {request.outcome!r}; use one of "
            + ", ".join(item.value for item in RenewalOutcome)
        ) from None
    _check_renewal_window(s, now, "a renewal outcome")
    assert s.renewal is not None
    if not value_exercise_done(s):
        raise RuleViolation(
            f"no renewal outcome before the value-realization exercise:"
            f" value-realization-{renewal_tag(s)} ({s.config.value_engineering}) is not done"
        )
    if outcome is RenewalOutcome.CHURNED:
        return outcome
    following = request.next_renewal_date
    if following is not None:
        if following.utcoffset() is None:
            raise RuleViolation("the next renewal date must carry a time zone")
        if following <= max(now, s.renewal.renewal_date):
            raise RuleViolation(
                f"the next renewal date {following.date().isoformat()} must be after"
                f" {max(now, s.renewal.renewal_date).date().isoformat()}"
            )
    if outcome is RenewalOutcome.SEAT_EXPANSION and not (
        s.profile.seats < request.seats <= limits.MAX_SEATS
    ):
        raise RuleViolation(
            f"a seat expansion needs more seats than today's {s.profile.seats}, not {request.seats}"
        )
    if outcome is RenewalOutcome.NEW_TEAM and not request.expansion_opportunity_id.strip():
        raise RuleViolation(
            "a new-team expansion needs the Salesforce Opportunity the AE opened for it"
        )
    return outcome


def check_next_renewal_ahead(
    s: AccountSnapshot, request: RecordRenewalOutcome, now: datetime
) -> None:
    """An outcome recorded more than a term after its renewal names the next renewal date: a
    term on from the decided one has passed too (the next cycle would open overdue, its key
    expired). Asked for by the validator only: outcomes accepted before replay as they were."""
    if request.next_renewal_date is not None or s.renewal is None:
        return
    if request.outcome == RenewalOutcome.CHURNED.value:
        return
    following = add_years(s.renewal.renewal_date, s.config.durations.contract_term_days)
    if following <= now:
        raise RuleViolation(
            f"a term after the {renewal_tag(s)} renewal, {following.date().isoformat()}, has"
            f" passed too (today is {now.date().isoformat()}): give the next renewal date"
            " (--next-renewal-date)"
        )


def apply_renewal_outcome(
    s: AccountSnapshot, request: RecordRenewalOutcome, now: datetime, *, tells_case: bool = True
) -> str:
    """``tells_case=False``: runs from before, whose open red-account case kept showing the
    renewal just decided (it was told no next renewal date)."""
    outcome = check_renewal_outcome(s, request, now)
    renewal = s.renewal
    assert renewal is not None
    renewal.outcome = outcome
    renewal.outcome_by = request.actor
    renewal.outcome_at = now
    renewal.outcome_note = request.note
    renewal.expansion_opportunity_id = request.expansion_opportunity_id.strip()
    renewal.new_team_seats = request.new_team_seats if outcome is RenewalOutcome.NEW_TEAM else 0
    tag = renewal_tag(s)
    outcome_step = find(s, f"renewal-outcome-{tag}")
    if outcome_step is not None:
        complete(outcome_step, request.actor, now, outcome.value)
    audit(s, now, request.actor, f"renewal {tag}: {outcome.value}", request.via)
    if outcome is RenewalOutcome.CHURNED:
        s.stage = LifecycleStage.CHURNED
        for step in s.steps:
            if step.status is StepStatus.PENDING:
                skip(step, "the customer churned")
        s.next_check_in_at = None
        return f"churned at the {tag} renewal; the license is left to expire"
    term = s.config.durations.contract_term_days
    following = request.next_renewal_date or add_years(renewal.renewal_date, term)
    renewal.next_renewal_date = following
    seats = request.seats if outcome is RenewalOutcome.SEAT_EXPANSION else s.profile.seats
    s.profile = replace(s.profile, seats=seats, renewal_date=following)
    profile_changed(s)
    grant_license(s, f"renewal {tag} ({outcome.value})", seats)
    if tells_case:
        why = f"the renewal was decided: {outcome.value.replace('_', ' ')}"
        health_rules.tell_case_of_renewal(s.vitals, following, request.actor, why, now)
    team = f" for a new team of {renewal.new_team_seats} seats" if renewal.new_team_seats else ""
    extra = (
        f"; expansion opportunity {renewal.expansion_opportunity_id} starts{team}"
        if outcome is RenewalOutcome.NEW_TEAM
        else ""
    )
    return (
        f"renewed ({outcome.value}): {seats} seats until {following.date().isoformat()},"
        f" a new key follows{extra}"
    )


def start_next_cycle(s: AccountSnapshot) -> None:
    """After a renewal's effects are written: the next renewal cycle starts, and what is
    finished is dropped so the carried state stays small."""
    renewal = s.renewal
    assert renewal is not None and renewal.next_renewal_date is not None
    tag = renewal_tag(s)
    following = renewal.next_renewal_date.date().isoformat()
    for step in s.steps:
        if step.key.endswith(tag) and step.status is StepStatus.PENDING:
            skip(step, f"the {tag} renewal was decided")
        elif step.kind is StepKind.RENEWAL_ASSESSMENT and step.status is StepStatus.PENDING:
            # This month's assessment is of the account's health for its next renewal now.
            step.title = step.title.replace(f"(the {tag} renewal)", f"(the {following} renewal)")
    s.renewal = RenewalCycle(renewal.next_renewal_date)
    s.renewals_completed += 1
    s.cycle += 1
    if s.stage is LifecycleStage.RENEWAL:
        s.stage = LifecycleStage.ADOPTION
    compact(s)


def compact(s: AccountSnapshot) -> None:
    """Drop finished work that was fully written out (before continue-as-new)."""
    # This renewal's and this quarter's finished steps stay: they say the window is open and
    # a plan may be resubmitted.
    current = [s.planned_quarters[-1]] if s.planned_quarters else []
    if s.renewal is not None:
        current.append(renewal_tag(s))
    s.steps = [
        step
        for step in s.steps
        if step.status is StepStatus.PENDING or any(step.key.endswith(tag) for tag in current)
    ]
    # The newest key issued stays: it is the one the customer runs on, and the status names it.
    issued = [grant for grant in s.licenses if grant.key_id is not None]
    current_key = issued[-1] if issued else None
    s.licenses = [
        grant
        for grant in s.licenses
        if grant.key_id is None or not grant.announced or grant is current_key
    ]
    s.plans = [plan for plan in s.plans if not plan.recorded]
    kept_done = [entry for entry in s.feature_requests if entry.recorded][-FEATURE_REQUESTS_KEPT:]
    s.feature_requests = kept_done + [e for e in s.feature_requests if not e.recorded]
    s.audit = s.audit[-AUDIT_KEPT:]
