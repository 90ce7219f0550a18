"""The Slack side of ``make run``: the sandbox Slack page and the Slack app.

The page (``dealcycle.fakes.slack_page``) shows the Slack fake as Slack would, on
``http://localhost:8234`` unless ``DEALCYCLE_SLACK_PAGE_PORT`` says otherwise. The Slack app is
``dealcycle slack`` in a child process, given the sandbox's Slack settings, so a click on the
page travels as it would from Slack: the fake signs it and delivers it to the app (over its
Socket Mode WebSocket when the sandbox hands out an ``xapp-`` token, else by HTTP), and the app
sends the Temporal Update.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

from dealcycle.fakes.slack_page import SlackPage, page_port
from dealcycle.logging import get_logger

log = get_logger("dealcycle.run")

SLACK_APP_MODULE = "starter.slack.app"
DEFAULT_SLACK_APP_PORT = "3000"
STOP_GRACE_SECONDS = 10


def slack_app_available() -> bool:
    """Whether this checkout has the Slack app (``starter/slack/app.py``) to run."""
    try:
        return importlib.util.find_spec(SLACK_APP_MODULE) is not None
    except ModuleNotFoundError:
        return False


@contextlib.contextmanager
def slack_page(fake_url: str, environ: Mapping[str, str]) -> Iterator[SlackPage | None]:
    """The page, or ``None`` (with a warning) when its port is taken or misconfigured:
    ``make run`` goes on without it rather than fail."""
    try:
        page = SlackPage(fake_url, port=page_port(environ)).start()
    except (OSError, ValueError) as error:
        log.warning(
            "sandbox Slack page not started (set DEALCYCLE_SLACK_PAGE_PORT to a free port)",
            error=str(error),
        )
        yield None
        return
    try:
        yield page
    finally:
        page.stop()


def _deliver_to(fake_url: str, request_url: str) -> None:
    """Tell the Slack fake where the app listens (HTTP mode); an older fake without the
    endpoint is not an error."""
    request = urllib.request.Request(
        f"{fake_url.rstrip('/')}/__fake__/app",
        data=json.dumps({"request_url": request_url}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5):
            pass
    except (urllib.error.URLError, TimeoutError) as error:
        log.warning("the Slack fake does not deliver to the app", error=str(error))


@contextlib.asynccontextmanager
async def running_slack_app(
    environ: Mapping[str, str], *, fake_url: str | None, log_file: Path
) -> AsyncIterator[str | None]:
    """``dealcycle slack`` as a child process for as long as the block runs; yields a line
    for the banner, or ``None`` when this checkout has no Slack app yet."""
    if not slack_app_available():
        yield None
        return
    env = dict(environ)
    socket_mode = env.get("SLACK_APP_TOKEN", "").startswith("xapp-")
    port = env.setdefault("DEALCYCLE_SLACK_PORT", DEFAULT_SLACK_APP_PORT)
    if fake_url is not None and not socket_mode:
        _deliver_to(fake_url, f"http://127.0.0.1:{port}/slack/events")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from starter.cli import console_main; console_main()",
            "slack",
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=output,
        )
    try:
        how = "Socket Mode" if socket_mode else f"HTTP on :{port}/slack/events"
        yield f"{how}, log {log_file}"
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()
        elif process.returncode:
            log.warning("the Slack app exited early", code=process.returncode, log=str(log_file))
