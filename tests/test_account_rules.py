"""The account's rules, without a server."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from schemas import limits
from schemas.account import (
    AccountConfig,
    AccountHandOff,
    AccountProfile,
    AccountSnapshot,
    AccountStart,
    AccountStep,
    ChangeCadence,
    ChangeTier,
    CompleteAccountStep,
    CompleteOnboarding,
    CompleteProfile,
    ExpandSeats,
    LicenseGrant,
    LifecycleStage,
    PlanContacts,
    RecordKickoffPlan,
    RecordRenewalAssessment,
    RecordRenewalCall,
    RecordRenewalOutcome,
    RenewalOutcome,
    ReportProductionReady,
    StepKind,
    SubmitAccountPlan,
)
from schemas.common import Durations, Role, StepStatus
from schemas.errors import RuleViolation
from starter.tables import render_account
from workflows import account_onboarding_rules as onboarding
from workflows import account_plan_rules as plans
from workflows import account_profile_rules as profile_rules
from workflows import account_renewal_rules as renewals
from workflows import account_schedule as schedule
from workflows import account_steps as steps
from workflows import account_views as views
from workflows.account_calendar import (
    add_years,
    day_of_quarter,
    month_of,
    month_start,
    next_month,
    next_quarter,
    parse_quarter,
    plan_due_at,
    quarter_of,
    quarter_start,
)

T0 = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
ONBOARDED = datetime(2027, 2, 10, 15, 0, tzinfo=UTC)
RENEWAL = datetime(2027, 9, 1, tzinfo=UTC)
RENEWAL_TAG = "2027-09-01"
WINDOW_OPENS = datetime(2027, 6, 3, tzinfo=UTC)  # RENEWAL - 90 days
CE, AE = "U0CE00001", "U0AE00001"
VE = AccountConfig().value_engineering
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
SCOPE = "account-001A/run1/0"
BASE_PROFILE = AccountProfile(
    account_id="001A",
    account_name="Acme",
    tier=2,
    region="US West / APAC",
    ae_owner=AE,
    ce_owner=CE,
    seats=50,
    renewal_date=RENEWAL,
)
CADENCES = "weekly, bi-weekly, monthly, as-needed"


def make_start(
    *,
    stage: LifecycleStage = LifecycleStage.KICKOFF,
    durations: Durations | None = None,
    cadence: str = "",
    hand_offs: list[AccountHandOff] | None = None,
    with_profile: bool = True,
    **profile_overrides: Any,
) -> AccountStart:
    return AccountStart(
        account_id="001A",
        account_name="Acme",
        hand_offs=hand_offs or [],
        profile=replace(BASE_PROFILE, **profile_overrides) if with_profile else None,
        stage=stage,
        cadence=cadence,
        config=AccountConfig(durations=durations or Durations()),
    )


def make_snapshot(*, now: datetime = T0, **start_overrides: Any) -> AccountSnapshot:
    return profile_rules.new_snapshot(make_start(**start_overrides), now, SCOPE)


def make_hand_off(**overrides: Any) -> AccountHandOff:
    fields: dict[str, Any] = {
        "opportunity_id": "006A",
        "account_id": "001A",
        "account_name": "Acme",
        "kind": "new",
        "seats": 50,
        "ae_owner": AE,
        "ce_owner": CE,
        "tier": 2,
        "region": "US East / EMEA",
        "closed_at": datetime(2027, 1, 4, 15, 30, tzinfo=UTC),
    }
    fields.update(overrides)
    return AccountHandOff(**fields)


def record_kickoff(s: AccountSnapshot, cadence: str = "weekly", at: datetime = T0 + DAY) -> None:
    schedule.advance(s, at)
    onboarding.apply_kickoff_plan(s, RecordKickoffPlan(CE, Role.CE, cadence), at)


def complete_onboarding(s: AccountSnapshot, at: datetime = ONBOARDED) -> None:
    if s.production_ready_at is None:
        onboarding.apply_production_ready(s, ReportProductionReady(CE, Role.CE), at - 14 * DAY)
    for step in [x for x in s.steps if x.kind is StepKind.TRAINING]:
        steps.apply_complete_step(s, CompleteAccountStep(step.key, CE, Role.CE), at)
    onboarding.apply_complete_onboarding(s, CompleteOnboarding(CE, Role.CE), at)


def onboarded_snapshot(
    cadence: str = "weekly", at: datetime = ONBOARDED, **start_overrides: Any
) -> AccountSnapshot:
    s = make_snapshot(**start_overrides)
    record_kickoff(s, cadence)
    complete_onboarding(s, at)
    return s


def window_snapshot(at: datetime = WINDOW_OPENS, **start_overrides: Any) -> AccountSnapshot:
    """A customer brought in at adoption, advanced into its renewal window."""
    s = make_snapshot(stage=LifecycleStage.ADOPTION, **start_overrides)
    schedule.advance(s, at)
    return s


def complete_value_exercise(s: AccountSnapshot, at: datetime = WINDOW_OPENS + DAY) -> None:
    steps.apply_complete_step(
        s, CompleteAccountStep(f"value-realization-{RENEWAL_TAG}", VE, Role.CE), at
    )


def make_plan(quarter: str = "2027-Q2", **overrides: Any) -> SubmitAccountPlan:
    plan = SubmitAccountPlan(
        quarter=quarter,
        actor=CE,
        role=Role.CE,
        contacts=PlanContacts("Chris Champion", "Erin Buyer", "Ada Advocate", "Al Admin"),
        use_cases=["CI pipelines"],
        health="green",
        expansion_opportunities=["data team"],
        risks=["budget freeze"],
        product_feedback_themes=["SSO"],
        objectives=["double weekly active users"],
        next_steps="book the QBR",
        link="https://docs.example.com/acme-plan",
    )
    return replace(plan, **overrides)


def stage_of(s: AccountSnapshot) -> LifecycleStage:
    return s.stage


def step_keys(s: AccountSnapshot, kind: StepKind) -> list[str]:
    return [step.key for step in s.steps if step.kind is kind]


def find(s: AccountSnapshot, key: str) -> AccountStep:
    step = steps.find(s, key)
    assert step is not None, f"no step {key!r}; steps: {[x.key for x in s.steps]}"
    return step


# --- Calendar --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "quarter"),
    [
        (datetime(2027, 1, 1, tzinfo=UTC), "2027-Q1"),
        (datetime(2027, 3, 31, 23, 59, 59, tzinfo=UTC), "2027-Q1"),
        (datetime(2027, 4, 1, tzinfo=UTC), "2027-Q2"),
        (datetime(2027, 8, 15, tzinfo=UTC), "2027-Q3"),
        (datetime(2027, 12, 31, 12, tzinfo=UTC), "2027-Q4"),
        # 23:30 in New York on 31 March is already 1 April in UTC: quarters are UTC quarters.
        (datetime(2027, 3, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))), "2027-Q2"),
    ],
)
def test_quarter_of_is_the_utc_calendar_quarter(moment: datetime, quarter: str) -> None:
    assert quarter_of(moment) == quarter


@pytest.mark.parametrize(
    ("quarter", "start"),
    [
        ("2027-Q1", datetime(2027, 1, 1, tzinfo=UTC)),
        ("2027-Q2", datetime(2027, 4, 1, tzinfo=UTC)),
        ("2027-Q3", datetime(2027, 7, 1, tzinfo=UTC)),
        ("2027-Q4", datetime(2027, 10, 1, tzinfo=UTC)),
    ],
)
def test_quarter_start_is_midnight_utc_of_the_quarters_first_day(
    quarter: str, start: datetime
) -> None:
    assert quarter_start(quarter) == start
    assert quarter_of(start) == quarter
    assert quarter_of(start - SECOND) != quarter


@pytest.mark.parametrize(
    ("quarter", "following"),
    [
        ("2027-Q1", "2027-Q2"),
        ("2027-Q2", "2027-Q3"),
        ("2027-Q3", "2027-Q4"),
        ("2027-Q4", "2028-Q1"),
        ("2099-Q4", "2100-Q1"),
    ],
)
def test_next_quarter_rolls_q4_into_the_next_years_q1(quarter: str, following: str) -> None:
    assert next_quarter(quarter) == following


@pytest.mark.parametrize(
    "label", ["2027-Q5", "2027-Q0", "2027Q2", "Q2-2027", "27-Q2", "", "0000-Q1", "2027-Q2\n"]
)
def test_a_malformed_quarter_is_rejected(label: str) -> None:
    with pytest.raises(RuleViolation, match="is not like 2027-Q2"):
        parse_quarter(label)
    # The plan names it, rather than failing on a date that cannot be.
    with pytest.raises(RuleViolation, match="is not like 2027-Q2"):
        plans.check_account_plan(adopted(), make_plan(label))


@pytest.mark.parametrize(
    ("quarter", "day", "expected"),
    [
        ("2027-Q1", 1, datetime(2027, 1, 1, tzinfo=UTC)),
        ("2027-Q1", 45, datetime(2027, 2, 14, tzinfo=UTC)),
        ("2028-Q1", 60, datetime(2028, 2, 29, tzinfo=UTC)),  # leap year
        ("2027-Q1", 60, datetime(2027, 3, 1, tzinfo=UTC)),
        ("2027-Q2", 21, datetime(2027, 4, 21, tzinfo=UTC)),
        ("2027-Q4", 92, datetime(2027, 12, 31, tzinfo=UTC)),
    ],
)
def test_day_of_quarter_counts_from_one(quarter: str, day: int, expected: datetime) -> None:
    assert day_of_quarter(quarter, day) == expected


@pytest.mark.parametrize(
    ("month", "following"),
    [("2027-01", "2027-02"), ("2027-11", "2027-12"), ("2027-12", "2028-01")],
)
def test_next_month_rolls_december_into_january(month: str, following: str) -> None:
    assert next_month(month) == following
    assert month_start(following) == datetime(int(following[:4]), int(following[5:]), 1, tzinfo=UTC)


def test_month_of_is_zero_padded() -> None:
    assert month_of(datetime(2027, 3, 9, tzinfo=UTC)) == "2027-03"


@pytest.mark.parametrize(
    ("moment", "days", "expected"),
    [
        # Whole years keep the calendar date, across a leap day...
        (datetime(2027, 3, 1, tzinfo=UTC), 365, datetime(2028, 3, 1, tzinfo=UTC)),
        (datetime(2027, 6, 15, 12, tzinfo=UTC), 730, datetime(2029, 6, 15, 12, tzinfo=UTC)),
        # ... 29 February becomes 28 February in a common year, and stays in a leap year.
        (datetime(2028, 2, 29, tzinfo=UTC), 365, datetime(2029, 2, 28, tzinfo=UTC)),
        (datetime(2028, 2, 29, tzinfo=UTC), 4 * 365, datetime(2032, 2, 29, tzinfo=UTC)),
        (datetime(2028, 2, 29, tzinfo=UTC), 5 * 365, datetime(2033, 2, 28, tzinfo=UTC)),
        # Other terms are plain days.
        (datetime(2027, 3, 1, tzinfo=UTC), 400, datetime(2028, 4, 4, tzinfo=UTC)),  # 2028 is leap
        (datetime(2027, 3, 1, tzinfo=UTC), 90, datetime(2027, 5, 30, tzinfo=UTC)),
    ],
)
def test_add_years_keeps_the_calendar_date_for_whole_years(
    moment: datetime, days: int, expected: datetime
) -> None:
    assert add_years(moment, days) == expected


# --- Plan due dates by tier ------------------------------------------------------------------


def test_tier_1_plans_are_due_on_the_internal_qbr_day_tiers_2_and_3_early_in_the_quarter() -> None:
    s = make_snapshot()
    tier_1 = plan_due_at("2027-Q2", 1, s)
    assert tier_1 == datetime(2027, 4, 21, tzinfo=UTC)
    assert tier_1 == day_of_quarter("2027-Q2", Durations().internal_qbr_day_of_quarter)
    assert plan_due_at("2027-Q2", 2, s) == datetime(2027, 4, 10, tzinfo=UTC)
    assert plan_due_at("2027-Q2", 3, s) == datetime(2027, 4, 10, tzinfo=UTC)
    assert tier_1 != plan_due_at("2027-Q2", 2, s)
    assert plan_due_at("2027-Q4", 1, s) == datetime(2027, 10, 21, tzinfo=UTC)
    assert plan_due_at("2027-Q4", 3, s) == datetime(2027, 10, 10, tzinfo=UTC)


def test_plan_due_days_come_from_the_configuration() -> None:
    durations = Durations(internal_qbr_day_of_quarter=30, tier_2_3_plan_due_day_of_quarter=5)
    s = make_snapshot(durations=durations)
    assert plan_due_at("2027-Q3", 1, s) == datetime(2027, 7, 30, tzinfo=UTC)
    assert plan_due_at("2027-Q3", 2, s) == datetime(2027, 7, 5, tzinfo=UTC)
    assert plan_due_at("2027-Q3", 3, s) == datetime(2027, 7, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("tier", "due", "audience"),
    [
        (1, datetime(2027, 4, 21, tzinfo=UTC), "2:2 review and the internal QBR"),
        (2, datetime(2027, 4, 10, tzinfo=UTC), "CE leader"),
        (3, datetime(2027, 4, 10, tzinfo=UTC), "CE leader"),
    ],
)
def test_the_quarters_plan_step_is_due_by_the_accounts_tier(
    tier: int, due: datetime, audience: str
) -> None:
    s = onboarded_snapshot(tier=tier)
    schedule.advance(s, datetime(2027, 4, 1, tzinfo=UTC))
    plan = find(s, "account-plan-2027-Q2")
    assert plan.due_at == due
    assert plan.owner == CE and plan.role == "CE"
    assert f"Tier {tier}" in plan.title
    qbr = find(s, "qbr-2027-Q2")
    assert qbr.due_at == datetime(2027, 6, 19, tzinfo=UTC)  # day 80
    message = plans.apply_account_plan(s, make_plan(), datetime(2027, 4, 5, tzinfo=UTC))
    assert audience in message
    assert s.plans[-1].tier == tier


def test_custom_plan_due_days_reach_the_plan_steps() -> None:
    durations = Durations(
        internal_qbr_day_of_quarter=30,
        tier_2_3_plan_due_day_of_quarter=5,
        qbr_due_day_of_quarter=60,
    )
    tier_1 = onboarded_snapshot(tier=1, durations=durations)
    tier_2 = onboarded_snapshot(tier=2, durations=durations)
    for s in (tier_1, tier_2):
        schedule.advance(s, datetime(2027, 4, 1, tzinfo=UTC))
        assert find(s, "qbr-2027-Q2").due_at == datetime(2027, 5, 30, tzinfo=UTC)
    assert find(tier_1, "account-plan-2027-Q2").due_at == datetime(2027, 4, 30, tzinfo=UTC)
    assert find(tier_2, "account-plan-2027-Q2").due_at == datetime(2027, 4, 5, tzinfo=UTC)


# --- Kickoff and onboarding ------------------------------------------------------------------


def test_a_complete_profile_opens_the_kickoff_plan_step_and_owes_one_key() -> None:
    s = make_snapshot()
    assert s.steps == [] and s.licenses == []
    schedule.advance(s, T0)
    assert step_keys(s, StepKind.KICKOFF_PLAN) == [onboarding.KICKOFF_PLAN_STEP]
    step = find(s, onboarding.KICKOFF_PLAN_STEP)
    assert step.owner == CE and step.role == "CE" and step.salesforce_task
    assert step.due_at == datetime(2027, 1, 19, tzinfo=UTC)  # midnight of the start + 14 days
    assert s.licenses == [LicenseGrant(1, "kickoff", 50, RENEWAL)]
    assert s.renewal is not None and s.renewal.renewal_date == RENEWAL
    schedule.advance(s, T0 + 3 * DAY)
    assert len(s.steps) == 1 and len(s.licenses) == 1


def test_an_incomplete_profile_waits_for_the_profile() -> None:
    s = make_snapshot(with_profile=False, hand_offs=[make_hand_off(tier=0)])
    assert steps.missing_profile(s) == ["tier"]
    schedule.advance(s, T0 + 30 * DAY)
    assert s.steps == [] and s.licenses == [] and s.renewal is None
    assert schedule.next_wake_up(s, T0) is None
    message = profile_rules.apply_complete_profile(
        s, CompleteProfile(CE, Role.CE, tier=1), T0 + DAY
    )
    assert message == "profile complete"
    schedule.advance(s, T0 + DAY)
    assert step_keys(s, StepKind.KICKOFF_PLAN) == [onboarding.KICKOFF_PLAN_STEP]
    assert len(s.licenses) == 1


def test_an_old_deals_past_renewal_date_is_replaced_before_the_profile_completes() -> None:
    # The intake hands off a deal closed 14 months ago (edited in Salesforce): no owners, and
    # a renewal date one term after its close, already past.
    old_deal = make_hand_off(ae_owner="", ce_owner="", closed_at=T0 - 425 * DAY)
    s = make_snapshot(with_profile=False, hand_offs=[old_deal])
    assert steps.missing_profile(s) == ["AE", "CE"]
    assert s.profile.renewal_date is not None and s.profile.renewal_date < T0
    owners_only = CompleteProfile(AE, Role.AE, ae_owner=AE, ce_owner=CE)
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation) as refused:
        profile_rules.check_profile_renewal_ahead(s, owners_only, T0)
    assert refused.value.message == (
        "cannot complete the profile: its renewal date 2026-11-06 (one contract term after the"
        " deal's close) is in the past (today is 2027-01-05); give the current one"
        " (--renewal-date)"
    )
    assert s == before
    # An owner alone leaves the profile incomplete: nothing opens yet, nothing to refuse.
    profile_rules.check_profile_renewal_ahead(s, CompleteProfile(AE, Role.AE, ae_owner=AE), T0)

    current = CompleteProfile(AE, Role.AE, ae_owner=AE, ce_owner=CE, renewal_date=RENEWAL)
    profile_rules.check_profile_renewal_ahead(s, current, T0)
    assert profile_rules.apply_complete_profile(s, current, T0) == "profile complete"
    schedule.advance(s, T0)
    assert s.renewal is not None and s.renewal.renewal_date == RENEWAL
    assert [grant.expires_at for grant in s.licenses] == [RENEWAL]
    assert step_keys(s, StepKind.VALUE_REALIZATION) == []


def test_kickoff_plan_completes_the_kickoff_step_and_onboarding_opens_the_trainings() -> None:
    s = make_snapshot()
    schedule.advance(s, T0)
    onboarding.apply_kickoff_plan(
        s, RecordKickoffPlan(CE, Role.CE, "Bi-Weekly", ["Security use case"]), T0 + DAY
    )
    assert find(s, onboarding.KICKOFF_PLAN_STEP).status is StepStatus.DONE
    assert s.cadence is not None and s.cadence.value == "bi-weekly"
    onboarding.apply_production_ready(s, ReportProductionReady(CE, Role.CE), T0 + 5 * DAY)
    assert s.stage is LifecycleStage.ONBOARDING
    assert step_keys(s, StepKind.TRAINING) == [
        "training-101",
        "training-102",
        "training-admin",
        "training-security-use-case",
    ]
    with pytest.raises(RuleViolation, match="while trainings are open: training-101"):
        onboarding.check_complete_onboarding(s, CompleteOnboarding(CE, Role.CE))


# --- First plan only after onboarding --------------------------------------------------------


def test_no_account_plan_before_onboarding_completes_even_across_quarters() -> None:
    s = make_snapshot()
    record_kickoff(s)
    onboarding.apply_production_ready(s, ReportProductionReady(CE, Role.CE), T0 + 5 * DAY)
    for moment in (
        datetime(2027, 4, 1, tzinfo=UTC),
        datetime(2027, 7, 1, tzinfo=UTC),
        datetime(2027, 7, 20, tzinfo=UTC),
    ):
        schedule.advance(s, moment)
    assert step_keys(s, StepKind.ACCOUNT_PLAN) == []
    assert step_keys(s, StepKind.QBR) == []
    assert step_keys(s, StepKind.RENEWAL_ASSESSMENT) == []
    assert s.planned_quarters == [] and s.first_planning_quarter is None
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match="after onboarding completes"):
        plans.apply_account_plan(s, make_plan("2027-Q3"), datetime(2027, 7, 20, tzinfo=UTC))
    assert s == before


def test_the_first_plan_is_for_the_quarter_after_onboarding_and_opens_with_that_quarter() -> None:
    s = make_snapshot()
    record_kickoff(s)
    onboarding.apply_production_ready(s, ReportProductionReady(CE, Role.CE), T0 + 5 * DAY)
    for step in [x for x in s.steps if x.kind is StepKind.TRAINING]:
        steps.apply_complete_step(s, CompleteAccountStep(step.key, CE, Role.CE), ONBOARDED)
    message = onboarding.apply_complete_onboarding(s, CompleteOnboarding(CE, Role.CE), ONBOARDED)
    assert message == "onboarding complete; the first account plan is for 2027-Q2, due 2027-04-10"
    assert s.stage is LifecycleStage.ADOPTION
    assert s.first_planning_quarter == "2027-Q2"

    schedule.advance(s, ONBOARDED)
    schedule.advance(s, datetime(2027, 3, 31, 23, 59, 59, tzinfo=UTC))
    assert step_keys(s, StepKind.ACCOUNT_PLAN) == []
    # Not open yet: when it opens, not "the first is for" the very quarter asked for.
    with pytest.raises(RuleViolation) as not_yet:
        plans.check_account_plan(s, make_plan("2027-Q2"))
    assert not_yet.value.message == (
        "no account plan is open for 2027-Q2 (it opens 2027-04-01); open: none"
    )

    april = datetime(2027, 4, 1, tzinfo=UTC)
    schedule.advance(s, april)
    assert step_keys(s, StepKind.ACCOUNT_PLAN) == ["account-plan-2027-Q2"]
    assert step_keys(s, StepKind.QBR) == ["qbr-2027-Q2"]
    plan = find(s, "account-plan-2027-Q2")
    assert plan.created_at == april and plan.due_at == datetime(2027, 4, 10, tzinfo=UTC)
    assert s.planned_quarters == ["2027-Q2"]

    with pytest.raises(RuleViolation) as before_the_first:
        plans.check_account_plan(s, make_plan("2027-Q1"))
    assert before_the_first.value.message == (
        "no account plan is open for 2027-Q1; open: account-plan-2027-Q2 (the first is for 2027-Q2)"
    )
    reply = plans.apply_account_plan(s, make_plan("2027-Q2"), april + 2 * DAY)
    assert reply == "2027-Q2 account plan recorded; shared with the CE leader (1:1)"
    assert plan.status is StepStatus.DONE and plan.completed_by == CE
    assert s.plans_submitted == 1 and s.plans[-1].version == 1


def test_a_later_quarter_supersedes_an_unfinished_plan_and_qbr() -> None:
    s = onboarded_snapshot()
    schedule.advance(s, datetime(2027, 4, 1, tzinfo=UTC))
    schedule.advance(s, datetime(2027, 7, 1, tzinfo=UTC))
    assert step_keys(s, StepKind.ACCOUNT_PLAN) == ["account-plan-2027-Q2", "account-plan-2027-Q3"]
    for key in ("account-plan-2027-Q2", "qbr-2027-Q2"):
        assert find(s, key).status is StepStatus.SKIPPED
        assert find(s, key).note == "missed: superseded by 2027-Q3"
    assert find(s, "account-plan-2027-Q3").status is StepStatus.PENDING
    with pytest.raises(RuleViolation, match=r"the 2027-Q2 plan is closed \(missed"):
        plans.check_account_plan(s, make_plan("2027-Q2"))


def test_a_past_quarters_plan_is_closed_before_and_after_a_continue_as_new() -> None:
    s = onboarded_snapshot()
    schedule.advance(s, datetime(2027, 4, 1, tzinfo=UTC))
    plans.apply_account_plan(s, make_plan("2027-Q2"), datetime(2027, 4, 2, tzinfo=UTC))
    plans.check_plan_quarter_current(s, make_plan("2027-Q2"))  # its quarter: may be replaced
    schedule.advance(s, datetime(2027, 7, 1, tzinfo=UTC))
    with pytest.raises(RuleViolation, match="the 2027-Q2 plan is closed: its quarter is over"):
        plans.check_plan_quarter_current(s, make_plan("2027-Q2"))
    renewals.compact(s)  # the finished Q2 step is let go of
    with pytest.raises(RuleViolation) as compacted:
        plans.check_account_plan(s, make_plan("2027-Q2"))
    assert compacted.value.message == (
        "no account plan is open for 2027-Q2 (its quarter is over); open: account-plan-2027-Q3"
    )


def test_monthly_renewal_assessments_start_the_month_after_onboarding() -> None:
    s = onboarded_snapshot()
    assert s.assessed_months == ["2027-02"]
    schedule.advance(s, datetime(2027, 2, 28, 23, tzinfo=UTC))
    assert step_keys(s, StepKind.RENEWAL_ASSESSMENT) == []
    schedule.advance(s, datetime(2027, 3, 1, tzinfo=UTC))
    assert step_keys(s, StepKind.RENEWAL_ASSESSMENT) == [
        "renewal-assessment-2027-03-ae",
        "renewal-assessment-2027-03-ce",
    ]
    ae, ce = (find(s, f"renewal-assessment-2027-03-{r}") for r in ("ae", "ce"))
    assert (ae.owner, ae.role, ce.owner, ce.role) == (AE, "AE", CE, "CE")
    assert ae.due_at == ce.due_at == datetime(2027, 3, 8, tzinfo=UTC)
    schedule.advance(s, datetime(2027, 4, 2, tzinfo=UTC))
    assert find(s, "renewal-assessment-2027-03-ae").status is StepStatus.SKIPPED
    assert find(s, "renewal-assessment-2027-04-ce").status is StepStatus.PENDING
    assert s.assessed_months == ["2027-02", "2027-03", "2027-04"]


# --- The renewal window and the value-realization exercise -----------------------------------


def test_the_value_realization_step_opens_90_days_before_the_renewal() -> None:
    s = make_snapshot(stage=LifecycleStage.ADOPTION)
    schedule.advance(s, RENEWAL - 91 * DAY)
    assert step_keys(s, StepKind.VALUE_REALIZATION) == []
    assert s.stage is LifecycleStage.ADOPTION
    assert schedule.renewal_window_opens_at(s) == WINDOW_OPENS

    schedule.advance(s, RENEWAL - 90 * DAY)
    assert step_keys(s, StepKind.VALUE_REALIZATION) == [f"value-realization-{RENEWAL_TAG}"]
    value = find(s, f"value-realization-{RENEWAL_TAG}")
    assert value.owner == VE == "U0VALUEENG1" and value.role == "VE"
    assert value.due_at == WINDOW_OPENS + 30 * DAY
    proposal = find(s, f"renewal-proposal-{RENEWAL_TAG}")
    assert proposal.owner == AE and proposal.due_at == RENEWAL - 45 * DAY
    outcome = find(s, f"renewal-outcome-{RENEWAL_TAG}")
    assert outcome.owner == AE and outcome.due_at == RENEWAL
    assert stage_of(s) is LifecycleStage.RENEWAL
    schedule.advance(s, RENEWAL - 80 * DAY)
    assert len(step_keys(s, StepKind.VALUE_REALIZATION)) == 1


def test_the_value_realization_lead_comes_from_the_configuration() -> None:
    s = make_snapshot(
        stage=LifecycleStage.ADOPTION, durations=Durations(value_exercise_lead_days=120)
    )
    schedule.advance(s, RENEWAL - 121 * DAY)
    assert step_keys(s, StepKind.VALUE_REALIZATION) == []
    opened = RENEWAL - 120 * DAY + timedelta(hours=15)
    schedule.advance(s, opened)
    assert step_keys(s, StepKind.VALUE_REALIZATION) == [f"value-realization-{RENEWAL_TAG}"]
    # Due 30 days from the midnight of the day it opened; the proposal 45 days before renewal.
    value = find(s, f"value-realization-{RENEWAL_TAG}")
    assert value.due_at == datetime(2027, 5, 4, tzinfo=UTC) + 30 * DAY
    assert value.created_at == opened
    assert find(s, f"renewal-proposal-{RENEWAL_TAG}").due_at == datetime(2027, 7, 18, tzinfo=UTC)


def test_a_customer_brought_in_late_in_the_renewal_window_gets_a_proposal_due_today() -> None:
    now = RENEWAL - 20 * DAY + timedelta(hours=10)
    s = make_snapshot(stage=LifecycleStage.RENEWAL, now=now)
    schedule.advance(s, now)
    assert stage_of(s) is LifecycleStage.RENEWAL
    assert find(s, f"renewal-proposal-{RENEWAL_TAG}").due_at == datetime(2027, 8, 12, tzinfo=UTC)
    # Thirty days would pass the renewal: the exercise is due by the renewal date at the latest.
    assert find(s, f"value-realization-{RENEWAL_TAG}").due_at == RENEWAL
    assert find(s, f"renewal-outcome-{RENEWAL_TAG}").due_at == RENEWAL


def test_onboarding_that_ends_inside_the_renewal_window_leaves_the_account_in_renewal() -> None:
    # A slow customer: onboarding began in time and ends after the window opened (T-90).
    s = make_snapshot()
    record_kickoff(s)
    onboarding.apply_production_ready(s, ReportProductionReady(CE, Role.CE), T0 + 2 * DAY)
    schedule.advance(s, WINDOW_OPENS + DAY)
    assert s.stage is LifecycleStage.ONBOARDING
    assert step_keys(s, StepKind.VALUE_REALIZATION) == [f"value-realization-{RENEWAL_TAG}"]
    complete_onboarding(s, WINDOW_OPENS + 10 * DAY)
    schedule.advance(s, WINDOW_OPENS + 10 * DAY)
    assert s.stage is LifecycleStage.RENEWAL
    assert views.state_view(s, WINDOW_OPENS + 10 * DAY).stage is LifecycleStage.RENEWAL
    assert len(step_keys(s, StepKind.VALUE_REALIZATION)) == 1


def test_a_renewal_call_before_the_window_opens_is_rejected() -> None:
    s = make_snapshot(stage=LifecycleStage.ADOPTION)
    schedule.advance(s, WINDOW_OPENS - DAY)
    before = copy.deepcopy(s)
    with pytest.raises(
        RuleViolation,
        match=r"belongs to the renewal window, which opens 2027-06-03 \(90 days before the"
        r" 2027-09-01 renewal\)",
    ):
        renewals.apply_renewal_call(s, RecordRenewalCall(AE, Role.AE), WINDOW_OPENS - DAY)
    assert s == before


def test_renewal_call_and_outcome_wait_for_the_value_exercise() -> None:
    s = window_snapshot()
    now = WINDOW_OPENS + DAY
    step_named = re.escape(f"value-realization-{RENEWAL_TAG} ({VE}) is not done")
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match="waits for the value-realization exercise: "):
        renewals.apply_renewal_call(s, RecordRenewalCall(AE, Role.AE), now)
    with pytest.raises(RuleViolation, match=step_named):
        renewals.check_renewal_call(s, RecordRenewalCall(CE, Role.CE), now)
    with pytest.raises(RuleViolation, match="no renewal outcome before the value-real"):
        renewals.apply_renewal_outcome(s, RecordRenewalOutcome("renewed", AE, Role.AE), now)
    with pytest.raises(RuleViolation, match=step_named):
        renewals.check_renewal_outcome(s, RecordRenewalOutcome("renewed", AE, Role.AE), now)
    assert s == before
    assert not schedule.value_exercise_done(s)

    with pytest.raises(RuleViolation, match=f"owned by {VE}, not {CE}"):
        steps.check_complete_step(
            s, CompleteAccountStep(f"value-realization-{RENEWAL_TAG}", CE, Role.CE)
        )
    complete_value_exercise(s, now)
    assert schedule.value_exercise_done(s)
    assert views.state_view(s, now).value_exercise_done

    renewals.check_renewal_call(s, RecordRenewalCall(CE, Role.CE), now)
    assert renewals.apply_renewal_call(s, RecordRenewalCall(AE, Role.AE), now) == (
        "first renewal call recorded"
    )
    assert s.renewal is not None and s.renewal.first_call_at == now
    assert renewals.apply_renewal_call(s, RecordRenewalCall(CE, Role.CE), now + DAY) == (
        "renewal call recorded"
    )
    assert s.renewal.first_call_at == now
    outcome = renewals.check_renewal_outcome(s, RecordRenewalOutcome("renewed", AE, Role.AE), now)
    assert outcome.value == "renewed"


def test_a_renewal_calls_note_is_kept_with_it() -> None:
    s = window_snapshot()
    complete_value_exercise(s)
    now = WINDOW_OPENS + 2 * DAY
    renewals.apply_renewal_call(s, RecordRenewalCall(AE, Role.AE, note="EB wants a 3-year"), now)
    renewals.apply_renewal_call(s, RecordRenewalCall(CE, Role.CE), now + DAY)
    assert [entry.action for entry in views.state_view(s, now).recent_activity[-2:]] == [
        "recorded a renewal call: EB wants a 3-year",
        "recorded a renewal call",
    ]


def test_the_renewals_assessment_risks_show_with_the_account_until_it_is_decided() -> None:
    s = onboarded_snapshot()
    march = datetime(2027, 3, 2, tzinfo=UTC)
    schedule.advance(s, march)
    renewals.apply_renewal_assessment(
        s, RecordRenewalAssessment(AE, Role.AE, ["champion leaving"]), march
    )
    renewals.apply_renewal_assessment(s, RecordRenewalAssessment(CE, Role.CE, ["SSO"]), march)
    view = views.state_view(s, march)
    assert view.renewal_risks == ["AE: champion leaving", "CE: SSO"]
    shown = render_account(view, "RUNNING", "http://ui", "default", march).splitlines()
    assert "Risks        AE: champion leaving; CE: SSO" in shown

    decided = RENEWAL - 10 * DAY
    schedule.advance(s, decided)
    complete_value_exercise(s, decided)
    renewals.apply_renewal_outcome(s, RecordRenewalOutcome("renewed", AE, Role.AE), decided)
    renewals.start_next_cycle(s)
    assert views.state_view(s, decided).renewal_risks == []


# --- Renewal outcomes ------------------------------------------------------------------------


def test_a_renewal_grants_a_key_to_the_next_renewal_and_starts_the_next_cycle() -> None:
    s = window_snapshot()
    complete_value_exercise(s)
    granted = len(s.licenses)
    decided = RENEWAL - 10 * DAY
    message = renewals.apply_renewal_outcome(
        s, RecordRenewalOutcome("renewed", AE, Role.AE, note="signed"), decided
    )
    following = datetime(2028, 9, 1, tzinfo=UTC)
    assert message == "renewed (renewed): 50 seats until 2028-09-01, a new key follows"
    assert s.profile.renewal_date == following and s.profile.seats == 50
    assert len(s.licenses) == granted + 1
    assert s.licenses[-1] == LicenseGrant(
        s.licenses_granted, f"renewal {RENEWAL_TAG} (renewed)", 50, following
    )
    assert s.renewal is not None
    assert (s.renewal.outcome, s.renewal.outcome_by, s.renewal.outcome_at) == (
        RenewalOutcome.RENEWED,
        AE,
        decided,
    )
    assert s.renewal.next_renewal_date == following
    assert find(s, f"renewal-outcome-{RENEWAL_TAG}").status is StepStatus.DONE
    with pytest.raises(RuleViolation, match="already decided: renewed"):
        renewals.check_renewal_outcome(s, RecordRenewalOutcome("renewed", AE, Role.AE), decided)

    pending_before = {step.key for step in s.steps if step.status is StepStatus.PENDING}
    assert f"renewal-proposal-{RENEWAL_TAG}" in pending_before
    renewals.start_next_cycle(s)
    assert s.renewal.renewal_date == following and s.renewal.outcome is None
    assert (s.cycle, s.renewals_completed) == (1, 1)
    assert s.stage is LifecycleStage.ADOPTION
    assert all(step.status is StepStatus.PENDING for step in s.steps)
    keys = {step.key for step in s.steps}
    assert not any(key.endswith(RENEWAL_TAG) for key in keys)
    assert keys == pending_before - {f"renewal-proposal-{RENEWAL_TAG}"}

    # The next window opens 90 days before the new date, with its own value exercise.
    schedule.advance(s, following - 91 * DAY)
    assert step_keys(s, StepKind.VALUE_REALIZATION) == []
    schedule.advance(s, following - 90 * DAY)
    assert step_keys(s, StepKind.VALUE_REALIZATION) == ["value-realization-2028-09-01"]
    assert stage_of(s) is LifecycleStage.RENEWAL


def test_a_renewal_decided_over_a_term_late_names_the_next_renewal_date() -> None:
    """The outcome of the 2027-09-01 renewal recorded a year and more after it: a term on
    from that date has passed too. Without --next-renewal-date the next cycle would start
    with its renewal, its whole window and a key already expired: refused, nothing changed."""
    s = window_snapshot()
    complete_value_exercise(s)
    late = RENEWAL + 370 * DAY
    before = copy.deepcopy(s)
    renewed = RecordRenewalOutcome("renewed", AE, Role.AE)

    with pytest.raises(RuleViolation) as refused:
        renewals.check_next_renewal_ahead(s, renewed, late)

    assert refused.value.message == (
        "a term after the 2027-09-01 renewal, 2028-09-01, has passed too (today is"
        " 2028-09-05): give the next renewal date (--next-renewal-date)"
    )
    assert s == before
    renewals.check_next_renewal_ahead(s, renewed, RENEWAL + 10 * DAY)  # on time: a term on
    renewals.check_next_renewal_ahead(s, RecordRenewalOutcome("churned", AE, Role.AE), late)
    following = datetime(2029, 9, 1, tzinfo=UTC)
    given = replace(renewed, next_renewal_date=following)
    renewals.check_next_renewal_ahead(s, given, late)
    renewals.apply_renewal_outcome(s, given, late)
    assert s.profile.renewal_date == following


def test_the_months_open_assessments_name_the_next_renewal_once_this_one_is_decided() -> None:
    s = onboarded_snapshot()
    decided = RENEWAL - 10 * DAY
    schedule.advance(s, decided)
    complete_value_exercise(s, decided)
    assert [step.title for step in steps.open_of(s, StepKind.RENEWAL_ASSESSMENT)] == [
        "2027-08 renewal health assessment (the 2027-09-01 renewal): relationship and"
        " business risks",
        "2027-08 renewal health assessment (the 2027-09-01 renewal): technical risks",
    ]
    renewals.apply_renewal_outcome(s, RecordRenewalOutcome("renewed", AE, Role.AE), decided)
    renewals.start_next_cycle(s)
    view = views.state_view(s, decided)
    assert view.renewal_date == datetime(2028, 9, 1, tzinfo=UTC)
    assessments = [step for step in view.open_steps if step.kind == "renewal_assessment"]
    assert [step.title for step in assessments] == [
        "2027-08 renewal health assessment (the 2028-09-01 renewal): relationship and"
        " business risks",
        "2027-08 renewal health assessment (the 2028-09-01 renewal): technical risks",
    ]


def test_a_renewal_may_name_its_next_date_and_a_seat_expansion_its_seats() -> None:
    s = window_snapshot()
    complete_value_exercise(s)
    following = datetime(2029, 3, 1, tzinfo=UTC)
    message = renewals.apply_renewal_outcome(
        s,
        RecordRenewalOutcome("seat_expansion", AE, Role.AE, next_renewal_date=following, seats=80),
        RENEWAL - 5 * DAY,
    )
    assert "80 seats until 2029-03-01" in message
    assert s.profile.seats == 80 and s.profile.renewal_date == following
    assert (s.licenses[-1].seats, s.licenses[-1].expires_at) == (80, following)


def test_a_new_team_renewal_needs_the_expansion_opportunity() -> None:
    s = window_snapshot()
    complete_value_exercise(s)
    with pytest.raises(RuleViolation, match="needs the Salesforce Opportunity"):
        renewals.check_renewal_outcome(s, RecordRenewalOutcome("new_team", AE, Role.AE), RENEWAL)
    message = renewals.apply_renewal_outcome(
        s, RecordRenewalOutcome("new_team", AE, Role.AE, expansion_opportunity_id=" 006X "), RENEWAL
    )
    assert message.endswith("expansion opportunity 006X starts")
    assert s.renewal is not None and s.renewal.expansion_opportunity_id == "006X"


def test_a_churned_customer_gets_no_new_key_and_its_open_work_is_closed() -> None:
    s = window_snapshot()
    complete_value_exercise(s)
    granted = list(s.licenses)
    pending = [step.key for step in s.steps if step.status is StepStatus.PENDING]
    assert pending
    message = renewals.apply_renewal_outcome(
        s, RecordRenewalOutcome("churned", AE, Role.AE), RENEWAL - DAY
    )
    assert message == f"churned at the {RENEWAL_TAG} renewal; the license is left to expire"
    assert s.stage is LifecycleStage.CHURNED
    assert s.licenses == granted and s.profile.renewal_date == RENEWAL
    assert find(s, f"renewal-outcome-{RENEWAL_TAG}").status is StepStatus.DONE
    for key in pending:
        if key != f"renewal-outcome-{RENEWAL_TAG}":
            assert find(s, key).status is StepStatus.SKIPPED
            assert find(s, key).note == "the customer churned"
    assert s.next_check_in_at is None
    assert schedule.next_wake_up(s, RENEWAL) is None
    steps_before = copy.deepcopy(s.steps)
    schedule.advance(s, RENEWAL + 200 * DAY)
    assert s.steps == steps_before
    with pytest.raises(RuleViolation, match="Acme churned; nothing more to record"):
        profile_rules.check_expand_seats(s, ExpandSeats(60, AE, Role.AE, "more"))


def test_next_wake_up_is_the_earliest_moment_time_changes_something() -> None:
    s = onboarded_snapshot(cadence="as-needed")
    schedule.advance(s, ONBOARDED)
    assert schedule.next_wake_up(s, ONBOARDED) == datetime(2027, 3, 1, tzinfo=UTC)  # assessments
    schedule.advance(s, datetime(2027, 3, 1, tzinfo=UTC))
    # The March assessments are due on the 8th: their first reminder is the 9th.
    assert schedule.next_wake_up(s, datetime(2027, 3, 1, tzinfo=UTC)) == datetime(
        2027, 3, 9, tzinfo=UTC
    )
    late = make_snapshot(stage=LifecycleStage.ADOPTION, cadence="as-needed", now=WINDOW_OPENS - DAY)
    schedule.advance(late, WINDOW_OPENS - DAY)
    assert schedule.next_wake_up(late, WINDOW_OPENS - DAY) == WINDOW_OPENS  # the renewal window


# --- Bad input -------------------------------------------------------------------------------


def test_a_start_with_a_renewal_date_in_the_past_is_rejected() -> None:
    start = make_start(renewal_date=datetime(2026, 12, 1, tzinfo=UTC))
    before = copy.deepcopy(start)
    message = re.escape(
        "cannot start the account: renewal date 2026-12-01 is in the past (today is 2027-01-05)"
    )
    with pytest.raises(RuleViolation, match=message):
        profile_rules.check_start(start, T0)
    with pytest.raises(RuleViolation, match=message):
        profile_rules.new_snapshot(start, T0, SCOPE)
    assert start == before


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tier": 4}, "profile.tier: a whole number from 0 to 3 (got 4)"),
        ({"seats": 0}, "seats must be at least 1, not 0"),
        ({"ce_owner": ""}, "ce_owner is empty"),
        ({"ce_owner": AE}, "the AE and the CE must be different people"),
        ({"renewal_date": None}, "renewal_date is missing"),
        (
            {"renewal_date": datetime(2027, 9, 1)},
            "renewal_date: a date with a time zone (got 2027-09-01T00:00:00)",
        ),
        ({"cadence": "daily", "stage": LifecycleStage.ADOPTION}, "unknown check-in cadence"),
        ({"stage": LifecycleStage.CHURNED}, "a churned customer has no account workflow"),
        ({"stage": LifecycleStage.RENEWAL}, "more than 90 days away: start at adoption"),
        (
            {"stage": LifecycleStage.ADOPTION, "with_profile": False},
            "a customer brought in at adoption needs its profile",
        ),
    ],
)
def test_bad_starts_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleViolation, match=re.escape(message)):
        profile_rules.check_start(make_start(**overrides), T0)


def kickoff_stage() -> AccountSnapshot:
    s = make_snapshot()
    schedule.advance(s, T0)
    return s


def adopted() -> AccountSnapshot:
    return onboarded_snapshot()


def in_window() -> AccountSnapshot:
    return window_snapshot()


Action = Callable[[AccountSnapshot], object]
MISSING_SECTIONS = "the account plan is missing sections: contacts.champion, risks, link; "


BAD_INPUT: list[tuple[str, Callable[[], AccountSnapshot], Action, str]] = [
    (
        "unknown cadence at kickoff",
        kickoff_stage,
        lambda s: onboarding.apply_kickoff_plan(s, RecordKickoffPlan(CE, Role.CE, "daily"), T0),
        f"unknown check-in cadence 'daily'; use one of {CADENCES}",
    ),
    (
        "unknown cadence change",
        adopted,
        lambda s: onboarding.apply_change_cadence(s, ChangeCadence("fortnightly", CE, Role.CE), T0),
        f"unknown check-in cadence 'fortnightly'; use one of {CADENCES}",
    ),
    (
        "same cadence",
        adopted,
        lambda s: onboarding.apply_change_cadence(s, ChangeCadence("weekly", CE, Role.CE), T0),
        "check-ins are already weekly",
    ),
    (
        "outcome before the value exercise",
        in_window,
        lambda s: renewals.apply_renewal_outcome(
            s, RecordRenewalOutcome("renewed", AE, Role.AE), WINDOW_OPENS
        ),
        f"no renewal outcome before the value-realization exercise: value-realization-"
        f"{RENEWAL_TAG} ({VE}) is not done",
    ),
    (
        "unknown renewal outcome",
        in_window,
        lambda s: renewals.apply_renewal_outcome(
            s, RecordRenewalOutcome("extended", AE, Role.AE), WINDOW_OPENS
        ),
        "unknown renewal outcome 'extended'; use one of renewed, seat_expansion, new_team, churned",
    ),
    (
        "seat expansion with fewer seats",
        adopted,
        lambda s: profile_rules.apply_expand_seats(s, ExpandSeats(40, AE, Role.AE, "shrink"), T0),
        "a seat expansion needs more seats than today's 50, not 40",
    ),
    (
        "seat expansion with the same seats",
        adopted,
        lambda s: profile_rules.apply_expand_seats(s, ExpandSeats(50, AE, Role.AE, "same"), T0),
        "a seat expansion needs more seats than today's 50, not 50",
    ),
    (
        "seat expansion without a reason",
        adopted,
        lambda s: profile_rules.apply_expand_seats(s, ExpandSeats(60, AE, Role.AE, " "), T0),
        "a seat expansion needs a reason",
    ),
    (
        "renewal seat expansion with fewer seats",
        lambda: _with_value_exercise(window_snapshot()),
        lambda s: renewals.apply_renewal_outcome(
            s, RecordRenewalOutcome("seat_expansion", AE, Role.AE, seats=30), RENEWAL
        ),
        "a seat expansion needs more seats than today's 50, not 30",
    ),
    (
        "renewal seat expansion with the same seats",
        lambda: _with_value_exercise(window_snapshot()),
        lambda s: renewals.apply_renewal_outcome(
            s, RecordRenewalOutcome("seat_expansion", AE, Role.AE, seats=50), RENEWAL
        ),
        "a seat expansion needs more seats than today's 50, not 50",
    ),
    (
        "next renewal date not after this renewal",
        lambda: _with_value_exercise(window_snapshot()),
        lambda s: renewals.apply_renewal_outcome(
            s, RecordRenewalOutcome("renewed", AE, Role.AE, next_renewal_date=RENEWAL), RENEWAL
        ),
        "the next renewal date 2027-09-01 must be after 2027-09-01",
    ),
    (
        "actor who is not the CE",
        kickoff_stage,
        lambda s: onboarding.apply_kickoff_plan(s, RecordKickoffPlan(AE, Role.CE, "weekly"), T0),
        f"{AE} is not the account's CE ({CE} is)",
    ),
    (
        "kickoff plan by the AE",
        kickoff_stage,
        lambda s: onboarding.apply_kickoff_plan(s, RecordKickoffPlan(AE, Role.AE, "weekly"), T0),
        "the kickoff plan is recorded by the CE",
    ),
    (
        "actor who is not the AE",
        lambda: _with_value_exercise(window_snapshot()),
        lambda s: renewals.apply_renewal_call(s, RecordRenewalCall("U0STRANGER", Role.AE), RENEWAL),
        f"U0STRANGER is not the account's AE ({AE} is)",
    ),
    (
        "nameless actor",
        adopted,
        lambda s: plans.apply_change_tier(s, ChangeTier(1, " ", Role.CE, "bigger"), T0),
        "say who you are (--by)",
    ),
    (
        "tier 4",
        adopted,
        lambda s: plans.apply_change_tier(s, ChangeTier(4, CE, Role.CE, "bigger"), T0),
        "tier must be 1, 2 or 3, not 4",
    ),
    (
        "tier change to the same tier",
        adopted,
        lambda s: plans.apply_change_tier(s, ChangeTier(2, CE, Role.CE, "same"), T0),
        "the account is already tier 2 from next quarter",
    ),
    (
        "tier change without a reason",
        adopted,
        lambda s: plans.apply_change_tier(s, ChangeTier(1, CE, Role.CE, ""), T0),
        "a tier change needs a reason",
    ),
    (
        "profile tier 4",
        lambda: make_snapshot(with_profile=False, hand_offs=[make_hand_off(tier=0)]),
        lambda s: profile_rules.check_complete_profile(s, CompleteProfile(CE, Role.CE, tier=4), T0),
        "cannot complete the profile: tier must be 1, 2 or 3, not 4",
    ),
    (
        "profile field already known",
        lambda: make_snapshot(with_profile=False, hand_offs=[make_hand_off(tier=0)]),
        lambda s: profile_rules.check_complete_profile(
            s, CompleteProfile(CE, Role.CE, seats=70), T0
        ),
        "already known: seats; to change it use `dealcycle account seats`",
    ),
    (
        "profile renewal date already known",
        adopted,
        lambda s: profile_rules.check_complete_profile(
            s, CompleteProfile(AE, Role.AE, ce_owner="U0CE00002", renewal_date=RENEWAL + DAY), T0
        ),
        "already known: CE, renewal date; to change it use `dealcycle account reassign`,"
        " `dealcycle account renewal-date`",
    ),
    (
        "unknown step",
        adopted,
        lambda s: steps.apply_complete_step(s, CompleteAccountStep("nope", CE, Role.CE), T0),
        "unknown step 'nope'; the open steps are: ",
    ),
    (
        "plan step completed by hand",
        lambda: _advanced(adopted(), datetime(2027, 4, 1, tzinfo=UTC)),
        lambda s: steps.apply_complete_step(
            s, CompleteAccountStep("account-plan-2027-Q2", CE, Role.CE), T0
        ),
        "is completed by submitting the plan",
    ),
    (
        "plan health",
        lambda: _advanced(adopted(), datetime(2027, 4, 1, tzinfo=UTC)),
        lambda s: plans.apply_account_plan(s, make_plan(health="purple"), T0),
        "plan health 'purple' must be green, yellow or red",
    ),
    (
        "plan link",
        lambda: _advanced(adopted(), datetime(2027, 4, 1, tzinfo=UTC)),
        lambda s: plans.apply_account_plan(s, make_plan(link="docs/plan"), T0),
        "plan link 'docs/plan' must be an http(s) URL",
    ),
    (
        "onboarding twice",
        adopted,
        lambda s: onboarding.apply_complete_onboarding(s, CompleteOnboarding(CE, Role.CE), T0),
        "onboarding was already completed on 2027-02-10",
    ),
    (
        "kickoff twice",
        adopted,
        lambda s: onboarding.apply_kickoff_plan(s, RecordKickoffPlan(CE, Role.CE, "weekly"), T0),
        "the kickoff plan was already recorded by U0CE00001 on 2027-01-06",
    ),
]


def _with_value_exercise(s: AccountSnapshot) -> AccountSnapshot:
    complete_value_exercise(s)
    return s


def _advanced(s: AccountSnapshot, now: datetime) -> AccountSnapshot:
    schedule.advance(s, now)
    return s


@pytest.mark.parametrize(
    ("build", "action", "message"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input_is_rejected_with_a_clear_message_and_changes_nothing(
    build: Callable[[], AccountSnapshot], action: Action, message: str
) -> None:
    s = build()
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=re.escape(message)):
        action(s)
    assert s == before


def test_a_plan_with_missing_sections_names_each_one_and_changes_nothing() -> None:
    s = adopted()
    schedule.advance(s, datetime(2027, 4, 1, tzinfo=UTC))
    gaps = make_plan(
        contacts=PlanContacts(" ", "Erin Buyer", "Ada Advocate", "Al Admin"),
        risks=["", "  "],
        link="",
    )
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=re.escape(MISSING_SECTIONS + "nothing was")):
        plans.apply_account_plan(s, gaps, datetime(2027, 4, 2, tzinfo=UTC))
    assert s == before
    everything_missing = make_plan(
        contacts=PlanContacts("", "", "", ""),
        use_cases=[],
        health="",
        expansion_opportunities=[],
        risks=[],
        product_feedback_themes=[],
        objectives=[],
        next_steps="",
        link="",
    )
    with pytest.raises(
        RuleViolation,
        match=re.escape(
            "missing sections: contacts.champion, contacts.economic_buyer, contacts.advocate,"
            " contacts.admin, use_cases, expansion_opportunities, risks,"
            " product_feedback_themes, objectives, health, next_steps, link;"
        ),
    ):
        plans.check_account_plan(s, everything_missing)
    assert s == before


# --- Tier changes ----------------------------------------------------------------------------


def test_a_tier_change_takes_effect_from_the_next_quarter() -> None:
    s = onboarded_snapshot(tier=2)
    schedule.advance(s, datetime(2027, 4, 1, tzinfo=UTC))
    q2_plan = find(s, "account-plan-2027-Q2")
    assert q2_plan.due_at == datetime(2027, 4, 10, tzinfo=UTC)
    version = s.profile_version

    message = plans.apply_change_tier(
        s, ChangeTier(1, AE, Role.AE, "strategic account"), datetime(2027, 5, 15, tzinfo=UTC)
    )
    assert message == "tier 1 takes effect from 2027-Q3"
    assert (s.next_tier, s.next_tier_from) == (1, "2027-Q3")
    assert s.profile.tier == 2
    assert q2_plan.due_at == datetime(2027, 4, 10, tzinfo=UTC) and "Tier 2" in q2_plan.title
    view = views.state_view(s, datetime(2027, 5, 15, tzinfo=UTC))
    assert (view.next_tier, view.next_tier_from) == (1, "2027-Q3")
    with pytest.raises(RuleViolation, match="already tier 1 from next quarter"):
        plans.check_change_tier(
            s, ChangeTier(1, CE, Role.CE, "again"), datetime(2027, 5, 16, tzinfo=UTC)
        )

    schedule.advance(s, datetime(2027, 6, 30, 23, 59, tzinfo=UTC))
    assert s.profile.tier == 2 and s.next_tier == 1

    schedule.advance(s, datetime(2027, 7, 1, tzinfo=UTC))
    assert s.profile.tier == 1
    after = views.state_view(s, datetime(2027, 7, 1, tzinfo=UTC))
    assert (after.next_tier, after.next_tier_from) == (None, None)
    assert s.profile_version == version + 1
    q3_plan = find(s, "account-plan-2027-Q3")
    assert q3_plan.due_at == datetime(2027, 7, 21, tzinfo=UTC)
    assert "Tier 1" in q3_plan.title
    assert q2_plan.due_at == datetime(2027, 4, 10, tzinfo=UTC)
    reply = plans.apply_account_plan(s, make_plan("2027-Q3"), datetime(2027, 7, 2, tzinfo=UTC))
    assert reply.endswith("shared with the 2:2 review and the internal QBR")
    assert s.plans[-1].tier == 1


def test_a_tier_change_taken_back_within_the_quarter_leaves_the_tier_as_it_is() -> None:
    s = onboarded_snapshot(tier=2)
    now = datetime(2027, 5, 15, tzinfo=UTC)
    plans.apply_change_tier(s, ChangeTier(1, AE, Role.AE, "strategic account"), now)

    message = plans.apply_change_tier(s, ChangeTier(2, AE, Role.AE, "not after all"), now)

    assert message == "the account stays Tier 2: the change to Tier 1 from 2027-Q3 is withdrawn"
    view = views.state_view(s, now)
    assert (view.next_tier, view.next_tier_from) == (None, None)
    schedule.advance(s, datetime(2027, 7, 1, tzinfo=UTC))
    assert s.profile.tier == 2
    assert "Tier 2" in find(s, "account-plan-2027-Q3").title


def test_a_tier_change_before_onboarding_applies_to_the_first_plan() -> None:
    s = make_snapshot(tier=3)
    record_kickoff(s)
    plans.apply_change_tier(
        s, ChangeTier(1, CE, Role.CE, "grew"), datetime(2027, 1, 20, tzinfo=UTC)
    )
    assert s.next_tier_from == "2027-Q2"
    at = ONBOARDED
    onboarding.apply_production_ready(s, ReportProductionReady(CE, Role.CE), at - 14 * DAY)
    for step in [x for x in s.steps if x.kind is StepKind.TRAINING]:
        steps.apply_complete_step(s, CompleteAccountStep(step.key, CE, Role.CE), at)
    done = onboarding.apply_complete_onboarding(s, CompleteOnboarding(CE, Role.CE), at)
    # The reply names the due date of the tier the first plan will be of.
    assert done == "onboarding complete; the first account plan is for 2027-Q2, due 2027-04-21"
    schedule.advance(s, datetime(2027, 4, 1, tzinfo=UTC))
    assert s.profile.tier == 1
    assert find(s, "account-plan-2027-Q2").due_at == datetime(2027, 4, 21, tzinfo=UTC)


# --- Reminders and escalation ----------------------------------------------------------------


def _send_reminder(step: AccountStep, now: datetime) -> None:
    """What the workflow's effects do when a reminder goes out."""
    step.reminders_sent += 1
    step.last_reminded_at = now


