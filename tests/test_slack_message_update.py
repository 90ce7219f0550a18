"""``post_slack_message`` with blocks and ``update_slack_message`` (chat.update) against the
Slack fake, with the real slack-sdk client."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.slack import SlackActivities, build_slack_client
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.fakes import SlackFake
from dealcycle.settings import SlackSettings
from schemas.effects import SlackMessageUpdate, SlackPost
from workflows.slack_blocks import closed_blocks, step_prompt_blocks

BLOCKS = step_prompt_blocks(
    "Overdue: user survey", workflow_id="trial-1", step="user_survey", kind="trial", url="http://ui"
)


@pytest.fixture
def activities(slack_settings: SlackSettings, ledger: IdempotencyLedger) -> SlackActivities:
    return SlackActivities(build_slack_client(slack_settings), ledger)


async def test_a_post_carries_its_blocks_and_its_text_as_the_fallback(
    activities: SlackActivities, slack_fake: SlackFake
) -> None:
    post = SlackPost("k/1", "U0AE00001", "Overdue: user survey. When it is done: …", blocks=BLOCKS)
    await ActivityEnvironment().run(activities.post_slack_message, post)
    (message,) = slack_fake.messages
    assert message.blocks == BLOCKS and message.text == post.text


async def test_an_update_replaces_text_and_blocks_and_the_same_update_twice_is_harmless(
    activities: SlackActivities, slack_fake: SlackFake
) -> None:
    posted = await ActivityEnvironment().run(
        activities.post_slack_message, SlackPost("k/2", "U0AE00001", "Overdue", blocks=BLOCKS)
    )
    done = closed_blocks("✅ done by <@U0AE00001>")
    update = SlackMessageUpdate("k/2/done", posted.channel, posted.ts, "✅ done", done)
    for _ in range(2):
        await ActivityEnvironment().run(activities.update_slack_message, update)
    (message,) = slack_fake.messages
    assert (message.text, message.blocks) == ("✅ done", done)
    assert message.edited is not None


@pytest.mark.parametrize("error", ["message_not_found", "cant_update_message", "is_archived"])
async def test_an_update_slack_cannot_make_fails_at_once(
    activities: SlackActivities, slack_fake: SlackFake, error: str
) -> None:
    slack_fake.error_next(error, api_method="chat.update")
    update = SlackMessageUpdate("k/3/done", "D0GONE", "1.000001", "✅ done")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.update_slack_message, update)
    assert raised.value.non_retryable
    assert raised.value.message.startswith(f"{error}: Slack refused to update message 1.000001")


async def test_an_update_of_an_unknown_message_fails_at_once(
    activities: SlackActivities, slack_fake: SlackFake
) -> None:
    posted = await ActivityEnvironment().run(
        activities.post_slack_message, SlackPost("k/4", "U0AE00001", "Overdue")
    )
    update = SlackMessageUpdate("k/4/done", posted.channel, "9.999999", "✅ done")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.update_slack_message, update)
    assert raised.value.non_retryable and "message_not_found" in raised.value.message
