"""A red-account case's rules, without a server: the action plan by the AE and the CE, asks of
the business, reminders, the escalation at the SLA, and what the account tells the case."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.common import CustomerHealth, Role, SecurityRoster
from schemas.errors import RuleViolation
from schemas.health import (
    CaseSignal,
    HealthConfig,
    RecordActionPlan,
    RecordAsk,
    RedAccountCaseStart,
    RedAccountSnapshot,
)
from workflows import red_account_rules as rules

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
AE, CE, OTHER = "U0AE00001", "U0CE00001", "U0SOMEONE"
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
CASE = "red-account-001A-1"
ROSTER = SecurityRoster("U0SECWEST1", "U0SECEAST1", "U0SECPM01", "U0CELEAD1")


def make_snapshot(**start_overrides: Any) -> RedAccountSnapshot:
    fields: dict[str, Any] = {
        "case_id": CASE,
        "account_id": "001A",
        "account_name": "Acme",
        "tier": 1,
        "renewal_date": T0 + 90 * DAY,
        "ae_owner": AE,
        "ce_owner": CE,
        "reason": "champion left",
        "opened_at": T0,
        "config": HealthConfig(reminder_interval_seconds=86400, action_plan_sla_seconds=3 * 86400),
        "roster": ROSTER,
        "account_workflow_url": "http://localhost:8233/namespaces/default/workflows/account-001A",
    }
    fields.update(start_overrides)
    return rules.new_snapshot(RedAccountCaseStart(**fields), T0)


def posted_snapshot(**start_overrides: Any) -> RedAccountSnapshot:
    """A case whose post is in the channel (reminders go in its thread)."""
    s = make_snapshot(**start_overrides)
    s.thread_ts = "1767000000.000100"
    return s


def plan(actor: str, role: Role, status: str = "usage down 40%") -> RecordActionPlan:
    return RecordActionPlan(actor, role, status, "an exec sponsor", "weekly office hours")


def resolved(at: datetime = T0 + DAY) -> CaseSignal:
    return CaseSignal("resolved", CustomerHealth.YELLOW, CE, "new champion", at, CASE)


def still_red(reason: str, at: datetime = T0 + DAY) -> CaseSignal:
    return CaseSignal("still_red", CustomerHealth.RED, AE, reason, at, CASE)


def test_a_new_case_waits_for_both_parts_of_the_action_plan() -> None:
    s = make_snapshot()
    assert s.reasons == ["champion left"]
    assert rules.missing_from(s) == [Role.AE, Role.CE]
    assert not rules.action_plan_complete(s)
    assert (s.plans, s.asks, s.reminders_sent) == ([], [], 0)
    assert (s.escalated, s.resolved_at) == (False, None)


# --- The action plan -------------------------------------------------------------------------


def test_the_plan_is_complete_only_when_both_the_ae_and_the_ce_have_recorded_theirs() -> None:
    s = posted_snapshot()
    message = rules.apply_action_plan(s, plan(AE, Role.AE), T0 + HOUR)
    assert message == "AE part recorded; waiting for the CE"
    assert rules.missing_from(s) == [Role.CE]
    assert not rules.action_plan_complete(s)

    message = rules.apply_action_plan(s, plan(CE, Role.CE), T0 + 2 * HOUR)
    assert message == "action plan complete: both the AE and the CE have recorded theirs"
    assert rules.missing_from(s) == []
    assert rules.action_plan_complete(s)
    assert [(e.role, e.actor, e.at) for e in s.plans] == [
        (Role.AE, AE, T0 + HOUR),
        (Role.CE, CE, T0 + 2 * HOUR),
    ]


def test_the_ce_alone_leaves_the_plan_waiting_for_the_ae() -> None:
    s = posted_snapshot()
    message = rules.apply_action_plan(s, plan(CE, Role.CE), T0)
    assert message == "CE part recorded; waiting for the AE"
    assert rules.missing_from(s) == [Role.AE]


def test_recording_a_part_again_replaces_that_roles_part_and_keeps_the_other() -> None:
    s = posted_snapshot()
    rules.apply_action_plan(s, plan(AE, Role.AE, "first look"), T0)
    rules.apply_action_plan(s, plan(AE, Role.AE, "second look"), T0 + HOUR)
    assert [(e.role, e.current_status) for e in s.plans] == [(Role.AE, "second look")]
    assert not rules.action_plan_complete(s)  # two AE parts are not a plan

    rules.apply_action_plan(s, plan(CE, Role.CE, "CE view"), T0 + 2 * HOUR)
    rules.apply_action_plan(s, plan(AE, Role.AE, "third look"), T0 + 3 * HOUR)
    assert rules.action_plan_complete(s)
    by_role = {e.role: (e.current_status, e.at) for e in s.plans}
    assert by_role == {
        Role.AE: ("third look", T0 + 3 * HOUR),
        Role.CE: ("CE view", T0 + 2 * HOUR),
    }
    assert len(s.plans) == 2


def test_an_identical_repeat_of_a_part_is_known_and_a_changed_part_is_new() -> None:
    s = posted_snapshot()
    assert rules.repeated_action_plan(s, plan(AE, Role.AE)) is None  # nothing to repeat yet
    rules.apply_action_plan(s, plan(AE, Role.AE), T0)
    # Spacing and the channel it came through do not make it another plan.
    again = RecordActionPlan(
        AE, Role.AE, " usage down 40% ", "an exec sponsor", "weekly office hours", via="slack"
    )
    assert rules.repeated_action_plan(s, again) == (
        "AE part already recorded as given; nothing changed; waiting for the CE"
    )
    assert rules.repeated_action_plan(s, plan(AE, Role.AE, "usage down 50%")) is None
    assert rules.repeated_action_plan(s, plan(CE, Role.CE)) is None  # the CE's is its own

    rules.apply_action_plan(s, plan(CE, Role.CE), T0 + HOUR)
    assert rules.repeated_action_plan(s, plan(CE, Role.CE)) == (
        "CE part already recorded as given; nothing changed"
    )


def test_a_part_is_kept_trimmed_and_unposted() -> None:
    s = posted_snapshot()
    request = RecordActionPlan(AE, Role.AE, "  status  ", " needs ", "\tactions\n")
    rules.apply_action_plan(s, request, T0)
    [entry] = s.plans
    assert (entry.current_status, entry.needs, entry.intended_actions, entry.posted) == (
        "status",
        "needs",
        "actions",
        False,
    )


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            plan(OTHER, Role.AE),
            re.escape(f"{OTHER} is neither the AE ({AE}) nor the CE ({CE}) of Acme"),
        ),
        (
            plan(OTHER, Role.CE),
            re.escape(f"{OTHER} is neither the AE ({AE}) nor the CE ({CE}) of Acme"),
        ),
        (
            plan("", Role.AE),
            re.escape("say who you are (--by)"),
        ),
        (plan(AE, Role.CE), re.escape(f"{AE} is not the account's CE ({CE} is)")),
        (plan(CE, Role.AE), re.escape(f"{CE} is not the account's AE ({AE} is)")),
        (RecordActionPlan(AE, Role.AE, "", "n", "i"), "current status is empty"),
        (RecordActionPlan(AE, Role.AE, "s", "   ", "i"), "needs is empty"),
        (RecordActionPlan(AE, Role.AE, "s", "n", "\n"), "intended actions is empty"),
    ],
)
def test_bad_action_plans_are_rejected_and_change_nothing(
    request_: RecordActionPlan, message: str
) -> None:
    s = posted_snapshot()
    rules.apply_action_plan(s, plan(CE, Role.CE), T0)
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=message):
        rules.check_action_plan(s, request_)
    with pytest.raises(RuleViolation, match=message):
        rules.apply_action_plan(s, request_, T0 + HOUR)
    assert s == before


def test_a_part_of_exactly_the_longest_length_is_accepted() -> None:
    s = posted_snapshot()
    rules.apply_action_plan(s, RecordActionPlan(AE, Role.AE, "s", "x" * 2000, "i"), T0)
    assert s.plans[0].needs == "x" * 2000


def test_nobody_cannot_record_the_part_of_an_account_without_a_ce() -> None:
    s = posted_snapshot(ce_owner="")
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=re.escape("say who you are (--by)")):
        rules.apply_action_plan(s, plan("", Role.CE), T0)
    assert s == before


def test_no_plan_is_recorded_once_the_case_is_resolved() -> None:
    s = posted_snapshot()
    rules.apply_case_signal(s, resolved(at=T0 + 2 * DAY))
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=f"case {CASE} was resolved on 2026-03-04"):
        rules.apply_action_plan(s, plan(AE, Role.AE), T0 + 3 * DAY)
    assert s == before


# --- Asks ------------------------------------------------------------------------------------


def test_asks_are_numbered_in_order_from_either_owner() -> None:
    s = posted_snapshot()
    first = rules.apply_ask(s, RecordAsk(AE, Role.AE, "  an exec sponsor call  "), T0)
    second = rules.apply_ask(s, RecordAsk(CE, Role.CE, "SSO on the roadmap"), T0 + HOUR)
    assert first == "ask #1 recorded; it goes to the case's thread"
    assert second == "ask #2 recorded; it goes to the case's thread"
    assert [(a.number, a.actor, a.text, a.at, a.posted) for a in s.asks] == [
        (1, AE, "an exec sponsor call", T0, False),
        (2, CE, "SSO on the roadmap", T0 + HOUR, False),
    ]
    assert not rules.action_plan_complete(s)  # asks are not the plan


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            RecordAsk(OTHER, Role.AE, "a sponsor"),
            re.escape(f"{OTHER} is neither the AE ({AE}) nor the CE ({CE}) of Acme"),
        ),
        (RecordAsk(CE, Role.AE, "a sponsor"), re.escape(f"{CE} is not the account's AE")),
        (RecordAsk(AE, Role.AE, "  "), "the ask is empty"),
    ],
)
def test_bad_asks_are_rejected_and_change_nothing(request_: RecordAsk, message: str) -> None:
    s = posted_snapshot()
    rules.apply_ask(s, RecordAsk(AE, Role.AE, "a sponsor"), T0)
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=message):
        rules.check_ask(s, request_)
    with pytest.raises(RuleViolation, match=message):
        rules.apply_ask(s, request_, T0 + HOUR)
    assert s == before


def test_no_ask_is_recorded_once_the_case_is_resolved() -> None:
    s = posted_snapshot()
    rules.apply_case_signal(s, resolved())
    before = copy.deepcopy(s)
    with pytest.raises(RuleViolation, match=f"case {CASE} was resolved"):
        rules.apply_ask(s, RecordAsk(AE, Role.AE, "a sponsor"), T0 + 2 * DAY)
    assert s == before


# --- Reminders and the escalation ------------------------------------------------------------


def remind(s: RedAccountSnapshot, now: datetime) -> None:
    """What the workflow does when a reminder goes out."""
    s.reminders_sent += 1
    s.last_reminded_at = now


def test_no_reminder_before_the_case_has_a_thread() -> None:
    s = make_snapshot()
    assert rules.next_reminder_at(s) is None
    assert not rules.reminder_due(s, T0 + 10 * DAY)


def test_reminders_fall_due_an_interval_after_opening_then_every_interval() -> None:
    s = posted_snapshot()
    assert rules.next_reminder_at(s) == T0 + DAY
    assert not rules.reminder_due(s, T0 + DAY - timedelta(seconds=1))
    assert rules.reminder_due(s, T0 + DAY)
    remind(s, T0 + DAY)

    assert rules.next_reminder_at(s) == T0 + 2 * DAY
    assert not rules.reminder_due(s, T0 + 2 * DAY - timedelta(seconds=1))
    assert rules.reminder_due(s, T0 + 2 * DAY)
    remind(s, T0 + 2 * DAY)
    assert rules.next_reminder_at(s) == T0 + 3 * DAY


def test_the_reminder_interval_comes_from_the_configuration() -> None:
    s = posted_snapshot(config=HealthConfig(reminder_interval_seconds=3600))
    assert rules.next_reminder_at(s) == T0 + HOUR
    remind(s, T0 + HOUR)
    assert rules.next_reminder_at(s) == T0 + 2 * HOUR


def test_reminders_continue_while_one_part_is_missing_and_stop_when_both_are_in() -> None:
    s = posted_snapshot()
    rules.apply_action_plan(s, plan(AE, Role.AE), T0 + HOUR)
    assert rules.reminder_due(s, T0 + DAY)
    rules.apply_action_plan(s, plan(CE, Role.CE), T0 + 2 * HOUR)
    assert rules.next_reminder_at(s) is None
    assert not rules.reminder_due(s, T0 + 30 * DAY)


def test_no_reminder_once_the_case_is_resolved() -> None:
    s = posted_snapshot()
    rules.apply_case_signal(s, resolved(at=T0 + HOUR))
    assert rules.next_reminder_at(s) is None
    assert not rules.reminder_due(s, T0 + 30 * DAY)


def test_the_escalation_is_due_once_at_the_sla() -> None:
    s = posted_snapshot()
    assert rules.escalation_at(s) == T0 + 3 * DAY
    assert not rules.escalation_due(s, T0 + 3 * DAY - timedelta(seconds=1))
    assert rules.escalation_due(s, T0 + 3 * DAY)
    assert rules.escalation_due(s, T0 + 5 * DAY)
    s.escalated = True  # the workflow posted it
    assert not rules.escalation_due(s, T0 + 3 * DAY)
    assert not rules.escalation_due(s, T0 + 30 * DAY)


def test_the_sla_comes_from_the_configuration() -> None:
    s = posted_snapshot(config=HealthConfig(action_plan_sla_seconds=12 * 3600))
    assert rules.escalation_at(s) == T0 + 12 * HOUR
    assert not rules.escalation_due(s, T0 + 12 * HOUR - timedelta(seconds=1))
    assert rules.escalation_due(s, T0 + 12 * HOUR)


def test_no_escalation_once_the_plan_is_complete_or_the_case_resolved() -> None:
    complete = posted_snapshot()
    rules.apply_action_plan(complete, plan(AE, Role.AE), T0)
    assert rules.escalation_due(complete, T0 + 3 * DAY)  # half a plan still escalates
    rules.apply_action_plan(complete, plan(CE, Role.CE), T0)
    assert not rules.escalation_due(complete, T0 + 3 * DAY)

    done = posted_snapshot()
    rules.apply_case_signal(done, resolved())
    assert not rules.escalation_due(done, T0 + 3 * DAY)


def test_the_next_wake_up_is_the_earlier_of_the_reminder_and_the_escalation() -> None:
    s = posted_snapshot()
    assert rules.next_wake_up(s) == T0 + DAY
    remind(s, T0 + 2 * DAY + 12 * HOUR)
    assert rules.next_wake_up(s) == T0 + 3 * DAY  # the escalation comes first
    s.escalated = True
    assert rules.next_wake_up(s) == T0 + 3 * DAY + 12 * HOUR  # reminders go on


def test_without_a_thread_the_next_wake_up_is_the_escalation() -> None:
    s = make_snapshot()
    assert rules.next_wake_up(s) == T0 + 3 * DAY


def test_nothing_to_wake_up_for_once_the_plan_is_complete_or_the_case_resolved() -> None:
    complete = posted_snapshot()
    rules.apply_action_plan(complete, plan(AE, Role.AE), T0)
    rules.apply_action_plan(complete, plan(CE, Role.CE), T0)
    assert rules.next_wake_up(complete) is None

    done = posted_snapshot()
    rules.apply_case_signal(done, resolved())
    assert rules.next_wake_up(done) is None


# --- What the account tells the case ---------------------------------------------------------


def test_still_red_for_another_reason_adds_the_reason_once() -> None:
    s = posted_snapshot()
    assert rules.apply_case_signal(s, still_red("renewal risk: budget cut")) is True
    assert s.reasons == ["champion left", "renewal risk: budget cut"]
    assert rules.apply_case_signal(s, still_red("renewal risk: budget cut")) is False
    assert rules.apply_case_signal(s, still_red("champion left")) is False
    assert rules.apply_case_signal(s, still_red("")) is False
    assert s.reasons == ["champion left", "renewal risk: budget cut"]
    assert s.resolved_at is None


def test_resolved_closes_the_case_with_who_why_and_the_colour() -> None:
    s = posted_snapshot()
    signal = CaseSignal("resolved", CustomerHealth.GREEN, "score", "score 72", T0 + 4 * DAY, CASE)
    assert rules.apply_case_signal(s, signal) is True
    assert (s.resolved_at, s.resolved_by, s.resolved_colour, s.resolution_reason) == (
        T0 + 4 * DAY,
        "score",
        CustomerHealth.GREEN,
        "score 72",
    )
    assert s.reasons == ["champion left"]


def test_signals_after_the_resolution_change_nothing() -> None:
    s = posted_snapshot()
    rules.apply_case_signal(s, resolved(at=T0 + DAY))
    before = copy.deepcopy(s)
    assert rules.apply_case_signal(s, still_red("renewal risk: budget cut", T0 + 2 * DAY)) is False
    later = CaseSignal("resolved", CustomerHealth.GREEN, AE, "all good", T0 + 3 * DAY, CASE)
    assert rules.apply_case_signal(s, later) is False
    assert s == before


# --- The state view --------------------------------------------------------------------------


def test_the_state_view_of_an_open_case() -> None:
    s = posted_snapshot()
    rules.apply_action_plan(s, plan(CE, Role.CE), T0 + HOUR)
    rules.apply_ask(s, RecordAsk(AE, Role.AE, "a sponsor"), T0 + HOUR)
    rules.apply_case_signal(s, still_red("renewal risk: budget cut"))
    remind(s, T0 + DAY)
    view = rules.state_view(s)
    assert (view.case_id, view.account_id, view.account_name) == (CASE, "001A", "Acme")
    assert view.reasons == ["champion left", "renewal risk: budget cut"]
    assert (view.opened_at, view.thread_ts) == (T0, "1767000000.000100")
    assert [(e.role, e.actor) for e in view.action_plan] == [(Role.CE, CE)]
    assert (view.action_plan_complete, view.missing_from) == (False, ["AE"])
    assert [(a.number, a.text) for a in view.asks] == [(1, "a sponsor")]
    assert (view.reminders_sent, view.escalated) == (1, False)
    assert (view.resolved_at, view.resolved_colour) == (None, None)
    # A copy: the view does not share the snapshot's lists.
    view.reasons.append("x")
    assert s.reasons == ["champion left", "renewal risk: budget cut"]


def test_the_state_view_of_a_resolved_case_with_a_complete_plan() -> None:
    s = posted_snapshot()
    rules.apply_action_plan(s, plan(AE, Role.AE), T0)
    rules.apply_action_plan(s, plan(CE, Role.CE), T0)
    rules.apply_case_signal(s, resolved(at=T0 + 2 * DAY))
    view = rules.state_view(s)
    assert (view.action_plan_complete, view.missing_from) == (True, [])
    assert (view.resolved_at, view.resolved_colour) == (T0 + 2 * DAY, "yellow")


# --- The account's owners and renewal date ---------------------------------------------------

NEW_CE = "U0CE00002"


def owners(ae: str, ce: str, case: str = CASE) -> CaseSignal:
    return CaseSignal(
        "owners_changed", CustomerHealth.RED, "U0CELEAD1", "re-cut", T0 + HOUR, case,
        ae_owner=ae, ce_owner=ce,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("signal", "problem"),
    [
        (owners(AE, NEW_CE, "red-account-001A-2"), "is for case red-account-001A-2, not"),
        (owners(AE, NEW_CE, ""), "is for case (none)"),
        (owners(AE, ""), "names no AE or no CE"),
        (owners(CE, CE), f"names {CE} as both the AE and the CE"),
        (
            CaseSignal("renewal_moved", CustomerHealth.RED, AE, "", T0, CASE),
            "carries no renewal date",
        ),
    ],
)
def test_a_change_not_from_the_cases_account_or_without_what_changed_is_dropped(
    signal: CaseSignal, problem: str
) -> None:
    s = posted_snapshot()
    assert problem in (rules.case_signal_problem(s, signal) or "")


def test_new_owners_take_the_open_part_and_the_reminders_and_the_thread_is_told_once() -> None:
    s = posted_snapshot()
    rules.apply_action_plan(s, plan(AE, Role.AE), T0)
    assert rules.case_signal_problem(s, owners(AE, NEW_CE)) is None

    assert rules.apply_case_signal(s, owners(AE, NEW_CE))
    assert not rules.apply_case_signal(s, owners(AE, NEW_CE))  # told again: nothing changes

    assert (s.start.ae_owner, s.start.ce_owner, s.owner_changes) == (AE, NEW_CE, 1)
    [note] = s.notes
    assert note.text == (
        f"<@{NEW_CE}> is now the CE of Acme, after {CE} (re-cut)."
        " The CE's part of the action plan is theirs."
    )
    with pytest.raises(RuleViolation, match=f"{CE} is neither the AE"):
        rules.check_action_plan(s, plan(CE, Role.CE))
    rules.check_action_plan(s, plan(NEW_CE, Role.CE))
    view = rules.state_view(s)
    assert (view.ae_owner, view.ce_owner) == (AE, NEW_CE)


def test_a_moved_renewal_date_is_the_cases_and_a_resolved_case_follows_nothing() -> None:
    s = posted_snapshot()
    moved = T0 + 270 * DAY
    signal = CaseSignal("renewal_moved", CustomerHealth.RED, AE, "", T0, CASE, renewal_date=moved)
    assert rules.apply_case_signal(s, signal)
    assert rules.state_view(s).renewal_date == moved
    assert [note.text for note in s.notes] == [
        f"The renewal of Acme moved to {moved.date()} (was {(T0 + 90 * DAY).date()})."
    ]

    rules.apply_case_signal(s, CaseSignal("resolved", CustomerHealth.GREEN, AE, "ok", T0, CASE))
    assert not rules.apply_case_signal(s, owners(AE, NEW_CE))
    assert s.start.ce_owner == CE


def test_the_resolution_post_names_the_score_or_the_person_once() -> None:
    assert rules.resolution_post("Acme <Labs>", "green", "score", "score 82 (usage 90)") == (
        ":large_green_circle: Resolved: Acme &lt;Labs&gt; is green again (by the score 82"
        " (usage 90))."
    )
    assert rules.resolution_post("Acme", "yellow", "U0AE1", "champion back <!channel>") == (
        ":large_yellow_circle: Resolved: Acme is yellow again (<@U0AE1>: champion back"
        " &lt;!channel&gt;)."
    )
