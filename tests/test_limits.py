"""The bounds of every workflow input (``schemas.limits``): each limit's edge, the table's
completeness against the workflows' own definitions, the README's table, and the payload
converter that lets the checks see JSON ``true`` and ``2.5`` as they came."""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from dealcycle.payloads import DATA_CONVERTER
from schemas import limits
from schemas.account import (
    AccountHandOff,
    CompleteAccountStep,
    CompleteProfile,
    RecordFeatureRequest,
    RecordKickoffPlan,
    RecordRenewalOutcome,
    UsageReport,
)
from schemas.common import Role, TechnicalWinStatus
from schemas.errors import RULE_VIOLATION, RuleViolation
from schemas.health import CaseSignal, HealthSignal, RecordActionPlan, RecordAsk, SetHealth
from schemas.opportunity import LinkTdd, StartOpportunityTrial, TechnicalWinChanged
from schemas.trial import CompleteStep, ExtendTrial, StartTrialOverride, TrialStart
from worker import WORKFLOWS

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CE, AE = "U0CE00001", "U0AE00001"
README = Path(__file__).resolve().parents[1] / "README.md"


def refused(value: object) -> str:
    with pytest.raises(RuleViolation) as rejected:
        limits.check(value, NOW)
    return rejected.value.message


def test_a_rule_violation_is_one_non_retryable_application_error() -> None:
    err = RuleViolation("note: at most 2000 characters (got 2001)")
    assert (err.type, err.non_retryable, err.message) == (
        RULE_VIOLATION,
        True,
        "note: at most 2000 characters (got 2001)",
    )


# --- Each limit at its edge: at the limit accepted, one over refused --------------------------

TEXT_EDGES: list[tuple[Any, str, int]] = [
    (lambda note: CompleteStep("user_survey", AE, Role.AE, note), "note", 2000),
    (lambda reason: StartTrialOverride(AE, Role.AE, reason), "reason", 2000),
    (lambda reason: SetHealth("red", AE, Role.AE, reason), "reason", 2000),
    (lambda url: LinkTdd("https://" + url[8:], AE, Role.AE), "url", 2000),
    (lambda title: RecordFeatureRequest(title, CE, Role.CE), "title", 200),
    (lambda detail: RecordFeatureRequest("SCIM", CE, Role.CE, detail), "detail", 4000),
    (lambda needs: RecordActionPlan(AE, Role.AE, "s", needs, "i"), "needs", 2000),
    (lambda ask: RecordAsk(AE, Role.AE, ask), "ask", 2000),
    (lambda version: UsageReport(10, version), "version", 100),
    (lambda step: CompleteAccountStep(step, CE, Role.CE), "step", 100),
    (lambda source: HealthSignal("usage", 50, source), "source", 200),
]


@pytest.mark.parametrize(("build", "field", "most"), TEXT_EDGES, ids=[e[1] for e in TEXT_EDGES])
def test_text_at_its_limit_is_accepted_and_one_more_character_is_refused(
    build: Any, field: str, most: int
) -> None:
    limits.check(build("x" * most), NOW)
    assert refused(build("x" * (most + 1))) == (
        f"{field}: at most {most} characters (got {most + 1})"
    )


def test_a_megabyte_note_is_refused_without_being_echoed() -> None:
    message = refused(CompleteStep("user_survey", AE, Role.AE, "x" * 1_048_576))
    assert message == "note: at most 2000 characters (got 1048576)"


WHOLE_EDGES: list[tuple[Any, str, int, int]] = [
    (lambda days: ExtendTrial(days, "customer asked", AE, Role.AE), "days", 1, 365),
    (lambda days: StartOpportunityTrial(AE, Role.AE, days), "length_days", 1, 365),
    (lambda users: UsageReport(users, "5.2"), "active_users", 0, 10_000_000),
    (lambda seats: CompleteProfile(AE, Role.AE, seats=seats), "seats", 0, 1_000_000),
    (lambda tier: CompleteProfile(AE, Role.AE, tier=tier), "tier", 0, 3),
    (lambda seats: RecordRenewalOutcome("renewed", AE, Role.AE, seats=seats), "seats", 0, 10**6),
]


