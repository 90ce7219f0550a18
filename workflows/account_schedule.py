"""The work that time brings, and when it comes.

``advance`` creates it: the kickoff plan once the account has its owners, quarterly plans and
QBRs, monthly renewal assessments, the renewal window. Check-in briefs, reminders and
escalations fall due on their own; ``next_named_wake_up`` says when time next changes something."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from schemas.account import AccountSnapshot, AccountStep, LifecycleStage, RenewalCycle, StepKind
from schemas.common import Role, StepStatus
from workflows import summaries
from workflows.account_calendar import (
    day_of_quarter,
    midnight,
    month_start,
    next_month,
    next_quarter,
    parse_quarter,
    plan_due_at,
    quarter_of,
    quarter_start,
)
from workflows.account_onboarding_rules import KICKOFF_PLAN_STEP
from workflows.account_steps import (
    add_step,
    find,
    grant_license,
    missing_profile,
    profile_changed,
    skip,
)
from workflows.step_snooze import not_before_snooze

QUARTERS_KEPT = 8
VALUE_EXERCISE_DUE_DAYS = 30


def advance(
    s: AccountSnapshot,
    now: datetime,
    kickoff_counts_from: datetime | None = None,
    *,
    tier_before_planning: bool = False,
) -> None:
    """Create the work that time brings, up to ``now``.

    The kickoff plan opening now is due ``kickoff_plan_due_days`` after
    ``kickoff_counts_from`` (the start of the account's workflow when not given).
    ``tier_before_planning``: a tier change applies from its quarter even before the account
    plans (runs from before applied it with the first plan's quarter only)."""
    if s.stage is LifecycleStage.CHURNED or missing_profile(s):
        return
    if s.renewal is None:
        assert s.profile.renewal_date is not None
        s.renewal = RenewalCycle(s.profile.renewal_date)
    if opens_kickoff(s):
        _open_kickoff(s, now, kickoff_counts_from or s.started_at)
    if tier_before_planning and s.first_planning_quarter is None:
        _apply_due_tier(s, quarter_of(now))
    _open_quarters(s, now)
    _open_assessments(s, now)
    _open_renewal_window(s, now)


def opens_kickoff(s: AccountSnapshot) -> bool:
    """Whether ``advance`` opens the kickoff plan: the account has its owners (its profile is
    complete) and is in kickoff with no kickoff plan, recorded or asked for."""
    return (
        s.stage is LifecycleStage.KICKOFF
        and not missing_profile(s)
        and find(s, KICKOFF_PLAN_STEP) is None
        and not s.kickoff
    )


def kickoff_due_from_owners(s: AccountSnapshot, now: datetime) -> bool:
    """Whether the kickoff plan opening ``now`` would fall due on another day counted from
    ``now`` (when the account got its owners) than from its workflow's start: a profile
    completed on a later day than the hand-off that started it."""
    return opens_kickoff(s) and midnight(now) > midnight(s.started_at)


def _open_kickoff(s: AccountSnapshot, now: datetime, counts_from: datetime) -> None:
    d = s.config.durations
    p = s.profile
    add_step(
        s,
        AccountStep(
            key=KICKOFF_PLAN_STEP,
            kind=StepKind.KICKOFF_PLAN,
            title="Kickoff call: agree the check-in cadence, trainings, onboarding help and"
            " upcoming initiatives",
            owner=p.ce_owner,
            role=Role.CE.value,
            due_at=midnight(counts_from) + timedelta(days=d.kickoff_plan_due_days),
            created_at=now,
            salesforce_task=True,
        ),
    )
    assert p.renewal_date is not None
    grant_license(s, "kickoff", p.seats)


def _open_quarters(s: AccountSnapshot, now: datetime) -> None:
    if s.first_planning_quarter is None:
        return
    while True:
        last = s.planned_quarters[-1] if s.planned_quarters else None
        quarter = s.first_planning_quarter if last is None else next_quarter(last)
        if quarter_start(quarter) > now:
            return
        _open_quarter(s, quarter, now)


def _apply_due_tier(s: AccountSnapshot, quarter: str) -> None:
    """The tier changes once its quarter has come."""
    if s.next_tier is not None and s.next_tier_from is not None:
        if parse_quarter(s.next_tier_from) <= parse_quarter(quarter):
            s.profile = replace(s.profile, tier=s.next_tier)
            s.next_tier = s.next_tier_from = None
            profile_changed(s)


def tier_change_pending_before_planning(s: AccountSnapshot) -> bool:
    """A tier change waits for its quarter while the account does not plan yet (kickoff,
    onboarding): no quarter's opening would apply it."""
    return s.next_tier is not None and s.first_planning_quarter is None


def _open_quarter(s: AccountSnapshot, quarter: str, now: datetime) -> None:
    _apply_due_tier(s, quarter)
    for step in s.steps:  # last quarter's plan and QBR are moot now
        if step.kind in (StepKind.ACCOUNT_PLAN, StepKind.QBR) and step.status is StepStatus.PENDING:
            skip(step, f"missed: superseded by {quarter}")
    tier = s.profile.tier
    shared = (
        "shared at the 2:2 review and the internal QBR"
        if tier == 1
        else "shared with the CE leader in your 1:1"
    )
    add_step(
        s,
        AccountStep(
            key=f"account-plan-{quarter}",
            kind=StepKind.ACCOUNT_PLAN,
            title=f"{quarter} account plan (Tier {tier}: {shared})",
            owner=s.profile.ce_owner,
            role=Role.CE.value,
            due_at=plan_due_at(quarter, tier, s),
            created_at=now,
            salesforce_task=True,
        ),
    )
    add_step(
        s,
        AccountStep(
            key=f"qbr-{quarter}",
            kind=StepKind.QBR,
            title=f"{quarter} QBR with {s.profile.account_name}'s leadership (with the AE)",
            owner=s.profile.ce_owner,
            role=Role.CE.value,
            due_at=day_of_quarter(quarter, s.config.durations.qbr_due_day_of_quarter),
            created_at=now,
            salesforce_task=True,
        ),
    )
    s.planned_quarters = [*s.planned_quarters, quarter][-QUARTERS_KEPT:]


def _open_assessments(s: AccountSnapshot, now: datetime) -> None:
    if not s.assessed_months:
        return
    while True:
        month = next_month(s.assessed_months[-1])
        if month_start(month) > now:
            return
        for step in s.steps:
            if step.kind is StepKind.RENEWAL_ASSESSMENT and step.status is StepStatus.PENDING:
                skip(step, f"missed: superseded by {month}")
        due = month_start(month) + timedelta(days=s.config.durations.renewal_assessment_due_days)
        for role, owner, what in (
            (Role.AE, s.profile.ae_owner, "relationship and business risks"),
            (Role.CE, s.profile.ce_owner, "technical risks"),
        ):
            add_step(
                s,
                AccountStep(
                    key=f"renewal-assessment-{month}-{role.value.lower()}",
                    kind=StepKind.RENEWAL_ASSESSMENT,
                    title=f"{month} renewal health assessment (the {renewal_tag(s)}"
                    f" renewal): {what}",
                    owner=owner,
                    role=role.value,
                    due_at=due,
                    created_at=now,
                ),
            )
        s.assessed_months = [*s.assessed_months, month][-QUARTERS_KEPT:]


def renewal_window_opens_at(s: AccountSnapshot) -> datetime | None:
    if s.renewal is None:
        return None
    return s.renewal.renewal_date - timedelta(days=s.config.durations.value_exercise_lead_days)


def renewal_tag(s: AccountSnapshot) -> str:
    assert s.renewal is not None
    return s.renewal.renewal_date.date().isoformat()


def _open_renewal_window(s: AccountSnapshot, now: datetime) -> None:
    opens = renewal_window_opens_at(s)
    if opens is None or now < opens or s.renewal is None:
        return
    tag = renewal_tag(s)
    if find(s, f"value-realization-{tag}") is not None:
        # The window is open and its work too: a moved date's window reopening with its work,
        # or onboarding that ended inside the window (it opened while the customer onboarded).
        if s.stage is LifecycleStage.ADOPTION:
            s.stage = LifecycleStage.RENEWAL
        return
    d = s.config.durations
    renewal_date = s.renewal.renewal_date
    add_step(
        s,
        AccountStep(
            key=f"value-realization-{tag}",
            kind=StepKind.VALUE_REALIZATION,
            title=f"Value-realization exercise before the {tag} renewal (before the first"
            " renewal call)",
            owner=s.config.value_engineering,
            role="VE",
            due_at=min(midnight(now) + timedelta(days=VALUE_EXERCISE_DUE_DAYS), renewal_date),
            created_at=now,
            salesforce_task=True,
        ),
    )
    add_step(
        s,
        AccountStep(
            key=f"renewal-proposal-{tag}",
            kind=StepKind.RENEWAL_PROPOSAL,
            title=f"Renewal proposal for {tag}; talk to the champion and economic buyer",
            owner=s.profile.ae_owner,
            role=Role.AE.value,
            due_at=max(renewal_date - timedelta(days=d.renewal_proposal_lead_days), midnight(now)),
            created_at=now,
            salesforce_task=True,
        ),
    )
    add_step(
        s,
        AccountStep(
            key=f"renewal-outcome-{tag}",
            kind=StepKind.RENEWAL_OUTCOME,
            title=f"Record the outcome of the {tag} renewal",
            owner=s.profile.ae_owner,
            role=Role.AE.value,
            due_at=renewal_date,
            created_at=now,
        ),
    )
    if s.stage is LifecycleStage.ADOPTION:
        s.stage = LifecycleStage.RENEWAL


def value_exercise_done(s: AccountSnapshot) -> bool:
    return s.renewal is not None and s.renewal.value_exercise_done


def check_in_brief_at(s: AccountSnapshot) -> datetime | None:
    if s.next_check_in_at is None or s.stage is LifecycleStage.CHURNED:
        return None
    return s.next_check_in_at - timedelta(seconds=s.config.durations.check_in_brief_lead_seconds)


def check_in_brief_due(s: AccountSnapshot, now: datetime) -> bool:
    at = check_in_brief_at(s)
    return at is not None and now >= at


def after_check_in_brief(s: AccountSnapshot) -> None:
    s.check_ins_briefed += 1
    s.briefed_check_in_at = s.next_check_in_at
    interval = s.cadence.interval_days if s.cadence else None
    if interval is None or s.next_check_in_at is None:
        s.next_check_in_at = None
    else:
        s.next_check_in_at += timedelta(days=interval)


def reminders_due(s: AccountSnapshot, now: datetime) -> list[AccountStep]:
    """Overdue steps owed a reminder: the first a delay after the due date, then repeated,
    until the step escalates (the CE leader chases it from there)."""
    d = s.config.durations
    due = []
    for step in s.steps:
        if step.status is not StepStatus.PENDING or step.due_at is None or step.escalated:
            continue
        if step.reminders_sent >= d.escalate_after_reminders:
            continue
        if now >= next_reminder_at(s, step):
            due.append(step)
    return due


def next_reminder_at(s: AccountSnapshot, step: AccountStep) -> datetime:
    """When an open step with a due date is next reminded (or escalated)."""
    d = s.config.durations
    assert step.due_at is not None
    if step.last_reminded_at is None:
        at = step.due_at + timedelta(seconds=d.overdue_reminder_delay_seconds)
    else:
        at = step.last_reminded_at + timedelta(seconds=d.overdue_reminder_repeat_seconds)
    return not_before_snooze(step, at)


def escalations_due(s: AccountSnapshot, now: datetime) -> list[AccountStep]:
    d = s.config.durations
    return [
        step
        for step in s.steps
        if step.status is StepStatus.PENDING
        and step.due_at is not None
        and not step.escalated
        and step.reminders_sent >= d.escalate_after_reminders
        and now >= next_reminder_at(s, step)
    ]


def next_wake_up(s: AccountSnapshot, now: datetime) -> datetime | None:
    """The next moment time alone changes something."""
    wake_up = next_named_wake_up(s, now)
    return wake_up.at if wake_up is not None else None


def next_named_wake_up(
    s: AccountSnapshot, now: datetime, *, tier_before_planning: bool = False
) -> summaries.WakeUp | None:
    """``next_wake_up`` with what it is for (the timer's summary in the Web UI);
    ``tier_before_planning`` as ``advance``'s."""
    if s.stage is LifecycleStage.CHURNED or missing_profile(s):
        return None
    moments: list[summaries.WakeUp] = []
    if tier_before_planning and tier_change_pending_before_planning(s):
        assert s.next_tier_from is not None
        moments.append(
            summaries.WakeUp(
                quarter_start(s.next_tier_from),
                summaries.moment(f"Tier {s.next_tier} from {s.next_tier_from}"),
            )
        )
    if s.first_planning_quarter is not None:
        last = s.planned_quarters[-1] if s.planned_quarters else None
        quarter = s.first_planning_quarter if last is None else next_quarter(last)
        moments.append(
            summaries.WakeUp(quarter_start(quarter), summaries.opens(f"{quarter} account plan"))
        )
    if s.assessed_months:
        month = next_month(s.assessed_months[-1])
        moments.append(
            summaries.WakeUp(month_start(month), summaries.opens(f"{month} renewal assessment"))
        )
    opens = renewal_window_opens_at(s)
    if opens is not None and opens > now:
        lead = s.config.durations.value_exercise_lead_days
        moments.append(summaries.WakeUp(opens, summaries.opens(f"T-{lead} value exercise")))
    brief = check_in_brief_at(s)
    if brief is not None and s.next_check_in_at is not None:
        moments.append(
            summaries.WakeUp(
                brief,
                summaries.moment(f"brief for the {s.next_check_in_at.date().isoformat()} check-in"),
            )
        )
    for step in s.steps:
        if step.status is StepStatus.PENDING and step.due_at is not None and not step.escalated:
            moments.append(
                summaries.WakeUp(next_reminder_at(s, step), summaries.reminder(step.title))
            )
    return summaries.earliest(moments)
