"""``dealcycle``: the command line for operations, CEs, AEs and engineers.

This module builds the parser from the command groups (``starter/*_commands.py``; what they
share is in ``starter.cli_common``), runs one command, and holds the dev commands (``server``,
``worker``, ``run``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Coroutine, Sequence
from typing import Any, NoReturn

from starter import cli_common
from starter.account_commands import add_account_commands
from starter.cli_common import cmd_status, configured_settings
from starter.codec_commands import add_codec_commands
from starter.digest import add_digest_commands
from starter.effects_commands import add_effects_commands
from starter.errors import CommandError, debug_requested, report
from starter.health_commands import add_health_commands
from starter.intake_commands import add_intake_commands
from starter.license_commands import add_license_commands
from starter.opportunity_commands import add_opportunity_commands
from starter.provenance import acting_via, cli_via
from starter.roster_commands import add_roster_commands
from starter.salesforce_commands import add_salesforce_commands
from starter.security_commands import add_security_commands
from starter.slack.command import add_slack_command
from starter.todo_commands import add_todo_command
from starter.trial_commands import add_step_command, add_trial_commands
from starter.usage_feed import add_usage_feed_commands
from starter.worker_check import check_worker
from starter.workflow_ids import check_id_arguments

# --- Dev commands ------------------------------------------------------------------------------


def _dev_server_refusal_said_plainly(run: Coroutine[Any, Any, int]) -> int:
    """Run ``run``; the dev server's refusal (a port in use, a CLI that will not start) says
    what to do: it is the person's to fix, not an internal error."""
    from dealcycle.devtools.devserver import DevServerError

    try:
        return asyncio.run(run)
    except DevServerError as err:
        raise CommandError(str(err)) from err


def cmd_server(args: argparse.Namespace) -> int:
    from starter.devrun import serve_dev_server

    settings = configured_settings()
    return _dev_server_refusal_said_plainly(
        serve_dev_server(
            settings,
            port=args.port,
            ui_port=args.ui_port,
            ui_codec_endpoint=args.ui_codec_endpoint,
        )
    )


def cmd_worker(args: argparse.Namespace) -> int:
    from starter.devrun import serve_worker

    settings = configured_settings()
    if args.check:  # the container's health check: this host's worker polls (worker_check)
        print(asyncio.run(check_worker(settings)))
        return 0
    return asyncio.run(serve_worker(settings, sandbox=args.sandbox))


def cmd_run(args: argparse.Namespace) -> int:
    from starter.devrun import run_everything

    return _dev_server_refusal_said_plainly(run_everything(demo=not args.no_demo))


# --- Parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dealcycle", description="Durable deal and renewal lifecycles on Temporal."
    )
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an error after its line"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    settings = cli_common.read_settings  # looked up now: a test's stand-in reaches every group

    server = commands.add_parser("server", help="run the Temporal dev server (Web UI, SQLite file)")
    server.add_argument("--port", type=cli_common.parse_port, default=7233)
    server.add_argument("--ui-port", type=cli_common.parse_port, default=8233)
    server.add_argument(
        "--ui-codec-endpoint",
        metavar="URL",
        help="the Web UI decodes payloads there (a `dealcycle codec-server`, http://127.0.0.1:8081)",
    )
    server.set_defaults(func=cmd_server)

    worker = commands.add_parser("worker", help="run the dealcycle worker")
    worker.add_argument(
        "--sandbox",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="use the local Salesforce and Slack fakes (default: when no credentials are set)",
    )
    worker.add_argument(
        "--check",
        action="store_true",
        help="health check: exit 0 when a worker on this host polls the task queue, else 1",
    )
    worker.set_defaults(func=cmd_worker)

    run = commands.add_parser("run", help="dev server, worker, sandbox and demo trials in one go")
    run.add_argument("--no-demo", action="store_true", help="start no demo trials")
    run.set_defaults(func=cmd_run)
    add_slack_command(commands, settings)
    add_trial_commands(commands)
    add_step_command(commands)
    add_opportunity_commands(commands)
    add_account_commands(commands)
    add_health_commands(commands)
    add_intake_commands(commands)
    add_security_commands(commands)
    add_effects_commands(commands)

    status = commands.add_parser("status", help="show a workflow's steps as a table")
    status.add_argument("workflow_id")
    status.set_defaults(func=cmd_status)

    license_commands = commands.add_parser("license", help="license keys").add_subparsers(
        dest="license_command", required=True, metavar="ACTION"
    )
    add_license_commands(license_commands, settings)

    roster = commands.add_parser(
        "roster", help="the CE leader, Security PM, Security CEs, Value Engineering"
    ).add_subparsers(dest="roster_command", required=True, metavar="ACTION")
    add_roster_commands(roster, settings)
    add_todo_command(commands, settings)
    add_digest_commands(commands, settings)
    add_codec_commands(commands, settings)
    add_usage_feed_commands(commands, settings)
    add_salesforce_commands(commands, settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure is reported as one line (``starter.errors``) and its exit
    code returned. Usage errors raise ``SystemExit`` as argparse does."""
    parser = build_parser()
    debug = debug_requested()
    try:
        args = parser.parse_args(argv)
        debug = debug or args.debug
        check_id_arguments(args)
        with acting_via(cli_via()):
            return int(args.func(args))
    except SystemExit as err:
        if isinstance(err.code, str):
            print(f"dealcycle: {err.code}", file=sys.stderr)
            return 1
        raise
    except BaseException as err:  # the one place every failure becomes a line
        return report(err, debug=debug)


def console_main() -> NoReturn:
    """The ``dealcycle`` console script.

    Every path, errors included, ends in ``os._exit``: the Temporal client's Rust threads can
    outlive the event loop and abort (exit 134) or crash (139) a finalizing interpreter
    (temporalio/sdk-python#300). An exception that escaped to the interpreter, as an
    unhandled ``RPCError`` for ``status ''`` once did, took that path.
    """
    try:
        code = main()
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else 0 if err.code is None else 1
    except BaseException as err:  # main reports all; this is the last guard
        code = report(err, debug=debug_requested())
    try:
        sys.stdout.flush()
    except BrokenPipeError as err:
        code = report(err)
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
        logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    console_main()
