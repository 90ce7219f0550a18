"""The bounds of every field of every workflow input: start inputs, updates and signals.

One table, ``LIMITS``, keyed by ``Class.field``, ``Class.*`` or a bare field name (looked up in
that order). Enums, booleans and nested dataclasses need no entry: their type is their bound.
The workflows' update validators and start checks raise ``check``'s ``RuleViolation``; signal
handlers, which cannot reject, drop what ``signal_problem`` objects to; the CLI runs ``check``
before it sends anything. A message names the field and its limit, and never echoes a long
value: ``note: at most 2000 characters (got 1048576)``.

Numbers must be real ones: JSON ``true`` is not 1 and ``2.5`` is not a whole number, so a
whole number is ``type(x) is int`` (the worker's payload converter keeps such values as they
came, so the check sees them; see ``dealcycle.payloads``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any

from schemas.errors import RuleViolation

NAME_CHARS = 200
ACCOUNT_NAME_CHARS = 255
"""Salesforce's Account.Name: the records and the license keep a name this long too."""
TEXT_CHARS = 2_000
URL_CHARS = 2_000
ID_CHARS = 64
MAX_SEATS = 1_000_000
MAX_DAYS = 365
MAX_ACTIVE_USERS = 10_000_000
MAX_AMOUNT = 1_000_000_000_000
VERSION_CHARS = 100
"""A usage report's product version; the CLI also refuses an empty one (no feed sends one)."""
DATE_YEARS = 10
TEN_YEARS_SECONDS = 10 * 365 * 86_400
MAX_SNOOZE_DAYS = 14
"""How far one snooze moves a step's next reminder, in business days."""
RENEWAL_MOVE_YEARS = 5
"""How far ahead a renewal date may be moved (a multi-year deal), from today."""


def _shown(value: object) -> str:
    """A value as a message may show it: short, and JSON-like for booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and len(value) > 40:
        return f"{len(value)} characters"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)}"
    if dataclasses.is_dataclass(value):
        return f"a {type(value).__name__}"
    if isinstance(value, datetime):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Text:
    max_chars: int
    pattern: str = ""
    """A non-empty value must match this in full (empty is left to the rules: "needs a ...")."""
    what: str = ""

    def rule(self) -> str:
        limit = f"at most {self.max_chars} characters"
        return f"{self.what}, {limit}" if self.what else limit

    def problem(self, value: object, now: datetime) -> str | None:
        if type(value) is not str:
            return f"text, {self.rule()} (got {_shown(value)})"
        if len(value) > self.max_chars:
            return f"at most {self.max_chars} characters (got {len(value)})"
        if self.pattern and value and not re.fullmatch(self.pattern, value):
            return f"{self.what} (got {_shown(value)})"
        return None


@dataclass(frozen=True)
class Whole:
    low: int
    high: int

    def rule(self) -> str:
        return f"a whole number from {self.low} to {self.high}"

    def problem(self, value: object, now: datetime) -> str | None:
        if type(value) is not int or not self.low <= value <= self.high:
            return f"{self.rule()} (got {_shown(value)})"
        return None


@dataclass(frozen=True)
class Real:
    low: float
    high: float

    def rule(self) -> str:
        return f"a number from {self.low:g} to {self.high:g}"

    def problem(self, value: object, now: datetime) -> str | None:
        if (
            type(value) not in (int, float)
            or not math.isfinite(value)  # type: ignore[arg-type]
            or not self.low <= value <= self.high  # type: ignore[operator]
        ):
            return f"{self.rule()} (got {_shown(value)})"
        return None


@dataclass(frozen=True)
class Moment:
    years_ahead: int = DATE_YEARS
    years_back: int = DATE_YEARS

    def rule(self) -> str:
        if self.years_back == self.years_ahead:
            return f"a date with a time zone, within {self.years_ahead} years of today"
        return (
            f"a date with a time zone, at most {self.years_ahead} years ahead"
            f" and {self.years_back} years back"
        )

    def problem(self, value: object, now: datetime) -> str | None:
        if not isinstance(value, datetime):
            return f"{self.rule()} (got {_shown(value)})"
        if value.utcoffset() is None:
            return f"a date with a time zone (got {value.isoformat()})"
        # Calendar years: 365-day ones fell short by the leap days between (2 or 3 in ten).
        if not years_later(now, -self.years_back) <= value <= years_later(now, self.years_ahead):
            return f"{self.rule()} (got {value.date().isoformat()})"
        return None


def years_later(moment: datetime, years: int) -> datetime:
    """The same calendar date and time ``years`` later (earlier when negative); 29 February
    becomes the 28th in a year without one."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