def test_an_overdue_plan_is_reminded_then_repeated_then_escalated() -> None:
    s = onboarded_snapshot()
    schedule.advance(s, datetime(2027, 4, 1, tzinfo=UTC))
    plan = find(s, "account-plan-2027-Q2")
    due = datetime(2027, 4, 10, tzinfo=UTC)
    assert plan.due_at == due

    def reminded(now: datetime) -> bool:
        return plan in schedule.reminders_due(s, now)

    def escalated(now: datetime) -> bool:
        return plan in schedule.escalations_due(s, now)

    assert not reminded(due) and not reminded(due + DAY - SECOND)
    assert reminded(due + DAY) and not escalated(due + DAY)
    _send_reminder(plan, due + DAY)

    assert not reminded(due + 3 * DAY - SECOND)
    assert reminded(due + 3 * DAY) and not escalated(due + 3 * DAY)
    _send_reminder(plan, due + 3 * DAY)
    assert plan.reminders_sent == Durations().escalate_after_reminders == 2

    assert not reminded(due + 30 * DAY)
    assert not escalated(due + 5 * DAY - SECOND)
    assert escalated(due + 5 * DAY)
    plan.escalated = True
    assert not escalated(due + 30 * DAY) and not reminded(due + 30 * DAY)

    view = next(v for v in views.state_view(s, due + 6 * DAY).open_steps if v.key == plan.key)
    assert view.overdue and view.status == "overdue" and view.escalated
    assert view.reminders_sent == 2


