"""Every attempt of a Slack or Salesforce activity ends inside its timeout.

The incident: Slack answered ``429 Retry-After: 25`` three times; the client waited out each
one inside attempt 1, which outlived its 60 s start-to-close; attempt 2 posted, and then
attempt 1's orphaned thread posted too. Now a 429 fails the attempt at once and Temporal waits
``Retry-After``, and no call runs past its attempt's deadline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.attempt import AttemptTimeSpent, attempt_deadline, bounded_by_attempt, call_timeout
from activities.salesforce import SalesforceActivities, SalesforceConnector
from activities.slack import SlackActivities, build_slack_client
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.fakes import SalesforceFake, SlackFake
from dealcycle.settings import SalesforceSettings, SlackSettings
from schemas.effects import SalesforceFieldUpdate, SlackPost, SlackPostResult
from tests.support.fakes import seed_opportunity

POST = SlackPost(idempotency_key="trial-1/announce", channel="#dealcycle-trials", text="hello")


@workflow.defn(sandboxed=False)
class PostsOnce:
    """As the workflows run an effect: start-to-close 60 s, retried without a limit."""

    @workflow.run
    async def run(self, post: SlackPost) -> SlackPostResult:
        return await workflow.execute_activity(
            "post_slack_message",
            post,
            result_type=SlackPostResult,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1)),
        )


def post_statuses(fake: SlackFake) -> list[int]:
    return [c.status for c in fake.calls_to(r"^/api/chat\.postMessage$")]


def attempt_env(
    start_to_close: timedelta, elapsed: timedelta = timedelta(0)
) -> ActivityEnvironment:
    """An ActivityEnvironment whose attempt started ``elapsed`` ago, with server timestamps."""
    env = ActivityEnvironment()
    started = datetime.now(UTC) - elapsed
    env.info = dataclasses.replace(
        env.info,
        started_time=started,
        scheduled_time=started,
        current_attempt_scheduled_time=started,
        start_to_close_timeout=start_to_close,
        schedule_to_close_timeout=None,
    )
    return env


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


async def test_429_retry_after_25_three_times_posts_exactly_once(
    time_skipping_env: WorkflowEnvironment,
    task_queue: str,
    slack_fake: SlackFake,
    ledger: IdempotencyLedger,
) -> None:
    slack_fake.rate_limit_next(3, retry_after=25, api_method="chat.postMessage")
    activities = SlackActivities(build_slack_client(slack_fake.settings()), ledger)
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[PostsOnce],
        activities=[activities.post_slack_message],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        started = time.monotonic()
        result = await asyncio.wait_for(
            time_skipping_env.client.execute_workflow(
                PostsOnce.run, POST, id=f"posts-once-{task_queue}", task_queue=task_queue
            ),
            timeout=120,
        )
    # Each 429 ended its attempt at once; Temporal waited the 25 s (skipped here).
    assert time.monotonic() - started < 30
    assert post_statuses(slack_fake) == [429, 429, 429, 200]
    assert [m.ts for m in slack_fake.messages] == [result.ts]


# the attempt's deadline ----------------------------------------------------------------------


def test_deadline_is_the_earlier_of_start_to_close_and_schedule_to_close() -> None:
    info = attempt_env(timedelta(seconds=60)).info
    started = info.started_time
    assert attempt_deadline(info, started) == started + timedelta(seconds=58)
    short = dataclasses.replace(
        info,
        scheduled_time=started - timedelta(seconds=50),
        schedule_to_close_timeout=timedelta(seconds=70),
    )
    assert attempt_deadline(short, started) == started + timedelta(seconds=18)
    # A 5 s attempt keeps a tenth of it as the margin, not 2 s.
    five = dataclasses.replace(info, start_to_close_timeout=timedelta(seconds=5))
    assert attempt_deadline(five, started) == started + timedelta(seconds=4.5)


def test_without_server_timestamps_there_is_no_deadline() -> None:
    assert attempt_deadline(ActivityEnvironment().info, datetime.now(UTC)) is None


async def test_calls_get_what_is_left_of_the_attempt_and_none_start_at_its_end() -> None:
    def timeouts() -> float:
        return call_timeout(10.0)

    async def in_attempt() -> tuple[float, float]:
        with bounded_by_attempt():
            return call_timeout(10.0), await asyncio.to_thread(timeouts)

    fresh = await attempt_env(timedelta(seconds=60)).run(in_attempt)
    late = await attempt_env(timedelta(seconds=60), timedelta(seconds=53)).run(in_attempt)
    assert fresh == (10.0, 10.0)
    assert 4 < late[0] <= 5 and 4 < late[1] <= 5
    with pytest.raises(AttemptTimeSpent):
        await attempt_env(timedelta(seconds=60), timedelta(seconds=57.8)).run(in_attempt)
    assert call_timeout(10.0) == 10.0  # outside an attempt: the cap


async def test_slack_post_is_not_started_when_the_attempt_is_spent(
    slack_fake: SlackFake, ledger: IdempotencyLedger
) -> None:
    activities = SlackActivities(build_slack_client(slack_fake.settings()), ledger)
    env = attempt_env(timedelta(seconds=60), timedelta(seconds=59))
    with pytest.raises(ApplicationError) as raised:
        await env.run(activities.post_slack_message, POST)
    assert raised.value.type == "SlackTimeout" and not raised.value.non_retryable
    assert slack_fake.calls == []


async def test_a_slack_call_that_hangs_ends_inside_the_attempt(
    black_hole: int, ledger: IdempotencyLedger
) -> None:
    settings = SlackSettings(bot_token="xoxb-test", api_url=f"http://127.0.0.1:{black_hole}/api/")
    activities = SlackActivities(build_slack_client(settings), ledger)
    started = time.monotonic()
    with pytest.raises(ApplicationError) as raised:
        await attempt_env(timedelta(seconds=3)).run(activities.post_slack_message, POST)
    assert time.monotonic() - started < 3
    assert raised.value.type == "SlackUnavailable" and not raised.value.non_retryable
    assert raised.value.message.startswith("Slack unreachable")


async def test_a_salesforce_call_that_hangs_ends_inside_the_attempt(
    black_hole: int, ledger: IdempotencyLedger
) -> None:
    settings = SalesforceSettings(
        login_url=f"https://127.0.0.1:{black_hole}",
        client_id="c",
        username="u",
        password="p",
        auth="password",
    )
    activities = SalesforceActivities(SalesforceConnector(settings), ledger)
    update = SalesforceFieldUpdate("opp-1/stage", "Opportunity", "006X", {"StageName": "Won"})
    started = time.monotonic()
    with pytest.raises(ApplicationError) as raised:
        await attempt_env(timedelta(seconds=3)).run(activities.update_salesforce_record, update)
    assert time.monotonic() - started < 3
    assert not raised.value.non_retryable
    assert raised.value.message.startswith("Salesforce unreachable")


async def test_salesforce_request_limit_fails_the_attempt_at_once_with_a_backoff(
    salesforce_fake: SalesforceFake,
    salesforce_settings: SalesforceSettings,
    ledger: IdempotencyLedger,
) -> None:
    record = seed_opportunity(salesforce_fake)
    activities = SalesforceActivities(SalesforceConnector(salesforce_settings), ledger)
    update = SalesforceFieldUpdate("opp-1/stage", "Opportunity", record, {"StageName": "Won"})
    salesforce_fake.rate_limit_next(3)
    delays = []
    for attempt in (1, 2, 3):
        env = attempt_env(timedelta(seconds=60))
        env.info = dataclasses.replace(env.info, attempt=attempt)
        started = time.monotonic()
        with pytest.raises(ApplicationError) as raised:
            await env.run(activities.update_salesforce_record, update)
        assert time.monotonic() - started < 5  # no sleeping inside the attempt
        assert raised.value.type == "SalesforceRateLimited" and not raised.value.non_retryable
        assert raised.value.message.startswith("REQUEST_LIMIT_EXCEEDED")
        delays.append(raised.value.next_retry_delay)
    await attempt_env(timedelta(seconds=60)).run(activities.update_salesforce_record, update)
    assert delays == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert salesforce_fake.get_record("Opportunity", record)["StageName"] == "Won"  # type: ignore[index]
