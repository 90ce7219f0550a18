"""``dealcycle effects …``: failed writes to Slack, Salesforce and our records; list them, retry
one, or skip one on purpose."""

from __future__ import annotations

import argparse
from typing import Any

from dealcycle.settings import Settings
from schemas.effects import RetryEffect, SkipEffect
from starter.cli_common import actor_arguments, client, run
from starter.effects import change_effect, failed_effects, render_failed


def cmd_effects_list(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        connected = await client(settings)
        print(render_failed(await failed_effects(connected)))
        return 0

    return run(go)(args)


def cmd_effects_change(args: argparse.Namespace) -> int:
    async def go(settings: Settings) -> int:
        connected = await client(settings)
        request: RetryEffect | SkipEffect = (
            SkipEffect(args.effect, args.reason, args.actor)
            if args.effects_command == "skip"
            else RetryEffect(args.effect, args.actor)
        )
        print(await change_effect(connected, args.workflow_id, request))
        return 0

    return run(go)(args)


def add_effects_commands(commands: Any) -> None:
    effects = commands.add_parser(
        "effects", help="failed writes to Slack, Salesforce and our records: list, retry, skip"
    ).add_subparsers(dest="effects_command", required=True, metavar="ACTION")
    effects.add_parser(
        "list", help="every running workflow's failed effects (NeedsAttention = true)"
    ).set_defaults(func=cmd_effects_list)
    retry = effects.add_parser(
        "retry", help="run a failed effect again under its original idempotency key"
    )
    retry.add_argument("workflow_id")
    retry.add_argument("effect", help="the effect's name, as `dealcycle status` shows it")
    actor_arguments(retry, role=False)
    retry.set_defaults(func=cmd_effects_change)
    skip = effects.add_parser("skip", help="give up a failed effect on purpose, with a reason")
    skip.add_argument("workflow_id")
    skip.add_argument("effect")
    skip.add_argument("--reason", required=True)
    actor_arguments(skip, role=False)
    skip.set_defaults(func=cmd_effects_change)
