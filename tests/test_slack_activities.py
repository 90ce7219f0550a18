"""Slack activity against the fake, through slack-sdk's WebClient."""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import timedelta

import pytest
from slack_sdk import WebClient
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.slack import METADATA_EVENT_TYPE, POST_KIND, SlackActivities, build_slack_client
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.fakes import SlackFake
from dealcycle.fakes.slack import DEFAULT_SCOPES
from dealcycle.settings import SlackSettings
from schemas.effects import SlackPost, SlackPostResult


@pytest.fixture
def activities(slack_settings: SlackSettings, ledger: IdempotencyLedger) -> SlackActivities:
    return SlackActivities(build_slack_client(slack_settings, timeout=10), ledger)


def red_alert(key: str = "acct-9/red", channel: str = "#red-accounts", **kwargs: str) -> SlackPost:
    return SlackPost(idempotency_key=key, channel=channel, text="Acme is red", **kwargs)


def posts(fake: SlackFake) -> list[int]:
    """Statuses of chat.postMessage calls."""
    return [c.status for c in fake.calls_to(r"^/api/chat\.postMessage$")]


def crashed_attempt(
    client: WebClient, ledger: IdempotencyLedger, post: SlackPost
) -> SlackPostResult:
    """What an attempt leaves behind when it dies right after Slack accepted its post."""
    ledger.start(post.idempotency_key, POST_KIND)
    response = client.chat_postMessage(
        channel=post.channel,
        text=post.text,
        thread_ts=post.thread_ts,
        metadata={
            "event_type": METADATA_EVENT_TYPE,
            "event_payload": {"idempotency_key": post.idempotency_key},
        },
    )
    return SlackPostResult(channel=response["channel"], ts=response["ts"])


# success and idempotency --------------------------------------------------------------------


async def test_post_sends_one_message_with_the_key_in_its_metadata(
    activities: SlackActivities, slack_fake: SlackFake, ledger: IdempotencyLedger
) -> None:
    result = await ActivityEnvironment().run(activities.post_slack_message, red_alert())
    (message,) = slack_fake.messages
    entry = ledger.lookup("acct-9/red")
    assert result == SlackPostResult(channel=message.channel, ts=message.ts)
    assert result.channel == slack_fake.channel_id("#red-accounts")
    assert message.text == "Acme is red"
    assert message.metadata == {
        "event_type": "dealcycle_post",
        "event_payload": {"idempotency_key": "acct-9/red"},
    }
    assert entry is not None and entry.done and entry.result == dataclasses.asdict(result)


async def test_posting_the_same_key_twice_posts_once(
    activities: SlackActivities, slack_fake: SlackFake
) -> None:
    env = ActivityEnvironment()
    first = await env.run(activities.post_slack_message, red_alert())
    second = await env.run(activities.post_slack_message, red_alert())
    assert not first.posted_before
    assert second == dataclasses.replace(first, posted_before=True)  # another activity's post
    assert len(slack_fake.messages) == 1


async def test_a_retry_that_finds_its_own_post_done_does_not_call_it_posted_before(
    activities: SlackActivities, slack_fake: SlackFake
) -> None:
    # Attempt 1 posted and finished the ledger, but its completion never reached Temporal:
    # attempt 2 of the same activity finds the post done, and it is this activity's own.
    first = await ActivityEnvironment().run(activities.post_slack_message, red_alert())
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2)
    assert await retry.run(activities.post_slack_message, red_alert()) == first
    assert len(slack_fake.messages) == 1
    assert posts(slack_fake) == [200]


async def test_post_to_a_member_id_and_into_a_thread(
    activities: SlackActivities, slack_fake: SlackFake
) -> None:
    env = ActivityEnvironment()
    dm = await env.run(activities.post_slack_message, red_alert("k-dm", channel="U024BE7LH"))
    parent = await env.run(activities.post_slack_message, red_alert("k-parent"))
    reply = await env.run(
        activities.post_slack_message,
        red_alert("k-reply", channel=parent.channel, thread_ts=parent.ts),
    )
    assert dm.channel.startswith("D")
    assert [m.ts for m in slack_fake.messages_in("U024BE7LH")] == [dm.ts]
    assert [m.ts for m in slack_fake.replies_to(parent.channel, parent.ts)] == [reply.ts]


# retryable failures -------------------------------------------------------------------------