@pytest.mark.parametrize(
    ("build", "field", "low", "high"), WHOLE_EDGES, ids=[e[1] for e in WHOLE_EDGES]
)
def test_whole_numbers_at_their_edges_are_accepted_and_one_beyond_refused(
    build: Any, field: str, low: int, high: int
) -> None:
    limits.check(build(low), NOW)
    limits.check(build(high), NOW)
    rule = f"{field}: a whole number from {low} to {high}"
    assert refused(build(high + 1)) == f"{rule} (got {high + 1})"
    assert refused(build(low - 1)) == f"{rule} (got {low - 1})"


@pytest.mark.parametrize(
    ("days", "shown"), [(True, "true"), (False, "false"), (2.5, "2.5"), (3.0, "3.0")]
)
def test_an_extension_is_a_real_whole_number_not_a_boolean_or_a_fraction(
    days: Any, shown: str
) -> None:
    assert refused(ExtendTrial(days, "customer asked", AE, Role.AE)) == (
        f"days: a whole number from 1 to 365 (got {shown})"
    )


def test_a_trial_start_of_three_million_days_is_refused() -> None:
    start = TrialStart("006A", "001A", "Acme", CE, AE, length_days=3_000_000)
    assert refused(start) == "length_days: a whole number from 1 to 365 (got 3000000)"
    limits.check(dataclasses.replace(start, length_days=365), NOW)


def test_a_trial_start_with_a_ce_that_is_not_a_slack_member_id_is_refused() -> None:
    start = TrialStart("006A", "001A", "Acme", "not-an-id", AE)
    assert refused(start) == (
        "ce_owner: a Slack member id: U or W, then 2 to 20 capitals or digits (got 'not-an-id')"
    )
    for member in ("U01", "W" + "A" * 20, "U0CE00001"):
        limits.check(dataclasses.replace(start, ce_owner=member), NOW)
    for not_member in ("U0", "U" + "A" * 21, "u0ce00001", "X0CE00001"):
        assert refused(dataclasses.replace(start, ce_owner=not_member)).startswith("ce_owner: ")


def test_record_ids_are_letters_digits_and_dashes_up_to_64() -> None:
    start = TrialStart("0" * 64, "DEMO-006.ACME_1", "Acme", CE, AE)
    limits.check(start, NOW)
    assert refused(dataclasses.replace(start, opportunity_id="0" * 65)) == (
        "opportunity_id: at most 64 characters (got 65)"
    )
    assert refused(dataclasses.replace(start, account_id="001/../x")).startswith(
        "account_id: an id of letters, digits, . _ - (got '001/../x')"
    )


@pytest.mark.parametrize("value", [100.0, 0, 0.0, 100])
def test_readings_from_0_to_100_are_accepted(value: float) -> None:
    limits.check(HealthSignal("usage", value), NOW)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(100.01, "100.01"), (-0.01, "-0.01"), (float("nan"), "nan"), (float("inf"), "inf"),
     (True, "true"), (1e21, "1e+21")],
)  # fmt: skip
def test_readings_outside_0_to_100_or_not_finite_are_refused(value: float, shown: str) -> None:
    assert refused(HealthSignal("usage", value)) == f"value: a number from 0 to 100 (got {shown})"


def test_1e21_active_users_are_refused() -> None:
    assert refused(UsageReport(10**21, "5.2")) == (
        f"active_users: a whole number from 0 to 10000000 (got {10**21})"
    )


def test_renewal_dates_within_ten_years_are_accepted_and_later_ones_refused() -> None:
    # Ten calendar years: here 3653 days, not 3650 (2028, 2032 and 2036 have a 29 February).
    edge = datetime(2036, 12, 1, 9, 0, tzinfo=UTC)
    assert edge - NOW == timedelta(days=3653)
    limits.check(CompleteProfile(AE, Role.AE, renewal_date=edge), NOW)
    message = refused(CompleteProfile(AE, Role.AE, renewal_date=edge + timedelta(seconds=1)))
    assert message.startswith("renewal_date: a date with a time zone, at most 10 years ahead")
    naive = refused(CompleteProfile(AE, Role.AE, renewal_date=datetime(2027, 1, 1)))
    assert naive == "renewal_date: a date with a time zone (got 2027-01-01T00:00:00)"


