"""The Slack app's Done button over HTTP, against the Slack fake and the time-skipping server:
the clicker's verified id completes a trial planning step once, a second click is answered
"already done", a stranger is told who may act, and a delivery repeated by Slack is applied
once."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from slack_sdk import WebClient
from structlog.testing import capture_logs

from schemas.common import Role, StepStatus
from schemas.trial import TRIAL_PLANNING_ITEMS, TrialState
from starter.slack.actions import DONE, SNOOZE
from tests.support.slack_app import (
    accepted_update_inputs,
    block_actions,
    eventually,
    interaction_body,
    served_app,
    update_ids,
    with_signing_secret,
)
from tests.test_trial_workflow import AE, CE, CHANNEL, start, state
from workflows.trial import TrialWorkflow

STRANGER = "U0STRANGER1"
CE_STEP = next(item for item in TRIAL_PLANNING_ITEMS if item.lead is Role.CE)


def ephemerals_to(slack_fake: Any, user: str) -> list[str]:
    """Texts of the ephemeral messages ``user`` was shown (``chat.postEphemeral`` calls Slack
    took, or answers through a ``response_url``): a call Slack refused does not count."""
    return [str(ephemeral.text) for ephemeral in slack_fake.ephemerals_for(user)]


async def answers_to(slack_fake: Any, user: str, count: int = 1) -> list[str]:
    """The app's ephemeral answers to ``user``, once there are ``count`` of them."""

    async def answered() -> list[str] | None:
        answers = ephemerals_to(slack_fake, user)
        return answers if len(answers) >= count else None

    return await eventually(answered)


async def prompt_ts(slack_client: WebClient) -> tuple[str, str]:
    """The channel id and ts of a message carrying the step's buttons (where it comes from
    does not matter to the app: the button's value names the step)."""
    posted = slack_client.chat_postMessage(channel=CHANNEL, text=f"{CE_STEP.title} is due")
    return str(posted["channel"]), str(posted["ts"])


def ce_step_value(workflow_id: str) -> dict[str, str]:
    """The button value of the trial's CE step, as its prompt carries it."""
    return {"workflow_id": workflow_id, "step": CE_STEP.key, "kind": "trial"}


@asynccontextmanager
async def prompted_trial(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_client: WebClient,
    test_settings: Any,
    opportunity_id: str,
) -> AsyncIterator[tuple[Any, Any, str, str, dict[str, str]]]:
    """A trial whose CE step has a prompt in Slack: its harness (with the signing secret the
    app checks), handle, the prompt's channel and ts, and the step's button value."""
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        handle = await start(harness, salesforce_fake, opportunity_id)
        channel, ts = await prompt_ts(slack_client)
        yield harness, handle, channel, ts, ce_step_value(handle.id)


def home_click(user: str, value: dict[str, str]) -> dict[str, Any]:
    """``user``'s click on a Done button of their App Home tab: no channel, no message."""
    click = block_actions(user, "", "", DONE, value)
    click["container"] = {"type": "view", "view_id": "V0HOME"}
    click["view"] = {"id": "V0HOME", "type": "home", "blocks": []}
    del click["channel"], click["message"], click["response_url"]
    return click


async def home_blocks(slack_fake: Any, user: str) -> list[dict[str, Any]]:
    """The blocks of ``user``'s App Home tab, once the app has published it."""

    async def published() -> list[dict[str, Any]] | None:
        home = slack_fake.views.home(user)
        return list(home.view["blocks"]) if home is not None else None

    return await eventually(published, attempts=200)


async def step_status(handle: Any, key: str) -> StepStatus:
    view: TrialState = await state(handle)
    return next(step.status for step in view.steps if step.key == key)


async def test_done_click_completes_the_step_once_and_a_second_click_is_already_done(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    slack_client: WebClient,
    test_settings: Any,
) -> None:
    async with prompted_trial(
        harness_factory, salesforce_fake, slack_client, test_settings, "006SLACKDONE"
    ) as (harness, handle, channel, ts, value):
        async with served_app(harness.client, harness.settings) as app:
            click = block_actions(CE, channel, ts, DONE, value)
            # Slack repeats a delivery it saw no answer to: the same payload, signed anew
            # (another timestamp, so another signature).
            assert await app.deliver(interaction_body(click), age=1) == 200
            assert await app.deliver(interaction_body(click)) == 200

            async def done() -> bool | None:
                return True if await step_status(handle, CE_STEP.key) is StepStatus.DONE else None

            await eventually(done)
            second = block_actions(CE, channel, ts, DONE, value)
            assert await app.deliver(interaction_body(second)) == 200

            [answer] = await answers_to(slack_fake, CE)

        assert answer.startswith(f"{CE_STEP.title} is already done by <@{CE}>")
        view = await state(handle)
        step = next(step for step in view.steps if step.key == CE_STEP.key)
        assert step.completed_by == CE
        ids = await update_ids(handle)
        assert len(ids) == 1 and ids[0].startswith("slack-click-")
        assert click["actions"][0]["action_ts"] in ids[0]
        [request] = await accepted_update_inputs(handle)
        assert json.loads(request)["actor"] == CE