def test_a_plan_done_in_time_is_never_reminded() -> None:
    s = onboarded_snapshot()
    schedule.advance(s, datetime(2027, 4, 1, tzinfo=UTC))
    plans.apply_account_plan(s, make_plan(), datetime(2027, 4, 9, tzinfo=UTC))
    plan = find(s, "account-plan-2027-Q2")
    later = datetime(2027, 4, 20, tzinfo=UTC)
    assert plan not in schedule.reminders_due(s, later)
    plan.reminders_sent = 5
    assert plan not in schedule.escalations_due(s, later)


def test_reminder_timing_and_escalation_count_come_from_the_configuration() -> None:
    durations = Durations(
        overdue_reminder_delay_seconds=3600,
        overdue_reminder_repeat_seconds=7200,
        escalate_after_reminders=3,
    )
    s = make_snapshot(durations=durations)
    schedule.advance(s, T0)
    step = find(s, onboarding.KICKOFF_PLAN_STEP)
    due = datetime(2027, 1, 19, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert schedule.next_wake_up(s, T0) == due + hour
    assert schedule.reminders_due(s, due + hour - SECOND) == []
    assert schedule.reminders_due(s, due + hour) == [step]
    moment = due + hour
    for sent in range(1, 4):
        _send_reminder(step, moment)
        assert step.reminders_sent == sent
        assert schedule.next_wake_up(s, moment) == moment + 2 * hour
        assert schedule.reminders_due(s, moment + 2 * hour - SECOND) == []
        moment += 2 * hour
        if sent < 3:
            assert schedule.reminders_due(s, moment) == [step]
            assert schedule.escalations_due(s, moment) == []
    assert schedule.reminders_due(s, moment) == []
    assert schedule.escalations_due(s, moment) == [step]
    step.escalated = True
    assert schedule.escalations_due(s, moment + 10 * hour) == []
    assert schedule.next_wake_up(s, moment) == WINDOW_OPENS  # the escalated step no longer wakes


# --- Check-in briefs -------------------------------------------------------------------------


def test_weekly_check_ins_get_a_brief_a_day_before_each() -> None:
    s = make_snapshot()
    kickoff_at = T0 + DAY
    record_kickoff(s, "weekly", kickoff_at)
    first = kickoff_at + 7 * DAY
    assert s.next_check_in_at == first
    assert schedule.check_in_brief_at(s) == first - DAY
    assert schedule.next_wake_up(s, kickoff_at) == first - DAY
    assert not schedule.check_in_brief_due(s, first - DAY - SECOND)
    assert schedule.check_in_brief_due(s, first - DAY)

    schedule.after_check_in_brief(s)
    assert s.check_ins_briefed == 1
    assert s.next_check_in_at == first + 7 * DAY
    assert not schedule.check_in_brief_due(s, first)
    assert not schedule.check_in_brief_due(s, first + 6 * DAY - SECOND)
    assert schedule.check_in_brief_due(s, first + 6 * DAY)
    schedule.after_check_in_brief(s)
    assert s.next_check_in_at == first + 14 * DAY and s.check_ins_briefed == 2


def test_the_brief_lead_comes_from_the_configuration() -> None:
    s = make_snapshot(durations=Durations(check_in_brief_lead_seconds=2 * 3600))
    record_kickoff(s, "bi-weekly", T0)
    assert s.next_check_in_at == T0 + 14 * DAY
    assert schedule.check_in_brief_at(s) == T0 + 14 * DAY - timedelta(hours=2)
    schedule.after_check_in_brief(s)
    assert s.next_check_in_at == T0 + 28 * DAY
    assert schedule.check_in_brief_at(s) == T0 + 28 * DAY - timedelta(hours=2)


def test_as_needed_check_ins_have_no_briefs() -> None:
    s = make_snapshot()
    record_kickoff(s, "as-needed")
    assert s.next_check_in_at is None and schedule.check_in_brief_at(s) is None
    assert not schedule.check_in_brief_due(s, T0 + 365 * DAY)
    schedule.after_check_in_brief(s)
    assert s.next_check_in_at is None


def test_changing_the_cadence_reschedules_the_check_ins() -> None:
    s = make_snapshot()
    record_kickoff(s, "weekly", T0)
    changed = T0 + 3 * DAY
    message = onboarding.apply_change_cadence(s, ChangeCadence("Monthly ", CE, Role.CE), changed)
    assert message == "check-ins are now monthly; next check-in 2027-02-05"
    assert s.next_check_in_at == changed + 28 * DAY
    assert schedule.check_in_brief_at(s) == changed + 27 * DAY
    assert not schedule.check_in_brief_due(s, T0 + 6 * DAY)  # the weekly one is gone

    message = onboarding.apply_change_cadence(
        s, ChangeCadence("as-needed", AE, Role.AE), changed + DAY
    )
    assert message == "check-ins are now as-needed; check-ins as needed, no schedule"
    assert s.next_check_in_at is None and schedule.check_in_brief_at(s) is None

    onboarding.apply_change_cadence(s, ChangeCadence("bi-weekly", CE, Role.CE), changed + 2 * DAY)
    assert s.next_check_in_at == changed + 16 * DAY


def test_the_cadence_cannot_change_before_the_kickoff_plan() -> None:
    s = kickoff_stage()
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match="set by the kickoff plan: record it first"):
        onboarding.apply_change_cadence(s, ChangeCadence("weekly", CE, Role.CE), T0)
    assert s == before


