"""The usage feed: its Temporal Schedule, a run now, and what it last did per account.

dealcycle usage-feed schedule   # create or update the schedule (make run does)
dealcycle usage-feed run-now    # one run now, its counts printed
dealcycle usage-feed status     # the schedule, its recent runs, the accounts' marks
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    WorkflowFailureError,
)
from temporalio.service import RPCError, RPCStatusCode

from dealcycle.settings import Settings
from schemas import start_summaries
from schemas.usage_feed import (
    USAGE_FEED_SCHEDULE_ID,
    UsageFeedResult,
    UsageFeedRun,
)
from starter.digest import _with_client
from starter.errors import CommandError
from starter.schedules import ensure_schedule
from workflows.usage_feed import UsageFeedWorkflow

if TYPE_CHECKING:
    from dealcycle.db.models import UsageFeedMark

SettingsFactory = Callable[[], Settings]
MARKS_SHOWN = 20


def usage_feed_run(settings: Settings) -> UsageFeedRun:
    feed = settings.usage_feed
    return UsageFeedRun(
        staleness_days=feed.staleness_days,
        lookback_days=feed.lookback_days,
        page_size=feed.page_size,
        attempt_timeout_seconds=feed.attempt_timeout_seconds,
        health=settings.health,
    )


def usage_feed_schedule(settings: Settings) -> Schedule:
    shown = start_summaries.usage_feed(
        f"every {timedelta(seconds=settings.usage_feed.interval_seconds)}"
    )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            UsageFeedWorkflow.run,
            usage_feed_run(settings),
            id=f"{USAGE_FEED_SCHEDULE_ID}-run",
            task_queue=settings.task_queue,
            static_summary=shown.summary,
            static_details=shown.details,
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(seconds=settings.usage_feed.interval_seconds))
            ]
        ),
        # A run still reading when the next is due: skip, the marks make the next one whole.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_usage_feed_schedule(client: Client, settings: Settings) -> str:
    every = timedelta(seconds=settings.usage_feed.interval_seconds)
    where = "" if settings.usage_feed.configured else " (DEALCYCLE_USAGE_FEED_URL is not set yet)"
    return await ensure_schedule(
        client,
        USAGE_FEED_SCHEDULE_ID,
        usage_feed_schedule(settings),
        f"the usage feed every {every}{where}",
    )


async def run_usage_feed_once(client: Client, settings: Settings) -> UsageFeedResult:
    result: UsageFeedResult = await client.execute_workflow(
        UsageFeedWorkflow.run,
        usage_feed_run(settings),
        id=f"{USAGE_FEED_SCHEDULE_ID}-manual-{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
        task_queue=settings.task_queue,
        static_summary=start_summaries.usage_feed("once, by hand").summary,
    )
    return result


def render_usage_feed_result(result: UsageFeedResult) -> str:
    return "\n".join(
        [
            f"usage feed, days before {result.until}: {result.accounts_read} accounts read"
            f" ({result.accounts_with_new_rows} with new rows) in {result.pages} page(s),"
            f" {result.rows_read} rows",
            f"  {result.accounts_signalled} accounts sent their readings (a signal each):"
            f" {result.colour_changes} for a colour change, {result.stale_refreshes} stale",
            f"  {result.rows_out_of_bounds} rows dropped (out of bounds: see the worker's log),"
            f" {result.unknown_accounts} accounts unknown (no running account workflow)",
        ]
    )


def render_marks(marks: list[UsageFeedMark], total: int) -> str:
    if not marks:
        return "No account has been read by the usage feed yet."
    lines = [f"Accounts read by the usage feed ({total}; latest {len(marks)}):"]
    for mark in marks:
        readings = ", ".join(f"{name} {value:g}" for name, value in sorted(mark.readings.items()))
        lines.append(
            f"  {mark.account_id:<20} read to {mark.last_day}"
            f"  last sent {mark.signalled_day or 'never'}: {readings or 'no readings'}"
            f"  ({mark.signals} signals in all)"
        )
    return "\n".join(lines)


def stored_marks(database_url: str, limit: int = MARKS_SHOWN) -> tuple[list[UsageFeedMark], int]:
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from dealcycle.db.engine import make_engine
    from dealcycle.db.migrate import upgrade_to_head
    from dealcycle.db.models import UsageFeedMark

    try:
        upgrade_to_head(database_url)
        engine = make_engine(database_url)
        with Session(engine) as session:
            total = session.scalar(select(func.count()).select_from(UsageFeedMark)) or 0
            marks = list(
                session.scalars(
                    select(UsageFeedMark).order_by(UsageFeedMark.updated_at.desc()).limit(limit)
                )
            )
        engine.dispose()
    except SQLAlchemyError as err:
        raise CommandError(f"the database at DATABASE_URL cannot be reached: {err}") from None
    return marks, total


def analytics_line(settings: Settings) -> str:
    """Which analytics database the feed reads. The runs read the worker's setting, not this
    command's: with it unset here, `make run`'s worker reads the demo database it made (a bare
    "not set" beside a run that read accounts), and any other worker's runs fail."""
    if settings.usage_feed.configured:
        return "  analytics database: set (DEALCYCLE_USAGE_FEED_URL)"
    unset = "  analytics database: not set (DEALCYCLE_USAGE_FEED_URL)"
    demo = demo_analytics_path(settings)
    if demo.exists():
        return (
            f"{unset}; `make run`'s worker reads its demo analytics at {demo},"
            " any other worker's runs fail saying so"
        )
    return f"{unset}: each run fails at once saying so"