async def test_a_strangers_click_is_refused_with_who_may_act_and_changes_nothing(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    slack_client: WebClient,
    test_settings: Any,
) -> None:
    async with prompted_trial(
        harness_factory, salesforce_fake, slack_client, test_settings, "006SLACKSTRANGER"
    ) as (harness, handle, channel, ts, value):
        async with served_app(harness.client, harness.settings) as app:
            for user in (STRANGER, AE):
                click = block_actions(user, channel, ts, DONE, value)
                assert await app.deliver(interaction_body(click)) == 200

            async def both() -> tuple[list[str], list[str]] | None:
                stranger, ae = ephemerals_to(slack_fake, STRANGER), ephemerals_to(slack_fake, AE)
                return (stranger, ae) if stranger and ae else None

            stranger_answers, ae_answers = await eventually(both)

        expected = f"only <@{CE}> (CE) of Acme may mark this done"
        assert stranger_answers == [expected]
        assert ae_answers == [expected]  # the AE of record, but the step is the CE's
        assert await step_status(handle, CE_STEP.key) is StepStatus.PENDING
        assert await update_ids(handle) == []


async def test_a_rejected_update_answers_with_the_validators_reason(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    slack_client: WebClient,
    test_settings: Any,
) -> None:
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        handle = await start(harness, salesforce_fake, "006SLACKRULE")
        channel, ts = await prompt_ts(slack_client)
        # A step the trial does not have: the app cannot read it, the validator says why.
        value = {"workflow_id": handle.id, "step": "no_such_step", "kind": "trial"}
        async with served_app(harness.client, harness.settings) as app:
            click = block_actions(CE, channel, ts, DONE, value)
            assert await app.deliver(interaction_body(click)) == 200

            [answer] = await answers_to(slack_fake, CE)

        assert answer.startswith("unknown step 'no_such_step'; the steps are: technical_landscape")
        assert await update_ids(handle) == []


async def test_snooze_is_answered_even_where_the_workflow_has_no_snooze(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    slack_client: WebClient,
    test_settings: Any,
) -> None:
    async with prompted_trial(
        harness_factory, salesforce_fake, slack_client, test_settings, "006SLACKSNOOZE"
    ) as (harness, handle, channel, ts, value):
        async with served_app(harness.client, harness.settings) as app:
            click = block_actions(CE, channel, ts, SNOOZE, value)
            assert await app.deliver(interaction_body(click)) == 200

            [answer] = await answers_to(slack_fake, CE)

        if getattr(TrialWorkflow, "snooze_step", None) is None:
            assert answer.startswith("snooze is not available")
            assert await update_ids(handle) == []
        else:
            assert await update_ids(handle) != []


async def test_a_click_on_a_closed_or_missing_workflow_is_answered_and_changes_nothing(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    slack_client: WebClient,
    test_settings: Any,
) -> None:
    # An old prompt's buttons outlive its workflow: the update's bare "not found" left the
    # clicker without any answer.
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        handle = await start(harness, salesforce_fake, "006SLACKCLOSED")
        await handle.terminate("the deal was lost")
        channel, ts = await prompt_ts(slack_client)
        closed = ce_step_value(handle.id)
        missing = {"workflow_id": "trial-006NOSUCHDEAL", "step": CE_STEP.key, "kind": "trial"}
        async with served_app(harness.client, harness.settings) as app:
            for action, value in ((DONE, closed), (SNOOZE, closed), (DONE, missing)):
                click = block_actions(CE, channel, ts, action, value)
                assert await app.deliver(interaction_body(click)) == 200

            answers = await answers_to(slack_fake, CE, 3)

        assert sorted(answers) == sorted(
            [
                f"{handle.id} is terminated; it accepts no more actions",
                f"{handle.id} is terminated; it accepts no more actions",
                "there is no workflow 'trial-006NOSUCHDEAL'",
            ]
        )
        assert await update_ids(handle) == []