def test_a_customer_brought_in_past_kickoff_has_its_cadence_and_first_plan_quarter() -> None:
    s = make_snapshot(stage=LifecycleStage.ADOPTION, cadence="bi-weekly")
    assert s.cadence is not None and s.cadence.value == "bi-weekly"
    assert s.next_check_in_at == T0 + 14 * DAY
    assert s.first_planning_quarter == "2027-Q2"
    assert s.onboarding_completed_at == T0
    default = make_snapshot(stage=LifecycleStage.ADOPTION)
    assert default.cadence is not None and default.cadence.value == "monthly"


# --- Hand-offs -------------------------------------------------------------------------------


def test_a_hand_off_fills_an_empty_profile() -> None:
    s = make_snapshot(with_profile=False, hand_offs=[make_hand_off()])
    assert s.profile == AccountProfile(
        account_id="001A",
        account_name="Acme",
        tier=2,
        region="US East / EMEA",
        ae_owner=AE,
        ce_owner=CE,
        seats=50,
        renewal_date=datetime(2028, 1, 4, tzinfo=UTC),  # midnight of the close + one term
    )
    assert steps.missing_profile(s) == []
    assert s.profile_version == 2
    assert [h.opportunity_id for h in s.hand_offs] == ["006A"]
    assert s.licenses == []  # the key comes with the kickoff


