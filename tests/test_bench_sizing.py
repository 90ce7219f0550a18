"""The full-scale bench's default size: the target's 1,000 accounts a side where the cores can
live them within 15 minutes, otherwise as many as they can, said so and judged MISSED."""

from __future__ import annotations

import argparse
from datetime import timedelta

import pytest

from bench.full_scale.run import budget_line, size_line
from bench.full_scale.sizing import (
    BUDGET,
    CPU_S_PER_ACCOUNT_YEAR,
    MIN_YEAR_MINUTES,
    SIDES,
    TARGET_ACCOUNTS,
    USABLE_SHARE,
    RunSize,
    cores_for_target,
    positive_float,
    positive_int,
    size_run,
    year_phase,
)

SPREAD = 30.0


def default_size(cpus: int, deals: int = 10_000, accounts: int | None = None) -> RunSize:
    """The run's size with the bench's defaults, ``accounts`` as asked (None: not asked)."""
    return size_run(
        accounts=accounts,
        year_minutes=None,
        spread_days=SPREAD,
        hand_off_deals=deals,
        daily_feed=True,
        cpus=cpus,
    )


def cpu_share(accounts: int, year_minutes: float, cpus: int) -> float:
    """The share of the cores a year of ``accounts`` a side keeps busy."""
    need = accounts * SIDES * CPU_S_PER_ACCOUNT_YEAR
    return need / (year_phase(year_minutes, SPREAD) * cpus)


def test_two_cores_run_what_fits_in_the_budget_and_say_the_target_size_does_not() -> None:
    size = default_size(2)
    assert 100 < size.accounts < TARGET_ACCOUNTS
    assert size.sized_down
    assert size.expected <= BUDGET
    assert cpu_share(size.accounts, size.year_minutes, 2) == pytest.approx(USABLE_SHARE, 0.02)
    said = size_line(size, asked=None)
    assert f"{size.accounts:,} accounts a side" in said
    assert "sized to the 15-minute budget" in said and "--accounts 1000" in said


def test_enough_cores_run_the_target_size_within_the_budget() -> None:
    size = default_size(16)
    assert size.accounts == TARGET_ACCOUNTS and not size.sized_down
    assert size.expected <= BUDGET
    assert cpu_share(size.accounts, size.year_minutes, 16) <= USABLE_SHARE
    assert "sized to" not in size_line(size, asked=None)


def test_accounts_asked_for_are_run_and_the_year_lasts_what_the_cores_need() -> None:
    size = default_size(2, accounts=TARGET_ACCOUNTS)
    assert size.accounts == TARGET_ACCOUNTS and not size.sized_down
    assert cpu_share(size.accounts, size.year_minutes, 2) == pytest.approx(USABLE_SHARE, 0.02)
    assert size.expected > 2 * BUDGET  # said before it starts
    minutes = size.expected.total_seconds() / 60
    assert f"about {minutes:.0f} minutes in all on this machine's 2 cores" in size_line(
        size, asked=TARGET_ACCOUNTS
    )


def test_a_quick_look_is_run_as_given_and_a_tiny_one_gets_the_shortest_year() -> None:
    given = size_run(
        accounts=20, year_minutes=3.0, spread_days=SPREAD, hand_off_deals=0, daily_feed=False
    )
    assert (given.accounts, given.year_minutes) == (20, 3.0)
    tiny = size_run(
        accounts=5, year_minutes=None, spread_days=SPREAD, hand_off_deals=0, daily_feed=False
    )
    assert tiny.year_minutes == MIN_YEAR_MINUTES


def test_a_year_given_alone_gets_the_accounts_that_keep_its_clock() -> None:
    size = size_run(
        accounts=None,
        year_minutes=4.0,
        spread_days=SPREAD,
        hand_off_deals=0,
        daily_feed=False,
        cpus=2,
    )
    assert size.year_minutes == 4.0 and size.sized_down
    assert cpu_share(size.accounts, 4.0, 2) <= USABLE_SHARE
    assert cpu_share(size.accounts + 1, 4.0, 2) > USABLE_SHARE * 0.99


def test_the_budget_target_is_judged_by_size_and_wall_time() -> None:
    small = default_size(2)
    line = budget_line(small, 880.0, cores_for_target(SPREAD, 10_000, True))
    assert line.endswith("  MISSED") and "cannot live 1,000 a side" in line
    full = default_size(16, accounts=TARGET_ACCOUNTS)
    assert budget_line(full, 14 * 60.0, 9).endswith("  MET")
    assert budget_line(full, 16 * 60.0, 9).endswith("  MISSED")


def test_cores_for_the_target_are_the_fewest_that_fit_it() -> None:
    needed = cores_for_target(SPREAD, 10_000, True)
    assert default_size(needed).accounts == TARGET_ACCOUNTS
    assert default_size(needed - 1).accounts < TARGET_ACCOUNTS


@pytest.mark.parametrize("text", ["0", "-3", "x"])
def test_counts_must_be_whole_numbers_of_at_least_one(text: str) -> None:
    with pytest.raises((argparse.ArgumentTypeError, ValueError)):
        positive_int(text)


@pytest.mark.parametrize("text", ["0", "-1.5", "nan", "inf"])
def test_minutes_must_be_above_zero(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        positive_float(text)


def test_the_phase_grows_with_the_spread_of_starts() -> None:
    assert year_phase(10.0, 0.0) == timedelta(minutes=10).total_seconds()
    assert year_phase(10.0, 36.5) == pytest.approx(660.0)