def test_the_day_before_the_tenth_anniversary_is_a_renewal_date_within_ten_years() -> None:
    today = datetime(2026, 12, 7, 8, 53, tzinfo=UTC)
    limits.check(
        CompleteProfile(AE, Role.AE, renewal_date=datetime(2036, 12, 6, tzinfo=UTC)), today
    )
    limits.check(
        CompleteProfile(AE, Role.AE, renewal_date=datetime(2036, 12, 7, tzinfo=UTC)), today
    )
    with pytest.raises(RuleViolation, match=r"at most 10 years ahead .*\(got 2036-12-08\)"):
        limits.check(
            CompleteProfile(AE, Role.AE, renewal_date=datetime(2036, 12, 8, tzinfo=UTC)), today
        )


def test_ten_years_from_29_february_end_on_28_february() -> None:
    leap_day = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert limits.years_later(leap_day, 10) == datetime(2038, 2, 28, 12, 0, tzinfo=UTC)
    assert limits.years_later(leap_day, -10) == datetime(2018, 2, 28, 12, 0, tzinfo=UTC)
    assert limits.years_later(leap_day, 4) == datetime(2032, 2, 29, 12, 0, tzinfo=UTC)


def test_signal_timestamps_stay_within_ten_years_either_way() -> None:
    ten_years_ago = datetime(2016, 12, 1, 9, 0, tzinfo=UTC)
    change = TechnicalWinChanged(TechnicalWinStatus.WON, CE, ten_years_ago)
    limits.check(change, NOW)
    late = dataclasses.replace(change, at=ten_years_ago - timedelta(seconds=1))
    assert refused(late).startswith("at: a date with a time zone, within 10 years of today")


def test_lists_are_bounded_in_length_and_in_each_item() -> None:
    plan = RecordKickoffPlan(CE, Role.CE, "weekly", ["x" * 200] * 20)
    limits.check(plan, NOW)
    assert refused(dataclasses.replace(plan, optional_trainings=["api"] * 21)) == (
        "optional_trainings: at most 20 items (got 21)"
    )
    assert refused(dataclasses.replace(plan, optional_trainings=["api", "x" * 201])) == (
        "optional_trainings[1]: at most 200 characters (got 201)"
    )


def test_every_problem_is_named_at_once() -> None:
    message = refused(ExtendTrial(0, "x" * 2001, "nobody", Role.AE))
    assert message == (
        "days: a whole number from 1 to 365 (got 0); reason: at most 2000 characters (got 2001);"
        " actor: a Slack member id: U or W, then 2 to 20 capitals or digits (got 'nobody')"
    )


def test_empty_text_is_left_to_the_rules_which_say_what_is_needed() -> None:
    limits.check(StartTrialOverride("", Role.AE, ""), NOW)


def test_a_wrongly_typed_field_is_named_without_echoing_it() -> None:
    hand_off = AccountHandOff("006A", "001A", "Acme", "new", 10, AE, CE, 1, "", NOW)
    bad = dataclasses.replace(hand_off, seats="10", account_name=["x"] * 3, closed_at="today")  # type: ignore[arg-type]
    assert refused(bad) == (
        "account_name: text, at most 255 characters (got a list of 3);"
        " seats: a whole number from 0 to 1000000 (got '10');"
        " closed_at: a date with a time zone, within 10 years of today (got 'today')"
    )


