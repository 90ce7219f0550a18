"""The trial's rules, without a server."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from schemas.common import Durations, Role, StepStatus, TechnicalWinStatus
from schemas.errors import RuleViolation
from schemas.opportunity import ConcludedByOpportunity, OpportunityEnd
from schemas.steps import SnoozeStep
from schemas.trial import (
    MID_TRIAL_CHECK_IN,
    TRIAL_PLANNING_ITEMS,
    CompleteStep,
    ConcludeTrial,
    ExtendTrial,
    SetTechnicalWin,
    StartTrialOverride,
    TrialOutcome,
    TrialPhase,
    TrialSnapshot,
    TrialStart,
)
from workflows import trial_rules as rules

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CE, AE = "U0CE00001", "U0AE00001"
DAY = timedelta(days=1)


def make_snapshot(**start_overrides: object) -> TrialSnapshot:
    fields: dict[str, object] = {
        "opportunity_id": "006A",
        "account_id": "001A",
        "account_name": "Acme",
        "ce_owner": CE,
        "ae_owner": AE,
    }
    fields.update(start_overrides)
    start = TrialStart(**fields)  # type: ignore[arg-type]
    return rules.new_snapshot(start, T0, "trial-006A/run1")


def complete_all_planning(s: TrialSnapshot, at: datetime = T0) -> None:
    for item in TRIAL_PLANNING_ITEMS:
        actor = CE if item.lead is Role.CE else AE
        rules.apply_complete_step(s, CompleteStep(item.key, actor, item.lead), at)


def running_snapshot() -> TrialSnapshot:
    s = make_snapshot()
    complete_all_planning(s)
    rules.start_trial(s, T0)
    return s


def test_a_new_trial_has_the_eight_planning_items_with_their_leads_and_owners() -> None:
    s = make_snapshot()
    planning = [step for step in s.steps if step.key in rules.PLANNING_KEYS]
    assert [step.key for step in planning] == [item.key for item in TRIAL_PLANNING_ITEMS]
    assert len(planning) == 8
    ae_led = {step.key for step in planning if step.lead is Role.AE}
    assert ae_led == {"business_value_assessment", "user_survey"}
    assert all(step.owner == (AE if step.lead is Role.AE else CE) for step in planning)
    assert all(step.due_at == T0 + timedelta(days=7) for step in planning)
    assert s.steps[-1].key == MID_TRIAL_CHECK_IN.key and s.steps[-1].due_at is None


def test_planning_is_complete_only_when_every_item_is_done_or_skipped() -> None:
    s = make_snapshot()
    for item in TRIAL_PLANNING_ITEMS[:-1]:
        rules.apply_complete_step(
            s, CompleteStep(item.key, CE if item.lead is Role.CE else AE, item.lead), T0
        )
    assert not rules.planning_complete(s)
    last = TRIAL_PLANNING_ITEMS[-1]
    message = rules.apply_complete_step(s, CompleteStep(last.key, CE, last.lead), T0)
    assert rules.planning_complete(s)
    assert "Planning is complete" in message


def test_completing_a_step_records_who_and_when() -> None:
    s = make_snapshot()
    rules.apply_complete_step(
        s, CompleteStep("user_survey", AE, Role.AE, "survey drafted"), T0 + DAY
    )
    step = rules.find_step(s, "user_survey")
    assert step is not None
    assert (step.status, step.completed_by, step.completed_at, step.note) == (
        StepStatus.DONE,
        AE,
        T0 + DAY,
        "survey drafted",
    )


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (CompleteStep("nonsense", CE, Role.CE), "unknown step 'nonsense'"),
        (CompleteStep("user_survey", CE, Role.CE), "led by the AE, not the CE"),
        (CompleteStep("technical_landscape", AE, Role.AE), "led by the CE, not the AE"),
        (CompleteStep("technical_landscape", "U0SOMEONE", Role.CE), "U0SOMEONE is not the CE"),
        (CompleteStep("technical_landscape", "", Role.CE), "actor is empty"),
        (CompleteStep(MID_TRIAL_CHECK_IN.key, CE, Role.CE), "once the trial has started"),
    ],
)
def test_bad_step_completions_are_rejected_and_change_nothing(
    request_: CompleteStep, message: str
) -> None:
    s = make_snapshot()
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=message):
        rules.apply_complete_step(s, request_, T0)
    assert s == before


def test_a_step_cannot_be_completed_twice() -> None:
    s = make_snapshot()
    rules.apply_complete_step(s, CompleteStep("technical_landscape", CE, Role.CE), T0)
    before = copy.deepcopy(s)
    with pytest.raises(
        RuleViolation, match="already completed by U0CE00001 at 2026-01-05 09:00 UTC"
    ):
        rules.apply_complete_step(s, CompleteStep("technical_landscape", CE, Role.CE), T0 + DAY)
    assert s == before


def test_override_skips_open_items_and_needs_a_reason() -> None:
    s = make_snapshot()
    rules.apply_complete_step(s, CompleteStep("technical_landscape", CE, Role.CE), T0)
    with pytest.raises(RuleViolation, match="needs a reason"):
        rules.apply_override(s, StartTrialOverride(AE, Role.AE, "  "), T0)
    message = rules.apply_override(s, StartTrialOverride(AE, Role.AE, "customer deadline"), T0)
    assert "7 planning item(s) skipped" in message
    assert s.override is not None and s.override.reason == "customer deadline"
    assert len(s.override.skipped_steps) == 7
    assert rules.planning_complete(s)
    skipped = rules.find_step(s, "user_survey")
    assert skipped is not None and skipped.status is StepStatus.SKIPPED
    with pytest.raises(RuleViolation, match="skipped when the trial started by override"):
        rules.check_complete_step(s, CompleteStep("user_survey", AE, Role.AE))


def test_override_is_pointless_when_planning_is_complete_or_the_trial_runs() -> None:
    s = make_snapshot()
    complete_all_planning(s)
    with pytest.raises(RuleViolation, match="starts without an override"):
        rules.check_override(s, StartTrialOverride(CE, Role.CE, "why not"))
    rules.start_trial(s, T0)
    with pytest.raises(RuleViolation, match="already started"):
        rules.check_override(s, StartTrialOverride(CE, Role.CE, "why not"))


def test_starting_sets_the_end_midpoint_check_in_due_date_and_owes_a_key() -> None:
    s = running_snapshot()
    assert s.phase is TrialPhase.RUNNING
    assert s.ends_at == T0 + 30 * DAY
    assert s.midpoint_at == T0 + 15 * DAY
    check_in = rules.find_step(s, MID_TRIAL_CHECK_IN.key)
    assert check_in is not None and check_in.due_at == T0 + 17 * DAY
    assert [(grant.expires_at, grant.key_id) for grant in s.licenses] == [(T0 + 30 * DAY, None)]


def test_trial_length_and_day_length_come_from_the_configuration() -> None:
    s = make_snapshot(length_days=10, durations=Durations(day_seconds=60))
    complete_all_planning(s)
    rules.start_trial(s, T0)
    assert s.ends_at == T0 + timedelta(minutes=10)


def test_extension_moves_the_end_and_owes_a_new_key() -> None:
    s = running_snapshot()
    message = rules.apply_extend(s, ExtendTrial(14, "security review", CE, Role.CE), T0 + 20 * DAY)
    assert s.ends_at == T0 + 44 * DAY
    assert "extended by 14 day(s) to 2026-02-18 09:00 UTC;" in message
    assert s.licenses[-1].expires_at == T0 + 44 * DAY and s.licenses[-1].key_id is None
    assert s.extensions[-1].reason == "security review"
    assert s.trial_dates_version == 2


def test_each_extension_key_is_matched_to_its_own_extension() -> None:
    # Two extensions before either key is issued: each key's post states its own end and reason.
    s = running_snapshot()
    rules.apply_extend(s, ExtendTrial(5, "first", CE, Role.CE), T0 + DAY)
    rules.apply_extend(s, ExtendTrial(2, "second", CE, Role.CE), T0 + 2 * DAY)
    first, second = rules.extension_of_license(s, 1), rules.extension_of_license(s, 2)
    assert (first.reason, first.new_end) == ("first", T0 + 35 * DAY)
    assert (second.reason, second.new_end) == ("second", T0 + 37 * DAY)
    with pytest.raises(ValueError, match="license 0 was not issued for an extension"):
        rules.extension_of_license(s, 0)


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (0, "positive number of days, not 0"),
        (-3, "positive number of days, not -3"),
        (400, "longer than"),
    ],
)
def test_extension_rejects_bad_day_counts(days: int, message: str) -> None:
    s = running_snapshot()
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=message):
        rules.apply_extend(s, ExtendTrial(days, "reason", CE, Role.CE), T0)
    assert s == before


def test_extension_before_the_start_is_rejected() -> None:
    s = make_snapshot()
    with pytest.raises(RuleViolation, match="has not started yet"):
        rules.check_extend(s, ExtendTrial(5, "reason", CE, Role.CE))


def test_technical_win_is_set_by_the_ce_only_and_each_change_is_kept() -> None:
    s = make_snapshot()
    with pytest.raises(RuleViolation, match="U0AE00001 is not the CE"):
        rules.check_technical_win(s, SetTechnicalWin(TechnicalWinStatus.AT_RISK, AE))
    rules.apply_technical_win(s, SetTechnicalWin(TechnicalWinStatus.IN_PROGRESS, CE), T0)
    rules.apply_technical_win(
        s, SetTechnicalWin(TechnicalWinStatus.AT_RISK, CE, "champion left"), T0 + DAY
    )
    assert s.technical_win is TechnicalWinStatus.AT_RISK
    assert [(c.status, c.note, c.announced) for c in s.technical_win_changes] == [
        (TechnicalWinStatus.IN_PROGRESS, "", False),
        (TechnicalWinStatus.AT_RISK, "champion left", False),
    ]
    with pytest.raises(RuleViolation, match="already 'at_risk'"):
        rules.check_technical_win(s, SetTechnicalWin(TechnicalWinStatus.AT_RISK, CE))


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (TechnicalWinStatus.WON, TrialOutcome.TECHNICAL_WIN),
        (TechnicalWinStatus.LOST, TrialOutcome.TECHNICAL_LOSS),
        (TechnicalWinStatus.AT_RISK, TrialOutcome.NO_DECISION),
        (TechnicalWinStatus.NOT_STARTED, TrialOutcome.NO_DECISION),
    ],
)
def test_outcome_follows_the_technical_win(
    status: TechnicalWinStatus, outcome: TrialOutcome
) -> None:
    assert rules.outcome_for(status) is outcome


def test_every_action_is_rejected_after_the_trial_ended() -> None:
    s = running_snapshot()
    rules.apply_conclude(s, ConcludeTrial(CE, Role.CE, "customer chose us"), T0 + 5 * DAY)
    assert s.phase is TrialPhase.ENDED and s.ended_at == T0 + 5 * DAY
    before = copy.deepcopy(s)
    actions = [
        lambda: rules.check_complete_step(s, CompleteStep(MID_TRIAL_CHECK_IN.key, CE, Role.CE)),
        lambda: rules.check_extend(s, ExtendTrial(3, "more time", CE, Role.CE)),
        lambda: rules.check_technical_win(s, SetTechnicalWin(TechnicalWinStatus.WON, CE)),
        lambda: rules.check_conclude(s, ConcludeTrial(CE, Role.CE, "again")),
        lambda: rules.check_override(s, StartTrialOverride(CE, Role.CE, "again")),
    ]
    for action in actions:
        with pytest.raises(RuleViolation, match="has ended"):
            action()
    assert s == before


def test_overdue_is_derived_from_the_due_time() -> None:
    s = make_snapshot()
    step = s.steps[0]
    assert rules.status_at(step, T0 + 7 * DAY) is StepStatus.PENDING
    assert rules.status_at(step, T0 + 7 * DAY + timedelta(seconds=1)) is StepStatus.OVERDUE
    rules.apply_complete_step(s, CompleteStep(step.key, CE, Role.CE), T0 + 8 * DAY)
    assert rules.status_at(step, T0 + 9 * DAY) is StepStatus.DONE


def test_reminders_come_after_the_delay_then_repeat() -> None:
    s = make_snapshot()  # due T0+7d, first reminder one day later, then every two days
    assert rules.reminders_due(s, T0 + 7 * DAY) == []
    assert rules.next_wake_up(s) == T0 + 8 * DAY
    due = rules.reminders_due(s, T0 + 8 * DAY)
    assert len(due) == 8
    for step in due:
        step.last_reminded_at = T0 + 8 * DAY
    assert rules.reminders_due(s, T0 + 9 * DAY) == []
    assert rules.next_wake_up(s) == T0 + 10 * DAY


def test_the_running_trial_wakes_for_the_midpoint_then_the_end() -> None:
    s = running_snapshot()
    assert rules.next_wake_up(s) == T0 + 15 * DAY
    s.check_in_prompted = True
    assert rules.next_wake_up(s) == T0 + 17 * DAY + DAY  # the check-in's first overdue reminder
    step = rules.find_step(s, MID_TRIAL_CHECK_IN.key)
    assert step is not None
    rules.apply_complete_step(s, CompleteStep(step.key, CE, Role.CE), T0 + 16 * DAY)
    assert rules.next_wake_up(s) == T0 + 30 * DAY


def test_a_trial_needs_its_people_and_seats() -> None:
    with pytest.raises(RuleViolation, match="ce_owner is empty"):
        make_snapshot(ce_owner="")
    with pytest.raises(RuleViolation, match=r"seats: a whole number from 1 to 1000000 \(got 0\)"):
        make_snapshot(seats=0)
    with pytest.raises(RuleViolation, match="must be different people"):
        make_snapshot(ae_owner=CE)


def test_state_view_reports_overdue_steps_and_issued_keys() -> None:
    s = running_snapshot()
    s.licenses[0].key_id = "key-1"
    view = rules.state_view(s, "trial-006A", T0 + 20 * DAY)
    check_in = next(step for step in view.steps if step.key == MID_TRIAL_CHECK_IN.key)
    assert check_in.status is StepStatus.OVERDUE
    assert view.license_key_ids == ["key-1"]
    assert view.phase is TrialPhase.RUNNING


def test_the_opportunity_concludes_its_trial_once_and_no_other_may() -> None:
    s = running_snapshot()
    lost = ConcludedByOpportunity("opportunity-006A", OpportunityEnd.LOST, "no budget")
    assert not rules.end_with_opportunity(
        s, ConcludedByOpportunity("opportunity-006B", OpportunityEnd.LOST, "x"), T0
    )
    assert s.phase is TrialPhase.RUNNING
    assert rules.end_with_opportunity(s, lost, T0 + timedelta(days=3))
    assert (s.phase, s.concluded_by, s.conclusion_reason, s.ended_with_opportunity) == (
        TrialPhase.ENDED,
        "opportunity-006A",
        "the opportunity was closed lost: no budget",
        True,
    )
    ended_at = s.ended_at
    won = ConcludedByOpportunity("opportunity-006A", OpportunityEnd.WON)
    assert not rules.end_with_opportunity(s, won, T0 + timedelta(days=9))
    assert (s.ended_at, s.conclusion_reason) == (
        ended_at,
        "the opportunity was closed lost: no budget",
    )
    assert rules.reminders_due(s, T0 + timedelta(days=60)) == []
    assert rules.next_wake_up(s) is None


def test_a_step_not_reminded_yet_or_any_more_is_named_as_such_not_as_unknown() -> None:
    planning = make_snapshot()
    with pytest.raises(RuleViolation) as check_in:
        rules.check_snooze(planning, SnoozeStep(MID_TRIAL_CHECK_IN.key, CE), T0)
    assert check_in.value.message == (
        "step 'mid_trial_check_in' is not reminded now: the mid-trial check-in is, once the"
        " trial runs"
    )
    running = running_snapshot()
    with pytest.raises(RuleViolation) as item:
        rules.check_snooze(running, SnoozeStep("user_survey", AE), T0)
    assert item.value.message == (
        "step 'user_survey' is not reminded now: the planning items are, until the trial starts"
    )
    with pytest.raises(RuleViolation, match="unknown step 'nope'; the open steps are"):
        rules.check_snooze(running, SnoozeStep("nope", AE), T0)


def test_an_extension_that_arrives_once_the_end_has_come_is_refused() -> None:
    s = running_snapshot()
    assert s.ends_at is not None
    extension = ExtendTrial(5, "one more week", CE, Role.CE)
    rules.check_extend_request(s, extension, s.ends_at - timedelta(minutes=1))
    # The end's timer and the extension in one workflow task: the trial still says running.
    assert s.phase is TrialPhase.RUNNING
    with pytest.raises(RuleViolation, match="it can no longer be extended"):
        rules.check_extend_request(s, extension, s.ends_at)
