"""The calendar the account's rules count in: days, months and quarters.

Quarters are calendar quarters in UTC; "day N of the quarter" counts from 1."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from schemas import limits
from schemas.account import AccountSnapshot
from schemas.errors import RuleViolation

_QUARTER = re.compile(r"([1-9]\d{3})-Q([1-4])")  # year 0 has no calendar


def midnight(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def quarter_of(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def parse_quarter(label: str) -> tuple[int, int]:
    match = _QUARTER.fullmatch(label)
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


def tier_in(s: AccountSnapshot, quarter: str) -> int:
    """The account's tier in ``quarter``: a tier change due by then applies."""
    if s.next_tier is not None and s.next_tier_from is not None:
        if parse_quarter(s.next_tier_from) <= parse_quarter(quarter):
            return s.next_tier
    return s.profile.tier


def plan_due_at(quarter: str, tier: int, s: AccountSnapshot) -> datetime:
    """Tier 1: before the internal QBR; Tiers 2 and 3: at the beginning of the quarter."""
    d = s.config.durations
    if tier == 1:
        return day_of_quarter(quarter, d.internal_qbr_day_of_quarter)
    return day_of_quarter(quarter, d.tier_2_3_plan_due_day_of_quarter)