async def test_rate_limit_then_server_error_then_success_posts_once(
    activities: SlackActivities, slack_fake: SlackFake
) -> None:
    slack_fake.rate_limit_next(1, retry_after=0)
    slack_fake.server_error_next(1, api_method="chat.postMessage")
    with pytest.raises(ApplicationError) as first_attempt:
        await ActivityEnvironment().run(activities.post_slack_message, red_alert())
    with pytest.raises(ApplicationError) as second_attempt:
        await ActivityEnvironment().run(activities.post_slack_message, red_alert())
    result = await ActivityEnvironment().run(activities.post_slack_message, red_alert())
    # The client does not wait out a 429 itself: each answer fails its attempt.
    assert first_attempt.value.type == "SlackRateLimited"
    assert second_attempt.value.type == "SlackUnavailable"
    assert not first_attempt.value.non_retryable and not second_attempt.value.non_retryable
    assert posts(slack_fake) == [429, 500, 200]
    assert [m.ts for m in slack_fake.messages] == [result.ts]


async def test_rate_limit_fails_the_attempt_at_once_with_retry_after_as_the_delay(
    activities: SlackActivities, slack_fake: SlackFake
) -> None:
    slack_fake.rate_limit_next(1, retry_after=25)
    started = time.monotonic()
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.post_slack_message, red_alert())
    assert time.monotonic() - started < 5  # nothing waited for Retry-After in the attempt
    assert raised.value.type == "SlackRateLimited" and not raised.value.non_retryable
    assert raised.value.next_retry_delay == timedelta(seconds=25)
    assert raised.value.message.startswith("Slack rate limit")
    assert posts(slack_fake) == [429]
    assert slack_fake.messages == []


async def test_transient_slack_errors_are_retryable(
    activities: SlackActivities, slack_fake: SlackFake
) -> None:
    slack_fake.error_next("internal_error", api_method="chat.postMessage")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.post_slack_message, red_alert())
    assert not raised.value.non_retryable and "internal_error" in raised.value.message


# non-retryable failures ---------------------------------------------------------------------


async def test_unknown_channel_is_not_retryable_and_names_the_channel(
    activities: SlackActivities, slack_fake: SlackFake, ledger: IdempotencyLedger
) -> None:
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            activities.post_slack_message, red_alert(channel="#no-such-channel")
        )
    entry = ledger.lookup("acct-9/red")
    assert raised.value.non_retryable and raised.value.type == "SlackPostRejected"
    assert "channel_not_found" in raised.value.message
    assert "#no-such-channel" in raised.value.message
    assert entry is not None and not entry.done


@pytest.mark.parametrize(
    ("prepare", "post", "error"),
    [
        (lambda f: f.archive_channel("#red-accounts"), red_alert(), "is_archived"),
        (lambda f: f.remove_bot_from("#red-accounts"), red_alert(), "not_in_channel"),
        (lambda f: None, red_alert(thread_ts="1700000000.000100"), "thread_not_found"),
        (lambda f: f.error_next("missing_scope"), red_alert(), "missing_scope"),
        (lambda f: f.error_next("token_revoked"), red_alert(), "token_revoked"),
    ],
)
async def test_refusals_are_not_retryable(
    activities: SlackActivities, slack_fake: SlackFake, prepare, post: SlackPost, error: str
) -> None:
    prepare(slack_fake)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.post_slack_message, post)
    assert raised.value.non_retryable
    assert error in raised.value.message and "#red-accounts" in raised.value.message
    assert slack_fake.messages == []


async def test_bad_token_is_not_retryable_and_not_logged(
    slack_fake: SlackFake,
    ledger: IdempotencyLedger,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = dataclasses.replace(slack_fake.settings(), bot_token="xoxb-leaked-if-you-see-this")
    activities = SlackActivities(build_slack_client(settings), ledger)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.post_slack_message, red_alert())
    logged = caplog.text + capsys.readouterr().out
    assert raised.value.non_retryable and raised.value.type == "SlackAuthFailed"
    assert "invalid_auth" in raised.value.message
    assert "xoxb-leaked-if-you-see-this" not in raised.value.message
    assert "xoxb-leaked-if-you-see-this" not in logged


# recovery after a crash between posting and recording --------------------------------------


