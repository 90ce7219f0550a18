"""``make run`` starts the Slack app beside the worker: ``dealcycle slack`` as a child process,
connected to the sandbox's Slack fake over Socket Mode, and stopped with ``make run``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from dealcycle.fakes import SlackFake
from dealcycle.settings import Settings
from starter.devrun import slack_app_env
from starter.devrun_slack import running_slack_app, slack_app_available


async def app_connections(fake: SlackFake, wanted: int) -> int:
    """The fake's open Socket Mode connections, once they are ``wanted`` (a Python child
    process takes a few seconds to start)."""
    for _ in range(600):
        connected: int = fake.state()["app"]["socket_connections"]
        if connected == wanted:
            break
        await asyncio.sleep(0.1)
    return connected


async def test_make_run_starts_the_slack_app_on_the_sandbox_and_stops_it(
    slack_fake: SlackFake, time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    assert slack_app_available()
    environ = {
        **os.environ,
        "DEALCYCLE_STATE_DIR": str(tmp_path / "state"),
        "DEALCYCLE_TEMPORAL_ADDRESS": time_skipping_env.client.service_client.config.target_host,
        "SLACK_BOT_TOKEN": slack_fake.bot_token,
        "SLACK_API_URL": slack_fake.api_url,
        "SLACK_SIGNING_SECRET": slack_fake.signing_secret,
        "SLACK_APP_TOKEN": slack_fake.app_token,
    }
    log_file = tmp_path / "slack-app.log"
    async with running_slack_app(environ, fake_url=slack_fake.url, log_file=log_file) as banner:
        assert banner == f"Socket Mode, log {log_file}"
        assert await app_connections(slack_fake, 1) == 1, log_file.read_text()
    assert await app_connections(slack_fake, 0) == 0


def test_the_slack_app_is_given_the_workers_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app records red-account asks in the worker's database: told where, not left to work
    it out from a directory or an import path of its own."""
    monkeypatch.delenv("DEALCYCLE_STATE_DIR", raising=False)
    worker = replace(
        Settings.from_env({"DEALCYCLE_STATE_DIR": str(tmp_path / "state")}),
        temporal_address="127.0.0.1:7999",
    )
    env = slack_app_env({"PATH": "/usr/bin"}, {"SLACK_BOT_TOKEN": "xoxb-sandbox"}, worker)
    assert env["DEALCYCLE_STATE_DIR"] == str(tmp_path / "state")
    assert Settings.from_env(env).database_url == worker.database_url
    assert env["DEALCYCLE_TEMPORAL_ADDRESS"] == "127.0.0.1:7999"
    assert (env["SLACK_BOT_TOKEN"], env["PATH"]) == ("xoxb-sandbox", "/usr/bin")


async def test_make_run_serves_the_web_ui_on_the_port_of_its_ui_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A second `make run` beside another one is given other ports: the Web UI's is the port
    of DEALCYCLE_TEMPORAL_UI_URL (the links the CLI prints), as the port-in-use message says;
    it was always 8233."""
    from dealcycle.devtools.devserver import PortInUseError
    from starter import devrun

    asked: dict[str, object] = {}

    def taken(**kwargs: object) -> None:
        asked.update(kwargs)
        raise PortInUseError("stop here: the dev server is not started")

    monkeypatch.setattr(devrun, "running_dev_server", taken)
    monkeypatch.setattr(devrun, "configure_logging", lambda *_args: None)
    environ = {
        **os.environ,
        "DEALCYCLE_STATE_DIR": str(tmp_path / "state"),
        "DEALCYCLE_TEMPORAL_ADDRESS": "localhost:37533",
        "DEALCYCLE_TEMPORAL_UI_URL": "http://localhost:37534",
    }
    with pytest.raises(PortInUseError):
        await devrun.run_everything(environ=environ)
    assert (asked["port"], asked["ui_port"]) == (37533, 37534)


@pytest.mark.parametrize("command", [["run"], ["server", "--port", "37533"]])
def test_a_port_in_use_is_said_plainly_not_as_an_internal_error(
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """The dev server's refusal says what to do; `internal error:` is for dealcycle's bugs."""
    from contextlib import asynccontextmanager

    from dealcycle.devtools.devserver import PortInUseError
    from starter import cli, cli_common, devrun

    @asynccontextmanager
    async def taken(**_kwargs: object) -> AsyncIterator[None]:
        raise PortInUseError("something already listens on 127.0.0.1:8233 (Temporal Web UI port)")
        yield

    monkeypatch.setattr(devrun, "running_dev_server", taken)
    monkeypatch.setattr(devrun, "configure_logging", lambda *_args: None)
    monkeypatch.setattr(cli_common, "configure_logging", lambda *_args: None)
    monkeypatch.setenv("DEALCYCLE_STATE_DIR", str(tmp_path / "state"))

    assert cli.main(command) == 1
    assert capsys.readouterr().err == (
        "dealcycle: something already listens on 127.0.0.1:8233 (Temporal Web UI port)\n"
    )
