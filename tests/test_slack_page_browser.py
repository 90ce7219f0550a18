"""The sandbox Slack page in a real browser: Debian's Chromium driven by Playwright.

The page (``dealcycle.fakes.slack_page``) shows the Slack fake; what a person clicks there must
reach the Slack app as Slack would send it. The app here is a tiny receiver that verifies
Slack's signature on every request and records the payloads, so each test checks the whole
way: rendered Block Kit, a click or a form in the page, the fake's signed delivery.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from playwright.async_api import BrowserContext, expect
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from dealcycle.fakes import SlackFake
from dealcycle.fakes.slack_page import SlackPage
from tests.support.browser import browser, needs_chromium, open_as, sandbox_page

# Fixtures, imported for the tests' parameters.
__all__ = ["browser", "sandbox_page"]

CE, AE = "U0PAGECE1", "U0PAGEAE1"
DELIVERY_TIMEOUT = 30.0
DONE_VALUE = json.dumps({"workflow_id": "trial-OPP-1", "step": "kickoff_call", "kind": "trial"})

pytestmark = needs_chromium


def kind_of(payload: dict[str, Any]) -> str:
    """``block_actions``, ``view_submission``, an event's type, or ``slash_command``."""
    if payload.get("type") == "event_callback":
        return str(payload["event"]["type"])
    return str(payload.get("type") or ("slash_command" if "command" in payload else "?"))


@dataclass
class AppReceiver:
    """Stands in for the Slack app over HTTP: refuses a request whose signature does not verify
    (so a recorded payload proves the fake signed it) and records what Slack would deliver."""

    verifier: SignatureVerifier
    on_interaction: Any = None
    payloads: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        if not self.verifier.is_valid_request(body, headers):
            with self.arrived:
                self.refused += 1
            return 401
        form = dict(parse_qsl(body.decode()))
        payload = json.loads(form["payload"]) if "payload" in form else None
        if payload is None:
            payload = json.loads(body) if body.startswith(b"{") else form
        with self.arrived:
            self.payloads.append(payload)
            self.arrived.notify_all()
        if self.on_interaction is not None:
            # An app acks first and calls Slack after, as Bolt does.
            threading.Thread(target=self.on_interaction, args=(payload,), daemon=True).start()
        return 200

    def _of_type(self, kind: str) -> list[dict[str, Any]]:
        return [p for p in self.payloads if kind_of(p) == kind]

    async def delivered(self, kind: str, count: int = 1) -> list[dict[str, Any]]:
        """The first ``count`` payloads of ``kind``, once the fake has delivered them (the page
        sends in the background after a click)."""

        def wait() -> list[dict[str, Any]]:
            with self.arrived:
                self.arrived.wait_for(lambda: len(self._of_type(kind)) >= count, DELIVERY_TIMEOUT)
                return self._of_type(kind)[:count]

        found = await asyncio.to_thread(wait)
        assert len(found) == count, f"the app got {len(found)} {kind}, not {count}"
        return found


@pytest.fixture
def receiver(slack_fake: SlackFake) -> Iterator[AppReceiver]:
    app = AppReceiver(SignatureVerifier(slack_fake.signing_secret))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = app.handle(body, {k.lower(): v for k, v in self.headers.items()})
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    slack_fake.app_url = f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    yield app
    server.shutdown()
    server.server_close()


def reminder_blocks() -> list[dict[str, Any]]:
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "Trial planning: Acme"}},
        {
            "type": "section",
            "block_id": "step",
            "text": {
                "type": "mrkdwn",
                "text": f"*Kickoff call* is overdue. CE <@{CE}>, AE <@{AE}>. "
                "<https://example.com/plan|The plan>",
            },
        },
        {"type": "divider"},
        {
            "type": "actions",
            "block_id": "step_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "dealcycle_done",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Done"},
                    "value": DONE_VALUE,
                },
                {
                    "type": "button",
                    "action_id": "dealcycle_open",
                    "text": {"type": "plain_text", "text": "Open"},
                    "url": "https://example.com/workflow",
                },
                {
                    "type": "button",
                    "action_id": "dealcycle_open_modal_feature_request",
                    "text": {"type": "plain_text", "text": "Feature request"},
                    "value": DONE_VALUE,
                },
            ],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "dealcycle · trial-OPP-1"}]},
    ]