@dataclass(frozen=True)
class Items:
    max_items: int
    each: Text | None = None
    """The limit of each item; ``None`` when the items are dataclasses (checked field by field)."""

    def rule(self) -> str:
        each = f" of {self.each.rule()}" if self.each else ""
        return f"at most {self.max_items} items{each}"


@dataclass(frozen=True)
class Trusted:
    """State the workflow wrote itself and carries across continue-as-new: not checked."""

    def rule(self) -> str:
        return "not an input: state carried by continue-as-new"


Limit = Text | Whole | Real | Moment | Items | Trusted

MEMBER = Text(
    21, r"[UW][A-Z0-9]{2,20}", "a Slack member id: U or W, then 2 to 20 capitals or digits"
)
RECORD_ID = Text(ID_CHARS, r"[A-Za-z0-9][A-Za-z0-9._-]*", "an id of letters, digits, . _ -")
CASE_ID = Text(100, RECORD_ID.pattern, RECORD_ID.what)
WORKFLOW_ID = Text(100, RECORD_ID.pattern, RECORD_ID.what)
NAME = Text(NAME_CHARS)
TEXT = Text(TEXT_CHARS)
URL = Text(URL_CHARS)
LONG_TEXT = Text(4_000)
COMPOSED_REASON = Text(8_000)
"""A red account's reason, composed from a health change's reason or an assessment's risks."""
WORD = Text(40)
CHANNEL = Text(80)
STEP_KEY = Text(100)
VIA = Text(100)
"""Where an action came from (``cli:<os user>``), recorded beside ``actor``."""
MOMENT = Moment()
RENEWAL = Moment(years_back=100)
"""A renewal date in the past is the rules' to refuse, with the date and today's."""
TIER = Whole(1, 3)
TIER_OR_UNKNOWN = Whole(0, 3)
SEATS = Whole(1, MAX_SEATS)
SEATS_OR_UNKNOWN = Whole(0, MAX_SEATS)
DAYS = Whole(1, MAX_DAYS)
HISTORY_EVENTS = Whole(20, 50_000)
FEED_ATTEMPT_SECONDS = Whole(10, 86_400)
CONFIG_SECONDS = Whole(0, TEN_YEARS_SECONDS)
PLAN_SECTION = Items(20, Text(1_000))
TRUSTED = Trusted()

