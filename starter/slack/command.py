"""``dealcycle slack``: serve the Slack app (Socket Mode or HTTP, see ``starter.slack.app``)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any

from dealcycle.logging import configure_logging
from dealcycle.settings import Settings
from starter.slack.app import SlackAppConfig, require_slack, run
from starter.slack.deps import SlackAppDeps


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
        "--port", type=int, default=None, help="HTTP port (default DEALCYCLE_SLACK_PORT or 3000)"
    )
    slack.set_defaults(func=lambda args: _serve(settings_factory(), args.port))


def _serve(settings: Settings, port: int | None) -> int:
    configure_logging(settings.log_format, settings.log_level)
    config = SlackAppConfig.from_env()
    if port is not None:
        config = SlackAppConfig(app_token=config.app_token, port=port)
    return asyncio.run(_serve_async(settings, config))


async def _serve_async(settings: Settings, config: SlackAppConfig) -> int:
    from worker import connect

    require_slack(settings)
    client = await connect(settings)
    await run(SlackAppDeps(client=client, settings=settings), config)
    return 0