async def schedule_status(client: Client, settings: Settings) -> str:
    handle = client.get_schedule_handle(USAGE_FEED_SCHEDULE_ID)
    try:
        described = await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return "No usage feed schedule: `dealcycle usage-feed schedule` creates it."
        raise
    lines = [
        f"Schedule {USAGE_FEED_SCHEDULE_ID}:"
        f" {'paused' if described.schedule.state.paused else 'running'},"
        f" every {timedelta(seconds=settings.usage_feed.interval_seconds)}",
        analytics_line(settings),
    ]
    for action in described.info.recent_actions[-5:]:
        run = getattr(action.action, "workflow_id", "")
        lines.append(f"  ran {action.started_at:%Y-%m-%d %H:%M} UTC: {run}")
    for upcoming in described.info.next_action_times[:1]:
        lines.append(f"  next {upcoming:%Y-%m-%d %H:%M} UTC")
    return "\n".join(lines)


# --- CLI ---------------------------------------------------------------------------------------


def add_usage_feed_commands(
    commands: argparse._SubParsersAction[Any], settings_factory: SettingsFactory
) -> None:
    feed = commands.add_parser(
        "usage-feed", help="health readings from the analytics database: schedule, run, status"
    ).add_subparsers(dest="usage_feed_command", required=True, metavar="ACTION")
    schedule = feed.add_parser(
        "schedule", help="create or update the schedule (DEALCYCLE_USAGE_FEED_INTERVAL)"
    )
    schedule.set_defaults(func=partial(_schedule, settings_factory))
    run = feed.add_parser("run-now", help="read the analytics database now and send readings")
    run.set_defaults(func=partial(_run_now, settings_factory))
    status = feed.add_parser("status", help="the schedule and the latest accounts read")
    status.set_defaults(func=partial(_status, settings_factory))


def _schedule(settings_factory: SettingsFactory, _args: argparse.Namespace) -> int:
    print(_with_client(settings_factory, ensure_usage_feed_schedule))
    return 0


def _run_now(settings_factory: SettingsFactory, _args: argparse.Namespace) -> int:
    try:
        result = _with_client(settings_factory, run_usage_feed_once)
    except WorkflowFailureError as err:
        # The activity's own message (the cause of the activity error), not "activity failed".
        cause = err.cause.__cause__ or err.cause
        raise CommandError(f"the usage feed run failed: {cause}") from None
    print(render_usage_feed_result(result))
    return 0


def _status(settings_factory: SettingsFactory, _args: argparse.Namespace) -> int:
    settings = settings_factory()
    print(_with_client(settings_factory, schedule_status))
    print(render_marks(*stored_marks(settings.database_url)))
    return 0


# --- make run's demo analytics database ----------------------------------------------------------

DEMO_ANALYTICS_FILE = "demo-analytics.db"
DEMO_DAYS = 30


def demo_usage_rows(today: date) -> list[dict[str, object]]:
    """A month of the demo accounts' days: Hooli steady and green, Umbrella sliding into red."""
    rows: list[dict[str, object]] = []
    for n in range(DEMO_DAYS):
        day = (today - timedelta(days=DEMO_DAYS - n)).isoformat()
        slide = n / (DEMO_DAYS - 1)
        rows.append(_demo_row("DEMO-001-HOOLI", day, 84 + n % 3, 80, 75))
        rows.append(_demo_row("DEMO-001-UMBRELLA", day, 70 - 50 * slide, 65 - 40 * slide, 55))
    return rows


def _demo_row(
    account: str, day: str, usage: float, adoption: float, sentiment: float
) -> dict[str, object]:
    return {
        "account_id": account,
        "day": day,
        "usage": usage,
        "adoption": adoption,
        "sentiment": sentiment,
    }


def demo_analytics_path(settings: Settings) -> Path:
    return settings.state_dir / DEMO_ANALYTICS_FILE


def with_demo_usage_feed(settings: Settings) -> Settings:
    """Without ``DEALCYCLE_USAGE_FEED_URL``, a SQLite analytics database in the state
    directory, holding the demo accounts' last month, for the worker's feed to read."""
    from sqlalchemy import text

    from dealcycle.db.engine import make_engine

    if settings.usage_feed.configured:
        return settings
    url = f"sqlite:///{demo_analytics_path(settings)}"
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS account_health_daily (account_id TEXT, day TEXT,"
                " usage REAL, adoption REAL, sentiment REAL, PRIMARY KEY (account_id, day))"
            )
        )
        connection.execute(
            text(
                "INSERT OR IGNORE INTO account_health_daily VALUES"
                " (:account_id, :day, :usage, :adoption, :sentiment)"
            ),
            demo_usage_rows(datetime.now(UTC).date()),
        )
    engine.dispose()
    return replace(settings, usage_feed=replace(settings.usage_feed, url=url))
