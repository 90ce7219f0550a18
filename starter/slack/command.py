"""``dealcycle slack``: serve the Slack app (Socket Mode or HTTP, see ``starter.slack.app``).

The app (Bolt, aiohttp) is imported when the command runs, not when the CLI builds its
parser: every other command starts without it."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dealcycle.connection import connect
from dealcycle.logging import configure_logging
from dealcycle.settings import Settings
from starter.cli_common import parse_port

if TYPE_CHECKING:
    from starter.slack.app import SlackAppConfig


def add_slack_command(
    commands: argparse._SubParsersAction[Any], settings_factory: Callable[[], Settings]
) -> None:
    slack = commands.add_parser(
        "slack",
        help="serve the Slack app: buttons, forms, threads and commands",
        description=(
            "Socket Mode when SLACK_APP_TOKEN is an app-level token (xapp-...); otherwise HTTP"
            " on DEALCYCLE_SLACK_PORT (3000) at /slack/events, every request verified with"
            " SLACK_SIGNING_SECRET."
        ),
    )
    slack.add_argument(
        "--port",
        type=parse_port,
        default=None,
        help="HTTP port (default DEALCYCLE_SLACK_PORT or 3000)",
    )
    slack.set_defaults(func=lambda args: _serve(settings_factory(), args.port))


def _serve(settings: Settings, port: int | None) -> int:
    from starter.slack.app import SlackAppConfig

    configure_logging(settings.log_format, settings.log_level)
    config = SlackAppConfig.from_env()
    if port is not None:
        config = SlackAppConfig(app_token=config.app_token, port=port)
    return asyncio.run(_serve_async(settings, config))


async def _serve_async(settings: Settings, config: SlackAppConfig) -> int:
    from starter.slack.app import require_slack, run
    from starter.slack.deps import SlackAppDeps

    require_slack(settings)
    client = await connect(settings)
    await run(SlackAppDeps(client=client, settings=settings), config)
    return 0
