"""What the ``dealcycle`` command groups share: reading the settings, connecting, running a
command's coroutine, an update sent to a workflow, ``dealcycle status``, and the arguments and
argument types several groups take.

The settings, the connection, the logging set-up and ``act`` are looked up here when a command
runs, so a test replaces them once, in this module, for every command.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client

from dealcycle.connection import connect
from dealcycle.logging import configure_logging
from dealcycle.settings import Settings
from schemas.common import Region, Role
from schemas.limits import MAX_SNOOZE_DAYS, control_character
from schemas.trial import TRIAL_WORKFLOW_TYPE
from starter.effects import effects_section
from starter.status import render_status
from starter.trials import act

ROLES = [role.value for role in Role]


def read_settings() -> Settings:
    return Settings.from_env()


def configured_settings() -> Settings:
    """The settings, with logging configured as they say."""
    settings = read_settings()
    configure_logging(settings.log_format, settings.log_level)
    return settings


def run(
    coro_factory: Callable[[Settings], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    def runner(_args: argparse.Namespace) -> int:
        return asyncio.run(coro_factory(configured_settings()))

    return runner


async def client(settings: Settings) -> Any:
    return await connect(settings)


def update_command(
    update: str,
    build: Callable[[argparse.Namespace], object],
    expected: tuple[str, ...] = (TRIAL_WORKFLOW_TYPE,),
) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        async def go(settings: Settings) -> int:
            connected = await client(settings)
            print(await act(connected, args.workflow_id, update, build(args), expected))
            return 0

        return run(go)(args)

    return command


def cmd_status(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        connected = await client(settings)
        ui_url, namespace = settings.temporal_ui_url, settings.temporal_namespace
        shown = await render_status(connected, args.workflow_id, ui_url, namespace)
        await print_with_effects(connected, args.workflow_id, shown)
        return 0

    return run(go)(args)


async def print_with_effects(connected: Client, workflow_id: str, shown: str) -> None:
    """Print a workflow's table and, under it, its failed and pending effects (as `status`)."""
    print(shown)
    section = await effects_section(connected, workflow_id)
    if section:
        print(section)


# --- Arguments ---------------------------------------------------------------------------------


def actor_arguments(parser: argparse.ArgumentParser, role: bool = True) -> None:
    parser.add_argument("--by", dest="actor", required=True, help="who acts: their Slack member id")
    if role:
        parser.add_argument("--role", choices=ROLES, required=True, help="the role they act in")


def snooze_arguments(parser: argparse.ArgumentParser, workflow: str) -> None:
    parser.add_argument(workflow)
    parser.add_argument("step", help="the step's key (as `dealcycle status` shows it)")
    actor_arguments(parser, role=False)
    parser.add_argument(
        "--days", type=int, default=1, help=f"business days, 1 to {MAX_SNOOZE_DAYS} (default 1)"
    )


def parse_region(raw: str) -> str:
    if raw not in {region.value for region in Region}:
        valid = " or ".join(repr(region.value) for region in Region)
        raise argparse.ArgumentTypeError(f"unknown region {raw!r}; the regions are {valid}")
    return raw


def parse_date(raw: str) -> datetime:
    """``YYYY-MM-DD`` as midnight UTC."""
    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a date; use YYYY-MM-DD") from None


def whole_number(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.strip().isdigit() or int(raw) < minimum:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number of at least {minimum}")
        return int(raw)

    return parse


parse_count = whole_number(1)


def parse_name(raw: str) -> str:
    """A name (an account's): one line, without the control characters a terminal would act
    on when ``dealcycle status`` shows it (an escape sequence) or that would split its row."""
    if control_character(raw) is not None:
        raise argparse.ArgumentTypeError(
            f"one line without control characters (got {ascii(raw)[:60]})"
        )
    return raw


def parse_port(raw: str) -> int:
    """A TCP port to listen on, refused here rather than as the socket's ``OverflowError``."""
    if not raw.strip().isdigit() or not 1 <= int(raw) <= 65535:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a port (1 to 65535)")
    return int(raw)


# --- Account commands (the account, renewal, health and red-account groups) --------------------

AccountCall = Callable[[Any], Awaitable[str]]


def account_command(
    prepare: Callable[[argparse.Namespace], AccountCall],
) -> Callable[[argparse.Namespace], int]:
    """``prepare`` reads files and checks arguments (before connecting); its call acts."""

    def command(args: argparse.Namespace) -> int:
        call = prepare(args)

        async def go(settings: Settings) -> int:
            print(await call(await client(settings)))
            return 0

        return run(go)(args)

    return command


def account_action(
    account: Any, name: str, prepare: Callable[[argparse.Namespace], AccountCall], help: str
) -> argparse.ArgumentParser:
    """An ``account`` sub-command on ``ACCOUNT_ID`` by an actor in a role."""
    parser: argparse.ArgumentParser = account.add_parser(name, help=help)
    parser.add_argument("account_id", metavar="ACCOUNT_ID", help="001ACME or account-001ACME")
    actor_arguments(parser)
    parser.set_defaults(func=account_command(prepare))
    return parser