@pytest.mark.parametrize(
    ("closed_at", "term", "renewal"),
    [
        (datetime(2028, 2, 29, 18, tzinfo=UTC), 365, datetime(2029, 2, 28, tzinfo=UTC)),
        (datetime(2027, 1, 4, 15, tzinfo=UTC), 730, datetime(2029, 1, 4, tzinfo=UTC)),
        (datetime(2027, 1, 4, 15, tzinfo=UTC), 180, datetime(2027, 7, 3, tzinfo=UTC)),
    ],
)
def test_a_hand_offs_renewal_date_is_one_contract_term_after_the_close(
    closed_at: datetime, term: int, renewal: datetime
) -> None:
    s = make_snapshot(
        with_profile=False,
        hand_offs=[make_hand_off(closed_at=closed_at)],
        durations=Durations(contract_term_days=term),
    )
    assert s.profile.renewal_date == renewal


def test_the_same_opportunity_twice_changes_nothing() -> None:
    s = make_snapshot(with_profile=False, hand_offs=[make_hand_off()])
    before = copy.deepcopy(s)
    again = make_hand_off(kind="expansion", seats=99, tier=1)
    assert profile_rules.apply_hand_off(s, again, T0 + DAY) is False
    assert s == before


def test_an_expansion_deal_on_an_established_account_adds_seats_and_a_key() -> None:
    s = adopted()
    version = s.profile_version
    granted = len(s.licenses)
    expansion = make_hand_off(opportunity_id="006B", kind="expansion", seats=20, tier=1)
    assert profile_rules.apply_hand_off(s, expansion, T0 + 40 * DAY) is True
    assert s.profile.seats == 70
    assert s.profile.tier == 2 and s.profile.region == "US West / APAC"  # not overwritten
    assert len(s.licenses) == granted + 1
    assert s.licenses[-1] == LicenseGrant(s.licenses_granted, "expansion deal 006B", 70, RENEWAL)
    assert s.profile_version == version + 1
    assert s.audit[-1].action == "deal 006B (expansion) handed off"
    assert [h.opportunity_id for h in s.hand_offs][-1] == "006B"