def test_signal_problem_names_none_and_other_types() -> None:
    assert limits.signal_problem(None, HealthSignal, NOW) == "expected a HealthSignal, got None"
    assert limits.signal_problem({"input": "usage"}, HealthSignal, NOW) == (
        "expected a HealthSignal, got a dict of 1"
    )
    signal = CaseSignal("resolved", "green", "score", "x", NOW, "red-account-001A-1")  # type: ignore[arg-type]
    assert limits.signal_problem(signal, CaseSignal, NOW) is None  # the plain value is the member
    wrong = dataclasses.replace(signal, colour="blue")  # type: ignore[arg-type]
    assert limits.signal_problem(wrong, CaseSignal, NOW) == (
        "colour: one of green, yellow, red (got 'blue')"
    )
    assert limits.signal_problem(HealthSignal("usage", 50), HealthSignal, NOW) is None


# --- The table covers every input of every workflow, and the README shows it -----------------


def _inputs() -> set[type]:
    roots: set[type] = set()
    for cls in WORKFLOWS:
        definition = workflow._Definition.from_class(cls)
        assert definition is not None
        handler_types = [
            *(update.arg_types for update in definition.updates.values()),
            *(signal.arg_types for signal in definition.signals.values()),
        ]
        for arg_types in [definition.arg_types, *handler_types]:
            for hint in arg_types or []:
                roots.update(arg for arg in (hint, *typing.get_args(hint)) if isinstance(arg, type))
    return {root for root in roots if dataclasses.is_dataclass(root)}


def _unbounded(cls: type, seen: set[type]) -> list[str]:
    if cls in seen:
        return []
    seen.add(cls)
    missing = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        limit = limits.limit_of(cls.__name__, field.name)
        if isinstance(limit, limits.Trusted):
            continue
        hint = hints[field.name]
        args = [arg for arg in (hint, *typing.get_args(hint)) if arg is not type(None)]
        for arg in args:
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and dataclasses.is_dataclass(inner):
                    missing += _unbounded(inner, seen)
        plain = [arg for arg in args if isinstance(arg, type) or typing.get_origin(arg)]
        needs_limit = any(
            typing.get_origin(arg) is list or arg in (str, int, float, datetime) for arg in plain
        ) and not all(
            isinstance(arg, type) and (issubclass(arg, Enum) or arg is bool) for arg in plain
        )
        if needs_limit and limit is None:
            missing.append(f"{cls.__name__}.{field.name}")
    return missing


def test_every_field_of_every_start_update_and_signal_input_has_a_limit() -> None:
    roots = _inputs()
    assert {"TrialInput", "ExtendTrial", "HealthSignal", "IntakeRun", "CaseSignal"} <= {
        root.__name__ for root in roots
    }
    seen: set[type] = set()
    missing = [name for root in sorted(roots, key=str) for name in _unbounded(root, seen)]
    assert missing == []


def test_the_readme_shows_the_table_of_field_limits() -> None:
    assert limits.readme_table() in README.read_text(encoding="utf-8")


# --- The worker's payload converter keeps what JSON sent ---------------------------------------


def _from_json(converter: DataConverter, raw: dict[str, Any], hint: type) -> Any:
    payload = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(raw).encode("utf-8"))
    return converter.payload_converter.from_payloads([payload], [hint])[0]


@pytest.mark.parametrize(("days", "shown"), [(True, "true"), (2.5, "2.5")])
def test_json_true_and_2_5_days_reach_the_check_as_they_came(days: Any, shown: str) -> None:
    raw = {"days": days, "reason": "asked", "actor": AE, "role": "AE"}
    # The SDK's default would have made them 1 and 2 days.
    assert _from_json(DataConverter.default, raw, ExtendTrial).days in (1, 2)
    request = _from_json(DATA_CONVERTER, raw, ExtendTrial)
    assert request.days == days and type(request.days) is type(days)
    assert refused(request) == f"days: a whole number from 1 to 365 (got {shown})"


def test_the_converter_still_converts_what_is_well_formed() -> None:
    raw = {"days": 3, "reason": "asked", "actor": AE, "role": "AE"}
    assert _from_json(DATA_CONVERTER, raw, ExtendTrial) == ExtendTrial(3, "asked", AE, Role.AE)
    reading = _from_json(DATA_CONVERTER, {"input": "usage", "value": 35}, HealthSignal)
    assert reading == HealthSignal("usage", 35.0) and type(reading.value) is float
