"""``dealcycle deal-closed`` (hand a Closed Won opportunity to its account) and ``dealcycle
intake …`` (the Closed Won intake from Salesforce: its schedule, a poll now, its status)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from dealcycle.settings import (
    DURATION_FORM,
    MAX_INTAKE_INTERVAL_SECONDS,
    Settings,
    SettingsError,
    parse_duration,
)
from starter.cli_common import client, run


def cmd_deal_closed(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        from starter.intake import deal_closed, refuse_bad_opportunity_id

        refuse_bad_opportunity_id(args.opportunity_id)
        print(await deal_closed(await client(settings), settings, args.opportunity_id))
        return 0

    return run(go)(args)


def _interval(raw: str) -> int:
    """An ``--every`` value in seconds, read as the settings read durations. A named type
    raising ``ArgumentTypeError``: argparse shows its message, not "invalid <lambda> value"."""
    try:
        seconds = parse_duration("--every", raw)
    except SettingsError:
        seconds = 0
    if not 1 <= seconds <= MAX_INTAKE_INTERVAL_SECONDS:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not an interval: give a duration from 1s to 1d, in {DURATION_FORM}"
        )
    return seconds


def cmd_intake_schedule(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        from starter.intake import ensure_intake_schedule

        every = timedelta(seconds=args.every or settings.intake_interval_seconds)
        print(await ensure_intake_schedule(await client(settings), settings, every))
        return 0

    return run(go)(args)


def cmd_intake_status(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        from starter.intake import intake_status

        print(await intake_status(await client(settings)))
        return 0

    return run(go)(args)


def cmd_intake_run(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        from starter.intake import render_intake_result, run_intake_once

        result = await run_intake_once(await client(settings), settings)
        print(render_intake_result(result))
        return 0

    return run(go)(args)


def add_intake_commands(commands: Any) -> None:
    closed = commands.add_parser(
        "deal-closed", help="hand a Closed Won opportunity to its account's workflow (idempotent)"
    )
    closed.add_argument("opportunity_id", help="Salesforce Opportunity id")
    closed.set_defaults(func=cmd_deal_closed)
    intake = commands.add_parser(
        "intake", help="the Closed Won intake from Salesforce"
    ).add_subparsers(dest="intake_command", required=True, metavar="ACTION")
    schedule = intake.add_parser(
        "schedule", help="create or update the Temporal Schedule that polls"
    )
    schedule.add_argument("--every", type=_interval, default=None, help="e.g. 5m (1s to 1d)")
    schedule.set_defaults(func=cmd_intake_schedule)
    intake.add_parser("run", help="poll once now").set_defaults(func=cmd_intake_run)
    intake.add_parser(
        "status", help="the schedule, its next poll and what its last polls did (or why not)"
    ).set_defaults(func=cmd_intake_status)
