"""The Slack app driven by the Slack fake's own deliveries (``POST /__fake__/click`` and
``/__fake__/reply``), over Socket Mode and over HTTP: a person clicks Done on a prompt and
replies in a red case's thread, as they would in Slack."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import structlog
from slack_sdk import WebClient

from dealcycle.logging import configure_logging
from schemas.common import Role, StepStatus
from schemas.health import RedAccountState, SetHealth
from tests.support.accounts import AE, CE
from tests.support.slack_app import (
    accepted_update_inputs,
    done_button_blocks,
    eventually,
    fake_control,
    served_app,
    socket_mode_app,
    update_ids,
)
from tests.test_red_account_workflow import case_handle, open_account
from tests.test_slack_app_buttons import (
    CE_STEP,
    STRANGER,
    answers_to,
    ephemerals_to,
    step_status,
)
from tests.test_trial_workflow import CHANNEL, start
from workflows.account import AccountWorkflow
from workflows.red_account import RedAccountWorkflow

MODES = ["socket", "http"]


@asynccontextmanager
async def app_in(mode: str, harness: Any, slack_fake: Any) -> AsyncIterator[None]:
    """The app connected to the fake over Socket Mode, or serving HTTP at the URL the fake
    delivers to."""
    if mode == "socket":
        async with socket_mode_app(
            harness.client, harness.settings, slack_fake.app_token, slack_fake
        ):
            yield
        return
    async with served_app(harness.client, harness.settings) as app:
        await fake_control(slack_fake.url, "app", {"request_url": app.url})
        yield


def prompt_click(slack_client: WebClient, workflow_id: str) -> dict[str, Any]:
    """A prompt of the trial's CE step with its Done button, posted; what clicks Done on it."""
    value = {"workflow_id": workflow_id, "step": CE_STEP.key, "kind": "trial"}
    text = f"{CE_STEP.title} is due"
    posted = slack_client.chat_postMessage(
        channel=CHANNEL, text=text, blocks=done_button_blocks(value, text)
    )
    return {"channel": posted["channel"], "ts": posted["ts"], "action_id": "dealcycle_done"}


@pytest.mark.parametrize("mode", MODES)
async def test_done_clicked_in_the_fake_completes_the_step_once_by_the_clicker(
    mode: str, harness_factory: Any, salesforce_fake: Any, slack_fake: Any, slack_client: WebClient
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, f"006FAKE{mode.upper()}")
        click = prompt_click(slack_client, handle.id)
        async with app_in(mode, harness, slack_fake):
            stranger = await fake_control(slack_fake.url, "click", {**click, "user": STRANGER})
            first = await fake_control(slack_fake.url, "click", {**click, "user": CE})

            async def done() -> bool | None:
                return True if await step_status(handle, CE_STEP.key) is StepStatus.DONE else None

            await eventually(done)
            await fake_control(slack_fake.url, "click", {**click, "user": CE})

            async def answered() -> tuple[list[str], list[str]] | None:
                mine, theirs = ephemerals_to(slack_fake, CE), ephemerals_to(slack_fake, STRANGER)
                return (mine, theirs) if mine and theirs else None

            [again], [refused] = await eventually(answered)

        assert first["status"] == 200 and stranger["status"] == 200
        assert again.startswith(f"{CE_STEP.title} is already done by <@{CE}>")
        assert refused == f"only <@{CE}> (CE) of Acme may mark this done"
        assert len(await update_ids(handle)) == 1
        [request] = await accepted_update_inputs(handle)
        assert json.loads(request)["actor"] == CE