def test_a_non_expansion_deal_on_an_established_account_adds_no_seats() -> None:
    s = adopted()
    granted = list(s.licenses)
    assert profile_rules.apply_hand_off(s, make_hand_off(opportunity_id="006C", kind="renewal"), T0)
    assert s.profile.seats == 50 and s.licenses == granted


def test_an_expansion_deal_before_the_profile_is_complete_still_adds_its_seats() -> None:
    s = make_snapshot(with_profile=False, hand_offs=[make_hand_off(tier=0)])
    assert steps.missing_profile(s) == ["tier"]
    expansion = make_hand_off(opportunity_id="006B", kind="expansion", seats=20, tier=0)
    assert profile_rules.apply_hand_off(s, expansion, T0 + DAY) is True
    assert s.profile.seats == 70


# --- Views and compaction --------------------------------------------------------------------


def test_compact_keeps_only_open_work_and_unwritten_records() -> None:
    s = onboarded_snapshot()
    schedule.advance(s, datetime(2027, 4, 1, tzinfo=UTC))
    plans.apply_account_plan(s, make_plan(), datetime(2027, 4, 2, tzinfo=UTC))
    s.licenses[0].key_id, s.licenses[0].announced = "key-1", True
    s.licenses.append(LicenseGrant(99, "issued, not announced", 5, RENEWAL, "key-99"))
    for i in range(30):
        steps.audit(s, T0, CE, f"entry {i}")
    pending = [step.key for step in s.steps if step.status is StepStatus.PENDING]
    renewals.compact(s)
    # Open work stays, and so does this quarter's finished plan (it may be resubmitted).
    assert [step.key for step in s.steps if step.status is StepStatus.PENDING] == pending
    assert {step.key for step in s.steps if step.status is not StepStatus.PENDING} == {
        "account-plan-2027-Q2"
    }
    assert [grant.number for grant in s.licenses] == [99]
    assert len(s.plans) == 1  # not recorded yet
    s.plans[0].recorded = True
    renewals.compact(s)
    assert s.plans == []
    assert len(s.audit) == steps.AUDIT_KEPT and s.audit[-1].action == "entry 29"


