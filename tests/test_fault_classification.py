"""Faults injected through the fakes' control API, and how the activities classify each.

Refusals a retry cannot fix (an archived or unknown channel, a refused token, a text too long,
a missing scope, an unknown field, a refused login) are non-retryable, their message starting
with the cause; rate limits, 5xx and connection errors are retryable. The control API is the
one other processes (the chaos suite, a worker subprocess) use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.salesforce import SalesforceActivities, SalesforceConnector
from activities.slack import MAX_POST_CHARS, TRUNCATION_MARKER, SlackActivities, build_slack_client
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.fakes import ControlClient, SalesforceFake, SlackFake
from dealcycle.fakes.slack import MAX_TEXT
from schemas.effects import SalesforceFieldUpdate, SlackPost

Control = Callable[[ControlClient], Any]


@pytest.fixture
def slack_control(slack_fake: SlackFake) -> Iterator[ControlClient]:
    control = ControlClient(slack_fake.url)
    yield control
    control.close()


@pytest.fixture
def salesforce_control(salesforce_fake: SalesforceFake) -> Iterator[ControlClient]:
    control = ControlClient(salesforce_fake.instance_url, salesforce_fake.ca_bundle)
    yield control
    control.close()


@pytest.fixture
def slack(slack_fake: SlackFake, ledger: IdempotencyLedger) -> SlackActivities:
    return SlackActivities(build_slack_client(slack_fake.settings()), ledger)


@pytest.fixture
def salesforce(
    salesforce_fake: SalesforceFake, ledger: IdempotencyLedger
) -> Iterator[SalesforceActivities]:
    connector = SalesforceConnector(salesforce_fake.settings())
    yield SalesforceActivities(connector, ledger)
    connector.close()


def post(key: str = "acct-1/welcome", text: str = "Welcome, Acme") -> SlackPost:
    return SlackPost(idempotency_key=key, channel="#customer-accounts", text=text)


async def failure(activity: Any, argument: Any) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activity, argument)
    return raised.value


# Slack ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inject", "cause", "error_type"),
    [
        (
            lambda c: c.post("archive", {"channel": "#customer-accounts"}),
            "is_archived",
            "SlackPostRejected",
        ),
        (
            lambda c: c.add_faults({"kind": "error", "error": "channel_not_found"}),
            "channel_not_found",
            "SlackPostRejected",
        ),
        (lambda c: c.post("auth", {"valid": False}), "invalid_auth", "SlackAuthFailed"),
        (
            lambda c: c.add_faults(
                {"kind": "error", "error": "msg_too_long", "api_method": "chat.postMessage"}
            ),
            "msg_too_long",
            "SlackPostRejected",
        ),
        (
            lambda c: c.post("scopes", {"scopes": ["im:write"]}),
            "missing_scope",
            "SlackPostRejected",
        ),
    ],
)
async def test_slack_refusals_are_not_retryable_and_name_the_cause(
    slack: SlackActivities,
    slack_fake: SlackFake,
    slack_control: ControlClient,
    inject: Control,
    cause: str,
    error_type: str,
) -> None:
    inject(slack_control)
    error = await failure(slack.post_slack_message, post())
    assert error.non_retryable and error.type == error_type
    assert error.message.startswith(f"{cause}: Slack refused to post to #customer-accounts")
    assert slack_fake.messages == []


async def test_missing_scope_names_the_scope(
    slack: SlackActivities, slack_control: ControlClient
) -> None:
    slack_control.post("scopes", {"scopes": ["im:write"]})
    error = await failure(slack.post_slack_message, post())
    assert "needed scope: chat:write" in error.message


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        ({"kind": "rate_limit", "retry_after": 25}, "SlackRateLimited"),
        ({"kind": "server_error", "status": 503}, "SlackUnavailable"),
        ({"kind": "error", "error": "internal_error"}, "SlackApiError"),
    ],
)
async def test_slack_transient_faults_are_retryable(
    slack: SlackActivities,
    slack_fake: SlackFake,
    slack_control: ControlClient,
    fault: dict[str, Any],
    error_type: str,
) -> None:
    slack_control.add_faults({**fault, "api_method": "chat.postMessage"})
    error = await failure(slack.post_slack_message, post())
    assert not error.non_retryable and error.type == error_type
    await ActivityEnvironment().run(slack.post_slack_message, post())
    assert len(slack_fake.messages) == 1


async def test_an_archived_channel_unarchived_takes_the_retried_post_once(
    slack: SlackActivities, slack_fake: SlackFake, slack_control: ControlClient
) -> None:
    slack_control.post("archive", {"channel": "#customer-accounts"})
    await failure(slack.post_slack_message, post())
    slack_control.post("unarchive", {"channel": "#customer-accounts"})
    first = await ActivityEnvironment().run(slack.post_slack_message, post())
    again = await ActivityEnvironment().run(slack.post_slack_message, post())
    assert again == dataclasses.replace(first, posted_before=True)
    assert [m.ts for m in slack_fake.messages] == [first.ts]


def test_the_fake_refuses_text_over_40000_characters(
    slack_fake: SlackFake, slack_client: WebClient
) -> None:
    slack_client.chat_postMessage(channel="#customer-accounts", text="x" * MAX_TEXT)
    with pytest.raises(SlackApiError) as raised:
        slack_client.chat_postMessage(channel="#customer-accounts", text="x" * (MAX_TEXT + 1))
    assert raised.value.response["error"] == "msg_too_long"
    assert len(slack_fake.messages) == 1


async def test_a_long_text_never_fails_a_post(
    slack: SlackActivities, slack_fake: SlackFake
) -> None:
    reason = "The customer asked for more time. " * 1500  # 51,000 characters
    await ActivityEnvironment().run(slack.post_slack_message, post(text=reason))
    (message,) = slack_fake.messages
    assert len(message.text) <= MAX_POST_CHARS and message.text.endswith(TRUNCATION_MARKER)
    assert reason.startswith(message.text.removesuffix(TRUNCATION_MARKER))


async def test_a_short_text_is_posted_as_it_is(
    slack: SlackActivities, slack_fake: SlackFake
) -> None:
    text = "y" * MAX_POST_CHARS
    await ActivityEnvironment().run(slack.post_slack_message, post(text=text))
    assert slack_fake.messages[0].text == text


# Salesforce ----------------------------------------------------------------------------------


@pytest.fixture
def account(salesforce_fake: SalesforceFake) -> str:
    return salesforce_fake.seed_record("Account", {"Name": "Acme"})


def tier(account: str) -> SalesforceFieldUpdate:
    return SalesforceFieldUpdate("acct-1/profile/1", "Account", account, {"Tier__c": "1"})


async def test_a_field_the_org_lacks_fails_until_it_is_back(
    salesforce: SalesforceActivities,
    salesforce_fake: SalesforceFake,
    salesforce_control: ControlClient,
    account: str,
) -> None:
    salesforce_control.post("fields", {"sobject": "Account", "field": "Tier__c", "present": False})
    error = await failure(salesforce.update_salesforce_record, tier(account))
    assert error.non_retryable and error.message.startswith("INVALID_FIELD:")
    assert "Tier__c" in error.message
    salesforce_control.post("fields", {"sobject": "Account", "field": "Tier__c", "present": True})
    await ActivityEnvironment().run(salesforce.update_salesforce_record, tier(account))
    assert salesforce_fake.get_record("Account", account)["Tier__c"] == "1"  # type: ignore[index]


@pytest.mark.parametrize(
    ("fault", "cause", "error_type"),
    [
        (
            {"kind": "invalid_field", "field": "Tier__c"},
            "INVALID_FIELD",
            "SalesforceInvalidRequest",
        ),
        ({"kind": "invalid_grant"}, "invalid_grant", "SalesforceLoginFailed"),
    ],
)
async def test_salesforce_refusals_are_not_retryable_and_name_the_cause(
    salesforce: SalesforceActivities,
    salesforce_control: ControlClient,
    account: str,
    fault: dict[str, Any],
    cause: str,
    error_type: str,
) -> None:
    salesforce_control.add_faults(fault)
    error = await failure(salesforce.update_salesforce_record, tier(account))
    assert error.non_retryable and error.type == error_type
    assert error.message.startswith(f"{cause}:")


@pytest.mark.parametrize(
    ("fault", "prefix", "error_type"),
    [
        ({"kind": "rate_limit", "count": 1}, "REQUEST_LIMIT_EXCEEDED:", "SalesforceRateLimited"),
        (
            {"kind": "server_error", "status": 503},
            "Salesforce unavailable (HTTP 503",
            "SalesforceUnavailable",
        ),
        (
            {"kind": "invalid_session", "count": 2},
            "INVALID_SESSION_ID:",
            "SalesforceSessionInvalid",
        ),
        # A 400 that is no refusal: another transaction (a trigger, a data load) holds the
        # record; Salesforce says to try again.
        (
            {
                "method": "PATCH",
                "status": 400,
                "body": [
                    {
                        "errorCode": "UNABLE_TO_LOCK_ROW",
                        "message": "unable to obtain exclusive access to this record",
                    }
                ],
            },
            "UNABLE_TO_LOCK_ROW:",
            "SalesforceRecordLocked",
        ),
    ],
)
async def test_salesforce_transient_faults_are_retryable(
    salesforce: SalesforceActivities,
    salesforce_fake: SalesforceFake,
    salesforce_control: ControlClient,
    account: str,
    fault: dict[str, Any],
    prefix: str,
    error_type: str,
) -> None:
    salesforce_control.add_faults(fault)
    error = await failure(salesforce.update_salesforce_record, tier(account))
    assert not error.non_retryable and error.type == error_type
    assert error.message.startswith(prefix)
    await ActivityEnvironment().run(salesforce.update_salesforce_record, tier(account))
    assert salesforce_fake.get_record("Account", account)["Tier__c"] == "1"  # type: ignore[index]


async def test_one_invalid_session_logs_in_again_within_the_attempt(
    salesforce: SalesforceActivities,
    salesforce_fake: SalesforceFake,
    salesforce_control: ControlClient,
    account: str,
) -> None:
    await ActivityEnvironment().run(
        salesforce.update_salesforce_record,
        SalesforceFieldUpdate("acct-1/warm-up", "Account", account, {"Tier__c": "2"}),
    )
    salesforce_control.add_faults({"kind": "invalid_session"})
    await ActivityEnvironment().run(salesforce.update_salesforce_record, tier(account))
    logins = salesforce_fake.calls_to(r"^/services/oauth2/token$")
    assert len(logins) == 2
    assert salesforce_fake.get_record("Account", account)["Tier__c"] == "1"  # type: ignore[index]
