"""The usage feed on the time-skipping test server: a year of daily analytics rows (PostgreSQL)
turns the declining account red from its rows alone while the stable one stays green, a
repeated run sends nothing, and a daily feed over a simulated year costs an account few
signals and history events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError

from dealcycle.db.engine import make_engine
from dealcycle.devtools.postgres import create_database, drop_database
from dealcycle.usage_feed_settings import UsageFeedSettings
from schemas.health import HealthView
from schemas.usage_feed import UsageFeedResult, UsageFeedRun
from starter.usage_feed import usage_feed_schedule
from tests.support.accounts import DAY, settle, start_account
from workflows.account import AccountWorkflow
from workflows.usage_feed import UsageFeedWorkflow

STABLE, DECLINING, NOBODY = "001STABLE", "001DECLINE", "001NOBODY"
Row = tuple[str, str, float | None, float | None, float | None]


def stable_day(account: str, day: date, n: int) -> Row:
    """Green all year, a point or two of noise a day (score about 81)."""
    return (account, day.isoformat(), 84.0 + n % 5 - 2, 80.0 + n % 3 - 1, 76.0 + n % 2)


def declining_day(account: str, day: date, n: int, of: int) -> Row:
    """Green for most of the year, then usage, adoption and sentiment slide to about 20."""
    slide = max(0, n - (of - 60)) / 60
    return (account, day.isoformat(), 85 - 67 * slide, 80 - 60 * slide, 75 - 50 * slide)


def seed(engine: Engine, rows: list[Row]) -> None:
    day_type = "DATE" if engine.dialect.name == "postgresql" else "TEXT"
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS account_health_daily (account_id TEXT, day"
                f" {day_type}, usage REAL, adoption REAL, sentiment REAL)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO account_health_daily VALUES"
                " (:account_id, :day, :usage, :adoption, :sentiment)"
            ),
            [
                {
                    "account_id": a,
                    "day": d if day_type == "TEXT" else date.fromisoformat(d),
                    "usage": u,
                    "adoption": ad,
                    "sentiment": s,
                }
                for a, d, u, ad, s in rows
            ],
        )


def year_of_rows(last_day: date, days: int = 365) -> list[Row]:
    first = last_day - timedelta(days=days - 1)
    rows: list[Row] = []
    for n in range(days):
        day = first + timedelta(days=n)
        rows.append(stable_day(STABLE, day, n))
        rows.append(declining_day(DECLINING, day, n, days))
        rows.append(stable_day(NOBODY, day, n))
    return rows


@pytest.fixture
def analytics_postgres(postgres_url: str) -> Iterator[str]:
    name = f"t_analytics_{uuid.uuid4().hex[:8]}"
    url = create_database(postgres_url, name)
    try:
        yield url
    finally:
        drop_database(postgres_url, name)


async def run_as_scheduled(harness: Any, name: str, *, hold_clock: bool = False) -> UsageFeedResult:
    """One run of the feed, with the input the schedule starts it with; ``hold_clock``: the
    test server's clock stays on the run's day (awaiting a result lets it skip ahead to the
    next timer of any workflow), at the cost of retries' backoff taking real time."""
    action = usage_feed_schedule(harness.settings).action
    [run] = action.args  # type: ignore[union-attr]
    assert isinstance(run, UsageFeedRun)
    handle = await harness.client.start_workflow(
        UsageFeedWorkflow.run, run, id=f"usage-feed-{name}", task_queue=harness.task_queue
    )
    harness.track(handle)
    if not hold_clock:
        result: UsageFeedResult = await handle.result()
        return result
    with harness.env.auto_time_skipping_disabled():
        held: UsageFeedResult = await handle.result()
    return held


async def health(account: Any) -> HealthView:
    view: HealthView = await account.query(AccountWorkflow.health)
    return view