def feature_request_view() -> dict[str, Any]:
    option = lambda value, text: {"text": {"type": "plain_text", "text": text}, "value": value}  # noqa: E731
    return {
        "type": "modal",
        "callback_id": "dealcycle_modal_feature_request",
        "title": {"type": "plain_text", "text": "Feature request"},
        "submit": {"type": "plain_text", "text": "Submit"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "summary",
                "label": {"type": "plain_text", "text": "What is missing"},
                "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
            },
            {
                "type": "input",
                "block_id": "priority",
                "label": {"type": "plain_text", "text": "Priority"},
                "element": {
                    "type": "static_select",
                    "action_id": "choice",
                    "options": [option("p1", "Blocker"), option("p2", "Important")],
                },
            },
            {
                "type": "input",
                "block_id": "areas",
                "label": {"type": "plain_text", "text": "Areas"},
                "element": {
                    "type": "multi_static_select",
                    "action_id": "choices",
                    "options": [option("sso", "SSO"), option("api", "API"), option("ui", "UI")],
                },
            },
            {
                "type": "input",
                "block_id": "flags",
                "optional": True,
                "label": {"type": "plain_text", "text": "Flags"},
                "element": {
                    "type": "checkboxes",
                    "action_id": "checked",
                    "options": [option("renewal_risk", "Renewal at risk")],
                },
            },
        ],
    }


async def test_a_click_on_a_block_kit_button_reaches_the_app_signed_as_the_picked_user(
    slack_fake: SlackFake,
    slack_client: WebClient,
    receiver: AppReceiver,
    sandbox_page: SlackPage,
    browser: BrowserContext,
) -> None:
    posted = slack_client.chat_postMessage(
        channel="#dealcycle-trials", text="Kickoff call is overdue", blocks=reminder_blocks()
    )
    slack_client.chat_postMessage(
        channel="#dealcycle-trials", text="planning thread", thread_ts=posted["ts"]
    )
    page = await browser.new_page()
    await open_as(page, sandbox_page.url, CE, "dealcycle-trials")

    message = page.locator(f'.message[data-ts="{posted["ts"]}"]')
    await expect(message.locator(".block.header")).to_have_text("Trial planning: Acme")
    await expect(message.locator("b")).to_have_text("Kickoff call")
    await expect(message.locator(f'.mention[data-user="{CE}"]')).to_have_text(f"@{CE}")
    await expect(message.get_by_role("link", name="The plan")).to_have_attribute(
        "href", "https://example.com/plan"
    )
    await expect(message.get_by_role("button", name="1 reply")).to_be_visible()

    await message.get_by_role("button", name="Done").click()

    [click] = await receiver.delivered("block_actions")
    assert click["user"]["id"] == CE
    assert click["channel"]["id"] == slack_fake.channel_id("dealcycle-trials")
    assert click["message"]["ts"] == posted["ts"]
    assert click["container"]["message_ts"] == posted["ts"]
    assert [(a["action_id"], a["block_id"], a["value"]) for a in click["actions"]] == [
        ("dealcycle_done", "step_actions", DONE_VALUE)
    ]
    assert click["trigger_id"]
    assert receiver.refused == 0


