"""A tiny slack-bolt app against the Slack fake, in both modes the dealcycle app runs in: HTTP
(bolt verifies the fake's signatures itself) and Socket Mode (bolt's AsyncSocketModeHandler)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from dealcycle.fakes import SlackFake
from dealcycle.fakes.slack_delivery import DeliveryOptions
from tests.test_slack_fake_delivery import MODAL, PROMPT_BLOCKS, click_done


def _bolt_app(fake: SlackFake, seen: list[str]) -> AsyncApp:
    app = AsyncApp(
        token=fake.bot_token,
        signing_secret=fake.signing_secret,
        client=AsyncWebClient(token=fake.bot_token, base_url=fake.api_url),
    )

    @app.action("dealcycle_done")
    async def done(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        # Acked last, so the delivery returns once the message and modal are there.
        seen.append(f"done by {body['user']['id']}")
        container = body["container"]
        await client.chat_update(
            channel=container["channel_id"],
            ts=container["message_ts"],
            text=f"✅ done by <@{body['user']['id']}>",
            blocks=[],
        )
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        await ack()

    @app.view("dealcycle_modal_health")
    async def health(ack: AsyncAck, view: dict[str, Any]) -> None:
        reason = view["state"]["values"]["reason"]["reason"]["value"]
        if not reason:
            await ack(response_action="errors", errors={"reason": "Say why"})
            return
        seen.append(f"health: {reason}")
        await ack()

    @app.command("/dealcycle")
    async def command(ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any]) -> None:
        await respond(f"you asked for {command['text']}")
        await ack()

    @app.event("message")
    async def message(event: dict[str, Any]) -> None:
        seen.append(f"reply: {event['text']}")

    return app


async def _click_and_submit(fake: SlackFake, seen: list[str]) -> None:
    web = AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)
    posted = await web.chat_postMessage(
        channel="#dealcycle-trials", text="Plan", blocks=PROMPT_BLOCKS
    )
    clicked = await asyncio.to_thread(
        fake.app.click, "U0AE1", "dealcycle_done", channel=posted["channel"], ts=posted["ts"]
    )
    assert clicked.status == 200
    message = fake.message(posted["channel"], posted["ts"])
    assert message is not None and message.text == "✅ done by <@U0AE1>"
    [modal] = fake.state()["views"]["U0AE1"]
    refused = await asyncio.to_thread(
        fake.app.submit, "U0AE1", modal["id"], {"reason": {"reason": ""}}
    )
    assert refused.body == {"response_action": "errors", "errors": {"reason": "Say why"}}
    assert fake.state()["views"]["U0AE1"][0]["id"] == modal["id"]
    await asyncio.to_thread(fake.app.submit, "U0AE1", modal["id"], {"reason": {"reason": "ok"}})
    assert fake.state()["views"] == {}
    await asyncio.to_thread(fake.app.command, "U0AE1", "/dealcycle", "todo")
    await asyncio.to_thread(fake.app.reply, "U0AE1", posted["channel"], posted["ts"], "thanks")
    for _ in range(200):  # bolt acks an event before its listener runs
        if len(seen) == 3:
            break
        await asyncio.sleep(0.05)
    assert seen == ["done by U0AE1", "health: ok", "reply: thanks"]
    assert [e.text for e in fake.ephemerals_for("U0AE1")] == ["you asked for todo"]


@pytest.fixture
async def http_bolt(slack_fake: SlackFake) -> AsyncIterator[list[str]]:
    seen: list[str] = []
    server = TestServer(_bolt_app(slack_fake, seen).web_app(path="/slack/events"), host="127.0.0.1")
    await server.start_server()
    slack_fake.app_url = str(server.make_url("/slack/events"))
    yield seen
    await server.close()


async def test_a_bolt_app_over_http(slack_fake: SlackFake, http_bolt: list[str]) -> None:
    await _click_and_submit(slack_fake, http_bolt)
    assert {c.query["via"] for c in slack_fake.calls_to("^/__app__/", "DELIVER")} == {"http"}


async def test_bolt_refuses_forged_and_stale_requests_from_the_fake(
    slack_fake: SlackFake, http_bolt: list[str]
) -> None:
    web = AsyncWebClient(token=slack_fake.bot_token, base_url=slack_fake.api_url)
    posted = await web.chat_postMessage(
        channel="#dealcycle-trials", text="Plan", blocks=PROMPT_BLOCKS
    )
    for options in (DeliveryOptions(forge_signature=True), DeliveryOptions(timestamp_offset=-360)):
        assert (await click_done(slack_fake, posted, options)).status == 401
    assert http_bolt == []


async def test_a_bolt_app_over_socket_mode(slack_fake: SlackFake) -> None:
    seen: list[str] = []
    handler = AsyncSocketModeHandler(_bolt_app(slack_fake, seen), slack_fake.app_token)
    await handler.connect_async()
    try:
        for _ in range(200):  # connect_async returns before the WebSocket has said hello
            if slack_fake.app.socket.connected:
                break
            await asyncio.sleep(0.05)
        await _click_and_submit(slack_fake, seen)
    finally:
        await handler.close_async()
    assert {c.query["via"] for c in slack_fake.calls_to("^/__app__/", "DELIVER")} == {"socket"}
