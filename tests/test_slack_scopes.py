"""Slack scopes: the fake enforces them, the worker checks them at start, the README lists them."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from temporalio.testing import WorkflowEnvironment

from activities.slack import (
    REQUIRED_SCOPES,
    SlackSetupError,
    build_slack_client,
    check_slack_scopes,
)
from dealcycle.fakes import SalesforceFake, Sandbox, SlackFake
from dealcycle.fakes.slack import DEFAULT_SCOPES
from dealcycle.settings import Settings, SlackSettings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_fake_grants_every_required_scope_by_default() -> None:
    assert set(REQUIRED_SCOPES) <= set(DEFAULT_SCOPES)


def test_auth_test_reports_the_granted_scopes(
    slack_fake: SlackFake, slack_client: WebClient
) -> None:
    slack_fake.set_scopes(["chat:write", "im:write"])
    response = slack_client.auth_test()
    assert response.headers["x-oauth-scopes"] == "chat:write,im:write"


@pytest.mark.parametrize(
    ("missing", "call"),
    [
        ("chat:write", lambda c, _: c.chat_postMessage(channel="#red-accounts", text="x")),
        ("im:write", lambda c, _: c.conversations_open(users="U024BE7LH")),
        ("channels:read", lambda c, _: c.conversations_list(types="public_channel")),
        ("groups:read", lambda c, _: c.conversations_list(types="private_channel")),
        ("channels:history", lambda c, channel: c.conversations_history(channel=channel)),
        ("channels:history", lambda c, channel: c.conversations_replies(channel=channel, ts="1")),
    ],
)
def test_each_method_checks_its_scope(
    slack_fake: SlackFake, slack_client: WebClient, missing: str, call: Callable[..., Any]
) -> None:
    channel = slack_fake.channel_id("#red-accounts")
    slack_fake.set_scopes(s for s in DEFAULT_SCOPES if s != missing)
    with pytest.raises(SlackApiError) as raised:
        call(slack_client, channel)
    data = raised.value.response.data
    assert isinstance(data, dict)
    assert data["error"] == "missing_scope" and data["needed"] == missing
    assert data["provided"].split(",") == [s for s in DEFAULT_SCOPES if s != missing]
    assert slack_fake.messages == []


def test_history_scope_follows_the_conversation_type(
    slack_fake: SlackFake, slack_client: WebClient
) -> None:
    private = slack_fake.add_channel("deal-room", private=True)
    dm = slack_client.conversations_open(users="U024BE7LH")["channel"]["id"]
    slack_fake.set_scopes(["chat:write", "im:write", "channels:history"])
    slack_client.conversations_history(channel=slack_fake.channel_id("#red-accounts"))
    for channel, needed in ((private, "groups:history"), (dm, "im:history")):
        with pytest.raises(SlackApiError) as raised:
            slack_client.conversations_history(channel=channel)
        assert raised.value.response["needed"] == needed


def test_reset_restores_the_initial_scopes(slack_fake: SlackFake) -> None:
    slack_fake.set_scopes([])
    slack_fake.reset()
    assert slack_fake.scopes == DEFAULT_SCOPES


def test_scopes_are_set_through_the_control_api(slack_fake: SlackFake) -> None:
    from dealcycle.fakes import ControlClient

    control = ControlClient(slack_fake.url)
    control.post("scopes", {"scopes": ["chat:write"]})
    assert control.get("scopes") == {"scopes": ["chat:write"]}
    assert slack_fake.scopes == ("chat:write",)
    control.close()


# the check at worker start --------------------------------------------------------------------


def test_check_passes_with_every_scope(slack_settings: SlackSettings) -> None:
    check_slack_scopes(build_slack_client(slack_settings))


def test_check_names_every_missing_scope(
    slack_fake: SlackFake, slack_settings: SlackSettings
) -> None:
    slack_fake.set_scopes(["chat:write", "im:write", "channels:history"])
    with pytest.raises(SlackSetupError) as raised:
        check_slack_scopes(build_slack_client(slack_settings))
    message = str(raised.value)
    assert "\n" not in message
    for scope in ("groups:history", "im:history", "channels:read", "groups:read"):
        assert scope in message
    assert "chat:write" not in message.split("scopes ")[1].split(",")[0]


def test_check_refuses_a_token_slack_refuses(
    slack_fake: SlackFake, slack_settings: SlackSettings
) -> None:
    slack_fake.set_token_valid(False)
    with pytest.raises(SlackSetupError, match="invalid_auth"):
        check_slack_scopes(build_slack_client(slack_settings))


def test_check_goes_on_when_slack_cannot_be_asked(slack_settings: SlackSettings) -> None:
    unreachable = SlackSettings(bot_token="xoxb-t", api_url="http://127.0.0.1:9/api/")
    check_slack_scopes(build_slack_client(unreachable))  # logged; the activity still refuses


def test_worker_refuses_to_start_naming_the_missing_scopes(
    slack_fake: SlackFake, test_settings: Settings
) -> None:
    from worker import build_activities

    slack_fake.set_scopes(["chat:write", "im:write"])
    with pytest.raises(SystemExit) as raised:
        build_activities(test_settings)
    assert isinstance(raised.value.code, str) and "\n" not in raised.value.code
    assert raised.value.code.startswith("the worker cannot start: the Slack bot token lacks")
    assert "channels:history" in raised.value.code and "im:history" in raised.value.code


def test_readme_lists_every_scope_and_why() -> None:
    text = README.read_text()
    section = text[text.index("## Running against real Salesforce and Slack") :]
    rows = dict(re.findall(r"^\s*\| `([a-z]+:[a-z]+)` \| (.+?) \|$", section, re.MULTILINE))
    assert set(rows) == set(REQUIRED_SCOPES)
    assert all(reason.strip() for reason in rows.values())


async def test_dealcycle_worker_exits_with_one_line_naming_the_missing_scopes(
    time_skipping_env: WorkflowEnvironment,
    slack_fake: SlackFake,
    salesforce_fake: SalesforceFake,
    tmp_path: Path,
) -> None:
    slack_fake.set_scopes(["chat:write", "im:write", "channels:history"])
    sandbox = Sandbox(salesforce_fake, slack_fake)
    env = {
        **os.environ,
        **sandbox.env,
        "DEALCYCLE_STATE_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dealcycle.db'}",
        "DEALCYCLE_TEMPORAL_ADDRESS": time_skipping_env.client.service_client.config.target_host,
        "DEALCYCLE_LOG_FORMAT": "json",
    }
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "dealcycle"),
        "worker",
        "--no-sandbox",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    text = stderr.decode()
    assert process.returncode == 1, text
    assert "Traceback" not in text
    last = text.strip().splitlines()[-1]
    assert last.startswith(
        "dealcycle: the worker cannot start: the Slack bot token lacks the scopes"
    )
    assert "groups:history, im:history, channels:read, groups:read" in last
