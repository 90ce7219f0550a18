"""History events the daily usage feed adds to an account-year (issue 14: at most 1,000 events
per account-year, also with a daily health feed).

Two established accounts live one year on the Java time-skipping test server, alike but for the
feed: the real ``UsageFeedWorkflow`` runs once a day, as its schedule starts it, reading a
SQLite warehouse where one account has a row a day (green, a point or two of noise), the other
none. The feed coalesces: it signals an account only when its readings would change its colour,
or when the last signal is older than the staleness (7 days). What the feed adds is the
difference of the two histories; ``bench.full_scale`` adds it to its measured account-year.

    python -m bench.daily_feed_events
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text
from temporalio.api.enums.v1 import EventType
from temporalio.client import ScheduleActionStartWorkflow, WorkflowHistory

from bench.account_years import fakes_and_settings
from bench.common import heading, run_main, time_skipping_env
from dealcycle.db.engine import make_engine
from dealcycle.logging import configure_logging
from dealcycle.usage_feed_settings import UsageFeedSettings
from schemas.account import LifecycleStage
from schemas.health import HEALTH_SIGNAL
from schemas.usage_feed import UsageFeedRun
from starter.usage_feed import usage_feed_schedule
from tests.support.accounts import run_histories, start_account
from tests.support.patience import settle
from worker import WORKFLOWS, build_activities, build_worker
from workflows.usage_feed import UsageFeedWorkflow

DAYS = 365
FED, UNFED = "001FEDDAILY", "001NOTFED"


@dataclass(frozen=True)
class FeedYear:
    signals: int
    """Health signals the feed sent the fed account in the year."""
    fed_events: int
    unfed_events: int

    @property
    def added(self) -> int:
        """History events the feed added to the account's year."""
        return self.fed_events - self.unfed_events


def _seed(url: str, first: date) -> None:
    """A row a day for the fed account: green, a point or two of noise (score about 81)."""
    rows = [
        {
            "account_id": FED,
            "day": (first + timedelta(days=n)).isoformat(),
            "usage": 84.0 + n % 5 - 2,
            "adoption": 80.0 + n % 3 - 1,
            "sentiment": 76.0 + n % 2,
        }
        for n in range(-1, DAYS + 1)
    ]
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "CREATE TABLE account_health_daily (account_id TEXT, day TEXT, usage REAL,"
                    " adoption REAL, sentiment REAL)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO account_health_daily VALUES"
                    " (:account_id, :day, :usage, :adoption, :sentiment)"
                ),
                rows,
            )
    finally:
        engine.dispose()


def _events(histories: list[WorkflowHistory]) -> int:
    return sum(len(history.events) for history in histories)


def _signals(histories: list[WorkflowHistory]) -> int:
    return sum(
        event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        and event.workflow_execution_signaled_event_attributes.signal_name == HEALTH_SIGNAL
        for history in histories
        for event in history.events
    )


async def feed_year() -> FeedYear:
    """Live the year (a minute or so) and count."""
    with (
        tempfile.TemporaryDirectory(prefix="dealcycle-bench-feed-") as tmp,
        fakes_and_settings(Path(tmp)) as (salesforce, _, base),
    ):
        analytics = f"sqlite:///{Path(tmp) / 'analytics.db'}"
        settings = replace(base, usage_feed=UsageFeedSettings(url=analytics))
        async with time_skipping_env() as env:
            activities = build_activities(settings)
            async with build_worker(env.client, settings, activities, workflows=WORKFLOWS):
                _seed(analytics, (await env.get_current_time()).date())
                accounts = [
                    await start_account(
                        env.client,
                        env,
                        settings.task_queue,
                        settings,
                        salesforce,
                        account_id,
                        timedelta(days=DAYS + 35),
                        stage=LifecycleStage.ADOPTION,
                        history_limit=8_000,
                    )
                    for account_id in (FED, UNFED)
                ]
                action = usage_feed_schedule(settings).action
                assert isinstance(action, ScheduleActionStartWorkflow)
                [run] = action.args
                assert isinstance(run, UsageFeedRun)
                for day in range(DAYS):
                    feed = await env.client.start_workflow(
                        UsageFeedWorkflow.run,
                        run,
                        id=f"usage-feed-day-{day}",
                        task_queue=settings.task_queue,
                    )
                    # The clock stays on the run's day while it reads and signals.
                    with env.auto_time_skipping_disabled():
                        await feed.result()
                    await env.sleep(timedelta(days=1))
                for account in accounts:
                    await settle(account)
                fed, unfed = [await run_histories(a, env.client) for a in accounts]
                for account in accounts:
                    await account.terminate("feed year measured")
    return FeedYear(_signals(fed), _events(fed), _events(unfed))


def report(year: FeedYear) -> str:
    return (
        f"   FIGURE daily usage feed: {year.added} history events a year added to an account"
        f" ({year.signals} health signals after coalescing, {DAYS} daily runs;"
        f" {year.fed_events} events fed, {year.unfed_events} not)"
    )


async def main_async() -> None:
    heading("History events the daily usage feed adds to an account-year, time-skipping server")
    # The activities log each call at debug: the figure is what this prints.
    configure_logging("json", "warning", sys.stderr)
    print(report(await feed_year()))


def main() -> None:
    run_main(main_async())


if __name__ == "__main__":
    main()
