"""The rules of an account's changes (``workflows.account_changes``), without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.account import (
    AccountConfig,
    AccountProfile,
    AccountSnapshot,
    AccountStart,
    CompleteAccountStep,
    LifecycleStage,
    RecordRenewalOutcome,
)
from schemas.account_changes import MoveRenewalDate, ReassignOwner
from schemas.common import Role, StepStatus
from schemas.errors import RuleViolation
from workflows import account_changes as changes
from workflows.account_profile_rules import new_snapshot
from workflows.account_renewal_rules import apply_renewal_outcome
from workflows.account_schedule import advance, next_wake_up, reminders_due, value_exercise_done
from workflows.account_steps import apply_complete_step, grant_license

CE, AE, NEW_AE = "U0CE00001", "U0AE00001", "U0AE00002"
VE = AccountConfig().value_engineering
LEADER = AccountConfig().roster.ce_leader
DAY = timedelta(days=1)
RENEWAL = datetime(2027, 9, 1, tzinfo=UTC)
WINDOW_OPENS = RENEWAL - 90 * DAY
T0 = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)


def adopted(at: datetime = T0) -> AccountSnapshot:
    profile = AccountProfile("001A", "Acme", 2, "US West / APAC", AE, CE, 50, RENEWAL)
    start = AccountStart("001A", "Acme", profile=profile, stage=LifecycleStage.ADOPTION)
    s = new_snapshot(start, at, "account-001A/run1")
    advance(s, at)
    return s


def in_window() -> AccountSnapshot:
    s = adopted()
    advance(s, WINDOW_OPENS + DAY)
    for step in s.steps:
        step.announced = True  # as the main loop would have, with their Tasks
    return s


def move(s: AccountSnapshot, to: datetime, at: datetime, actor: str = AE) -> str:
    return changes.apply_move_renewal_date(s, MoveRenewalDate(to, actor, Role.AE, "why"), at)


def renewal_steps(s: AccountSnapshot) -> list[str]:
    return sorted(step.key for step in s.steps if step.kind in changes.RENEWAL_WORK)


def test_moving_a_date_whose_window_is_not_open_moves_the_window() -> None:
    s = adopted()
    later = RENEWAL + 60 * DAY
    message = move(s, later, T0)
    assert (
        message == "renewal moved from 2027-09-01 to 2027-10-31; a new key valid until then follows"
    )
    advance(s, WINDOW_OPENS + DAY)
    assert renewal_steps(s) == [] and s.stage is LifecycleStage.ADOPTION
    assert next_wake_up(s, WINDOW_OPENS + DAY) is not None
    advance(s, later - 90 * DAY)
    assert renewal_steps(s) == [
        "renewal-outcome-2027-10-31",
        "renewal-proposal-2027-10-31",
        "value-realization-2027-10-31",
    ]
    assert s.stage is LifecycleStage.RENEWAL
    assert [grant.expires_at for grant in s.licenses] == [later]


def test_an_earlier_date_opens_its_window_at_once_and_issues_no_new_key() -> None:
    s = adopted()
    earlier = T0.replace(hour=0) + 60 * DAY
    assert "new key" not in move(s, earlier, T0)
    advance(s, T0)
    assert "value-realization-2027-03-06" in renewal_steps(s)
    assert s.stage is LifecycleStage.RENEWAL and s.licenses == []


def test_a_key_not_issued_yet_is_issued_for_the_moved_date_and_no_other() -> None:
    s = adopted()
    grant_license(s, "seat expansion", 60)
    move(s, RENEWAL + 30 * DAY, T0)
    assert [(grant.reason, grant.expires_at) for grant in s.licenses] == [
        ("seat expansion", RENEWAL + 30 * DAY)
    ]


def test_a_done_value_exercise_is_carried_done_and_not_opened_again() -> None:
    s = in_window()
    apply_complete_step(
        s, CompleteAccountStep("value-realization-2027-09-01", VE, Role.CE), WINDOW_OPENS + DAY
    )
    later = RENEWAL + 120 * DAY
    move(s, later, WINDOW_OPENS + 2 * DAY)
    assert s.stage is LifecycleStage.ADOPTION
    advance(s, later - 89 * DAY)
    value = [step for step in s.steps if step.key.startswith("value-realization")]
    assert [(step.key, step.status) for step in value] == [
        ("value-realization-2027-12-30", StepStatus.DONE)
    ]
    assert value_exercise_done(s) and s.stage is LifecycleStage.RENEWAL


def test_moving_there_and_back_never_repeats_a_reminder_key() -> None:
    s = in_window()
    now = WINDOW_OPENS + 2 * DAY
    move(s, RENEWAL + 30 * DAY, now)
    first = [(step.key, step.replanned) for step in s.steps if step.kind in changes.RENEWAL_WORK]
    move(s, RENEWAL, now + DAY)
    second = [(step.key, step.replanned) for step in s.steps if step.kind in changes.RENEWAL_WORK]
    assert {key for key, _ in second} == {"value-realization-2027-09-01"} | {
        "renewal-proposal-2027-09-01",
        "renewal-outcome-2027-09-01",
    }
    assert {replanned for _, replanned in first} == {1}
    assert {replanned for _, replanned in second} == {2}
    [revision] = [t for t in s.changes[1].tasks if t.step_key.startswith("value-realization")]
    # The Task was opened under the first key: each revision writes that same Task.
    assert revision.opened_as == "value-realization-2027-09-01"


def test_a_carried_step_starts_its_reminders_over() -> None:
    s = in_window()
    late = WINDOW_OPENS + 60 * DAY
    value = next(step for step in s.steps if step.key.startswith("value-realization"))
    value.reminders_sent, value.last_reminded_at, value.escalated = 2, late, True
    move(s, RENEWAL + 30 * DAY, late)
    assert (value.reminders_sent, value.last_reminded_at, value.escalated) == (0, None, False)
    assert value not in reminders_due(s, late + DAY)


@pytest.mark.parametrize(
    ("to", "at", "message"),
    [
        (RENEWAL, T0, "the renewal is already on 2027-09-01"),
        (datetime(2027, 1, 5, tzinfo=UTC), T0, "is not in the future (today is 2027-01-05)"),
        (datetime(2032, 1, 6, tzinfo=UTC), T0, "more than 5 years ahead (at most 2032-01-05)"),
        (datetime(2027, 10, 1), T0, "must carry a time zone"),
    ],
)
def test_a_move_out_of_bounds_is_refused(to: datetime, at: datetime, message: str) -> None:
    s = adopted()
    with pytest.raises(RuleViolation) as refused:
        changes.check_move_renewal_date(s, MoveRenewalDate(to, AE, Role.AE, "why"), at)
    assert message in refused.value.message


def test_a_decided_renewal_cannot_move() -> None:
    s = in_window()
    at = WINDOW_OPENS + 2 * DAY
    apply_complete_step(s, CompleteAccountStep("value-realization-2027-09-01", VE, Role.CE), at)
    apply_renewal_outcome(s, RecordRenewalOutcome("renewed", AE, Role.AE), at)
    with pytest.raises(RuleViolation) as refused:
        move(s, RENEWAL + 30 * DAY, at)
    assert "already decided (renewed)" in refused.value.message


def test_a_reassignment_moves_only_the_roles_open_steps() -> None:
    s = in_window()
    message = changes.apply_reassign_owner(
        s, ReassignOwner(Role.AE, NEW_AE, AE, "moves to EMEA"), WINDOW_OPENS + 2 * DAY
    )
    assert message == f"{NEW_AE} is now the AE; 3 open step(s) moved from {AE}"
    owners = {step.key: step.owner for step in s.steps if step.status is StepStatus.PENDING}
    assert owners["renewal-proposal-2027-09-01"] == NEW_AE
    assert owners["renewal-assessment-2027-06-ae"] == NEW_AE
    assert owners["renewal-assessment-2027-06-ce"] == CE
    assert owners["value-realization-2027-09-01"] == VE
    assert s.profile.ae_owner == NEW_AE and s.profile.ce_owner == CE
    [change] = s.changes
    assert [notice.recipient for notice in change.notices] == [AE, NEW_AE]
    assert [task.step_key for task in change.tasks] == ["renewal-proposal-2027-09-01"]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (ReassignOwner(Role.AE, NEW_AE, CE), f"{CE} cannot reassign the AE"),
        (ReassignOwner(Role.AE, AE, LEADER), f"{AE} is already the account's AE; nothing to"),
        (ReassignOwner(Role.AE, CE, AE), "must be different people: U0CE00001 is the account's CE"),
        (ReassignOwner(Role.CE, "", CE), "name the new CE (--to)"),
    ],
)
def test_a_reassignment_is_refused_with_the_reason(request_: ReassignOwner, message: str) -> None:
    with pytest.raises(RuleViolation) as refused:
        changes.check_reassign_owner(adopted(), request_)
    assert message in refused.value.message


def test_a_repeated_reassignment_by_the_outgoing_owner_says_it_is_done() -> None:
    s = adopted()
    changes.apply_reassign_owner(s, ReassignOwner(Role.AE, NEW_AE, AE), T0)
    with pytest.raises(RuleViolation) as refused:
        changes.check_reassign_owner(s, ReassignOwner(Role.AE, NEW_AE, AE))
    assert refused.value.message == f"{NEW_AE} is already the account's AE; nothing to reassign"


@pytest.mark.parametrize(
    ("outcome", "team_seats", "message"),
    [
        ("new_team", 0, "needs the new team's seat count (--team-seats)"),
        ("new_team", 999_960, "would pass 1000000 seats"),
        ("renewed", 10, "new-team seats belong to a new_team outcome"),
    ],
)
def test_a_new_teams_seats_are_checked(outcome: str, team_seats: int, message: str) -> None:
    request = RecordRenewalOutcome(
        outcome, AE, Role.AE, expansion_opportunity_id="006T", new_team_seats=team_seats
    )
    with pytest.raises(RuleViolation) as refused:
        changes.check_new_team_seats(adopted(), request)
    assert message in refused.value.message


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            RecordRenewalOutcome("renewed", AE, Role.AE, seats=40),
            "seats (40) belong to a seat_expansion outcome: renewed keeps the account's 50 seats",
        ),
        (
            RecordRenewalOutcome("churned", AE, Role.AE, seats=40),
            "seats (40) belong to a seat_expansion outcome",
        ),
        (
            RecordRenewalOutcome("renewed", AE, Role.AE, expansion_opportunity_id="006T"),
            "an expansion opportunity (006T) belongs to a new_team outcome, not renewed",
        ),
        (
            RecordRenewalOutcome("churned", AE, Role.AE, next_renewal_date=RENEWAL + 365 * DAY),
            "a churned customer has no next renewal date",
        ),
    ],
)
def test_what_an_outcome_would_ignore_is_refused(
    request_: RecordRenewalOutcome, message: str
) -> None:
    with pytest.raises(RuleViolation) as refused:
        changes.check_outcome_fields(adopted(), request_)
    assert message in refused.value.message


def test_an_outcome_given_only_its_own_fields_is_accepted() -> None:
    s = adopted()
    for request in (
        RecordRenewalOutcome("renewed", AE, Role.AE, next_renewal_date=RENEWAL + 365 * DAY),
        RecordRenewalOutcome("seat_expansion", AE, Role.AE, seats=80),
        RecordRenewalOutcome("new_team", AE, Role.AE, expansion_opportunity_id="006T"),
        RecordRenewalOutcome("churned", AE, Role.AE),
    ):
        changes.check_outcome_fields(s, request)


def test_an_open_red_case_is_told_of_new_owners_and_a_moved_renewal_once_each() -> None:
    s = in_window()
    s.vitals.open_case = "red-account-001A-1-abc"
    at = WINDOW_OPENS + 2 * DAY
    changes.apply_reassign_owner(s, ReassignOwner(Role.AE, NEW_AE, AE, "moves to EMEA"), at)
    move(s, datetime(2028, 3, 1, tzinfo=UTC), at, actor=NEW_AE)

    told = s.vitals.pending_case_signals
    assert [(signal.kind, signal.case_id) for signal in told] == [
        ("owners_changed", "red-account-001A-1-abc"),
        ("renewal_moved", "red-account-001A-1-abc"),
    ]
    assert (told[0].ae_owner, told[0].ce_owner) == (NEW_AE, CE)
    assert told[1].renewal_date == datetime(2028, 3, 1, tzinfo=UTC)
    [old, new] = s.changes[0].notices
    assert "red-account-001A-1-abc" in old.text and "red-account-001A-1-abc" in new.text


def test_an_account_without_an_open_case_tells_no_case() -> None:
    s = in_window()
    changes.apply_reassign_owner(s, ReassignOwner(Role.AE, NEW_AE, AE), WINDOW_OPENS + 2 * DAY)
    assert s.vitals.pending_case_signals == []