def test_compaction_keeps_the_accounts_current_key_in_view() -> None:
    s = onboarded_snapshot()
    s.licenses[0].key_id, s.licenses[0].announced = "key-1", True
    profile_rules.apply_expand_seats(s, ExpandSeats(80, AE, Role.AE, "platform team"), ONBOARDED)
    s.licenses[1].key_id, s.licenses[1].announced = "key-2", True
    renewals.compact(s)  # history grew long: continue-as-new
    # The status still names the key the customer runs on (the newest), and only it.
    assert views.state_view(s, ONBOARDED).license_key_ids == ["key-2"]
    renewals.compact(s)
    assert [grant.number for grant in s.licenses] == [2]


def test_compaction_inside_the_renewal_window_keeps_the_value_exercise_done() -> None:
    s = window_snapshot()
    complete_value_exercise(s)
    assert schedule.value_exercise_done(s)
    renewals.compact(s)  # history grew long: continue-as-new
    schedule.advance(s, WINDOW_OPENS + 2 * DAY)
    assert schedule.value_exercise_done(s)
    assert [
        step.key
        for step in s.steps
        if step.kind is StepKind.VALUE_REALIZATION and step.status is StepStatus.PENDING
    ] == []


def test_state_view_shows_the_roadmap_while_onboarding_and_issued_keys() -> None:
    s = make_snapshot()
    record_kickoff(s)
    onboarding.apply_production_ready(s, ReportProductionReady(CE, Role.CE), T0 + 2 * DAY)
    s.licenses[0].key_id = "key-1"
    view = views.state_view(s, T0 + 3 * DAY)
    assert view.stage is LifecycleStage.ONBOARDING
    assert [v.key for v in view.roadmap] == ["training-101", "training-102", "training-admin"]
    assert view.license_key_ids == ["key-1"]
    assert view.cadence == "weekly" and view.renewal_date == RENEWAL
    assert view.missing_profile == [] and not view.value_exercise_done
    complete_onboarding(s)
    assert views.state_view(s, ONBOARDED).roadmap == []


