"""The usage feed's coalescing, without a server: which accounts are sent readings (first,
colour change, stale), what one signal carries, and how a signal carrying several readings is
judged once by the health rules; its settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from dealcycle.settings import Settings, SettingsError
from dealcycle.usage_feed_settings import USAGE_FEED_DEFAULT_QUERY
from schemas.common import CustomerHealth
from schemas.health import HealthConfig, HealthSignal, HealthState, Reading
from schemas.usage_feed import AccountUsage, FeedMark
from workflows import health_rules
from workflows.usage_feed_rules import plan_account, plan_page

CONFIG = HealthConfig()
GREEN_DAY = {"usage": 85.0, "adoption": 80.0, "sentiment": 75.0}


def usage(day: str, readings: dict[str, float], mark: FeedMark | None) -> AccountUsage:
    return AccountUsage("001A", day, readings, mark)


def sent(day: str, readings: dict[str, float], signals: int = 1) -> FeedMark:
    return FeedMark("001A", day, readings, day, signals)


def test_an_account_never_sent_readings_gets_all_of_them_in_one_signal() -> None:
    send, mark = plan_account(usage("2027-03-01", GREEN_DAY, None), CONFIG, 7)

    assert send is not None and send.reason == "first"
    assert send.signal == HealthSignal(
        "usage",
        85.0,
        "usage feed",
        datetime(2027, 3, 1, tzinfo=UTC),
        [Reading("adoption", 80.0), Reading("sentiment", 75.0)],
    )
    assert mark == FeedMark("001A", "2027-03-01", GREEN_DAY, "2027-03-01", 1)


def test_readings_that_keep_the_colour_are_not_sent_until_they_are_stale() -> None:
    drifted = {"usage": 83.0, "adoption": 79.0, "sentiment": 75.0}
    last = sent("2027-03-01", GREEN_DAY)

    quiet, quiet_mark = plan_account(usage("2027-03-07", drifted, last), CONFIG, 7)
    stale, stale_mark = plan_account(usage("2027-03-08", drifted, last), CONFIG, 7)

    assert quiet is None
    assert quiet_mark == FeedMark("001A", "2027-03-07", GREEN_DAY, "2027-03-01", 1)
    assert stale is not None and stale.reason == "stale"
    # All the latest readings, in one signal.
    assert (stale.signal.input, stale.signal.value, stale.signal.more) == (
        "usage",
        83.0,
        [Reading("adoption", 79.0), Reading("sentiment", 75.0)],
    )
    assert stale_mark == FeedMark("001A", "2027-03-08", drifted, "2027-03-08", 2)


def test_a_colour_change_is_sent_the_next_day() -> None:
    yellow = {"usage": 60.0, "adoption": 55.0}
    send, mark = plan_account(usage("2027-03-02", yellow, sent("2027-03-01", GREEN_DAY)), CONFIG, 7)

    assert send is not None and send.reason == "colour"
    assert mark.readings == {**GREEN_DAY, **yellow}


def test_stale_readings_are_sent_even_unmoved_so_a_restarted_account_gets_them_back() -> None:
    send, mark = plan_account(
        usage("2027-03-20", GREEN_DAY, sent("2027-03-01", GREEN_DAY)), CONFIG, 7
    )

    assert send is not None and send.reason == "stale"
    assert mark == FeedMark("001A", "2027-03-20", GREEN_DAY, "2027-03-20", 2)


def test_a_day_without_any_reading_sends_nothing_and_moves_the_mark_on() -> None:
    send, mark = plan_account(usage("2027-03-01", {}, None), CONFIG, 7)

    assert send is None
    assert mark == FeedMark("001A", "2027-03-01")


def test_a_page_sends_only_the_accounts_that_need_readings() -> None:
    accounts = [
        AccountUsage("001NEW", "2027-03-02", GREEN_DAY, None),
        AccountUsage(
            "001SAME",
            "2027-03-02",
            GREEN_DAY,
            FeedMark("001SAME", "2027-03-01", GREEN_DAY, "2027-03-01", 1),
        ),
        AccountUsage(
            "001RED",
            "2027-03-02",
            {"usage": 10.0, "adoption": 10.0, "sentiment": 10.0},
            FeedMark("001RED", "2027-03-01", GREEN_DAY, "2027-03-01", 1),
        ),
    ]
    plan = plan_page(accounts, CONFIG, 7)

    assert [(send.account_id, send.reason) for send in plan.sends] == [
        ("001NEW", "first"),
        ("001RED", "colour"),
    ]
    assert [mark.account_id for mark in plan.marks] == ["001NEW", "001SAME", "001RED"]
    assert (plan.colour_changes, plan.stale_refreshes) == (1, 0)


def test_one_signal_carrying_a_day_is_judged_once_on_all_of_it() -> None:
    """Usage falling and sentiment rising the same day keep a green account green: one at a
    time, the usage reading alone would have turned it yellow, and the next green again."""
    day_before = HealthSignal("usage", 85.0, more=[Reading("sentiment", 60.0)])
    at = datetime(2027, 3, 2, tzinfo=UTC)
    together, one_at_a_time = HealthState(account_id="001A"), HealthState(account_id="001A")
    for h in (together, one_at_a_time):
        assert health_rules.apply_signal(h, day_before, CONFIG, at) is None  # green baseline

    day = HealthSignal("usage", 70.0, "usage feed", more=[Reading("sentiment", 75.0)])

    assert health_rules.apply_signal(together, day, CONFIG, at) is None
    assert together.readings == {"usage": 70.0, "sentiment": 75.0}
    assert together.reading_sources == {"usage": "usage feed", "sentiment": "usage feed"}
    assert together.colour is CustomerHealth.GREEN and together.changes == 0
    usage_alone = HealthSignal("usage", 70.0)
    assert health_rules.apply_signal(one_at_a_time, usage_alone, CONFIG, at) is (
        CustomerHealth.YELLOW
    )


@pytest.mark.parametrize(
    ("more", "problem"),
    [
        ([Reading("mood", 50.0)], "unknown health input 'mood'"),
        ([Reading("adoption", 101.0)], "health reading 101.0 is outside 0 to 100"),
        ([Reading("usage", 50.0)], "one reading per input"),
    ],
)
def test_the_readings_a_signal_carries_are_checked_like_its_own(
    more: list[Reading], problem: str
) -> None:
    assert problem in (health_rules.check_signal(HealthSignal("usage", 50.0, more=more)) or "")


def test_settings_read_the_feed_from_the_environment(tmp_path: Path) -> None:
    query_file = tmp_path / "feed.sql"
    query_file.write_text("SELECT * FROM health WHERE day >= :since;\n", encoding="utf-8")

    feed = Settings.from_env(
        {
            "DEALCYCLE_USAGE_FEED_URL": "postgresql://reader:secret@warehouse/analytics",
            "DEALCYCLE_USAGE_FEED_QUERY_FILE": str(query_file),
            "DEALCYCLE_USAGE_FEED_INTERVAL": "12h",
            "DEALCYCLE_USAGE_FEED_STALENESS": "14d",
        }
    ).usage_feed

    assert feed.configured and "secret" not in repr(feed)
    assert feed.query == "SELECT * FROM health WHERE day >= :since"
    assert (feed.interval_seconds, feed.staleness_days, feed.lookback_days) == (43_200, 14, 7)
    assert Settings.from_env({}).usage_feed.query == USAGE_FEED_DEFAULT_QUERY


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEALCYCLE_USAGE_FEED_STALENESS": "36h"}, "whole days from 1d to 365d"),
        ({"DEALCYCLE_USAGE_FEED_PAGE_SIZE": "0"}, "from 1 to 10000"),
        (
            {"DEALCYCLE_USAGE_FEED_QUERY": "SELECT 1", "DEALCYCLE_USAGE_FEED_QUERY_FILE": "f"},
            "not both",
        ),
        ({"DEALCYCLE_USAGE_FEED_QUERY_FILE": "/nonexistent/feed.sql"}, "cannot be read"),
    ],
)
def test_bad_feed_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)