async def test_a_modal_opened_by_the_app_is_filled_and_submitted_in_the_page(
    slack_fake: SlackFake,
    slack_client: WebClient,
    receiver: AppReceiver,
    sandbox_page: SlackPage,
    browser: BrowserContext,
) -> None:
    def open_modal(payload: dict[str, Any]) -> None:
        actions = payload.get("actions") or [{}]
        if actions[0].get("action_id") == "dealcycle_open_modal_feature_request":
            slack_client.views_open(trigger_id=payload["trigger_id"], view=feature_request_view())

    receiver.on_interaction = open_modal
    slack_client.chat_postMessage(
        channel="#dealcycle-trials", text="Kickoff call is overdue", blocks=reminder_blocks()
    )
    page = await browser.new_page()
    await open_as(page, sandbox_page.url, AE, "dealcycle-trials")

    await page.get_by_role("button", name="Feature request").click()
    modal = page.get_by_role("dialog")
    await expect(modal.locator("header")).to_have_text("Feature request")
    await modal.get_by_label("What is missing").fill("SCIM provisioning")
    await modal.get_by_label("Priority").select_option("p1")
    await modal.get_by_label("Areas").select_option(["sso", "api"])
    await modal.get_by_label("Renewal at risk").check()
    await modal.get_by_role("button", name="Submit").click()

    [submission] = await asyncio.wait_for(receiver.delivered("view_submission"), DELIVERY_TIMEOUT)
    await expect(modal).to_be_hidden()
    assert submission["user"]["id"] == AE
    assert submission["view"]["callback_id"] == "dealcycle_modal_feature_request"
    values = submission["view"]["state"]["values"]
    assert values["summary"]["text"]["value"] == "SCIM provisioning"
    assert values["priority"]["choice"]["selected_option"]["value"] == "p1"
    assert [o["value"] for o in values["areas"]["choices"]["selected_options"]] == ["sso", "api"]
    assert [o["value"] for o in values["flags"]["checked"]["selected_options"]] == ["renewal_risk"]

    # Opened again and cancelled: the fake closes it, and nothing more is submitted.
    await page.get_by_role("button", name="Feature request").click()
    await expect(modal.locator("header")).to_have_text("Feature request")
    await modal.get_by_role("button", name="Cancel").click()
    await expect(modal).to_be_hidden()
    assert await open_views_of(slack_fake, AE) == []
    assert len(receiver.payloads) == 3  # two clicks and one submission
    assert receiver.refused == 0


async def open_views_of(fake: SlackFake, user: str) -> list[Any]:
    """The user's open modals, once the page's close has reached the fake."""
    for _ in range(200):
        views: list[Any] = fake.state()["views"].get(user, [])
        if not views:
            break
        await asyncio.sleep(0.05)
    return views


async def test_replies_commands_ephemerals_and_the_home_tab_go_both_ways(
    slack_fake: SlackFake,
    slack_client: WebClient,
    receiver: AppReceiver,
    sandbox_page: SlackPage,
    browser: BrowserContext,
) -> None:
    def answer(payload: dict[str, Any]) -> None:
        if kind_of(payload) == "slash_command":
            slack_client.chat_postEphemeral(
                channel=payload["channel_id"], user=payload["user_id"], text="*2* steps due"
            )
        elif kind_of(payload) == "app_home_opened":
            slack_client.views_publish(
                user_id=payload["event"]["user"],
                view={"type": "home", "blocks": reminder_blocks()},
            )

    receiver.on_interaction = answer
    posted = slack_client.chat_postMessage(
        channel="#dealcycle-trials", text=f"Kickoff plan: CE <@{CE}>, AE <@{AE}>"
    )
    page = await browser.new_page()
    await open_as(page, sandbox_page.url, CE, "dealcycle-trials")

    await page.get_by_role("button", name="Reply in thread").click()
    await page.get_by_label("Reply in thread").fill("customer wants SSO first")
    await page.get_by_role("button", name="Reply", exact=True).click()
    [reply] = await receiver.delivered("message")
    assert reply["event"]["user"] == CE
    assert reply["event"]["thread_ts"] == posted["ts"]
    assert reply["event"]["text"] == "customer wants SSO first"
    await expect(page.locator("#thread-messages")).to_contain_text("customer wants SSO first")

    await page.get_by_label("Slash command").fill("/dealcycle todo")
    await page.get_by_label("Slash command").press("Enter")
    [command] = await receiver.delivered("slash_command")
    assert (command["command"], command["text"], command["user_id"]) == ("/dealcycle", "todo", CE)
    ephemeral = page.locator("#messages .message.ephemeral")
    await expect(ephemeral).to_contain_text("Only visible to you")
    await expect(ephemeral.locator("b")).to_have_text("2")

    await page.get_by_role("link", name="Home").click()
    [home] = await receiver.delivered("app_home_opened")
    assert home["event"]["user"] == CE
    await page.locator("#messages").get_by_role("button", name="Done").click()
    [click] = await receiver.delivered("block_actions")
    assert click["user"]["id"] == CE
    assert click["container"]["type"] == "view"
    assert click["actions"][0]["action_id"] == "dealcycle_done"

    # Another person does not see the CE's ephemeral answer.
    await page.get_by_label("You are").select_option(AE)
    await page.locator("nav").get_by_text("dealcycle-trials").click()
    await expect(page.locator("#messages .message").first).to_be_visible()
    await expect(ephemeral).to_have_count(0)
    assert receiver.refused == 0