def test_a_customer_brought_in_past_kickoff_has_no_kickoff_plan_to_record() -> None:
    s = make_snapshot(stage=LifecycleStage.ADOPTION)
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match="brought in past kickoff"):
        onboarding.check_kickoff_plan(s, RecordKickoffPlan(CE, Role.CE, "weekly"))
    assert s == before


def test_a_customer_brought_in_at_adoption_is_not_reported_production_ready() -> None:
    s = make_snapshot(stage=LifecycleStage.ADOPTION)
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=r"onboarding was already completed on .* adoption"):
        onboarding.check_production_ready(s, ReportProductionReady(CE, Role.CE))
        onboarding.check_production_ready_before_onboarded(s)
    assert s == before


def test_an_optional_training_whose_step_could_never_be_marked_done_is_refused() -> None:
    longest = "x" * 91  # "training-" and this: the 100 characters a step key may have
    s = kickoff_stage()
    kickoff = RecordKickoffPlan(CE, Role.CE, "weekly", optional_trainings=[longest + "y"])
    limits.check(kickoff, T0)  # a name of 92 characters is a name
    with pytest.raises(RuleViolation, match="too long: its step key would pass 100 characters"):
        onboarding.check_training_keys(kickoff)
    kickoff = replace(kickoff, optional_trainings=[longest])
    onboarding.check_training_keys(kickoff)
    onboarding.apply_kickoff_plan(s, kickoff, T0)
    onboarding.apply_production_ready(s, ReportProductionReady(CE, Role.CE), T0 + DAY)
    limits.check(CompleteAccountStep(f"training-{longest}", CE, Role.CE), T0)
    assert find(s, f"training-{longest}").status is StepStatus.PENDING


def test_a_plan_link_longer_than_salesforce_holds_is_refused_not_clipped() -> None:
    link = "https://docs.example.com/plan?" + "x" * 225  # 255: Account Plan Link's length
    plans.check_plan_link_fits(make_plan(link=link))
    with pytest.raises(RuleViolation, match=r"256 characters: .* holds at most 255"):
        plans.check_plan_link_fits(make_plan(link=link + "y"))
