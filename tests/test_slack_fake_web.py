"""The Slack fake's Web API for the Slack app: blocks, chat.update, ephemerals, permalinks,
users.info and views.*, through the real slack-sdk clients; and ``GET /__fake__/state``."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from dealcycle.fakes import ControlClient, SlackFake, read_endpoints, start_sandbox
from dealcycle.fakes.slack import DEFAULT_SCOPES

DONE_BUTTON: dict[str, Any] = {
    "type": "actions",
    "block_id": "step",
    "elements": [
        {
            "type": "button",
            "action_id": "dealcycle_done",
            "text": {"type": "plain_text", "text": "Done"},
            "value": '{"workflow_id": "trial-1", "step": "plan", "kind": "trial"}',
        }
    ],
}
SECTION: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": "Plan the trial"}}
MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "dealcycle_modal_health",
    "title": {"type": "plain_text", "text": "Health"},
    "submit": {"type": "plain_text", "text": "Save"},
    "private_metadata": '{"workflow_id": "account-1"}',
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Why"},
            "element": {"type": "plain_text_input", "action_id": "reason"},
        }
    ],
}
HOME: dict[str, Any] = {"type": "home", "blocks": [SECTION, DONE_BUTTON]}


def _error(raised: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(raised.value.response["error"])


def test_post_message_keeps_and_returns_blocks(
    slack_fake: SlackFake, slack_client: WebClient
) -> None:
    posted = slack_client.chat_postMessage(
        channel="#dealcycle-trials", text="Plan the trial", blocks=[SECTION, DONE_BUTTON]
    )
    assert posted["message"]["blocks"] == [SECTION, DONE_BUTTON]
    history = slack_client.conversations_history(channel=posted["channel"])
    assert history["messages"][0]["blocks"] == [SECTION, DONE_BUTTON]
    assert slack_fake.messages[0].blocks == [SECTION, DONE_BUTTON]


@pytest.mark.parametrize(
    "blocks",
    [
        [{"text": "no type"}],
        ["not a dict"],
        [SECTION] * 51,
    ],
)
def test_post_message_refuses_invalid_blocks(
    slack_fake: SlackFake, slack_client: WebClient, blocks: list[Any]
) -> None:
    with pytest.raises(SlackApiError) as raised:
        slack_client.chat_postMessage(channel="#dealcycle-trials", text="x", blocks=blocks)
    assert _error(raised) == "invalid_blocks"
    assert slack_fake.messages == []


def test_chat_update_replaces_text_and_blocks_and_records_the_edit(
    slack_fake: SlackFake, slack_client: WebClient
) -> None:
    posted = slack_client.chat_postMessage(
        channel="#dealcycle-trials", text="Plan the trial", blocks=[SECTION, DONE_BUTTON]
    )
    done = {"type": "section", "text": {"type": "mrkdwn", "text": "✅ done by <@U0AE1>"}}
    updated = slack_client.chat_update(
        channel=posted["channel"], ts=posted["ts"], text="done", blocks=[done]
    )
    assert updated["ts"] == posted["ts"] and updated["message"]["blocks"] == [done]
    message = slack_fake.message("#dealcycle-trials", posted["ts"])
    assert message is not None
    assert (message.text, message.blocks) == ("done", [done])
    assert message.edited is not None and message.edited["user"] == "U0DEALBOT1"
    history = slack_client.conversations_history(channel=posted["channel"])["messages"]
    assert len(history) == 1 and history[0]["edited"]["ts"] == message.edited["ts"]


def test_chat_update_keeps_blocks_it_is_not_given(slack_fake: SlackFake, slack_client: WebClient):
    posted = slack_client.chat_postMessage(channel="#dealcycle-trials", text="a", blocks=[SECTION])
    slack_client.chat_update(channel=posted["channel"], ts=posted["ts"], text="b")
    message = slack_fake.message(posted["channel"], posted["ts"])
    assert message is not None and (message.text, message.blocks) == ("b", [SECTION])


def test_chat_update_errors(slack_fake: SlackFake, slack_client: WebClient) -> None:
    posted = slack_client.chat_postMessage(channel="#red-accounts", text="case")
    with pytest.raises(SlackApiError) as raised:
        slack_client.chat_update(channel=posted["channel"], ts="1.000001", text="x")
    assert _error(raised) == "message_not_found"
    reply = slack_fake.add_user_message(posted["channel"], "U0AE1", "my ask", posted["ts"])
    with pytest.raises(SlackApiError) as raised:
        slack_client.chat_update(channel=posted["channel"], ts=reply.ts, text="x")
    assert _error(raised) == "cant_update_message"
    with pytest.raises(SlackApiError) as raised:
        slack_client.chat_update(channel=posted["channel"], ts=posted["ts"], blocks=[{"x": 1}])
    assert _error(raised) == "invalid_blocks"
    slack_fake.set_scopes(s for s in DEFAULT_SCOPES if s != "chat:write")
    with pytest.raises(SlackApiError) as raised:
        slack_client.chat_update(channel=posted["channel"], ts=posted["ts"], text="x")
    assert raised.value.response["needed"] == "chat:write"
    assert [m.text for m in slack_fake.messages] == ["case", "my ask"]


def test_ephemeral_messages_are_kept_per_user_and_never_in_history(
    slack_fake: SlackFake, slack_client: WebClient
) -> None:
    channel = slack_fake.channel_id("#dealcycle-trials")
    assert channel is not None
    answer = slack_client.chat_postEphemeral(
        channel=channel, user="U0OTHER1", text="Only the AE or CE may act"
    )
    assert answer["message_ts"]
    assert [e.text for e in slack_fake.ephemerals_for("U0OTHER1")] == ["Only the AE or CE may act"]
    assert slack_fake.ephemerals_for("U0AE1") == []
    assert slack_client.conversations_history(channel=channel)["messages"] == []
    assert slack_fake.messages == []
    with pytest.raises(SlackApiError) as raised:
        slack_client.chat_postEphemeral(channel=channel, user="nobody", text="x")
    assert _error(raised) == "user_not_found"


def test_permalink_names_the_message_and_its_thread(
    slack_fake: SlackFake, slack_client: WebClient
) -> None:
    parent = slack_client.chat_postMessage(channel="#red-accounts", text="case")
    reply = slack_fake.add_user_message(parent["channel"], "U0AE1", "ask", parent["ts"])
    link = slack_client.chat_getPermalink(channel=parent["channel"], message_ts=reply.ts)
    assert link["permalink"] == (
        f"https://dealcycle-fake.slack.com/archives/{parent['channel']}/p"
        f"{reply.ts.replace('.', '')}?thread_ts={parent['ts']}&cid={parent['channel']}"
    )
    with pytest.raises(SlackApiError) as raised:
        slack_client.chat_getPermalink(channel=parent["channel"], message_ts="1.1")
    assert _error(raised) == "message_not_found"


def test_users_info_needs_users_read(slack_fake: SlackFake, slack_client: WebClient) -> None:
    slack_fake.set_user_name("U0AE1", "ada")
    assert slack_client.users_info(user="U0AE1")["user"]["name"] == "ada"
    with pytest.raises(SlackApiError) as raised:
        slack_client.users_info(user="nobody")
    assert _error(raised) == "user_not_found"
    slack_fake.set_scopes(s for s in DEFAULT_SCOPES if s != "users:read")
    with pytest.raises(SlackApiError) as raised:
        slack_client.users_info(user="U0AE1")
    assert raised.value.response["needed"] == "users:read"


async def test_views_open_needs_a_fresh_trigger_used_once(slack_fake: SlackFake) -> None:
    client = AsyncWebClient(token=slack_fake.bot_token, base_url=slack_fake.api_url)
    trigger = slack_fake.issue_trigger("U0AE1")
    opened = await client.views_open(trigger_id=trigger, view=MODAL)
    view = opened["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "dealcycle_modal_health"
    assert view["state"] == {"values": {}} and view["private_metadata"] == MODAL["private_metadata"]
    assert [v["id"] for v in slack_fake.state()["views"]["U0AE1"]] == [view["id"]]
    with pytest.raises(SlackApiError) as raised:
        await client.views_open(trigger_id=trigger, view=MODAL)
    assert _error(raised) == "exchanged_trigger_id"
    with pytest.raises(SlackApiError) as raised:
        await client.views_open(trigger_id="123.456.abc", view=MODAL)
    assert _error(raised) == "invalid_trigger_id"
    slack_fake.views.trigger_ttl = 0
    with pytest.raises(SlackApiError) as raised:
        await client.views_open(trigger_id=slack_fake.issue_trigger("U0AE1"), view=MODAL)
    assert _error(raised) == "expired_trigger_id"


async def test_views_open_refuses_an_invalid_view(slack_fake: SlackFake) -> None:
    client = AsyncWebClient(token=slack_fake.bot_token, base_url=slack_fake.api_url)
    long_title = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError) as raised:
        await client.views_open(trigger_id=slack_fake.issue_trigger("U0AE1"), view=long_title)
    assert _error(raised) == "invalid_arguments"
    assert slack_fake.state()["views"] == {}


async def test_views_update_and_push(slack_fake: SlackFake) -> None:
    client = AsyncWebClient(token=slack_fake.bot_token, base_url=slack_fake.api_url)
    view = (await client.views_open(trigger_id=slack_fake.issue_trigger("U0AE1"), view=MODAL))[
        "view"
    ]
    changed = {**MODAL, "title": {"type": "plain_text", "text": "Health (red)"}}
    updated = (await client.views_update(view_id=view["id"], hash=view["hash"], view=changed))[
        "view"
    ]
    assert updated["id"] == view["id"] and updated["title"]["text"] == "Health (red)"
    with pytest.raises(SlackApiError) as raised:
        await client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL)
    assert _error(raised) == "hash_conflict"
    with pytest.raises(SlackApiError) as raised:
        await client.views_update(view_id="VNOPE", view=MODAL)
    assert _error(raised) == "not_found"
    pushed = (await client.views_push(trigger_id=slack_fake.issue_trigger("U0AE1"), view=MODAL))[
        "view"
    ]
    assert pushed["root_view_id"] == view["id"] and pushed["previous_view_id"] == view["id"]
    stack = slack_fake.state()["views"]["U0AE1"]
    assert [v["id"] for v in stack] == [view["id"], pushed["id"]]


async def test_views_publish_keeps_one_home_per_user(slack_fake: SlackFake) -> None:
    client = AsyncWebClient(token=slack_fake.bot_token, base_url=slack_fake.api_url)
    first = (await client.views_publish(user_id="U0AE1", view=HOME))["view"]
    again = (await client.views_publish(user_id="U0AE1", view={"type": "home", "blocks": []}))[
        "view"
    ]
    assert again["id"] == first["id"]
    home = slack_fake.state()["home"]
    assert list(home) == ["U0AE1"] and home["U0AE1"]["blocks"] == []
    with pytest.raises(SlackApiError) as raised:
        await client.views_publish(user_id="U0AE1", view=MODAL)
    assert _error(raised) == "invalid_arguments"


def test_state_shows_channels_threads_dms_ephemerals_and_views(
    slack_fake: SlackFake, slack_client: WebClient
) -> None:
    parent = slack_client.chat_postMessage(
        channel="#red-accounts", text="case", blocks=[SECTION, DONE_BUTTON]
    )
    slack_fake.add_user_message(parent["channel"], "U0AE1", "we need a call", parent["ts"])
    slack_client.chat_update(channel=parent["channel"], ts=parent["ts"], text="case (edited)")
    slack_client.chat_postMessage(channel="U0CE1", text="your reminder")
    slack_client.chat_postEphemeral(channel=parent["channel"], user="U0CE1", text="only you")
    slack_client.views_publish(user_id="U0CE1", view=HOME)
    control = ControlClient(slack_fake.url)
    state = control.get("state")
    control.close()
    red = next(c for c in state["channels"] if c["name"] == "red-accounts")
    [message] = red["messages"]
    assert message["text"] == "case (edited)" and message["edited"]["user"] == "U0DEALBOT1"
    assert message["blocks"] == [SECTION, DONE_BUTTON] and message["bot_id"] == "B0DEALBOT1"
    [reply] = message["replies"]
    assert reply["user"] == "U0AE1" and "bot_id" not in reply
    assert reply["thread_ts"] == parent["ts"] and reply["text"] == "we need a call"
    [dm] = state["dms"]
    assert dm["user"] == "U0CE1" and dm["messages"][0]["text"] == "your reminder"
    assert [e["text"] for e in state["ephemerals"]["U0CE1"]] == ["only you"]
    assert state["home"]["U0CE1"]["blocks"] == [SECTION, DONE_BUTTON]


def test_sandbox_hands_out_the_signing_secret_and_app_token(tmp_path) -> None:
    app_url = "http://127.0.0.1:3000/slack/events"
    with start_sandbox(tmp_path, slack_app_url=app_url, write_endpoints_file=True) as sandbox:
        env = sandbox.env
        assert env["SLACK_SIGNING_SECRET"] == sandbox.slack.signing_secret != ""
        assert sandbox.endpoints.slack_app_token.startswith("xapp-")
        assert "SLACK_APP_TOKEN" not in env
        assert read_endpoints(tmp_path) == sandbox.endpoints
        assert sandbox.slack.state()["app"]["request_url"] == app_url
