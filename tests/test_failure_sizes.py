"""Activity failures stay well under Temporal's 4 KB limit, with the reason first.

Over the limit, Temporal shows "Failure exceeds size limit" instead of the failure (seen with
Slack unreachable: urllib's exception chain rode along). Each failure is converted here as the
worker converts it and measured as the Failure proto the server gets.
"""

from __future__ import annotations

import socket
from typing import Any, cast

import pytest
import temporalio.worker
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.errors import FailureSizeGuard
from activities.salesforce import SalesforceActivities, SalesforceConnector
from activities.slack import SlackActivities, build_slack_client
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.fakes import SalesforceFake, SlackFake
from dealcycle.settings import SalesforceSettings, SlackSettings
from schemas.effects import SalesforceFieldUpdate, SalesforceTaskRequest, SlackPost
from tests.support.fakes import seed_opportunity

WELL_UNDER = 3000
"""Bytes: room for the workflow's ActivityError wrapped around it."""
HUGE = "x" * 200_000


def failure_of(error: BaseException) -> Failure:
    failure = Failure()
    converter = DataConverter.default
    converter.failure_converter.to_failure(error, converter.payload_converter, failure)
    return failure


async def raised_by(activity: Any, argument: Any) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activity, argument)
    return raised.value


def assert_small_and_reason_first(error: ApplicationError, reason: str) -> None:
    failure = failure_of(error)
    assert failure.ByteSize() < WELL_UNDER, failure
    assert failure.message.startswith(reason), failure.message


@pytest.fixture
def refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again: connections are refused


def post(text: str = "hello") -> SlackPost:
    return SlackPost(idempotency_key="k/1", channel="#dealcycle-trials", text=text)


async def test_slack_unreachable(refused_port: int, ledger: IdempotencyLedger) -> None:
    settings = SlackSettings(bot_token="xoxb-t", api_url=f"http://127.0.0.1:{refused_port}/api/")
    activities = SlackActivities(build_slack_client(settings), ledger)
    error = await raised_by(activities.post_slack_message, post())
    assert_small_and_reason_first(error, "Slack unreachable (ConnectionRefusedError")
    assert not error.non_retryable and error.__cause__ is None


async def test_slack_error_with_a_huge_body(
    slack_fake: SlackFake, ledger: IdempotencyLedger
) -> None:
    slack_fake.fail_next(
        "*",
        r"^/api/chat\.postMessage$",
        200,
        {"ok": False, "error": "invalid_blocks", "response_metadata": {"messages": [HUGE]}},
    )
    slack_fake.fail_next("*", r"^/api/chat\.postMessage$", 200, {"ok": False, "error": HUGE})
    slack_fake.fail_next("*", r"^/api/chat\.postMessage$", 400, HUGE)
    activities = SlackActivities(build_slack_client(slack_fake.settings()), ledger)
    known = await raised_by(activities.post_slack_message, post())
    unknown = await raised_by(activities.post_slack_message, post())
    html = await raised_by(activities.post_slack_message, post())
    assert_small_and_reason_first(known, "invalid_blocks: Slack refused to post to")
    assert_small_and_reason_first(unknown, "xxxxxxxx")
    assert_small_and_reason_first(html, "unexpected answer (HTTP 400, not Slack's JSON)")
    assert known.non_retryable


async def test_salesforce_500_with_a_huge_body(
    salesforce_fake: SalesforceFake,
    salesforce_settings: SalesforceSettings,
    ledger: IdempotencyLedger,
) -> None:
    record = seed_opportunity(salesforce_fake)
    salesforce_fake.fail_next("PATCH", r"/sobjects/", 500, [{"errorCode": "X", "message": HUGE}])
    salesforce_fake.fail_next("PATCH", r"/sobjects/", 503, HUGE)
    activities = SalesforceActivities(SalesforceConnector(salesforce_settings), ledger)
    update = SalesforceFieldUpdate("opp/1", "Opportunity", record, {"StageName": "Won"})
    json_body = await raised_by(activities.update_salesforce_record, update)
    html_body = await raised_by(activities.update_salesforce_record, update)
    assert_small_and_reason_first(json_body, "Salesforce unavailable (HTTP 500, X)")
    assert_small_and_reason_first(html_body, "Salesforce unavailable (HTTP 503)")
    assert not json_body.non_retryable and not html_body.non_retryable


async def test_salesforce_rejection_with_a_huge_message(
    salesforce_fake: SalesforceFake,
    salesforce_settings: SalesforceSettings,
    ledger: IdempotencyLedger,
) -> None:
    salesforce_fake.fail_next(
        "PATCH",
        r"/sobjects/Task/",
        400,
        [{"errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": HUGE}],
    )
    activities = SalesforceActivities(SalesforceConnector(salesforce_settings), ledger)
    task = SalesforceTaskRequest("t/1", "006X", "Call", "2026-05-01")
    error = await raised_by(activities.create_salesforce_task, task)
    assert_small_and_reason_first(error, "FIELD_CUSTOM_VALIDATION_EXCEPTION: Salesforce rejected")
    assert error.non_retryable


class _Raises(temporalio.worker.ActivityInboundInterceptor):
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def execute_activity(self, input: temporalio.worker.ExecuteActivityInput) -> Any:
        raise self.error


async def guarded(error: BaseException) -> BaseException:
    inbound = FailureSizeGuard().intercept_activity(cast(Any, _Raises(error)))
    with pytest.raises(BaseException) as raised:
        await inbound.execute_activity(
            temporalio.worker.ExecuteActivityInput(fn=print, args=[], executor=None, headers={})
        )
    return raised.value


async def test_the_guard_bounds_what_an_activity_lets_escape() -> None:
    def chained() -> Exception:
        try:
            try:
                raise OSError(HUGE)
            except OSError as inner:
                raise RuntimeError("database is down: " + HUGE) from inner
        except RuntimeError as outer:
            return outer

    plain = await guarded(chained())
    long_message = ApplicationError(HUGE, type="Custom", non_retryable=True)
    clipped = await guarded(long_message)
    small = ApplicationError("fine", type="Custom")
    assert isinstance(plain, ApplicationError) and plain.type == "RuntimeError"
    assert not plain.non_retryable and plain.__cause__ is None
    assert failure_of(plain).ByteSize() < WELL_UNDER
    assert failure_of(plain).message.startswith("RuntimeError: database is down")
    assert isinstance(clipped, ApplicationError) and clipped.non_retryable
    assert clipped.type == "Custom" and failure_of(clipped).ByteSize() < WELL_UNDER
    assert await guarded(small) is small


async def test_the_guard_lets_cancellation_through() -> None:
    import asyncio

    cancelled = asyncio.CancelledError()
    assert await guarded(cancelled) is cancelled
