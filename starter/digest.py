"""The daily digest: its Temporal Schedule, a run now, and each person's preference.

    dealcycle digest prefer --user U… digest|immediate [--by U…]
    dealcycle digest show
    dealcycle digest schedule      # create or update the schedule (make run does)
    dealcycle digest run           # send today's digests now (idempotent per person per day)

The preference lives in our database (``DATABASE_URL``), read by the worker's activities
when a reminder is posted and when the digest is gathered: a change applies from the next
reminder of every running workflow, with nothing sent to Temporal.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
)

from dealcycle.connection import connect
from dealcycle.logging import configure_logging
from dealcycle.settings import Settings
from schemas import start_summaries
from schemas.digest import DIGEST_SCHEDULE_ID, DigestResult, DigestRun
from schemas.limits import MEMBER
from starter.errors import CommandError
from starter.provenance import cli_via
from starter.schedules import ensure_schedule
from starter.tables import when
from workflows.digest import DailyDigestWorkflow

if TYPE_CHECKING:
    from dealcycle.db.preferences import ReminderMode, ReminderPreferences, StoredPreference

SettingsFactory = Callable[[], Settings]


def digest_schedule(settings: Settings) -> Schedule:
    shown = start_summaries.daily_digest(settings.digest_hour)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DailyDigestWorkflow.run,
            DigestRun(),
            id=f"{DIGEST_SCHEDULE_ID}-run",
            task_queue=settings.task_queue,
            static_summary=shown.summary,
            static_details=shown.details,
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(settings.digest_hour)])],
            time_zone_name="UTC",
        ),
        # A day's run still sending when the next is due (it never should): skip, not twice.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_digest_schedule(client: Client, settings: Settings) -> str:
    return await ensure_schedule(
        client,
        DIGEST_SCHEDULE_ID,
        digest_schedule(settings),
        f"the daily digest at {settings.digest_hour:02d}:00 UTC",
    )


async def run_digest_once(client: Client, settings: Settings) -> DigestResult:
    result: DigestResult = await client.execute_workflow(
        DailyDigestWorkflow.run,
        DigestRun(),
        id=f"{DIGEST_SCHEDULE_ID}-manual-{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
        task_queue=settings.task_queue,
        static_summary=start_summaries.daily_digest(settings.digest_hour).summary,
    )
    return result


def render_digest_result(result: DigestResult) -> str:
    already = (
        f"; already sent today: {', '.join(result.already_sent)}" if result.already_sent else ""
    )
    lines = [f"digest of {result.day}: {len(result.sent)} sent{already}"]
    lines += [f"  sent to {member}" for member in result.sent]
    lines += [f"  NOT sent to {member} (failed or expired)" for member in result.not_sent]
    if result.nothing_due:
        lines.append(f"  nothing due for {', '.join(result.nothing_due)}")
    return "\n".join(lines)


def render_preferences(rows: list[StoredPreference]) -> str:
    if not rows:
        return "Nobody has chosen: everyone gets immediate reminders."
    lines = ["Reminder preferences (anyone not listed: immediate):"]
    lines += [
        f"  {row.member_id:<22} {row.mode.value:<10} since {when(row.changed_at)} UTC"
        f" by {row.changed_by}{f' via {row.changed_via}' if row.changed_via else ''}"
        for row in rows
    ]
    return "\n".join(lines)


# --- CLI ---------------------------------------------------------------------------------------


def add_digest_commands(
    commands: argparse._SubParsersAction[Any], settings_factory: SettingsFactory
) -> None:
    digest = commands.add_parser(
        "digest", help="the daily digest: who prefers it, its schedule, a run now"
    ).add_subparsers(dest="digest_command", required=True, metavar="ACTION")
    prefer = digest.add_parser(
        "prefer",
        help="a person's reminders: one DM each (immediate) or one digest DM a day",
    )
    prefer.add_argument("--user", required=True, metavar="U…", help="whose (Slack member id)")
    prefer.add_argument("mode", metavar="digest|immediate", help="digest or immediate")
    prefer.add_argument("--by", metavar="U…", help="who changes it (default: --user)")
    prefer.set_defaults(func=partial(_prefer, settings_factory))
    show = digest.add_parser("show", help="everyone's preference")
    show.set_defaults(func=partial(_show, settings_factory))
    schedule = digest.add_parser(
        "schedule", help="create or update the schedule (DEALCYCLE_DIGEST_HOUR, UTC)"
    )
    schedule.set_defaults(func=partial(_schedule, settings_factory))
    run = digest.add_parser("run", help="send today's digests now (once per person per day)")
    run.set_defaults(func=partial(_run_now, settings_factory))


def _member(flag: str, raw: str) -> str:
    if not re.fullmatch(MEMBER.pattern or "", raw):
        raise CommandError(f"{flag}: {MEMBER.what} (got {raw[:40]!r})")
    return raw


def _mode(raw: str) -> ReminderMode:
    from dealcycle.db.preferences import ReminderMode

    try:
        return ReminderMode(raw.strip().lower())
    except ValueError:
        raise CommandError(
            f"the preference must be digest or immediate (got {raw[:40]!r})"
        ) from None


def _preferences(settings_factory: SettingsFactory) -> ReminderPreferences:
    from sqlalchemy.exc import SQLAlchemyError

    from dealcycle.db.engine import make_engine
    from dealcycle.db.migrate import upgrade_to_head
    from dealcycle.db.preferences import ReminderPreferences

    settings = settings_factory()
    try:
        upgrade_to_head(settings.database_url)
    except SQLAlchemyError as err:
        raise CommandError(f"the database at DATABASE_URL cannot be reached: {err}") from None
    return ReminderPreferences(make_engine(settings.database_url))


def _prefer(settings_factory: SettingsFactory, args: argparse.Namespace) -> int:
    from dealcycle.db.preferences import ReminderMode

    user = _member("--user", args.user)
    by = _member("--by", args.by) if args.by else user
    mode = _mode(args.mode)
    stored = _preferences(settings_factory).set(user, mode, by, cli_via(), datetime.now(UTC))
    if mode is ReminderMode.DIGEST:
        print(
            f"{stored.member_id}: reminders held for one digest DM a day"
            f" (their overdue and this week's steps)"
        )
    else:
        print(f"{stored.member_id}: reminders sent one by one, when due")
    return 0


def _show(settings_factory: SettingsFactory, _args: argparse.Namespace) -> int:
    print(render_preferences(_preferences(settings_factory).all()))
    return 0


def _with_client(settings_factory: SettingsFactory, go: Callable[[Client, Settings], Any]) -> Any:
    settings = settings_factory()
    configure_logging(settings.log_format, settings.log_level)

    async def connected() -> Any:
        return await go(await connect(settings), settings)

    return asyncio.run(connected())


def _schedule(settings_factory: SettingsFactory, _args: argparse.Namespace) -> int:
    print(_with_client(settings_factory, ensure_digest_schedule))
    return 0


def _run_now(settings_factory: SettingsFactory, _args: argparse.Namespace) -> int:
    print(render_digest_result(_with_client(settings_factory, run_digest_once)))
    return 0