LIMITS: dict[str, Limit] = {
    # People, records, names
    "actor": MEMBER,
    "ae_owner": MEMBER,
    "ce_owner": MEMBER,
    "new_owner": MEMBER,
    "value_engineering": MEMBER,
    "SecurityRoster.*": MEMBER,
    "RotateRoster.*": MEMBER,
    "TechnicalWinChanged.actor": MEMBER,
    "opportunity_id": RECORD_ID,
    "account_id": RECORD_ID,
    "expansion_opportunity_id": RECORD_ID,
    "watermark_name": RECORD_ID,
    "case_id": CASE_ID,
    "opportunity_workflow_id": WORKFLOW_ID,
    "account_name": Text(ACCOUNT_NAME_CHARS),
    "title": NAME,
    "source": NAME,
    "PlanContacts.*": NAME,
    # What people write
    "note": TEXT,
    "reason": TEXT,
    "summary": TEXT,
    "current_status": TEXT,
    "needs": TEXT,
    "intended_actions": TEXT,
    "ask": TEXT,
    "next_steps": TEXT,
    "detail": LONG_TEXT,
    "RedAccountCaseStart.reason": COMPOSED_REASON,
    "CaseSignal.reason": COMPOSED_REASON,
    "url": URL,
    "link": URL,
    "permalink": URL,
    "account_workflow_url": URL,
    "temporal_ui_url": URL,
    "optional_trainings": Items(20, NAME),
    "upcoming_initiatives": Items(20, Text(500)),
    "RecordRenewalAssessment.risks": Items(10, Text(500)),
    "SubmitAccountPlan.use_cases": PLAN_SECTION,
    "SubmitAccountPlan.expansion_opportunities": PLAN_SECTION,
    "SubmitAccountPlan.risks": PLAN_SECTION,
    "SubmitAccountPlan.product_feedback_themes": PLAN_SECTION,
    "SubmitAccountPlan.objectives": PLAN_SECTION,
    "open_support_items": Items(100, Text(500)),
    # Words from a fixed vocabulary (the rules name the choices)
    "step": STEP_KEY,
    "effect": Text(300),
    "quarter": WORD,
    "cadence": WORD,
    "colour": WORD,
    "outcome": WORD,
    "kind": WORD,
    "input": WORD,
    "phase": WORD,
    "health": WORD,
    "region": WORD,
    "deployment_type": WORD,
    "version": Text(VERSION_CHARS),
    "by": Text(ID_CHARS),
    "SnoozeStep.by": MEMBER,
    "via": VIA,
    "namespace": Text(255),
    "announce_channel": CHANNEL,
    "product_feedback_channel": CHANNEL,
    "account_review_channel": CHANNEL,
    "red_accounts_channel": CHANNEL,
    # Numbers
    "seats": SEATS,
    "ExpandSeats.seats": SEATS,
    "AccountProfile.seats": SEATS_OR_UNKNOWN,
    "AccountHandOff.seats": SEATS_OR_UNKNOWN,
    "CompleteProfile.seats": SEATS_OR_UNKNOWN,
    "RecordRenewalOutcome.seats": SEATS_OR_UNKNOWN,
    "RecordRenewalOutcome.new_team_seats": SEATS_OR_UNKNOWN,
    "tier": TIER,
    "AccountProfile.tier": TIER_OR_UNKNOWN,
    "AccountHandOff.tier": TIER_OR_UNKNOWN,
    "CompleteProfile.tier": TIER_OR_UNKNOWN,
    "RedAccountCaseStart.tier": TIER_OR_UNKNOWN,
    "length_days": DAYS,
    "days": DAYS,
    "SnoozeStep.days": Whole(1, MAX_SNOOZE_DAYS),
    "active_users": Whole(0, MAX_ACTIVE_USERS),
    "amount": Real(0, MAX_AMOUNT),
    "value": Real(0, 100),
    "history_event_limit": HISTORY_EVENTS,
    "batch_size": Whole(1, 2_000),
    "first_poll_lookback_days": Whole(1, 36_500),
    "max_pages": Whole(1, 500),
    "DigestRun.week_days": Whole(1, 31),
    "DigestRun.items_per_person": Whole(1, 100),
    "UsageFeedRun.staleness_days": DAYS,
    "UsageFeedRun.lookback_days": DAYS,
    "UsageFeedRun.page_size": Whole(1, 10_000),
    "UsageFeedRun.attempt_timeout_seconds": FEED_ATTEMPT_SECONDS,
    "Durations.*": CONFIG_SECONDS,
    "Durations.trial_length_days": DAYS,
    "HealthConfig.usage_weight": Real(0, 100),
    "HealthConfig.adoption_weight": Real(0, 100),
    "HealthConfig.sentiment_weight": Real(0, 100),
    "HealthConfig.green_at": Real(0, 100),
    "HealthConfig.yellow_at": Real(0, 100),
    "HealthConfig.action_plan_sla_seconds": Whole(1, TEN_YEARS_SECONDS),
    "HealthConfig.reminder_interval_seconds": Whole(1, TEN_YEARS_SECONDS),
    # Dates
    "renewal_date": RENEWAL,
    "next_renewal_date": RENEWAL,
    "closed_at": MOMENT,
    "opened_at": MOMENT,
    "reported_at": MOMENT,
    "observed_at": MOMENT,
    "at": MOMENT,
    # Lists of records
    "hand_offs": Items(100),
    # State carried by continue-as-new
    "carried": TRUSTED,
    "UsageFeedRun.resume": TRUSTED,
    "HealthSignal.more": Items(2),
}


def control_character(text: str, kept: frozenset[str] = frozenset()) -> str | None:
    """The first control character in ``text`` that is not one of ``kept`` (an escape
    sequence would act on the terminal of whoever reads it with the CLI), else None."""
    return next((c for c in text if unicodedata.category(c) == "Cc" and c not in kept), None)


