"""Socket Mode against the Slack fake with slack-sdk's real clients: the aiohttp one slack-bolt's
``AsyncSocketModeHandler`` runs on, and the built-in one of its synchronous handler."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient as AsyncSocketModeClient
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from dealcycle.fakes import ControlClient, SlackFake
from tests.test_slack_fake_delivery import MODAL, PROMPT_BLOCKS, click_done


@pytest.fixture
async def socket_app(slack_fake: SlackFake) -> AsyncIterator[tuple[AsyncSocketModeClient, list]]:
    """An app connected over Socket Mode that acks every envelope; a view submission's ack
    carries errors, as a validator's refusal would."""
    client = AsyncSocketModeClient(
        app_token=slack_fake.app_token,
        web_client=AsyncWebClient(token=slack_fake.bot_token, base_url=slack_fake.api_url),
    )
    received: list[SocketModeRequest] = []
    hello = asyncio.Event()

    async def on_request(client: AsyncSocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        payload: dict[str, Any] | None = None
        if request.payload.get("type") == "view_submission":
            payload = {"response_action": "errors", "errors": {"reason": "Say why"}}
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload=payload)
        )

    async def on_message(message: aiohttp.WSMessage) -> None:
        if json.loads(message.data).get("type") == "hello":
            hello.set()

    client.socket_mode_request_listeners.append(on_request)
    client.on_message_listeners.append(on_message)
    await client.connect()
    await asyncio.wait_for(hello.wait(), 10)
    yield client, received
    await client.close()


async def test_the_async_client_receives_a_click_and_its_ack_answers(
    slack_fake: SlackFake, socket_app: tuple[AsyncSocketModeClient, list]
) -> None:
    _, received = socket_app
    web = WebClient(token=slack_fake.bot_token, base_url=slack_fake.api_url)
    posted = web.chat_postMessage(channel="#dealcycle-trials", text="Plan", blocks=PROMPT_BLOCKS)
    result = await click_done(slack_fake, posted)
    assert (result.via, result.status, result.body) == ("socket", 200, None)
    [request] = received
    assert request.type == "interactive" and request.envelope_id == result.delivery_id
    assert request.payload["type"] == "block_actions"
    assert request.payload["container"]["message_ts"] == posted["ts"]
    assert request.payload["actions"][0]["action_id"] == "dealcycle_done"
    [call] = slack_fake.calls_to("^/__app__/block_actions$", "DELIVER")
    assert call.query["via"] == "socket" and call.status == 200


async def test_a_view_submission_ack_payload_is_the_answer(
    slack_fake: SlackFake, socket_app: tuple[AsyncSocketModeClient, list]
) -> None:
    _, received = socket_app
    web = WebClient(token=slack_fake.bot_token, base_url=slack_fake.api_url)
    view = web.views_open(trigger_id=slack_fake.issue_trigger("U0CE1"), view=MODAL)["view"]
    control = ControlClient(slack_fake.url)
    answer = await asyncio.to_thread(
        control.post,
        "submit",
        {"user": "U0CE1", "view_id": view["id"], "values": {"reason": {"reason": ""}}},
    )
    control.close()
    assert answer["via"] == "socket"
    assert answer["body"] == {"response_action": "errors", "errors": {"reason": "Say why"}}
    assert [v["id"] for v in slack_fake.state()["views"]["U0CE1"]] == [view["id"]]
    assert received[0].payload["view"]["state"]["values"]["reason"]["reason"]["value"] == ""


async def test_events_and_slash_commands_arrive_as_their_envelope_types(
    slack_fake: SlackFake, socket_app: tuple[AsyncSocketModeClient, list]
) -> None:
    _, received = socket_app
    web = WebClient(token=slack_fake.bot_token, base_url=slack_fake.api_url)
    parent = web.chat_postMessage(channel="#red-accounts", text="Red: Acme")
    await asyncio.to_thread(slack_fake.app.reply, "U0AE1", "#red-accounts", parent["ts"], "ask")
    await asyncio.to_thread(slack_fake.app.command, "U0AE1", "/dealcycle", "todo")
    await asyncio.to_thread(slack_fake.app.home, "U0AE1")
    assert [r.type for r in received] == ["events_api", "slash_commands", "events_api"]
    assert received[0].payload["event"]["thread_ts"] == parent["ts"]
    assert received[1].payload["command"] == "/dealcycle"
    assert received[2].payload["event"]["type"] == "app_home_opened"


async def test_connections_open_needs_the_app_token_and_a_ticket_works_once(
    slack_fake: SlackFake,
) -> None:
    with pytest.raises(SlackApiError) as raised:
        WebClient(token=slack_fake.bot_token, base_url=slack_fake.api_url).apps_connections_open(
            app_token=slack_fake.bot_token
        )
    assert raised.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as raised:
        WebClient(token=slack_fake.app_token, base_url=slack_fake.api_url).auth_test()
    assert raised.value.response["error"] == "not_allowed_token_type"
    url = WebClient(base_url=slack_fake.api_url).apps_connections_open(
        app_token=slack_fake.app_token
    )["url"]
    assert url.startswith("ws://")
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as first:
            hello = await first.receive_json(timeout=10)
            assert hello["type"] == "hello"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)
        assert refused.value.status == 401


def test_the_builtin_client_of_bolts_sync_handler_receives_and_acks(
    slack_fake: SlackFake,
) -> None:
    client = SocketModeClient(
        app_token=slack_fake.app_token,
        web_client=WebClient(token=slack_fake.bot_token, base_url=slack_fake.api_url),
        auto_reconnect_enabled=False,
    )
    received: list[SocketModeRequest] = []
    connected = threading.Event()

    def on_request(client: SocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        client.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload={"text": "3 open steps"})
        )

    def on_message(message: str) -> None:
        if json.loads(message).get("type") == "hello":
            connected.set()

    client.socket_mode_request_listeners.append(on_request)
    client.on_message_listeners.append(on_message)
    client.connect()
    try:
        assert connected.wait(10)
        result = slack_fake.app.command("U0AE1", "/dealcycle", "todo")
    finally:
        client.close()
    assert (result.via, result.body) == ("socket", {"text": "3 open steps"})
    assert [r.payload["text"] for r in received] == ["todo"]
    assert [e.text for e in slack_fake.ephemerals_for("U0AE1")] == ["3 open steps"]