async def test_done_from_an_ephemeral_to_do_list_says_it_is_done(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    slack_client: WebClient,
    test_settings: Any,
) -> None:
    # The workflow edits its own prompt once a step is done, not the ephemeral list
    # `/dealcycle todo` answered with: Done there completed the step and showed nothing, so
    # the list looked as if the click had been lost.
    async with prompted_trial(
        harness_factory, salesforce_fake, slack_client, test_settings, "006SLACKTODO"
    ) as (harness, handle, channel, ts, value):
        async with served_app(harness.client, harness.settings) as app:
            click = block_actions(CE, channel, ts, DONE, value)
            click["container"]["is_ephemeral"] = True
            del click["message"]  # Slack sends no message for an ephemeral one
            assert await app.deliver(interaction_body(click)) == 200

            [answer] = await answers_to(slack_fake, CE)

        assert await step_status(handle, CE_STEP.key) is StepStatus.DONE
        assert answer.startswith("✅ "), answer
        assert CE_STEP.key in answer or CE_STEP.title in answer, answer


async def test_a_home_tab_click_is_answered_even_when_the_list_cannot_be_read(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    slack_client: WebClient,
    test_settings: Any,
) -> None:
    # The tab is the only place a Home click is answered; when the to-do list cannot be read
    # (here: this test server has no visibility), the tab said why, and dropped the answer.
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        handle = await start(harness, salesforce_fake, "006SLACKHOMEDOWN")
        value = ce_step_value(handle.id)
        async with served_app(harness.client, harness.settings) as app:
            click = home_click(STRANGER, value)
            assert await app.deliver(interaction_body(click)) == 200
            blocks = await home_blocks(slack_fake, STRANGER)

        texts = [block["text"]["text"] for block in blocks]
        assert texts[0] == f"only <@{CE}> (CE) of Acme may mark this done"
        assert texts[1].startswith("⚠️ ")


async def test_click_answers_escape_the_account_name_as_typed(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    slack_client: WebClient,
    test_settings: Any,
) -> None:
    # The account's name comes from Salesforce as someone typed it: the answers to a stranger's
    # click and to a second click put it into mrkdwn raw, where `<!channel>` reads as @channel
    # and `<https://…|…>` as a link (the thread answers and the forms escaped it).
    name = "<!channel> & <https://x.example|Acme>"
    shown = "&lt;!channel&gt; &amp; &lt;https://x.example|Acme&gt;"
    async with harness_factory(slack=with_signing_secret(test_settings).slack) as harness:
        handle = await start(harness, salesforce_fake, "006SLACKNAME", account_name=name)
        channel, ts = await prompt_ts(slack_client)
        value = ce_step_value(handle.id)
        async with served_app(harness.client, harness.settings) as app:
            stranger = block_actions(STRANGER, channel, ts, DONE, value)
            assert await app.deliver(interaction_body(stranger)) == 200
            [refusal] = await answers_to(slack_fake, STRANGER)

        assert refusal == f"only <@{CE}> (CE) of {shown} may mark this done"
        assert await update_ids(handle) == []


async def test_a_home_tab_click_slack_rate_limits_for_long_is_still_published(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    slack_client: WebClient,
    test_settings: Any,
) -> None:
    # A 429 with a long Retry-After is not waited for where a click has another way to be
    # answered; the Home tab has none, so its views.publish still waits it out.
    async with prompted_trial(
        harness_factory, salesforce_fake, slack_client, test_settings, "006SLACKHOMELIMIT"
    ) as (harness, _, _, _, value):
        async with served_app(harness.client, harness.settings) as app:
            slack_fake.rate_limit_next(retry_after=3, api_method="views.publish")
            click = home_click(STRANGER, value)
            assert await app.deliver(interaction_body(click)) == 200
            blocks = await home_blocks(slack_fake, STRANGER)

        assert blocks[0]["text"]["text"] == f"only <@{CE}> (CE) of Acme may mark this done"


async def test_a_home_tab_slack_will_not_publish_is_a_warning_not_a_failed_listener(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    slack_client: WebClient,
    test_settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # views.publish refused (a revoked token, a Home tab turned off): the click's listener
    # failed, logged by bolt as an error with three chained tracebacks; nobody can be told,
    # so it is a warning naming Slack's error.
    async with prompted_trial(
        harness_factory, salesforce_fake, slack_client, test_settings, "006SLACKHOMEREVOKED"
    ) as (harness, _, _, _, value):
        async with served_app(harness.client, harness.settings) as app:
            slack_fake.error_next("token_revoked", api_method="views.publish")
            click = home_click(STRANGER, value)
            with capture_logs() as logs:
                assert await app.deliver(interaction_body(click)) == 200

                async def warned() -> list[dict[str, Any]] | None:
                    found = [e for e in logs if e["event"] == "slack.home.not_published"]
                    return found or None

                [warning] = await eventually(warned, attempts=100)

        assert (warning["user"], warning["error"]) == (STRANGER, "token_revoked")
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