@pytest.mark.parametrize("mode", MODES)
async def test_a_reply_in_the_fakes_red_case_thread_is_an_ask(
    mode: str, harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await open_account(harness, salesforce_fake, f"001FAKE{mode.upper()}")
        await account.execute_update(
            AccountWorkflow.set_health, SetHealth("red", CE, Role.CE, "champion left")
        )
        case = await case_handle(harness, account, 1)
        thread = (await case.query(RedAccountWorkflow.state)).thread_ts
        assert thread
        reply = {"channel": "#red-accounts", "thread_ts": thread}
        async with app_in(mode, harness, slack_fake):
            await fake_control(slack_fake.url, "reply", {**reply, "user": AE, "text": "exec call"})
            await fake_control(
                slack_fake.url, "reply", {**reply, "user": AE, "text": "from the app", "bot": True}
            )

            async def recorded() -> RedAccountState | None:
                view: RedAccountState = await case.query(RedAccountWorkflow.state)
                return view if view.asks else None

            view = await eventually(recorded)

        assert [(ask.actor, ask.text) for ask in view.asks] == [(AE, "exec call")]
        assert view.asks[0].permalink.startswith("https://")


async def test_debug_logs_of_the_socket_mode_app_hold_no_request_secrets(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, slack_client: WebClient
) -> None:
    # Socket Mode logs every envelope it receives at debug: the request's verification token,
    # its response_url (anyone holding it may post in the conversation for 30 minutes) and
    # what people typed. DEALCYCLE_LOG_LEVEL=debug must not put them in the log.
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    try:
        async with harness_factory() as harness:
            handle = await start(harness, salesforce_fake, "006FAKELOGS")
            click = prompt_click(slack_client, handle.id)
            async with app_in("socket", harness, slack_fake):
                clicked = await fake_control(slack_fake.url, "click", {**click, "user": CE})

                async def done() -> bool | None:
                    status = await step_status(handle, CE_STEP.key)
                    return True if status is StepStatus.DONE else None

                await eventually(done)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        structlog.reset_defaults()
    logged = stream.getvalue()
    assert "has been established" in logged  # Socket Mode logs its (info) lines
    payload = clicked["payload"]
    assert payload["token"] not in logged
    assert payload["response_url"] not in logged
    assert payload["trigger_id"] not in logged


async def test_a_refusal_slack_will_not_post_ephemerally_goes_through_the_response_url(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, slack_client: WebClient
) -> None:
    # The bot is not in the conversation of the message clicked (a to-do list answered in a
    # DM between two people, a channel it was removed from): chat.postEphemeral answers
    # channel_not_found, and the stranger was told nothing. The click's response_url works
    # wherever the click was.
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006FAKENOTIN")
        click = prompt_click(slack_client, handle.id)
        async with app_in("http", harness, slack_fake):
            slack_fake.error_next("channel_not_found", api_method="chat.postEphemeral")
            await fake_control(slack_fake.url, "click", {**click, "user": STRANGER})

            async def told() -> list[Any] | None:
                return slack_fake.ephemerals_for(STRANGER) or None

            [answer] = await eventually(told)

        assert answer.text == f"only <@{CE}> (CE) of Acme may mark this done"
        assert answer.channel == click["channel"]
        assert await step_status(handle, CE_STEP.key) is StepStatus.PENDING


async def test_an_answer_slack_rate_limits_for_long_goes_through_the_response_url_at_once(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, slack_client: WebClient
) -> None:
    # chat.postEphemeral answered 429 with Retry-After: 30: the app's client slept the 30 s
    # before trying again, so the stranger saw nothing for half a minute (and clicked again).
    # A wait that long is not taken; the click's response_url answers now.
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006FAKERATELIMIT")
        click = prompt_click(slack_client, handle.id)
        async with app_in("http", harness, slack_fake):
            slack_fake.rate_limit_next(retry_after=30, api_method="chat.postEphemeral")
            started = time.monotonic()
            await fake_control(slack_fake.url, "click", {**click, "user": STRANGER})
            [answer] = await answers_to(slack_fake, STRANGER)
            answered_after = time.monotonic() - started

        assert answer == f"only <@{CE}> (CE) of Acme may mark this done"
        assert answered_after < 5, answered_after


async def test_a_refusal_on_a_message_with_replies_is_shown_where_it_was_clicked(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any, slack_client: WebClient
) -> None:
    # Slack sends a message that has replies with its own ts as thread_ts: the answer to a
    # click on it (in the channel) went into its thread, where the clicker did not see it.
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006FAKETHREADED")
        click = prompt_click(slack_client, handle.id)
        slack_fake.add_user_message(CHANNEL, AE, "on it", thread_ts=click["ts"])
        async with app_in("http", harness, slack_fake):
            await fake_control(slack_fake.url, "click", {**click, "user": STRANGER})

            async def told() -> list[Any] | None:
                return slack_fake.ephemerals_for(STRANGER) or None

            [answer] = await eventually(told)

        assert answer.text == f"only <@{CE}> (CE) of Acme may mark this done"
        assert answer.thread_ts is None
