"""How large a full-scale run this machine can finish inside the bench's time budget.

Issue 14 asks for 1,000 accounts a side within 15 minutes. What a side by side account-year
costs is known (60 accounts a side, December 2026: about 0.85 CPU-s of worker and 1.0 CPU-s of
dev server per side, plus the driver's share), so the default run is sized before it starts:
the target's 1,000 accounts where the cores allow it within the budget, otherwise as many as
they allow, said so up front and judged by a TARGET line at the end. A run sized past what
the cores can give does not measure dealcycle: its workers fall behind the compressed clock,
updates come late, steps fall overdue, and the year is more work than calibrated.

``--accounts`` and ``--year-minutes`` given by hand are run as given (the year sized to the
cores when only ``--accounts`` is).
"""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from datetime import timedelta

TARGET_ACCOUNTS = 1_000
"""Issue 14's size, a side."""
BUDGET = timedelta(minutes=15)
"""Issue 14's time for the whole default run."""
CPU_S_PER_ACCOUNT_YEAR = 2.0
"""One account-year on one side: worker, dev server and the driver's share (measured)."""
SIDES = 2
USABLE_SHARE = 0.45
"""Of the cores, what a compressed year may plan on, on average: its calendar comes in bursts,
and the renewal season (the window's steps, the outcome, continue-as-new) does about twice a
year's average work. Planned at 0.75, 223 accounts a side on 2 cores fell a fortnight behind
the clock there (52 updates came before their step had opened), and the late steps made more
work than calibrated; a side behind the clock measures its lag, not dealcycle."""
MIN_YEAR_MINUTES = 3.0
"""Below this, starts and checkpoints crowd into a few seconds: the lag measures the burst."""
FIXED_SECONDS = 45.0
"""Calibration, servers and workers started, the idle sample, histories read, the drain."""
DAILY_FEED_SECONDS = 30.0
HAND_OFF_SECONDS_PER_DEAL = 0.012
"""``bench.deal_hand_off`` with its own dev server: 10,000 deals in 82 s here (December 2026)."""
MIN_ACCOUNTS = 10


@dataclass(frozen=True)
class RunSize:
    accounts: int
    year_minutes: float
    cores: int
    expected: timedelta
    """The whole run, as estimated before it starts."""
    sized_down: bool
    """True when the cores could not give ``TARGET_ACCOUNTS`` within ``BUDGET``."""


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def year_phase(year_minutes: float, spread_days: float) -> float:
    """Seconds from the first start to the last account's year end."""
    return year_minutes * 60.0 * (1.0 + spread_days / 365.0)


def year_minutes_for(accounts: int, cpus: int, spread_days: float) -> float:
    """The shortest year ``accounts`` a side can live on ``cpus`` cores and keep the clock."""
    seconds = accounts * SIDES * CPU_S_PER_ACCOUNT_YEAR / (cpus * USABLE_SHARE)
    return max(MIN_YEAR_MINUTES, seconds / 60.0 / (1.0 + spread_days / 365.0))


def overhead_seconds(hand_off_deals: int, daily_feed: bool) -> float:
    return (
        FIXED_SECONDS
        + (DAILY_FEED_SECONDS if daily_feed else 0.0)
        + hand_off_deals * HAND_OFF_SECONDS_PER_DEAL
    )


def size_run(
    *,
    accounts: int | None,
    year_minutes: float | None,
    spread_days: float,
    hand_off_deals: int,
    daily_feed: bool,
    cpus: int | None = None,
    budget: timedelta = BUDGET,
) -> RunSize:
    """The run's size: what was asked, and what was not, fitted to ``cpus`` and ``budget``."""
    cpus = cpus or cores()
    overhead = overhead_seconds(hand_off_deals, daily_feed)
    sized_down = False
    if accounts is None:
        phase = (
            max(0.0, budget.total_seconds() - overhead)
            if year_minutes is None
            else year_phase(year_minutes, spread_days)
        )
        fits = int(phase * cpus * USABLE_SHARE / (SIDES * CPU_S_PER_ACCOUNT_YEAR))
        accounts = max(MIN_ACCOUNTS, min(TARGET_ACCOUNTS, fits))
        sized_down = accounts < TARGET_ACCOUNTS
    if year_minutes is None:
        year_minutes = year_minutes_for(accounts, cpus, spread_days)
    expected = year_phase(year_minutes, spread_days) + overhead
    return RunSize(accounts, year_minutes, cpus, timedelta(seconds=math.ceil(expected)), sized_down)


def cores_for_target(spread_days: float, hand_off_deals: int, daily_feed: bool) -> int:
    """The fewest cores on which ``TARGET_ACCOUNTS`` a side fit in ``BUDGET``."""
    phase = BUDGET.total_seconds() - overhead_seconds(hand_off_deals, daily_feed)
    if phase <= 0:
        return 0
    return math.ceil(TARGET_ACCOUNTS * SIDES * CPU_S_PER_ACCOUNT_YEAR / (phase * USABLE_SHARE))


def positive_int(text: str) -> int:
    """``argparse`` type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text: str) -> float:
    """``argparse`` type: a number above 0."""
    value = float(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text}")
    return value