def limit_of(owner: str, name: str) -> Limit | None:
    """The limit of field ``name`` of class ``owner``, or None if the table has none."""
    for key in (f"{owner}.{name}", f"{owner}.*", name):
        if key in LIMITS:
            return LIMITS[key]
    return None


def problems(value: object, now: datetime, skip: tuple[str, ...] = ()) -> list[str]:
    """Every way an input (a contract dataclass) breaks its bounds; empty when it is within.
    ``skip`` names top-level fields the caller's rules parse themselves."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return [f"input: expected a record of named fields (got {_shown(value)})"]
    return _fields_problems(value, now, "", skip)


def check(value: object, now: datetime, prefix: str = "", skip: tuple[str, ...] = ()) -> None:
    """Raise ``RuleViolation`` naming each field out of bounds (after ``prefix``)."""
    found = problems(value, now, skip)
    if found:
        raise RuleViolation(prefix + "; ".join(found))


def signal_problem(payload: object, expected: type, now: datetime) -> str | None:
    """Why a signal's payload must be dropped (None, the wrong type, out of bounds), or None."""
    if not isinstance(payload, expected):
        return f"expected a {expected.__name__}, got {_shown(payload)}"
    found = problems(payload, now)
    return "; ".join(found) if found else None


def _fields_problems(
    value: Any, now: datetime, prefix: str, skip: tuple[str, ...] = ()
) -> list[str]:
    owner = type(value).__name__
    hints = _hints(typing.cast(type, type(value)))
    found: list[str] = []
    for field in dataclasses.fields(value):
        if field.name in skip:
            continue
        limit = limit_of(owner, field.name)
        path = prefix + field.name
        found += _value_problems(hints[field.name], limit, getattr(value, field.name), now, path)
    return found


def _value_problems(
    hint: Any, limit: Limit | None, value: object, now: datetime, path: str
) -> list[str]:
    if isinstance(limit, Trusted):
        return []
    hint, optional = _without_none(hint)
    is_enum = isinstance(hint, type) and issubclass(hint, Enum)
    if value is None:
        choices = f"; one of {', '.join(str(item.value) for item in hint)}" if is_enum else ""
        return [] if optional else [f"{path}: missing{choices}"]
    if is_enum:
        # A start built in Python may carry the plain value (``"cloud"``): it equals the member.
        if isinstance(value, hint) or (
            isinstance(value, str) and value in {str(item.value) for item in hint}
        ):
            return []
        choices = ", ".join(str(item.value) for item in hint)
        return [f"{path}: one of {choices} (got {_shown(value)})"]
    if hint is bool:
        return [] if type(value) is bool else [f"{path}: true or false (got {_shown(value)})"]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            return [f"{path}: expected a {hint.__name__} (got {_shown(value)})"]
        return _fields_problems(value, now, path + ".")
    if limit is None:
        return [f"{path}: has no documented limit (a bug: add it to schemas/limits.py)"]
    if isinstance(limit, Items):
        if type(value) is not list:
            return [f"{path}: a list, {limit.rule()} (got {_shown(value)})"]
        if len(value) > limit.max_items:
            return [f"{path}: at most {limit.max_items} items (got {len(value)})"]
        (item_hint,) = typing.get_args(hint) or (Any,)
        found: list[str] = []
        for index, item in enumerate(value):
            found += _value_problems(item_hint, limit.each, item, now, f"{path}[{index}]")
        return found
    problem = limit.problem(value, now)
    return [f"{path}: {problem}"] if problem else []


def _without_none(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        return (args[0] if len(args) == 1 else hint), optional
    return hint, False


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def documented() -> Iterator[tuple[str, str]]:
    """``(rule, fields)`` for the README's table of field limits, in the table's order."""
    by_rule: dict[str, list[str]] = {}
    for key, limit in LIMITS.items():
        by_rule.setdefault(limit.rule(), []).append(key)
    for rule, keys in by_rule.items():
        yield rule, ", ".join(f"`{key}`" for key in keys)


def readme_table() -> str:
    rows = ["| limit | fields (`Class.field` overrides `field`) |", "|---|---|"]
    rows += [f"| {rule} | {fields} |" for rule, fields in documented()]
    return "\n".join(rows)