async def test_the_declining_account_turns_red_from_its_rows_alone_and_a_rerun_sends_nothing(
    harness_factory: Any, salesforce_fake: Any, analytics_postgres: str
) -> None:
    feed = UsageFeedSettings(url=analytics_postgres, page_size=2)
    async with harness_factory(usage_feed=feed) as harness:
        accounts = {
            account_id: await start_account(
                harness.client,
                harness.env,
                harness.task_queue,
                harness.settings,
                salesforce_fake,
                account_id,
                timedelta(days=300),
                track=harness.track,
            )
            for account_id in (STABLE, DECLINING)
        }
        today = (await harness.env.get_current_time()).date()
        engine = make_engine(analytics_postgres)
        seed(engine, year_of_rows(today - timedelta(days=1)))
        # Out of bounds: a reading of 140, an id that is no Salesforce id. Dropped, counted.
        yesterday = (today - timedelta(days=1)).isoformat()
        seed(engine, [("001BROKEN", yesterday, 140, 50, 50), ("not an id!", yesterday, 1, 1, 1)])
        # Rows of tomorrow are not read today.
        seed(engine, [(STABLE, (today + timedelta(days=1)).isoformat(), 5, 5, 5)])
        engine.dispose()

        # The clock is held: an account's next timer is hours away, and a skip to it late in
        # the day would move the second run's window a day on.
        first = await run_as_scheduled(harness, "first", hold_clock=True)

        for account in accounts.values():
            await settle(account)
        declining, stable = await health(accounts[DECLINING]), await health(accounts[STABLE])
        assert declining.colour == "red" and declining.open_case is not None
        assert declining.reading_sources == {
            "usage": "usage feed",
            "adoption": "usage feed",
            "sentiment": "usage feed",
        }
        assert stable.colour == "green" and stable.open_case is None
        _, _, *latest = stable_day(STABLE, today - DAY, 364)  # yesterday's, not tomorrow's
        assert stable.readings == dict(zip(("usage", "adoption", "sentiment"), latest, strict=True))
        case = harness.client.get_workflow_handle(declining.open_case)
        harness.track(case)
        assert (await case.describe()).workflow_type == "RedAccountWorkflow"
        assert (first.accounts_signalled, first.unknown_accounts) == (2, 1)
        assert first.rows_out_of_bounds == 2 and first.pages >= 2

        again = await run_as_scheduled(harness, "again", hold_clock=True)
        assert again.until == first.until == today.isoformat()

        # Only the unknown account is still new (it keeps no mark until it exists).
        assert (again.accounts_with_new_rows, again.unknown_accounts) == (1, 1)
        assert again.accounts_signalled == 0
        assert again.rows_read == first.rows_read
        assert (await health(accounts[DECLINING])).open_case == declining.open_case


async def test_an_unreadable_warehouse_fails_the_run_and_the_next_run_carries_on(
    harness_factory: Any, salesforce_fake: Any, tmp_path: Path
) -> None:
    analytics = f"sqlite:///{tmp_path / 'analytics.db'}"  # no table yet: every read fails
    async with harness_factory(usage_feed=UsageFeedSettings(url=analytics)) as harness:
        account = await start_account(
            harness.client,
            harness.env,
            harness.task_queue,
            harness.settings,
            salesforce_fake,
            STABLE,
            timedelta(days=300),
            track=harness.track,
        )
        with pytest.raises(WorkflowFailureError):
            await run_as_scheduled(harness, "down")

        today = (await harness.env.get_current_time()).date()
        engine = make_engine(analytics)
        seed(engine, [stable_day(STABLE, today - timedelta(days=1), 0)])
        engine.dispose()
        result = await run_as_scheduled(harness, "up", hold_clock=True)  # today stays today

        assert result.accounts_signalled == 1
        await settle(account)
        assert (await health(account)).readings == {
            "usage": 82.0,
            "adoption": 79.0,
            "sentiment": 76.0,
        }


def health_signals(history: Any) -> int:
    return sum(
        event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and event.workflow_execution_signaled_event_attributes.signal_name == "health_signal"
        for event in history.events
    )


async def test_a_daily_feed_for_a_year_sends_a_stable_account_few_signals(
    harness_factory: Any, salesforce_fake: Any, tmp_path: Path
) -> None:
    analytics = f"sqlite:///{tmp_path / 'analytics.db'}"  # SQLite serves as well (make run)
    async with harness_factory(usage_feed=UsageFeedSettings(url=analytics)) as harness:
        start = (await harness.env.get_current_time()).date()
        engine = make_engine(analytics)
        seed(engine, [stable_day(STABLE, start + timedelta(days=n), n) for n in range(-1, 366)])
        seed(
            engine,
            [declining_day(DECLINING, start + timedelta(days=n), n, 365) for n in range(-1, 366)],
        )
        engine.dispose()
        fed, unfed, declining = [
            await start_account(
                harness.client,
                harness.env,
                harness.task_queue,
                harness.settings,
                salesforce_fake,
                account_id,
                timedelta(days=400),
                track=harness.track,
                history_limit=8_000,
            )
            for account_id in (STABLE, "001UNFED", DECLINING)
        ]
        for day in range(365):
            await run_as_scheduled(harness, f"day-{day}", hold_clock=True)
            await harness.env.sleep(DAY)
        for account in (fed, unfed, declining):
            await settle(account)
        fed_history, unfed_history = await fed.fetch_history(), await unfed.fetch_history()
        sends = health_signals(fed_history)
        declining_sends = health_signals(await declining.fetch_history())
        added = len(fed_history.events) - len(unfed_history.events)

        print(
            f"a year of the daily feed: {sends} signals to the stable account, {declining_sends}"
            f" to the declining one; stable account: {len(fed_history.events)} events,"
            f" {len(unfed_history.events)} without the feed"
        )
        # The first day, then every 7 days (staleness): 53; a colour change adds one.
        assert 50 <= sends <= 60 and declining_sends <= 60
        # A send is one signal and one workflow task (4 events; 212 a year), now and then one
        # more task when the signal lands while the account's own task is under way.
        assert added <= 5 * sends
        assert len(fed_history.events) < 1_000
        view = await health(declining)
        assert view.colour == "red" and view.open_case is not None
        assert [change.colour.value for change in view.history] == ["yellow", "red"]
        assert (await health(fed)).colour == "green"
