"""The rules of a customer account's lifecycle, as pure functions over ``AccountSnapshot``.

No Temporal here: the workflow calls ``check_*`` from update validators (they only read, so a
rejected action changes nothing) and ``apply_*`` from handlers; ``advance`` creates the work
that time brings (quarterly plans, QBRs, monthly assessments, the renewal window). Quarters are
calendar quarters in UTC; "day N of the quarter" counts from 1.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from schemas import limits
from schemas.account import (
    CORE_TRAININGS,
    AccountHandOff,
    AccountProfile,
    AccountSnapshot,
    AccountStart,
    AccountState,
    AccountStep,
    AuditEntry,
    ChangeCadence,
    ChangeTier,
    CheckInCadence,
    CompleteAccountStep,
    CompleteOnboarding,
    CompleteProfile,
    ExpandSeats,
    FeatureRequestEntry,
    KickoffPlan,
    LicenseGrant,
    LifecycleStage,
    PlanSubmission,
    RecordFeatureRequest,
    RecordKickoffPlan,
    RecordRenewalAssessment,
    RecordRenewalCall,
    RecordRenewalOutcome,
    RenewalCycle,
    RenewalOutcome,
    ReportProductionReady,
    StepKind,
    StepView,
    SubmitAccountPlan,
    UsageReport,
)
from schemas.common import CustomerHealth, Role, StepStatus
from schemas.errors import RuleViolation
from schemas.health import HealthView
from workflows import health_rules, summaries
from workflows.step_snooze import not_before_snooze

KICKOFF_PLAN_STEP = "kickoff-plan"
BROUGHT_IN = "brought in"
"""Who "recorded" the kickoff of a customer brought in past kickoff."""
AUDIT_KEPT = 20
FEATURE_REQUESTS_KEPT = 10
QUARTERS_KEPT = 8
VALUE_EXERCISE_DUE_DAYS = 30
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_SLUG = re.compile(r"[^a-z0-9]+")


# --- Calendar --------------------------------------------------------------------------------


def midnight(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def quarter_of(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def parse_quarter(label: str) -> tuple[int, int]:
    match = _QUARTER.match(label)
    if not match:
        raise RuleViolation(f"quarter {label!r} is not like 2027-Q2")
    return int(match.group(1)), int(match.group(2))


def quarter_start(label: str) -> datetime:
    year, number = parse_quarter(label)
    return datetime(year, 3 * (number - 1) + 1, 1, tzinfo=UTC)


def next_quarter(label: str) -> str:
    year, number = parse_quarter(label)
    return f"{year + 1}-Q1" if number == 4 else f"{year}-Q{number + 1}"


def day_of_quarter(label: str, day: int) -> datetime:
    return quarter_start(label) + timedelta(days=day - 1)


def month_of(moment: datetime) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def month_start(label: str) -> datetime:
    year, month = (int(part) for part in label.split("-"))
    return datetime(year, month, 1, tzinfo=UTC)


def next_month(label: str) -> str:
    start = month_start(label)
    return month_of(datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC))


def add_years(moment: datetime, days: int) -> datetime:
    """A contract term later; a term of whole years keeps the calendar date."""
    if days % 365 == 0:
        return limits.years_later(moment, days // 365)
    return moment + timedelta(days=days)


def plan_due_at(quarter: str, tier: int, s: AccountSnapshot) -> datetime:
    """Tier 1: before the internal QBR; Tiers 2 and 3: at the beginning of the quarter."""
    d = s.config.durations
    if tier == 1:
        return day_of_quarter(quarter, d.internal_qbr_day_of_quarter)
    return day_of_quarter(quarter, d.tier_2_3_plan_due_day_of_quarter)


# --- Start and hand-offs ---------------------------------------------------------------------


def _profile_problems(profile: AccountProfile, now: datetime) -> list[str]:
    problems = []
    if profile.tier not in (1, 2, 3):
        problems.append(f"tier must be 1, 2 or 3, not {profile.tier}")
    if profile.seats < 1:
        problems.append(f"seats must be at least 1, not {profile.seats}")
    for name in ("ae_owner", "ce_owner"):
        if not getattr(profile, name).strip():
            problems.append(f"{name} is empty")
    if profile.ae_owner and profile.ae_owner == profile.ce_owner:
        problems.append("the AE and the CE must be different people")
    if profile.renewal_date is None:
        problems.append("renewal_date is missing")
    else:
        problems += _renewal_date_problems(profile.renewal_date, now)
    return problems


def _renewal_date_problems(renewal_date: datetime, now: datetime) -> list[str]:
    if renewal_date.utcoffset() is None:
        return ["renewal_date must carry a time zone"]
    if renewal_date <= now:
        return [
            f"renewal date {renewal_date.date().isoformat()} is in the past"
            f" (today is {now.date().isoformat()})"
        ]
    return []


def check_start(start: AccountStart, now: datetime) -> None:
    limits.check(start, now, "cannot start the account: ")
    problems = []
    if not start.account_id.strip():
        problems.append("account_id is empty")
    if not start.account_name.strip():
        problems.append("account_name is empty")
    if start.stage is LifecycleStage.CHURNED:
        problems.append("a churned customer has no account workflow to start")
    if start.profile is not None:
        problems += _profile_problems(start.profile, now)
        if start.profile.account_id != start.account_id:
            problems.append("the profile is for another account")
    elif start.stage is not LifecycleStage.KICKOFF:
        problems.append(f"a customer brought in at {start.stage.value} needs its profile")
    if start.cadence:
        try:
            CheckInCadence(start.cadence)
        except ValueError:
            problems.append(_unknown_cadence(start.cadence))
    if (
        start.stage is LifecycleStage.RENEWAL
        and start.profile is not None
        and start.profile.renewal_date is not None
        and start.profile.renewal_date - now
        > timedelta(days=start.configured.durations.value_exercise_lead_days)
    ):
        problems.append(
            f"the renewal on {start.profile.renewal_date.date().isoformat()} is more than"
            f" {start.configured.durations.value_exercise_lead_days} days away: start at adoption"
        )
    if problems:
        raise RuleViolation("cannot start the account: " + "; ".join(problems))


def new_snapshot(start: AccountStart, now: datetime, effect_scope: str) -> AccountSnapshot:
    check_start(start, now)
    profile = start.profile or AccountProfile(start.account_id, start.account_name)
    s = AccountSnapshot(
        profile=profile,
        config=start.configured,
        effect_scope=effect_scope,
        stage=start.stage,
        started_at=now,
    )
    s.vitals.account_id = start.account_id
    for hand_off in start.hand_offs:
        apply_hand_off(s, hand_off, now)
    if start.stage is LifecycleStage.KICKOFF:
        return s
    # A customer brought in past kickoff: its key exists; its cadence was settled long ago.
    cadence = CheckInCadence(start.cadence or CheckInCadence.MONTHLY.value)
    s.kickoff = KickoffPlan(cadence, [], False, [], BROUGHT_IN, now)
    s.kickoff_announced = True
    _set_cadence(s, cadence, now)
    if start.stage is LifecycleStage.ONBOARDING:
        s.production_ready_at = now
        _open_training_steps(s, now)
    else:
        _finish_onboarding(s, now)
        s.stage = start.stage
    return s


def missing_profile(s: AccountSnapshot) -> list[str]:
    p = s.profile
    missing = []
    if p.tier not in (1, 2, 3):
        missing.append("tier")
    if p.seats < 1:
        missing.append("seats")
    if not p.ae_owner:
        missing.append("AE")
    if not p.ce_owner:
        missing.append("CE")
    if p.renewal_date is None:
        missing.append("renewal date")
    return missing


def apply_hand_off(s: AccountSnapshot, hand_off: AccountHandOff, now: datetime) -> bool:
    """Keep one hand-off per deal. The first deal tells a new account who it is; a later
    expansion deal adds its seats (a new key). Returns whether anything changed: a repeat of
    a known deal changes nothing here (``hand_off_gaps`` fills in what it knows)."""
    if any(known.opportunity_id == hand_off.opportunity_id for known in s.hand_offs):
        return False
    s.hand_offs.append(hand_off)
    p = s.profile
    established = not missing_profile(s)
    if not established:
        term = s.config.durations.contract_term_days
        adds_seats = hand_off.kind == "expansion" and p.seats >= 1 and hand_off.seats > 0
        s.profile = replace(
            p,
            tier=p.tier if p.tier in (1, 2, 3) else hand_off.tier,
            seats=p.seats + hand_off.seats if adds_seats else p.seats or hand_off.seats,
            ae_owner=p.ae_owner or hand_off.ae_owner,
            ce_owner=p.ce_owner or hand_off.ce_owner,
            region=p.region or hand_off.region,
            # The deal's CloseDate: the contract runs one term from it.
            renewal_date=p.renewal_date or add_years(midnight(hand_off.closed_at), term),
            deployment_type=hand_off.deployment_type or p.deployment_type,
        )
        _profile_changed(s)
    elif (
        hand_off.kind == "expansion"
        and hand_off.seats > 0
        and s.stage is not (LifecycleStage.CHURNED)
    ):
        _grant_license(s, f"expansion deal {hand_off.opportunity_id}", p.seats + hand_off.seats)
        s.profile = replace(p, seats=p.seats + hand_off.seats)
        _profile_changed(s)
    _audit(s, now, "hand-off", f"deal {hand_off.opportunity_id} ({hand_off.kind}) handed off")
    return True


def _profile_changed(s: AccountSnapshot) -> None:
    s.profile_version += 1


def check_complete_profile(s: AccountSnapshot, request: CompleteProfile, now: datetime) -> None:
    _check_churned(s)
    _check_actor_named(request.actor)
    given = {
        "tier": request.tier != 0,
        "seats": request.seats != 0,
        "AE": bool(request.ae_owner),
        "CE": bool(request.ce_owner),
        "renewal date": request.renewal_date is not None,
    }
    if not any(given.values()):
        raise RuleViolation("nothing to fill in: give tier, seats, AE, CE or renewal date")
    missing = set(missing_profile(s))
    if _past_renewal(s, now) is not None:
        missing.add("renewal date")  # a stale one (an old deal's close + a term) is replaced
    already = [name for name, set_ in given.items() if set_ and name not in missing]
    if already:
        commands = dict.fromkeys(f"`dealcycle account {_CHANGED_BY[name]}`" for name in already)
        raise RuleViolation(
            f"already known: {', '.join(already)}; to change it use {', '.join(commands)}"
        )
    problems = []
    if request.tier and request.tier not in (1, 2, 3):
        problems.append(f"tier must be 1, 2 or 3, not {request.tier}")
    if request.seats and not 1 <= request.seats <= limits.MAX_SEATS:
        problems.append(f"seats must be at least 1, not {request.seats}")
    if request.renewal_date is not None:
        problems += _renewal_date_problems(request.renewal_date, now)
    ae = request.ae_owner or s.profile.ae_owner
    if ae and ae == (request.ce_owner or s.profile.ce_owner):
        problems.append("the AE and the CE must be different people")
    if problems:
        raise RuleViolation("cannot complete the profile: " + "; ".join(problems))


_CHANGED_BY = {
    "tier": "tier",
    "seats": "seats",
    "AE": "reassign",
    "CE": "reassign",
    "renewal date": "renewal-date",
}


def _past_renewal(s: AccountSnapshot, now: datetime) -> datetime | None:
    """The renewal date of a profile not complete yet, when it has passed: one contract term
    after the close of a deal handed off long after (an old deal edited in Salesforce)."""
    renewal = s.profile.renewal_date
    if renewal is None or renewal > now or not missing_profile(s):
        return None
    return renewal


def check_profile_renewal_ahead(
    s: AccountSnapshot, request: CompleteProfile, now: datetime
) -> None:
    """A profile is not completed with a renewal date that has passed: completing it opens the
    kickoff, whose key would expire on that date, and the whole renewal window, overdue. Asked
    for by the validator only: completions accepted before replay as they were."""
    past = _past_renewal(s, now)
    if past is None or request.renewal_date is not None:
        return
    if not missing_profile(replace(s, profile=_completed(s.profile, request))):
        raise RuleViolation(
            f"cannot complete the profile: its renewal date {past.date().isoformat()} (one"
            f" contract term after the deal's close) is in the past (today is"
            f" {now.date().isoformat()}); give the current one (--renewal-date)"
        )


def _completed(p: AccountProfile, request: CompleteProfile) -> AccountProfile:
    return replace(
        p,
        tier=request.tier or p.tier,
        seats=request.seats or p.seats,
        ae_owner=request.ae_owner or p.ae_owner,
        ce_owner=request.ce_owner or p.ce_owner,
        renewal_date=request.renewal_date or p.renewal_date,
    )


def apply_complete_profile(s: AccountSnapshot, request: CompleteProfile, now: datetime) -> str:
    check_complete_profile(s, request, now)
    s.profile = _completed(s.profile, request)
    _profile_changed(s)
    _audit(s, now, request.actor, "completed the profile", request.via)
    still = missing_profile(s)
    if still:
        return f"profile updated; still missing: {', '.join(still)}"
    return "profile complete"


# --- Time-driven work ------------------------------------------------------------------------


def advance(s: AccountSnapshot, now: datetime, kickoff_counts_from: datetime | None = None) -> None:
    """Create the work that time brings, up to ``now``.

    The kickoff plan opening now is due ``kickoff_plan_due_days`` after
    ``kickoff_counts_from`` (the start of the account's workflow when not given)."""
    if s.stage is LifecycleStage.CHURNED or missing_profile(s):
        return
    if s.renewal is None:
        assert s.profile.renewal_date is not None
        s.renewal = RenewalCycle(s.profile.renewal_date)
    if opens_kickoff(s):
        _open_kickoff(s, now, kickoff_counts_from or s.started_at)
    _open_quarters(s, now)
    _open_assessments(s, now)
    _open_renewal_window(s, now)


def opens_kickoff(s: AccountSnapshot) -> bool:
    """Whether ``advance`` opens the kickoff plan: the account has its owners (its profile is
    complete) and is in kickoff with no kickoff plan, recorded or asked for."""
    return (
        s.stage is LifecycleStage.KICKOFF
        and not missing_profile(s)
        and _find(s, KICKOFF_PLAN_STEP) is None
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
    _add_step(
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
    _grant_license(s, "kickoff", p.seats)


def _grant_license(s: AccountSnapshot, reason: str, seats: int) -> None:
    assert s.profile.renewal_date is not None
    s.licenses_granted += 1
    s.licenses.append(LicenseGrant(s.licenses_granted, reason, seats, s.profile.renewal_date))


def _open_quarters(s: AccountSnapshot, now: datetime) -> None:
    if s.first_planning_quarter is None:
        return
    while True:
        last = s.planned_quarters[-1] if s.planned_quarters else None
        quarter = s.first_planning_quarter if last is None else next_quarter(last)
        if quarter_start(quarter) > now:
            return
        _open_quarter(s, quarter, now)


def _open_quarter(s: AccountSnapshot, quarter: str, now: datetime) -> None:
    if s.next_tier is not None and s.next_tier_from is not None:
        if parse_quarter(s.next_tier_from) <= parse_quarter(quarter):
            s.profile = replace(s.profile, tier=s.next_tier)
            s.next_tier = s.next_tier_from = None
            _profile_changed(s)
    for step in s.steps:  # last quarter's plan and QBR are moot now
        if step.kind in (StepKind.ACCOUNT_PLAN, StepKind.QBR) and step.status is StepStatus.PENDING:
            _skip(step, f"missed: superseded by {quarter}")
    tier = s.profile.tier
    shared = (
        "shared at the 2:2 review and the internal QBR"
        if tier == 1
        else "shared with the CE leader in your 1:1"
    )
    _add_step(
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
    _add_step(
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
                _skip(step, f"missed: superseded by {month}")
        due = month_start(month) + timedelta(days=s.config.durations.renewal_assessment_due_days)
        for role, owner, what in (
            (Role.AE, s.profile.ae_owner, "relationship and business risks"),
            (Role.CE, s.profile.ce_owner, "technical risks"),
        ):
            _add_step(
                s,
                AccountStep(
                    key=f"renewal-assessment-{month}-{role.value.lower()}",
                    kind=StepKind.RENEWAL_ASSESSMENT,
                    title=f"{month} renewal health assessment (the {_renewal_tag(s)}"
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


def _renewal_tag(s: AccountSnapshot) -> str:
    assert s.renewal is not None
    return s.renewal.renewal_date.date().isoformat()


def _open_renewal_window(s: AccountSnapshot, now: datetime) -> None:
    opens = renewal_window_opens_at(s)
    if opens is None or now < opens or s.renewal is None:
        return
    tag = _renewal_tag(s)
    if _find(s, f"value-realization-{tag}") is not None:
        # The window is open and its work too: a moved date's window reopening with its work,
        # or onboarding that ended inside the window (it opened while the customer onboarded).
        if s.stage is LifecycleStage.ADOPTION:
            s.stage = LifecycleStage.RENEWAL
        return
    d = s.config.durations
    renewal_date = s.renewal.renewal_date
    _add_step(
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
    _add_step(
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
    _add_step(
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


def next_named_wake_up(s: AccountSnapshot, now: datetime) -> summaries.WakeUp | None:
    """``next_wake_up`` with what it is for (the timer's summary in the Web UI)."""
    if s.stage is LifecycleStage.CHURNED or missing_profile(s):
        return None
    moments: list[summaries.WakeUp] = []
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


# --- Updates ---------------------------------------------------------------------------------


def check_kickoff_plan(s: AccountSnapshot, request: RecordKickoffPlan) -> CheckInCadence:
    _check_churned(s)
    if request.role is not Role.CE:
        raise RuleViolation("the kickoff plan is recorded by the CE")
    _check_actor(s, request.actor, request.role)
    _check_profile_complete(s, "record the kickoff plan")
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
    step = _find(s, KICKOFF_PLAN_STEP)
    if step is not None:
        _complete(step, request.actor, now, "")
    _set_cadence(s, cadence, now)
    _audit(
        s, now, request.actor, f"recorded the kickoff plan (check-ins {cadence.value})", request.via
    )
    return f"kickoff plan recorded: check-ins {cadence.value}" + _next_check_in(s)


def _set_cadence(s: AccountSnapshot, cadence: CheckInCadence, now: datetime) -> None:
    s.cadence = cadence
    interval = cadence.interval_days
    s.next_check_in_at = None if interval is None else now + timedelta(days=interval)


def _next_check_in(s: AccountSnapshot) -> str:
    if s.next_check_in_at is None:
        return "; check-ins as needed, no schedule"
    return f"; next check-in {s.next_check_in_at.date().isoformat()}"


def check_production_ready(s: AccountSnapshot, request: ReportProductionReady) -> None:
    _check_churned(s)
    _check_actor(s, request.actor, request.role)
    if s.production_ready_at is not None:
        raise RuleViolation(
            f"production was already reported ready on {s.production_ready_at.date().isoformat()}"
        )
    if s.kickoff is None:
        raise RuleViolation(
            "record the kickoff plan first: onboarding follows the trainings it plans"
        )


def apply_production_ready(
    s: AccountSnapshot, request: ReportProductionReady, now: datetime
) -> str:
    check_production_ready(s, request)
    s.production_ready_at = now
    s.stage = LifecycleStage.ONBOARDING
    _open_training_steps(s, now)
    _audit(s, now, request.actor, "reported production infrastructure ready", request.via)
    trainings = ", ".join(step.key for step in s.steps if step.kind is StepKind.TRAINING)
    return f"onboarding started; trainings planned: {trainings}"


def _open_training_steps(s: AccountSnapshot, now: datetime) -> None:
    optional = s.kickoff.optional_trainings if s.kickoff else []
    names = [*CORE_TRAININGS, *(_slug(name) for name in optional)]
    for name in dict.fromkeys(names):
        _add_step(
            s,
            AccountStep(
                key=f"training-{name}",
                kind=StepKind.TRAINING,
                title=f"Training: {'Admin' if name == 'admin' else name}",
                owner=s.profile.ce_owner,
                role=Role.CE.value,
                due_at=None,
                created_at=now,
            ),
        )


def check_complete_onboarding(s: AccountSnapshot, request: CompleteOnboarding) -> None:
    _check_churned(s)
    _check_actor(s, request.actor, request.role)
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
    _finish_onboarding(s, now)
    _audit(s, now, request.actor, "completed onboarding", request.via)
    assert s.first_planning_quarter is not None
    return (
        f"onboarding complete; the first account plan is for {s.first_planning_quarter},"
        f" due {plan_due_at(s.first_planning_quarter, s.profile.tier, s).date().isoformat()}"
    )


def _finish_onboarding(s: AccountSnapshot, now: datetime) -> None:
    s.onboarding_completed_at = now
    s.stage = LifecycleStage.ADOPTION
    # Planning looks at the quarter ahead: the first plan is the next quarter's.
    s.first_planning_quarter = next_quarter(quarter_of(now))
    s.assessed_months = [month_of(now)]


def check_complete_step(
    s: AccountSnapshot, request: CompleteAccountStep, *, value_engineering_known: bool = True
) -> AccountStep:
    """The step, or why ``request`` cannot complete it. ``value_engineering_known=False`` (the
    validator, which cannot look the roster up) leaves a value exercise done by someone other
    than its owner to the handler, which asks the roster first
    (``value_engineering_to_look_up``)."""
    _check_churned(s)
    step = _named(s, request.step)
    if step is None:
        open_keys = ", ".join(x.key for x in s.steps if x.status is StepStatus.PENDING) or "none"
        raise RuleViolation(f"unknown step {request.step!r}; the open steps are: {open_keys}")
    if step.kind in _COMPLETED_BY_OWN_ACTION:
        raise RuleViolation(
            f"step {step.key!r} is completed by {_COMPLETED_BY_OWN_ACTION[step.kind]}"
        )
    if step.status is StepStatus.DONE:
        raise RuleViolation(
            f"step {step.key!r} was already completed by {step.completed_by}"
            f" on {step.completed_at.date().isoformat() if step.completed_at else '?'}"
        )
    if step.status is StepStatus.SKIPPED:
        raise RuleViolation(f"step {step.key!r} is closed ({step.note})")
    deferred = not value_engineering_known and step.kind is StepKind.VALUE_REALIZATION
    if request.actor != step.owner and not deferred:
        raise RuleViolation(
            f"step {step.key!r} is owned by {step.owner}, not {request.actor or 'nobody'}"
        )
    return step


def value_engineering_to_look_up(s: AccountSnapshot, request: CompleteAccountStep) -> bool:
    """Whether only the roster of the day can say if the actor may do this value exercise:
    it is open and someone else's (Value Engineering may have rotated since it was given)."""
    step = _named(s, request.step)
    return (
        step is not None
        and step.kind is StepKind.VALUE_REALIZATION
        and step.status is StepStatus.PENDING
        and request.actor != step.owner
        and s.stage is not LifecycleStage.CHURNED
    )


def take_over_value_exercise(
    s: AccountSnapshot, request: CompleteAccountStep, value_engineering: str, now: datetime
) -> None:
    """Value Engineering of the day takes over an open exercise given to their predecessor
    (the roster rotated since); anyone else leaves it as it is."""
    step = _named(s, request.step)
    if step is None or request.actor != value_engineering or request.actor == step.owner:
        return
    _audit(s, now, request.actor, f"took over {step.key} from {step.owner} (Value Engineering)")
    step.owner = request.actor


_COMPLETED_BY_OWN_ACTION = {
    StepKind.KICKOFF_PLAN: "recording the kickoff plan (dealcycle account kickoff)",
    StepKind.ACCOUNT_PLAN: "submitting the plan (dealcycle account plan)",
    StepKind.RENEWAL_ASSESSMENT: "recording the assessment (dealcycle account assessment)",
    StepKind.RENEWAL_OUTCOME: "recording the outcome (dealcycle account renewal-outcome)",
}


def apply_complete_step(s: AccountSnapshot, request: CompleteAccountStep, now: datetime) -> str:
    step = check_complete_step(s, request)
    _complete(step, request.actor, now, request.note)
    if step.kind is StepKind.VALUE_REALIZATION and s.renewal is not None:
        s.renewal.value_exercise_done = True
    _audit(s, now, request.actor, f"completed {step.key}", request.via)
    return f"{step.key} done"


def check_change_cadence(s: AccountSnapshot, request: ChangeCadence) -> CheckInCadence:
    _check_churned(s)
    _check_actor(s, request.actor, request.role)
    cadence = _cadence(request.cadence)
    if s.kickoff is None:
        raise RuleViolation("the cadence is set by the kickoff plan: record it first")
    if cadence is s.cadence:
        raise RuleViolation(f"check-ins are already {cadence.value}")
    return cadence


def apply_change_cadence(s: AccountSnapshot, request: ChangeCadence, now: datetime) -> str:
    cadence = check_change_cadence(s, request)
    _set_cadence(s, cadence, now)
    _audit(s, now, request.actor, f"changed check-ins to {cadence.value}", request.via)
    return f"check-ins are now {cadence.value}" + _next_check_in(s)


def check_change_tier(s: AccountSnapshot, request: ChangeTier, now: datetime) -> None:
    _check_churned(s)
    _check_actor(s, request.actor, request.role)
    _check_profile_complete(s, "change the tier")
    if request.tier not in (1, 2, 3):
        raise RuleViolation(f"tier must be 1, 2 or 3, not {request.tier}")
    if not request.reason.strip():
        raise RuleViolation("a tier change needs a reason")
    upcoming = s.next_tier if s.next_tier is not None else s.profile.tier
    if request.tier == upcoming:
        raise RuleViolation(f"the account is already tier {request.tier} from next quarter")


def apply_change_tier(s: AccountSnapshot, request: ChangeTier, now: datetime) -> str:
    check_change_tier(s, request, now)
    s.next_tier = request.tier
    s.next_tier_from = next_quarter(quarter_of(now))
    _audit(
        s,
        now,
        request.actor,
        f"tier {request.tier} from {s.next_tier_from}: {request.reason}",
        request.via,
    )
    return f"tier {request.tier} takes effect from {s.next_tier_from}"


PLAN_SECTIONS = (
    "use_cases",
    "expansion_opportunities",
    "risks",
    "product_feedback_themes",
    "objectives",
)
PLAN_CONTACTS = ("champion", "economic_buyer", "advocate", "admin")


def check_account_plan(s: AccountSnapshot, request: SubmitAccountPlan) -> AccountStep:
    _check_churned(s)
    _check_actor(s, request.actor, request.role)
    parse_quarter(request.quarter)
    missing = [
        f"contacts.{name}"
        for name in PLAN_CONTACTS
        if not str(getattr(request.contacts, name, "") or "").strip()
    ]
    missing += [
        name
        for name in PLAN_SECTIONS
        if not [item for item in getattr(request, name) if str(item).strip()]
    ]
    for name in ("health", "next_steps", "link"):
        if not getattr(request, name).strip():
            missing.append(name)
    if missing:
        raise RuleViolation(
            "the account plan is missing sections: " + ", ".join(missing) + "; nothing was saved"
        )
    try:
        CustomerHealth(request.health.strip().lower())
    except ValueError:
        raise RuleViolation(
            f"plan health {request.health!r} must be green, yellow or red"
        ) from None
    if not request.link.startswith(("https://", "http://")):
        raise RuleViolation(f"plan link {request.link!r} must be an http(s) URL")
    if s.onboarding_completed_at is None:
        raise RuleViolation(
            "the first account plan comes after onboarding completes; until then the"
            " onboarding plan is the roadmap"
        )
    step = _find(s, f"account-plan-{request.quarter}")
    if step is None:
        first = s.first_planning_quarter
        since_first = first is not None and parse_quarter(request.quarter) >= parse_quarter(first)
        # A quarter already opened whose finished plan a continue-as-new let go of: over.
        over = since_first and _quarter_is_over(s, request.quarter)
        opens = f" (it opens {quarter_start(request.quarter).date().isoformat()})"
        raise RuleViolation(
            f"no account plan is open for {request.quarter}"
            + (" (its quarter is over)" if over else opens if since_first else "")
            + "; open: "
            + (", ".join(x.key for x in _open_of(s, StepKind.ACCOUNT_PLAN)) or "none")
            + ("" if since_first else f" (the first is for {first})")
        )
    if step.status is StepStatus.SKIPPED:
        raise RuleViolation(f"the {request.quarter} plan is closed ({step.note})")
    return step


def _quarter_is_over(s: AccountSnapshot, quarter: str) -> bool:
    """A later quarter's plan has opened since."""
    latest = s.planned_quarters[-1] if s.planned_quarters else None
    return latest is not None and parse_quarter(quarter) < parse_quarter(latest)


def check_plan_quarter_current(s: AccountSnapshot, request: SubmitAccountPlan) -> None:
    """A plan is replaced only while its quarter is the current one: a past quarter's, sent
    again, would write its next steps and link over the current plan's in Salesforce. Asked
    for by the validator only: replacements accepted before replay as they were."""
    if _quarter_is_over(s, request.quarter):
        raise RuleViolation(
            f"the {request.quarter} plan is closed: its quarter is over and the"
            f" {s.planned_quarters[-1]} plan is the current one (its next steps and link are"
            " the ones in Salesforce)"
        )


def apply_account_plan(s: AccountSnapshot, request: SubmitAccountPlan, now: datetime) -> str:
    step = check_account_plan(s, request)
    resubmitted = step.status is StepStatus.DONE
    if not resubmitted:
        _complete(step, request.actor, now, "")
    s.plans_submitted += 1
    s.plans.append(PlanSubmission(request, s.profile.tier, now, s.plans_submitted))
    _audit(s, now, request.actor, f"submitted the {request.quarter} account plan", request.via)
    audience = (
        "the 2:2 review and the internal QBR" if s.profile.tier == 1 else "the CE leader (1:1)"
    )
    verb = "replaced" if resubmitted else "recorded"
    return f"{request.quarter} account plan {verb}; shared with {audience}"


def check_renewal_assessment(s: AccountSnapshot, request: RecordRenewalAssessment) -> AccountStep:
    _check_churned(s)
    _check_actor(s, request.actor, request.role)
    open_steps = [
        step for step in _open_of(s, StepKind.RENEWAL_ASSESSMENT) if step.role == request.role.value
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
    _complete(step, request.actor, now, "; ".join(request.risks))
    if s.renewal is not None:
        s.renewal.assessment_risks = [
            *s.renewal.assessment_risks,
            *(f"{request.role.value}: {risk}" for risk in request.risks),
        ][-AUDIT_KEPT:]
    _audit(s, now, request.actor, f"recorded {step.key} ({len(request.risks)} risks)", request.via)
    if request.turns_red:
        reason = f"renewal assessment ({request.role.value}): " + "; ".join(request.risks)
        if health_rules.turn_red(s.vitals, request.actor, reason, now):
            return f"{step.key} recorded; the account is now red and a case opens"
    return f"{step.key} recorded with {len(request.risks)} risk(s)"


def check_renewal_call(s: AccountSnapshot, request: RecordRenewalCall, now: datetime) -> None:
    _check_churned(s)
    _check_actor(s, request.actor, request.role)
    _check_renewal_window(s, now, "a renewal call")
    assert s.renewal is not None
    if not value_exercise_done(s):
        raise RuleViolation(
            f"the first renewal call waits for the value-realization exercise:"
            f" value-realization-{_renewal_tag(s)} ({s.config.value_engineering}) is not done"
        )


def apply_renewal_call(s: AccountSnapshot, request: RecordRenewalCall, now: datetime) -> str:
    check_renewal_call(s, request, now)
    assert s.renewal is not None
    first = s.renewal.first_call_at is None
    if first:
        s.renewal.first_call_at = now
    _audit(s, now, request.actor, "recorded a renewal call", request.via)
    return "first renewal call recorded" if first else "renewal call recorded"


def _check_renewal_window(s: AccountSnapshot, now: datetime, what: str) -> None:
    opens = renewal_window_opens_at(s)
    if opens is None or s.renewal is None:
        raise RuleViolation(f"{what} needs the account's renewal date")
    if now < opens:
        raise RuleViolation(
            f"{what} belongs to the renewal window, which opens {opens.date().isoformat()}"
            f" ({s.config.durations.value_exercise_lead_days} days before the"
            f" {_renewal_tag(s)} renewal)"
        )
    if s.renewal.outcome is not None:
        raise RuleViolation(
            f"the {_renewal_tag(s)} renewal was already decided: {s.renewal.outcome.value}"
        )


def check_renewal_outcome(
    s: AccountSnapshot, request: RecordRenewalOutcome, now: datetime
) -> RenewalOutcome:
    _check_churned(s)
    _check_actor(s, request.actor, request.role)
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
            f" value-realization-{_renewal_tag(s)} ({s.config.value_engineering}) is not done"
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


def apply_renewal_outcome(s: AccountSnapshot, request: RecordRenewalOutcome, now: datetime) -> str:
    outcome = check_renewal_outcome(s, request, now)
    renewal = s.renewal
    assert renewal is not None
    renewal.outcome = outcome
    renewal.outcome_by = request.actor
    renewal.outcome_at = now
    renewal.outcome_note = request.note
    renewal.expansion_opportunity_id = request.expansion_opportunity_id.strip()
    renewal.new_team_seats = request.new_team_seats if outcome is RenewalOutcome.NEW_TEAM else 0
    tag = _renewal_tag(s)
    outcome_step = _find(s, f"renewal-outcome-{tag}")
    if outcome_step is not None:
        _complete(outcome_step, request.actor, now, outcome.value)
    _audit(s, now, request.actor, f"renewal {tag}: {outcome.value}", request.via)
    if outcome is RenewalOutcome.CHURNED:
        s.stage = LifecycleStage.CHURNED
        for step in s.steps:
            if step.status is StepStatus.PENDING:
                _skip(step, "the customer churned")
        s.next_check_in_at = None
        return f"churned at the {tag} renewal; the license is left to expire"
    term = s.config.durations.contract_term_days
    following = request.next_renewal_date or add_years(renewal.renewal_date, term)
    renewal.next_renewal_date = following
    seats = request.seats if outcome is RenewalOutcome.SEAT_EXPANSION else s.profile.seats
    s.profile = replace(s.profile, seats=seats, renewal_date=following)
    _profile_changed(s)
    _grant_license(s, f"renewal {tag} ({outcome.value})", seats)
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
    tag = _renewal_tag(s)
    following = renewal.next_renewal_date.date().isoformat()
    for step in s.steps:
        if step.key.endswith(tag) and step.status is StepStatus.PENDING:
            _skip(step, f"the {tag} renewal was decided")
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
        current.append(_renewal_tag(s))
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


def check_expand_seats(s: AccountSnapshot, request: ExpandSeats) -> None:
    _check_churned(s)
    _check_actor(s, request.actor, request.role)
    _check_profile_complete(s, "expand seats")
    if not s.profile.seats < request.seats <= limits.MAX_SEATS:
        raise RuleViolation(
            f"a seat expansion needs more seats than today's {s.profile.seats}, not {request.seats}"
        )
    if not request.reason.strip():
        raise RuleViolation("a seat expansion needs a reason")


def apply_expand_seats(s: AccountSnapshot, request: ExpandSeats, now: datetime) -> str:
    check_expand_seats(s, request)
    before = s.profile.seats
    s.profile = replace(s.profile, seats=request.seats)
    _profile_changed(s)
    _grant_license(s, f"seat expansion: {request.reason}", request.seats)
    _audit(s, now, request.actor, f"expanded seats {before} -> {request.seats}", request.via)
    return f"seats {before} -> {request.seats}; a new key follows"


def check_feature_request(s: AccountSnapshot, request: RecordFeatureRequest) -> None:
    _check_churned(s)
    _check_actor(s, request.actor, request.role)
    title = request.title.strip()
    if not title:
        raise RuleViolation("a feature request needs a title")


def apply_feature_request(s: AccountSnapshot, request: RecordFeatureRequest, now: datetime) -> str:
    check_feature_request(s, request)
    s.feature_requests_recorded += 1
    number = s.feature_requests_recorded
    s.feature_requests.append(
        FeatureRequestEntry(
            number, request.title.strip(), request.detail, request.actor, request.role, now
        )
    )
    _audit(
        s, now, request.actor, f"feature request #{number}: {request.title.strip()}", request.via
    )
    return f"feature request #{number} recorded and shared with product"


def apply_usage(s: AccountSnapshot, report: UsageReport, now: datetime) -> None:
    s.usage = replace(report, reported_at=report.reported_at or now)


# --- Views and helpers -----------------------------------------------------------------------


def health_view(s: AccountSnapshot) -> HealthView:
    h = s.vitals
    config = s.config.health
    return HealthView(
        account_id=s.profile.account_id,
        account_name=s.profile.account_name,
        colour=h.colour.value,
        score=h.score,
        readings=dict(h.readings),
        reading_sources=dict(h.reading_sources),
        weights=health_rules.weights(config),
        green_at=config.green_at,
        yellow_at=config.yellow_at,
        history=list(h.history),
        open_case=h.open_case,
        cases_opened=h.cases_opened,
        latest_case=h.latest_case,
    )


def note(s: AccountSnapshot, now: datetime, actor: str, action: str, via: str = "") -> None:
    _audit(s, now, actor, action, via)


def check_not_churned(s: AccountSnapshot) -> None:
    _check_churned(s)


def _view(step: AccountStep, now: datetime) -> StepView:
    overdue = step.status is StepStatus.PENDING and step.due_at is not None and now > step.due_at
    return StepView(
        key=step.key,
        kind=step.kind.value,
        title=step.title,
        owner=step.owner,
        role=step.role,
        due_at=step.due_at,
        status=StepStatus.OVERDUE.value if overdue else step.status.value,
        overdue=overdue,
        completed_by=step.completed_by,
        reminders_sent=step.reminders_sent,
        escalated=step.escalated,
    )


def state_view(s: AccountSnapshot, now: datetime) -> AccountState:
    roadmap = [
        _view(step, now)
        for step in s.steps
        if step.kind is StepKind.TRAINING and s.stage is LifecycleStage.ONBOARDING
    ]
    return AccountState(
        account_id=s.profile.account_id,
        account_name=s.profile.account_name,
        hand_offs=list(s.hand_offs),
        stage=s.stage,
        profile=s.profile,
        missing_profile=missing_profile(s),
        roadmap=roadmap,
        open_steps=[_view(step, now) for step in s.steps if step.status is StepStatus.PENDING],
        cadence=s.cadence.value if s.cadence else None,
        next_check_in_at=s.next_check_in_at,
        next_tier=s.next_tier,
        next_tier_from=s.next_tier_from,
        renewal_date=s.renewal.renewal_date if s.renewal else s.profile.renewal_date,
        value_exercise_done=value_exercise_done(s),
        renewal_call_recorded=bool(s.renewal and s.renewal.first_call_at),
        license_key_ids=[grant.key_id for grant in s.licenses if grant.key_id],
        health=s.vitals.colour.value,
        renewals_completed=s.renewals_completed,
        feature_requests=s.feature_requests_recorded,
        plans_submitted=s.plans_submitted,
        recent_activity=list(s.audit[-5:]),
    )


def _find(s: AccountSnapshot, key: str) -> AccountStep | None:
    return next((step for step in s.steps if step.key == key), None)


def _named(s: AccountSnapshot, key: str) -> AccountStep | None:
    """The step a person names: by its key, or by the key it was opened under before a moved
    renewal date re-keyed it (the Done button of its first prompt still carries that one)."""
    found = _find(s, key)
    if found is not None or not key:
        return found
    return next((step for step in s.steps if step.opened_as == key), None)


def _open_of(s: AccountSnapshot, kind: StepKind) -> list[AccountStep]:
    return [step for step in s.steps if step.kind is kind and step.status is StepStatus.PENDING]


def _add_step(s: AccountSnapshot, step: AccountStep) -> None:
    if _find(s, step.key) is None:
        s.steps.append(step)


def _complete(step: AccountStep, actor: str, now: datetime, note: str) -> None:
    step.status = StepStatus.DONE
    step.completed_by = actor
    step.completed_at = now
    step.note = note


def _skip(step: AccountStep, note: str) -> None:
    step.status = StepStatus.SKIPPED
    step.note = note


def _audit(s: AccountSnapshot, now: datetime, actor: str, action: str, via: str = "") -> None:
    s.audit = [*s.audit, AuditEntry(now, actor, action, via)][-AUDIT_KEPT:]


def _slug(name: str) -> str:
    return _SLUG.sub("-", name.strip().lower()).strip("-")


def _unknown_cadence(raw: str) -> str:
    return f"unknown check-in cadence {raw!r}; use one of " + ", ".join(
        item.value for item in CheckInCadence
    )


def _cadence(raw: str) -> CheckInCadence:
    try:
        return CheckInCadence(raw.strip().lower())
    except ValueError:
        raise RuleViolation(_unknown_cadence(raw)) from None


def _check_churned(s: AccountSnapshot) -> None:
    if s.stage is LifecycleStage.CHURNED:
        raise RuleViolation(f"{s.profile.account_name} churned; nothing more to record")


def _check_actor_named(actor: str) -> None:
    if not actor.strip():
        raise RuleViolation("say who you are (--by)")


def _check_actor(s: AccountSnapshot, actor: str, role: Role) -> None:
    _check_actor_named(actor)
    owner = s.profile.ce_owner if role is Role.CE else s.profile.ae_owner
    if not owner:
        raise RuleViolation(f"the account has no {role.value} yet: complete its profile first")
    if actor != owner:
        raise RuleViolation(f"{actor} is not the account's {role.value} ({owner} is)")


def _check_profile_complete(s: AccountSnapshot, what: str) -> None:
    missing = missing_profile(s)
    if missing:
        raise RuleViolation(
            f"cannot {what}: the profile is missing {', '.join(missing)}"
            " (dealcycle account profile)"
        )


# The account's change rules (``account_changes``) share these checks and writes.
audit = _audit
check_actor = _check_actor
check_profile_complete = _check_profile_complete
grant_license = _grant_license
profile_changed = _profile_changed
renewal_tag = _renewal_tag
