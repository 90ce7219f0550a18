"""The Slack fake delivers signed interactions and events to an app over HTTP.

The app here is a tiny HTTP server that verifies every request with slack-sdk's own
``SignatureVerifier`` and calls the fake back through a real ``WebClient`` while it handles one.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from dealcycle.fakes import ControlClient, SlackFake
from dealcycle.fakes.slack_delivery import DeliveryOptions, DeliveryResult, signed_request
from tests.test_slack_fake_web import DONE_BUTTON, SECTION

SNOOZE_SELECT: dict[str, Any] = {
    "type": "static_select",
    "action_id": "dealcycle_snooze",
    "options": [
        {"text": {"type": "plain_text", "text": "1 day"}, "value": "1"},
        {"text": {"type": "plain_text", "text": "1 week"}, "value": "7"},
    ],
}
DONE_VALUE = DONE_BUTTON["elements"][0]["value"]
PROMPT_BLOCKS: list[dict[str, Any]] = [
    SECTION,
    {**DONE_BUTTON, "elements": [*DONE_BUTTON["elements"], SNOOZE_SELECT]},
]
MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "dealcycle_modal_health",
    "title": {"type": "plain_text", "text": "Health"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Why"},
            "element": {"type": "plain_text_input", "action_id": "reason"},
        },
        {
            "type": "input",
            "block_id": "colour",
            "label": {"type": "plain_text", "text": "Colour"},
            "element": {
                "type": "static_select",
                "action_id": "colour",
                "options": [
                    {"text": {"type": "plain_text", "text": "Red"}, "value": "red"},
                    {"text": {"type": "plain_text", "text": "Green"}, "value": "green"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "risks",
            "optional": True,
            "label": {"type": "plain_text", "text": "Risks"},
            "element": {
                "type": "checkboxes",
                "action_id": "risks",
                "options": [
                    {"text": {"type": "plain_text", "text": "Budget"}, "value": "budget"},
                    {"text": {"type": "plain_text", "text": "Champion"}, "value": "champion"},
                ],
            },
        },
    ],
}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    valid: bool

    def payload(self) -> dict[str, Any]:
        if self.headers["content-type"].startswith("application/json"):
            data: dict[str, Any] = json.loads(self.body)
            return data
        form = {k: v[0] for k, v in parse_qs(self.body.decode()).items()}
        return json.loads(form["payload"]) if "payload" in form else form


Handler = Callable[[Received], tuple[int, Any]]


@dataclass
class App:
    """What the app received, and how it answers (``answer`` may call the fake)."""

    url: str
    received: list[Received] = field(default_factory=list)
    answer: Handler = lambda _: (200, None)


@pytest.fixture
def app(slack_fake: SlackFake) -> Iterator[App]:
    verifier = SignatureVerifier(slack_fake.signing_secret)
    state = App(url="")

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            received = Received(headers, body, verifier.is_valid_request(body, headers))
            state.received.append(received)
            status, answer = state.answer(received) if received.valid else (401, None)
            data = b"" if answer is None else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    slack_fake.app_url = state.url
    yield state
    server.shutdown()
    server.server_close()


async def click_done(
    fake: SlackFake, posted: Any, options: DeliveryOptions | None = None
) -> DeliveryResult:
    """Done clicked on the posted prompt, from a thread: the app may share the event loop."""
    return await asyncio.to_thread(
        fake.app.click,
        "U0AE1",
        "dealcycle_done",
        channel=posted["channel"],
        ts=posted["ts"],
        options=options or DeliveryOptions(),
    )


def _prompt(slack_client: WebClient) -> tuple[str, str]:
    posted = slack_client.chat_postMessage(
        channel="#dealcycle-trials", text="Plan the trial", blocks=PROMPT_BLOCKS
    )
    return str(posted["channel"]), str(posted["ts"])


def test_a_click_is_a_signed_block_actions_payload_built_from_the_message(
    slack_fake: SlackFake, slack_client: WebClient, app: App
) -> None:
    channel, ts = _prompt(slack_client)
    result = slack_fake.app.click("U0AE1", "dealcycle_done", channel=channel, ts=ts)
    assert (result.via, result.status) == ("http", 200)
    [received] = app.received
    assert received.valid
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    payload = received.payload()
    assert payload["type"] == "block_actions" and payload["user"]["id"] == "U0AE1"
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    assert payload["channel"] == {"id": channel, "name": "dealcycle-trials"}
    assert payload["message"]["ts"] == ts and payload["message"]["blocks"] == PROMPT_BLOCKS
    [clicked] = payload["actions"]
    assert clicked["action_id"] == "dealcycle_done" and clicked["block_id"] == "step"
    assert clicked["value"] == DONE_VALUE and clicked["type"] == "button"
    assert payload["trigger_id"] and payload["response_url"].startswith(slack_fake.url)
    again = slack_fake.app.click("U0AE1", "dealcycle_done", channel=channel, ts=ts)
    second = app.received[1].payload()
    assert second["actions"][0]["action_ts"] != clicked["action_ts"]
    assert second["trigger_id"] != payload["trigger_id"]
    deliveries = slack_fake.calls_to(r"^/__app__/block_actions$", "DELIVER")
    assert [(c.status, c.query["delivery_id"]) for c in deliveries] == [
        (200, result.delivery_id),
        (200, again.delivery_id),
    ]


def test_a_select_click_carries_the_selected_option(
    slack_fake: SlackFake, slack_client: WebClient, app: App
) -> None:
    channel, ts = _prompt(slack_client)
    slack_fake.app.click("U0AE1", "dealcycle_snooze", channel=channel, ts=ts, value="7")
    [clicked] = app.received[0].payload()["actions"]
    assert clicked["type"] == "static_select"
    assert clicked["selected_option"] == {
        "text": {"type": "plain_text", "text": "1 week"},
        "value": "7",
    }


def test_the_app_can_update_the_message_and_open_a_modal_while_it_handles_a_click(
    slack_fake: SlackFake, slack_client: WebClient, app: App
) -> None:
    channel, ts = _prompt(slack_client)

    def handle(received: Received) -> tuple[int, Any]:
        payload = received.payload()
        container = payload["container"]
        slack_client.chat_update(
            channel=container["channel_id"], ts=container["message_ts"], text="✅ done"
        )
        slack_client.views_open(trigger_id=payload["trigger_id"], view=MODAL)
        return 200, None

    app.answer = handle
    control = ControlClient(slack_fake.url)
    answer = control.post(
        "click", {"user": "U0AE1", "channel": channel, "ts": ts, "action_id": "dealcycle_done"}
    )
    control.close()
    assert answer["status"] == 200 and answer["kind"] == "block_actions"
    message = slack_fake.message(channel, ts)
    assert message is not None and message.text == "✅ done" and message.edited is not None
    [modal] = slack_fake.state()["views"]["U0AE1"]
    assert modal["callback_id"] == "dealcycle_modal_health"


def test_the_response_url_replaces_the_message_or_answers_ephemerally(
    slack_fake: SlackFake, slack_client: WebClient, app: App
) -> None:
    channel, ts = _prompt(slack_client)
    slack_fake.app.click("U0OTHER1", "dealcycle_done", channel=channel, ts=ts)
    response_url = app.received[0].payload()["response_url"]
    assert requests.post(response_url, json={"text": "Only the AE or CE may act"}).ok
    assert [e.text for e in slack_fake.ephemerals_for("U0OTHER1")] == ["Only the AE or CE may act"]
    replaced = requests.post(response_url, json={"replace_original": True, "text": "✅ done"})
    assert replaced.ok
    message = slack_fake.message(channel, ts)
    assert message is not None and message.text == "✅ done"
    assert requests.post(f"{slack_fake.url}/response/nope", json={"text": "x"}).status_code == 404


def test_a_submission_carries_the_values_as_slack_shapes_them(
    slack_fake: SlackFake, slack_client: WebClient, app: App
) -> None:
    view = slack_client.views_open(trigger_id=slack_fake.issue_trigger("U0CE1"), view=MODAL)["view"]
    app.answer = lambda _: (200, {"response_action": "errors", "errors": {"reason": "Too short"}})
    result = slack_fake.app.submit(
        "U0CE1", view["id"], {"reason": {"reason": "ok"}, "colour": {"colour": "red"}}
    )
    assert result.body == {"response_action": "errors", "errors": {"reason": "Too short"}}
    payload = app.received[0].payload()
    assert payload["type"] == "view_submission" and payload["user"]["id"] == "U0CE1"
    assert payload["view"]["id"] == view["id"]
    assert payload["view"]["callback_id"] == "dealcycle_modal_health"
    assert payload["view"]["state"]["values"] == {
        "reason": {"reason": {"type": "plain_text_input", "value": "ok"}},
        "colour": {
            "colour": {
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": "Red"}, "value": "red"},
            }
        },
        "risks": {"risks": {"type": "checkboxes", "selected_options": []}},
    }
    assert [v["id"] for v in slack_fake.state()["views"]["U0CE1"]] == [view["id"]]
    app.answer = lambda _: (200, None)
    slack_fake.app.submit("U0CE1", view["id"], {"risks": {"risks": ["budget", "champion"]}})
    risks = app.received[1].payload()["view"]["state"]["values"]["risks"]["risks"]
    assert [o["value"] for o in risks["selected_options"]] == ["budget", "champion"]
    assert slack_fake.state()["views"] == {}


def test_submit_refuses_values_the_view_has_no_input_for(
    slack_fake: SlackFake, slack_client: WebClient, app: App
) -> None:
    view = slack_client.views_open(trigger_id=slack_fake.issue_trigger("U0CE1"), view=MODAL)["view"]
    control = ControlClient(slack_fake.url)
    for values in ({"nope": {"nope": "x"}}, {"colour": {"colour": "purple"}}):
        with pytest.raises(requests.HTTPError) as raised:
            control.post("submit", {"user": "U0CE1", "view_id": view["id"], "values": values})
        assert raised.value.response.status_code == 400
    control.close()
    assert app.received == []


def test_a_thread_reply_is_stored_and_delivered_as_a_message_event(
    slack_fake: SlackFake, slack_client: WebClient, app: App
) -> None:
    parent = slack_client.chat_postMessage(channel="#red-accounts", text="Red: Acme")
    control = ControlClient(slack_fake.url)
    answer = control.post(
        "reply",
        {
            "user": "U0AE1",
            "channel": "#red-accounts",
            "thread_ts": parent["ts"],
            "text": "Need an exec sponsor",
        },
    )
    control.close()
    assert answer["status"] == 200
    [reply] = slack_fake.replies_to("#red-accounts", parent["ts"])
    assert (reply.user, reply.bot_id, reply.text) == ("U0AE1", None, "Need an exec sponsor")
    [received] = app.received
    assert received.valid and received.headers["content-type"] == "application/json"
    body = received.payload()
    assert body["type"] == "event_callback" and body["event_id"].startswith("Ev")
    assert body["team_id"] == slack_fake.team_id and body["api_app_id"] == slack_fake.app_id
    assert isinstance(body["event_time"], int)
    event = body["event"]
    assert event["type"] == "message" and event["user"] == "U0AE1"
    assert event["thread_ts"] == parent["ts"] and event["ts"] == reply.ts
    assert event["channel"] == parent["channel"] and "bot_id" not in event


def test_a_bot_reply_event_carries_the_bot_id(
    slack_fake: SlackFake, slack_client: WebClient, app: App
) -> None:
    parent = slack_client.chat_postMessage(channel="#red-accounts", text="Red: Acme")
    slack_fake.app.reply("U0DEALBOT1", "#red-accounts", parent["ts"], "noted", bot=True)
    event = app.received[0].payload()["event"]
    assert event["bot_id"] == slack_fake.bot_id and event["user"] == slack_fake.bot_user_id


def test_a_slash_command_is_form_encoded_and_its_answer_is_shown_to_the_user(
    slack_fake: SlackFake, app: App
) -> None:
    app.answer = lambda _: (200, {"text": "3 open steps"})
    result = slack_fake.app.command("U0AE1", "/dealcycle", "todo")
    assert result.body == {"text": "3 open steps"}
    [received] = app.received
    form = received.payload()
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    assert (form["command"], form["text"], form["user_id"]) == ("/dealcycle", "todo", "U0AE1")
    assert form["trigger_id"] and form["response_url"] and form["team_id"] == slack_fake.team_id
    assert [e.text for e in slack_fake.ephemerals_for("U0AE1")] == ["3 open steps"]


def test_opening_the_home_tab_is_an_app_home_opened_event(
    slack_fake: SlackFake, slack_client: WebClient, app: App
) -> None:
    slack_client.views_publish(user_id="U0AE1", view={"type": "home", "blocks": PROMPT_BLOCKS})
    slack_fake.app.home("U0AE1")
    event = app.received[0].payload()["event"]
    assert event["type"] == "app_home_opened" and event["user"] == "U0AE1"
    assert event["tab"] == "home" and event["view"]["blocks"] == PROMPT_BLOCKS
    home_id = event["view"]["id"]
    slack_fake.app.click("U0AE1", "dealcycle_done", view_id=home_id)
    clicked = app.received[1].payload()
    assert clicked["container"] == {"type": "view", "view_id": home_id}
    assert clicked["view"]["type"] == "home" and clicked["actions"][0]["value"] == DONE_VALUE


def test_replayed_forged_and_stale_requests_for_the_apps_verification_tests(
    slack_fake: SlackFake, slack_client: WebClient, app: App
) -> None:
    channel, ts = _prompt(slack_client)
    replay = slack_fake.app.click(
        "U0AE1", "dealcycle_done", channel=channel, ts=ts, options=DeliveryOptions(repeat=3)
    )
    assert [a.status for a in replay.attempts] == [200, 200, 200]
    first, *others = app.received
    assert all((r.body, r.headers) == (first.body, first.headers) for r in others)
    forged = slack_fake.app.click(
        "U0AE1",
        "dealcycle_done",
        channel=channel,
        ts=ts,
        options=DeliveryOptions(forge_signature=True),
    )
    stale = slack_fake.app.click(
        "U0AE1",
        "dealcycle_done",
        channel=channel,
        ts=ts,
        options=DeliveryOptions(timestamp_offset=-360),
    )
    assert (forged.status, stale.status) == (401, 401)
    assert [r.valid for r in app.received[3:]] == [False, False]
    again = slack_fake.app.redeliver(replay.delivery_id)
    assert again.status == 200 and app.received[-1].body == first.body
    statuses = [c.status for c in slack_fake.calls_to("^/__app__/", "DELIVER")]
    assert statuses == [200, 200, 200, 401, 401, 200]


def test_signed_request_helper_matches_slacks_verifier(slack_fake: SlackFake) -> None:
    verifier = SignatureVerifier(slack_fake.signing_secret)
    body, headers = signed_request(slack_fake.signing_secret, '{"type": "event_callback"}')
    assert verifier.is_valid_request(body, headers)
    body, headers = signed_request(slack_fake.signing_secret, "x", forge=True)
    assert not verifier.is_valid_request(body, headers)


def test_without_an_app_a_delivery_is_refused(
    slack_fake: SlackFake, slack_client: WebClient
) -> None:
    channel, ts = _prompt(slack_client)
    control = ControlClient(slack_fake.url)
    with pytest.raises(requests.HTTPError) as raised:
        control.post(
            "click", {"user": "U0AE1", "channel": channel, "ts": ts, "action_id": "dealcycle_done"}
        )
    assert raised.value.response.status_code == 409
    control.post("app", {"request_url": "http://127.0.0.1:9/slack/events"})
    answer = control.post(
        "click", {"user": "U0AE1", "channel": channel, "ts": ts, "action_id": "dealcycle_done"}
    )
    control.close()
    assert answer["status"] == 0
    [call] = slack_fake.calls_to("^/__app__/block_actions$", "DELIVER")
    assert call.status == 0


def test_cancelling_a_modal_closes_it_and_tells_the_app_only_when_asked(
    slack_fake: SlackFake, slack_client: WebClient, app: App
) -> None:
    quiet = slack_client.views_open(trigger_id=slack_fake.issue_trigger("U0CE1"), view=MODAL)
    control = ControlClient(slack_fake.url)
    answer = control.post("close", {"user": "U0CE1", "view_id": quiet["view"]["id"]})
    assert answer == {"ok": True, "delivered": False}
    assert slack_fake.state()["views"] == {} and app.received == []
    told = slack_client.views_open(
        trigger_id=slack_fake.issue_trigger("U0CE1"), view={**MODAL, "notify_on_close": True}
    )
    answer = control.post("close", {"user": "U0CE1", "view_id": told["view"]["id"]})
    control.close()
    assert answer["delivered"] and answer["kind"] == "view_closed"
    payload = app.received[0].payload()
    assert payload["type"] == "view_closed" and payload["view"]["id"] == told["view"]["id"]
    assert slack_fake.state()["views"] == {}
