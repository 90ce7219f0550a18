"""``dealcycle health`` (an account's health: show it, set its colour, send readings) and
``dealcycle red …`` (red accounts: the Account Tracker and each case)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from dealcycle.settings import Settings
from schemas.common import CustomerHealth, Role
from starter import health as account_health
from starter.cli_common import (
    ROLES,
    AccountCall,
    account_command,
    actor_arguments,
    client,
    configured_settings,
    run,
)
from starter.errors import CommandError

COLOURS = [colour.value for colour in CustomerHealth]


def _health(args: argparse.Namespace) -> AccountCall:
    """Show, set (``--set``) or feed (``--reading``) the account's health; flags that belong to
    another of the three are refused, so nothing is silently ignored."""
    given = {
        "--reason": args.reason is not None,
        "--by": args.actor is not None,
        "--role": args.role is not None,
        "--source": args.source is not None,
    }

    def refuse(flags: list[str], without: str) -> None:
        stray = [flag for flag in flags if given[flag]]
        if stray:
            raise CommandError(f"{', '.join(stray)} {'go' if len(stray) > 1 else 'goes'} {without}")

    if args.colour:
        refuse(["--source"], "with --reading")
        missing = [flag for flag in ("--reason", "--by", "--role") if not given[flag]]
        if missing:
            raise CommandError(f"--set needs {', '.join(missing)}")
        return lambda client: account_health.set_health(
            client,
            args.account_id,
            args.colour,
            actor=args.actor,
            role=Role(args.role),
            reason=args.reason,
        )
    refuse(["--reason", "--by", "--role"], "with --set")
    if args.readings:
        signal = account_health.health_signal(args.readings, args.source or "")
        return lambda client: account_health.send_health_signal(client, args.account_id, signal)
    refuse(["--source"], "with --reading")
    return lambda client: account_health.render_health_status(client, args.account_id)


def cmd_red_list(args: argparse.Namespace) -> int:
    settings = configured_settings()
    rows = account_health.read_tracker(
        settings.database_url, include_closed=args.all, account=args.account
    )
    print(
        account_health.render_tracker_listing(
            rows, datetime.now(UTC), include_closed=args.all, account=args.account
        )
    )
    return 0


def cmd_red_show(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        connected = await client(settings)
        ui_url, namespace = settings.temporal_ui_url, settings.temporal_namespace
        print(await account_health.render_case_status(connected, args.reference, ui_url, namespace))
        return 0

    return run(go)(args)


def add_health_commands(commands: Any) -> None:
    health = commands.add_parser(
        "health",
        help="an account's health: show it, set its colour, or send readings",
        description=(
            "Without --set or --reading: show the colour, the score, its inputs and the colour"
            " history. --set: the AE or CE sets the colour (an update, checked by the workflow)."
            " --reading: send usage, adoption or sentiment readings, 0 to 100 (signals)."
        ),
    )
    health.add_argument("account_id", metavar="ACCOUNT_ID", help="001ACME or account-001ACME")
    change = health.add_mutually_exclusive_group()
    change.add_argument("--set", dest="colour", choices=COLOURS, help="set the colour")
    change.add_argument(
        "--reading",
        dest="readings",
        action="append",
        type=account_health.parse_reading,
        metavar="INPUT=VALUE",
        help=f"a reading, 0 to 100, of {account_health.INPUTS} (repeatable)",
    )
    health.add_argument("--reason", default=None, help="why (with --set)")
    health.add_argument("--by", dest="actor", default=None, help="who sets it (with --set)")
    health.add_argument("--role", choices=ROLES, default=None, help="their role (with --set)")
    health.add_argument("--source", default=None, help="where the readings come from")
    health.set_defaults(func=account_command(_health))

    red = commands.add_parser(
        "red", help="red accounts: the Account Tracker and each case"
    ).add_subparsers(dest="red_command", required=True, metavar="ACTION")
    listing = red.add_parser("list", help="the Account Tracker (open cases; --all: every case)")
    listing.add_argument("--all", action="store_true", help="resolved cases too")
    listing.add_argument("--account", metavar="ACCOUNT_ID", default=None, help="one account's")
    listing.set_defaults(func=cmd_red_list)

    plan = red.add_parser("plan", help="record your part of the open case's action plan")
    plan.add_argument("account_id", metavar="ACCOUNT_ID")
    actor_arguments(plan)
    plan.add_argument(
        "--status", dest="current_status", required=True, metavar="TEXT", help="where it stands"
    )
    plan.add_argument("--needs", required=True, metavar="TEXT", help="what the account needs")
    plan.add_argument(
        "--actions", dest="intended_actions", required=True, metavar="TEXT", help="what you will do"
    )
    plan.set_defaults(
        func=account_command(
            lambda a: (
                lambda client: account_health.record_action_plan(
                    client,
                    a.account_id,
                    actor=a.actor,
                    role=Role(a.role),
                    current_status=a.current_status,
                    needs=a.needs,
                    intended_actions=a.intended_actions,
                )
            )
        )
    )

    ask = red.add_parser("ask", help="an ask of the business, posted in the case's thread")
    ask.add_argument("account_id", metavar="ACCOUNT_ID")
    ask.add_argument("ask", metavar="TEXT")
    actor_arguments(ask)
    ask.set_defaults(
        func=account_command(
            lambda a: (
                lambda client: account_health.record_ask(
                    client, a.account_id, a.ask, actor=a.actor, role=Role(a.role)
                )
            )
        )
    )

    show = red.add_parser("show", help="a case: the account's open (else latest) one, or by id")
    show.add_argument("reference", metavar="ACCOUNT_ID|CASE_ID")
    show.set_defaults(func=cmd_red_show)
