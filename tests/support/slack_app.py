"""The Slack app served to a test, and Slack's side of the wire: signed interaction and event
requests as Slack sends them (``X-Slack-Signature: v0=HMAC_SHA256(secret, "v0:{ts}:{body}")``)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import requests
from aiohttp.test_utils import TestServer
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from dealcycle.fakes import SlackFake
from dealcycle.settings import Settings
from starter.slack.app import EVENTS_PATH, build_app, http_application
from starter.slack.deps import SlackAppDeps
from starter.slack.verification import RequestGuard
from tests.support.codec import plain_payloads

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
T = TypeVar("T")


def with_signing_secret(settings: Settings) -> Settings:
    return replace(settings, slack=replace(settings.slack, signing_secret=SIGNING_SECRET))


def sign(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> dict[str, str]:
    base = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


_click_counter = 0


def block_actions(
    user: str, channel: str, message_ts: str, action_id: str, value: dict[str, str]
) -> dict[str, Any]:
    """A ``block_actions`` payload as Slack sends it for a button in a channel message; each
    call is a new click (its own ``action_ts`` and ``trigger_id``)."""
    global _click_counter
    _click_counter += 1
    action_ts = f"{int(time.time())}.{_click_counter:06d}"
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T0DEALCYC"},
        "api_app_id": "A0DEALCYC",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{_click_counter}.1234.abcdef{_click_counter}",
        "team": {"id": "T0DEALCYC", "domain": "dealcycle"},
        "channel": {"id": channel, "name": "dealcycle-trials"},
        "message": {"type": "message", "ts": message_ts, "text": "prompt", "blocks": []},
        "response_url": "https://hooks.slack.invalid/actions/T0/1/x",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "step",
                "text": {"type": "plain_text", "text": "Done"},
                "value": json.dumps(value),
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }


def interaction_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


@dataclass
class ServedApp:
    """The app on a local port, and a session that posts to it as Slack does."""

    url: str
    session: aiohttp.ClientSession

    async def post(self, body: str, headers: dict[str, str], json_body: bool = False) -> int:
        content_type = "application/json" if json_body else "application/x-www-form-urlencoded"
        async with self.session.post(
            self.url, data=body.encode(), headers={**headers, "Content-Type": content_type}
        ) as response:
            await response.read()
            return response.status

    async def deliver(self, body: str, json_body: bool = False, age: int = 0) -> int:
        """Sign ``body`` now (less ``age`` seconds) and post it."""
        return await self.post(body, sign(body, int(time.time()) - age), json_body)


@asynccontextmanager
async def served_app(client: Client, settings: Settings) -> AsyncIterator[ServedApp]:
    deps = SlackAppDeps(client=client, settings=settings)
    web_app = http_application(build_app(deps), RequestGuard(settings.slack.signing_secret))
    server = TestServer(web_app, host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            yield ServedApp(str(server.make_url(EVENTS_PATH)), session)
    finally:
        await server.close()


async def eventually(check: Callable[[], Awaitable[T | None]], attempts: int = 600) -> T:
    """``check()``'s first answer that is not ``None``; the app finishes a click after it
    acknowledged it, so what the click did is looked for until it is there."""
    for _ in range(attempts):
        answer = await check()
        if answer is not None:
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {check}")


async def update_ids(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """Ids of the updates the workflow accepted (in its history)."""
    history = await handle.fetch_history()
    return [
        event.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]


async def accepted_update_inputs(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The raw JSON input of every accepted update, to find who it names."""
    history = await handle.fetch_history()
    inputs: list[str] = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            continue
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        plain = await plain_payloads(request.input.args.payloads)
        inputs += [payload.data.decode() for payload in plain]
    return inputs


@asynccontextmanager
async def socket_mode_app(
    client: Client, settings: Settings, app_token: str, fake: SlackFake | None = None
) -> AsyncIterator[None]:
    """The app connected to the fake over Socket Mode until the block ends. With ``fake``, not
    before the fake counts the connection: the client's handshake can end before the fake's
    side has taken it, and a click sent in between found no app (409)."""
    deps = SlackAppDeps(client=client, settings=settings)
    handler = AsyncSocketModeHandler(build_app(deps), app_token)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    if fake is not None:

        async def counted() -> bool | None:
            return True if fake.app.socket.connected else None

        await eventually(counted)
    try:
        yield
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


async def fake_control(fake_url: str, name: str, body: dict[str, Any]) -> Any:
    """``POST /__fake__/<name>`` (click, reply, ...), off the event loop: the fake answers once
    the app, running on this loop, has acknowledged the delivery."""

    def post() -> Any:
        answer = requests.post(f"{fake_url}/__fake__/{name}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()

    return await asyncio.to_thread(post)


def done_button_blocks(value: dict[str, str], text: str) -> list[dict[str, Any]]:
    """A prompt's blocks as the workflows post them: the text, then Done."""
    return [
        {"type": "section", "block_id": "prompt", "text": {"type": "mrkdwn", "text": text}},
        {
            "type": "actions",
            "block_id": "step",
            "elements": [
                {
                    "type": "button",
                    "action_id": "dealcycle_done",
                    "text": {"type": "plain_text", "text": "Done"},
                    "style": "primary",
                    "value": json.dumps(value),
                }
            ],
        },
    ]