@pytest.mark.parametrize("channel", ["#red-accounts", "red-accounts", "channel-id", "U024BE7LH"])
async def test_unfinished_attempt_whose_post_reached_slack_is_not_posted_again(
    activities: SlackActivities,
    slack_fake: SlackFake,
    slack_client: WebClient,
    ledger: IdempotencyLedger,
    channel: str,
) -> None:
    target = slack_fake.channel_id("#red-accounts") if channel == "channel-id" else channel
    assert target is not None
    post = red_alert(channel=target)
    earlier = crashed_attempt(slack_client, ledger, post)
    slack_client.chat_postMessage(channel=target, text="someone else's message afterwards")
    result = await ActivityEnvironment().run(activities.post_slack_message, post)
    entry = ledger.lookup(post.idempotency_key)
    assert result == earlier
    assert posts(slack_fake) == [200, 200]  # the crashed attempt's and the unrelated one
    assert entry is not None and entry.done and entry.result == dataclasses.asdict(earlier)


async def test_unfinished_attempt_of_a_thread_reply_is_found_in_the_thread(
    activities: SlackActivities,
    slack_fake: SlackFake,
    slack_client: WebClient,
    ledger: IdempotencyLedger,
) -> None:
    parent = slack_client.chat_postMessage(channel="#dealcycle-trials", text="Trial started")
    post = red_alert(channel=parent["channel"], thread_ts=parent["ts"])
    earlier = crashed_attempt(slack_client, ledger, post)
    result = await ActivityEnvironment().run(activities.post_slack_message, post)
    assert result == earlier
    assert len(slack_fake.replies_to(parent["channel"], parent["ts"])) == 1


async def test_unfinished_attempt_that_never_posted_posts_once(
    activities: SlackActivities, slack_fake: SlackFake, ledger: IdempotencyLedger
) -> None:
    ledger.start("acct-9/red", POST_KIND)
    result = await ActivityEnvironment().run(activities.post_slack_message, red_alert())
    history_calls = slack_fake.calls_to(r"^/api/conversations\.history$")
    assert [m.ts for m in slack_fake.messages] == [result.ts]
    assert len(history_calls) == 1 and history_calls[0].json["include_all_metadata"] == "1"


@pytest.mark.parametrize(
    ("channel", "missing"),
    [
        ("#red-accounts", "channels:read"),
        ("#red-accounts", "channels:history"),
        ("U024BE7LH", "im:history"),
        ("#private-deals", "groups:history"),
        ("#private-deals", "groups:read"),
    ],
)
async def test_recovery_check_without_a_read_scope_refuses_to_post(
    activities: SlackActivities,
    slack_fake: SlackFake,
    ledger: IdempotencyLedger,
    channel: str,
    missing: str,
) -> None:
    slack_fake.add_channel("private-deals", private=True)
    slack_fake.set_scopes(s for s in DEFAULT_SCOPES if s != missing)
    ledger.start("acct-9/red", POST_KIND)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.post_slack_message, red_alert(channel=channel))
    # Posting without the check could duplicate a post an earlier attempt made.
    assert raised.value.non_retryable and raised.value.type == "SlackMissingScope"
    assert raised.value.message.startswith("missing_scope:")
    assert missing in raised.value.message and channel in raised.value.message
    assert slack_fake.messages == []
    assert posts(slack_fake) == []


async def test_recovery_check_with_every_scope_finds_a_private_channels_post(
    activities: SlackActivities,
    slack_fake: SlackFake,
    slack_client: WebClient,
    ledger: IdempotencyLedger,
) -> None:
    slack_fake.add_channel("private-deals", private=True)
    post = red_alert(channel="#private-deals")
    earlier = crashed_attempt(slack_client, ledger, post)
    result = await ActivityEnvironment().run(activities.post_slack_message, post)
    assert result == earlier and len(slack_fake.messages) == 1


async def test_recovery_check_that_is_rate_limited_is_retried_without_posting(
    activities: SlackActivities, slack_fake: SlackFake, ledger: IdempotencyLedger
) -> None:
    ledger.start("acct-9/red", POST_KIND)
    slack_fake.rate_limit_next(1, retry_after=3, api_method="conversations.list")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.post_slack_message, red_alert())
    assert raised.value.type == "SlackRateLimited"
    assert raised.value.next_retry_delay == timedelta(seconds=3)
    assert slack_fake.messages == []
