"""``dealcycle account …``: an existing customer's account workflow (post-sales): its start,
kickoff, onboarding, steps, cadence, tier, profile, plan, owners, seats and signals. The
renewal commands of the group are in ``starter.renewal_commands``."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path
from typing import Any

from dealcycle.settings import Settings
from schemas.account import CheckInCadence, LifecycleStage
from schemas.common import DeploymentType, Region, Role
from schemas.steps import SnoozeStep
from starter import accounts
from starter.accounts import render_account_status
from starter.cli_common import (
    ROLES,
    AccountCall,
    account_action,
    account_command,
    actor_arguments,
    client,
    parse_count,
    parse_date,
    parse_name,
    parse_region,
    print_with_effects,
    run,
    snooze_arguments,
    whole_number,
)
from starter.renewal_commands import add_renewal_commands

STAGES_TO_START_IN = [
    stage.value for stage in LifecycleStage if stage is not LifecycleStage.CHURNED
]
CADENCES = [cadence.value for cadence in CheckInCadence]


def _quarter(raw: str) -> str:
    year, _, quarter = raw.partition("-Q")
    if not (len(year) == 4 and year.isdigit() and quarter in {"1", "2", "3", "4"}):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a quarter; use YYYY-QN, e.g. 2027-Q2")
    return raw


def cmd_account_start(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        workflow_id = await accounts.start_account(
            await client(settings),
            settings,
            account_id=args.account_id,
            account_name=args.name,
            tier=args.tier,
            renewal_date=args.renewal_date,
            seats=args.seats,
            ae_owner=args.ae,
            ce_owner=args.ce,
            region=args.region or "",
            deployment_type=args.deployment,
            stage=LifecycleStage(args.stage),
            cadence=args.cadence,
        )
        print(f"started {workflow_id} ({args.stage})")
        print(f"  show:        dealcycle account show {args.account_id}")
        print(
            f"  Temporal UI: {settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}"
            f"/workflows/{workflow_id}"
        )
        return 0

    return run(go)(args)


def cmd_account_show(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        connected = await client(settings)
        ui_url, namespace = settings.temporal_ui_url, settings.temporal_namespace
        shown = await render_account_status(connected, args.account_id, ui_url, namespace)
        await print_with_effects(connected, accounts.workflow_id_for(args.account_id), shown)
        return 0

    return run(go)(args)


def _plan(args: argparse.Namespace) -> AccountCall:
    plan = accounts.load_account_plan(
        args.file, quarter=args.quarter, actor=args.actor, role=Role(args.role)
    )
    return lambda client: accounts.submit_account_plan(client, args.account_id, plan)


def _profile(args: argparse.Namespace) -> AccountCall:
    change = accounts.profile_change(
        actor=args.actor,
        role=Role(args.role),
        tier=args.tier or 0,
        seats=args.seats or 0,
        ae_owner=args.ae or "",
        ce_owner=args.ce or "",
        renewal_date=args.renewal_date,
    )
    return lambda client: accounts.complete_profile(client, args.account_id, change)


def _add_account_start(account: Any) -> None:
    start = account.add_parser("start", help="bring in an existing customer (starts its workflow)")
    start.add_argument("account_id", metavar="ACCOUNT_ID", help="Salesforce Account id")
    start.add_argument("--name", required=True, type=parse_name, help="the account's name")
    start.add_argument("--tier", type=int, required=True, choices=[1, 2, 3])
    start.add_argument(
        "--renewal-date",
        type=parse_date,
        required=True,
        metavar="YYYY-MM-DD",
        help="contract end (UTC)",
    )
    start.add_argument("--seats", type=parse_count, required=True)
    start.add_argument("--ae", required=True, help="the AE's Slack member id")
    start.add_argument("--ce", required=True, help="the CE's Slack member id")
    start.add_argument("--region", type=parse_region, default=None, help=" or ".join(Region))
    start.add_argument(
        "--deployment", choices=[d.value for d in DeploymentType], default="self-hosted"
    )
    start.add_argument(
        "--stage", choices=STAGES_TO_START_IN, default="kickoff", help="where it stands today"
    )
    start.add_argument(
        "--cadence", choices=CADENCES, default="", help="check-ins (past kickoff; default monthly)"
    )
    start.set_defaults(func=cmd_account_start)


def add_account_commands(commands: Any) -> None:
    account = commands.add_parser("account", help="customer accounts (post-sales)").add_subparsers(
        dest="account_command", required=True, metavar="ACTION"
    )
    _add_account_start(account)
    action = partial(account_action, account)

    kickoff = action(
        "kickoff",
        lambda a: (
            lambda client: accounts.record_kickoff_plan(
                client,
                a.account_id,
                actor=a.actor,
                role=Role(a.role),
                cadence=a.cadence,
                optional_trainings=a.trainings,
                onboarding_integration_help=a.integration_help,
                upcoming_initiatives=a.initiatives,
            )
        ),
        "record the kickoff plan (starts onboarding)",
    )
    kickoff.add_argument("--cadence", choices=CADENCES, required=True)
    kickoff.add_argument(
        "--training",
        dest="trainings",
        action="append",
        default=[],
        metavar="NAME",
        help="an optional training beyond 101, 102 and admin (repeatable)",
    )
    kickoff.add_argument("--integration-help", action="store_true")
    kickoff.add_argument(
        "--initiative", dest="initiatives", action="append", default=[], metavar="TEXT"
    )

    ready = action(
        "production-ready",
        lambda a: (
            lambda client: accounts.report_production_ready(
                client, a.account_id, actor=a.actor, role=Role(a.role), note=a.note
            )
        ),
        "the customer is ready for production",
    )
    ready.add_argument("--note", default="")

    step = action(
        "step",
        lambda a: (
            lambda client: accounts.complete_step(
                client, a.account_id, a.step, actor=a.actor, role=Role(a.role), note=a.note
            )
        ),
        "mark a step of the account complete",
    )
    step.add_argument("step", metavar="STEP_KEY")
    step.add_argument("--note", default="")

    onboarded = action(
        "onboarding-complete",
        lambda a: (
            lambda client: accounts.complete_onboarding(
                client, a.account_id, actor=a.actor, role=Role(a.role), note=a.note
            )
        ),
        "onboarding is done (moves to adoption)",
    )
    onboarded.add_argument("--note", default="")

    cadence = action(
        "cadence",
        lambda a: (
            lambda client: accounts.change_cadence(
                client, a.account_id, a.cadence, actor=a.actor, role=Role(a.role)
            )
        ),
        "change the check-in cadence",
    )
    cadence.add_argument("cadence", metavar="CADENCE", choices=CADENCES)

    tier = action(
        "tier",
        lambda a: (
            lambda client: accounts.change_tier(
                client, a.account_id, a.tier, actor=a.actor, role=Role(a.role), reason=a.reason
            )
        ),
        "change the tier (from next quarter)",
    )
    tier.add_argument("tier", metavar="TIER", type=int, choices=[1, 2, 3])
    tier.add_argument("--reason", required=True)

    profile = action("profile", _profile, "fill in the account's profile")
    profile.add_argument("--tier", type=int, choices=[1, 2, 3], default=None)
    profile.add_argument("--seats", type=parse_count, default=None)
    profile.add_argument("--ae", default=None, help="the AE's Slack member id")
    profile.add_argument("--ce", default=None, help="the CE's Slack member id")
    profile.add_argument("--renewal-date", type=parse_date, default=None, metavar="YYYY-MM-DD")

    plan = action("plan", _plan, "submit the quarter's account plan (a JSON file)")
    plan.add_argument("--quarter", type=_quarter, required=True, help="e.g. 2027-Q2")
    plan.add_argument(
        "--file", type=Path, required=True, help="JSON: contacts, use_cases, health, ..."
    )

    add_renewal_commands(account)

    reassign = account.add_parser(
        "reassign",
        help="give the account's AE or CE role to someone else (by the outgoing owner or the"
        " CE leader)",
    )
    reassign.add_argument("account_id", metavar="ACCOUNT_ID", help="001ACME or account-001ACME")
    reassign.add_argument("--role", choices=ROLES, required=True, help="the role changing hands")
    reassign.add_argument("--to", dest="new_owner", required=True, help="the new owner (U…)")
    actor_arguments(reassign, role=False)
    reassign.add_argument("--reason", default="")
    reassign.set_defaults(
        func=account_command(
            lambda a: (
                lambda client: accounts.reassign_owner(
                    client, a.account_id, Role(a.role), a.new_owner, actor=a.actor, reason=a.reason
                )
            )
        )
    )

    seats = action(
        "seats",
        lambda a: (
            lambda client: accounts.expand_seats(
                client, a.account_id, a.seats, actor=a.actor, role=Role(a.role), reason=a.reason
            )
        ),
        "expand the seats within the contract term (a new key)",
    )
    seats.add_argument("seats", metavar="SEATS", type=parse_count)
    seats.add_argument("--reason", required=True)

    snooze = account.add_parser("snooze", help="move a step's next reminder by business days")
    snooze_arguments(snooze, "account_id")
    snooze.set_defaults(
        func=account_command(
            lambda a: (
                lambda client: accounts.snooze_step(
                    client, a.account_id, SnoozeStep(a.step, a.actor, a.days)
                )
            )
        )
    )

    feature = action(
        "feature-request",
        lambda a: (
            lambda client: accounts.record_feature_request(
                client, a.account_id, a.title, actor=a.actor, role=Role(a.role), detail=a.detail
            )
        ),
        "record a feature request from the customer",
    )
    feature.add_argument("title", metavar="TITLE")
    feature.add_argument("--detail", default="")

    usage = account.add_parser("usage", help="report the customer's product usage (a signal)")
    usage.add_argument("account_id", metavar="ACCOUNT_ID")
    usage.add_argument("--active-users", type=whole_number(0), required=True)
    usage.add_argument("--version", required=True, help="the version they run")
    usage.add_argument(
        "--support-item", dest="support_items", action="append", default=[], metavar="TEXT"
    )
    usage.set_defaults(
        func=account_command(
            lambda a: (
                lambda client: accounts.report_usage(
                    client,
                    a.account_id,
                    active_users=a.active_users,
                    version=a.version,
                    open_support_items=a.support_items,
                )
            )
        )
    )

    show = account.add_parser("show", help="show the account (as `dealcycle status` does)")
    show.add_argument("account_id", metavar="ACCOUNT_ID")
    show.set_defaults(func=cmd_account_show)
