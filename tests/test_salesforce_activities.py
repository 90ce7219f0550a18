"""Salesforce activities against the HTTPS fake, through simple-salesforce."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.errors import exponential_delay
from activities.salesforce import (
    TASK_KIND,
    SalesforceActivities,
    SalesforceConnector,
)
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.fakes import SalesforceFake
from dealcycle.settings import SalesforceSettings
from schemas.effects import SalesforceFieldUpdate, SalesforceTaskRequest, SalesforceWriteResult
from schemas.opportunity_lookup import OpportunityFound, OpportunityLookup
from tests.support.fakes import stored_record

BASE_DELAY = timedelta(milliseconds=10)
MAX_DELAY = timedelta(milliseconds=40)
PATCH_OPPORTUNITY = r"/sobjects/Opportunity/"


@pytest.fixture
def connector(salesforce_settings: SalesforceSettings) -> Iterator[SalesforceConnector]:
    connector = SalesforceConnector(salesforce_settings, timeout=10)
    yield connector
    connector.close()


@pytest.fixture
def activities(connector: SalesforceConnector, ledger: IdempotencyLedger) -> SalesforceActivities:
    return SalesforceActivities(
        connector, ledger, rate_limit_base_delay=BASE_DELAY, rate_limit_max_delay=MAX_DELAY
    )


@pytest.fixture
def opportunity_id(salesforce_fake: SalesforceFake) -> str:
    return salesforce_fake.seed_record(
        "Opportunity", {"Name": "Acme", "StageName": "Prospecting", "CloseDate": "2026-12-31"}
    )


def env_at(attempt: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return env


def stage_update(
    record_id: str, key: str = "opp-1/closed-won", **fields: object
) -> SalesforceFieldUpdate:
    return SalesforceFieldUpdate(
        idempotency_key=key,
        sobject="Opportunity",
        record_id=record_id,
        fields={"StageName": "Closed Won", **fields},  # type: ignore[dict-item]
    )


def task_request(key: str = "trial-7/kickoff") -> SalesforceTaskRequest:
    return SalesforceTaskRequest(
        idempotency_key=key,
        what_id="0065g0000000001AAA",
        subject="Trial kick-off",
        activity_date="2026-07-01",
        description="Schedule the kick-off call",
        owner_hint="U024BE7LH",
    )


def successful_writes(fake: SalesforceFake, pattern: str) -> int:
    return sum(1 for c in fake.calls_to(pattern, "PATCH") if c.status < 300)


# success and idempotency --------------------------------------------------------------------


async def test_update_writes_the_fields_once(
    activities: SalesforceActivities,
    salesforce_fake: SalesforceFake,
    ledger: IdempotencyLedger,
    opportunity_id: str,
) -> None:
    result = await ActivityEnvironment().run(
        activities.update_salesforce_record, stage_update(opportunity_id, Amount=12000)
    )
    record = stored_record(salesforce_fake, "Opportunity", opportunity_id)
    entry = ledger.lookup("opp-1/closed-won")
    assert result == SalesforceWriteResult("Opportunity", opportunity_id)
    assert record is not None and record["StageName"] == "Closed Won" and record["Amount"] == 12000
    assert successful_writes(salesforce_fake, PATCH_OPPORTUNITY) == 1
    assert entry is not None and entry.done and entry.result == dataclasses.asdict(result)


async def test_update_with_the_same_key_twice_writes_once(
    activities: SalesforceActivities, salesforce_fake: SalesforceFake, opportunity_id: str
) -> None:
    env = ActivityEnvironment()
    first = await env.run(activities.update_salesforce_record, stage_update(opportunity_id))
    second = await env.run(activities.update_salesforce_record, stage_update(opportunity_id))
    assert first == second
    assert successful_writes(salesforce_fake, PATCH_OPPORTUNITY) == 1
    assert len(salesforce_fake.calls_to("/services/oauth2/token")) == 1  # client is cached


async def test_task_is_upserted_on_the_idempotency_key(
    activities: SalesforceActivities, salesforce_fake: SalesforceFake
) -> None:
    env = ActivityEnvironment()
    first = await env.run(activities.create_salesforce_task, task_request())
    second = await env.run(activities.create_salesforce_task, task_request())
    (task,) = salesforce_fake.records("Task")
    (call,) = salesforce_fake.calls_to(r"/sobjects/Task/", "PATCH")
    assert first == second == SalesforceWriteResult("Task", task["Id"])
    assert task["Dealcycle_Key__c"] == "trial-7/kickoff"
    assert task["Subject"] == "Trial kick-off" and task["ActivityDate"] == "2026-07-01"
    assert task["WhatId"] == "0065g0000000001AAA"
    assert "U024BE7LH" in task["Description"] and "kick-off call" in task["Description"]
    assert task["Status"] == "Not Started"
    # The key's "/" travelled escaped, as part of one path segment.
    assert call.path.endswith("/Task/Dealcycle_Key__c/trial-7/kickoff")


async def test_task_after_a_crash_updates_the_task_salesforce_already_has(
    activities: SalesforceActivities, salesforce_fake: SalesforceFake, ledger: IdempotencyLedger
) -> None:
    # An earlier attempt wrote the Task, then died before recording it in the ledger.
    ledger.start("trial-7/kickoff", TASK_KIND)
    existing = salesforce_fake.seed_record(
        "Task",
        {"Subject": "Trial kick-off", "Dealcycle_Key__c": "trial-7/kickoff", "Status": "Completed"},
    )
    result = await ActivityEnvironment().run(activities.create_salesforce_task, task_request())
    (task,) = salesforce_fake.records("Task")
    assert result.record_id == existing == task["Id"]
    assert task["Status"] == "Completed"  # the retry did not reopen it


# retryable failures -------------------------------------------------------------------------


async def test_rate_limit_then_server_error_then_success_writes_once(
    activities: SalesforceActivities, salesforce_fake: SalesforceFake, opportunity_id: str
) -> None:
    salesforce_fake.rate_limit_next(1)
    salesforce_fake.server_error_next(1)
    update = stage_update(opportunity_id)
    with pytest.raises(ApplicationError) as limited:
        await env_at(1).run(activities.update_salesforce_record, update)
    unchanged = stored_record(salesforce_fake, "Opportunity", opportunity_id)
    with pytest.raises(ApplicationError) as failed:
        await env_at(2).run(activities.update_salesforce_record, update)
    result = await env_at(3).run(activities.update_salesforce_record, update)
    assert limited.value.type == "SalesforceRateLimited"
    assert not limited.value.non_retryable
    assert limited.value.next_retry_delay == BASE_DELAY
    assert failed.value.type == "SalesforceUnavailable" and not failed.value.non_retryable
    assert unchanged is not None and unchanged["StageName"] == "Prospecting"
    assert result.record_id == opportunity_id
    assert (
        stored_record(salesforce_fake, "Opportunity", opportunity_id)["StageName"] == "Closed Won"
    )
    patches = salesforce_fake.calls_to(PATCH_OPPORTUNITY, "PATCH")
    assert [(c.status, c.faulted) for c in patches] == [(403, True), (500, True), (204, False)]


async def test_rate_limit_delay_grows_with_the_attempt_up_to_the_cap(
    activities: SalesforceActivities, salesforce_fake: SalesforceFake, opportunity_id: str
) -> None:
    delays = []
    for attempt in (2, 3, 7):
        salesforce_fake.rate_limit_next(1)
        with pytest.raises(ApplicationError) as raised:
            await env_at(attempt).run(
                activities.update_salesforce_record, stage_update(opportunity_id)
            )
        delays.append(raised.value.next_retry_delay)
    assert delays == [BASE_DELAY * 2, BASE_DELAY * 4, MAX_DELAY]
    assert exponential_delay(10_000, BASE_DELAY, MAX_DELAY) == MAX_DELAY


async def test_expired_session_logs_in_again_and_succeeds(
    activities: SalesforceActivities, salesforce_fake: SalesforceFake, opportunity_id: str
) -> None:
    env = ActivityEnvironment()
    await env.run(activities.update_salesforce_record, stage_update(opportunity_id, key="k1"))
    salesforce_fake.expire_sessions()
    result = await env.run(
        activities.update_salesforce_record, stage_update(opportunity_id, key="k2", Amount=5)
    )
    assert result.record_id == opportunity_id
    assert len(salesforce_fake.calls_to("/services/oauth2/token")) == 2
    assert [c.status for c in salesforce_fake.calls_to(PATCH_OPPORTUNITY)] == [204, 401, 204]
    assert stored_record(salesforce_fake, "Opportunity", opportunity_id)["Amount"] == 5


async def test_unreachable_login_is_retryable(ledger: IdempotencyLedger) -> None:
    settings = SalesforceSettings(
        login_url="https://127.0.0.1:9",
        client_id="c",
        client_secret="s",
        username="u",
        password="p",
        auth="password",
    )
    activities = SalesforceActivities(SalesforceConnector(settings, timeout=2), ledger)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            activities.update_salesforce_record, stage_update("0065g0000000001AAA")
        )
    assert raised.value.type == "SalesforceLoginFailed"
    assert not raised.value.non_retryable
    assert raised.value.message.startswith("Salesforce unreachable")


# non-retryable failures ---------------------------------------------------------------------


async def test_invalid_field_is_not_retryable_and_names_the_field(
    activities: SalesforceActivities,
    salesforce_fake: SalesforceFake,
    ledger: IdempotencyLedger,
    opportunity_id: str,
) -> None:
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            activities.update_salesforce_record, stage_update(opportunity_id, Bogus__c="x")
        )
    entry = ledger.lookup("opp-1/closed-won")
    assert raised.value.non_retryable
    assert raised.value.type == "SalesforceInvalidRequest"
    assert "Bogus__c" in raised.value.message and "INVALID_FIELD" in raised.value.message
    assert (
        stored_record(salesforce_fake, "Opportunity", opportunity_id)["StageName"] == "Prospecting"
    )
    assert entry is not None and not entry.done


async def test_unknown_record_is_not_retryable_and_names_it(
    activities: SalesforceActivities,
) -> None:
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            activities.update_salesforce_record, stage_update("0065g0000000zzzAAA")
        )
    assert raised.value.non_retryable and raised.value.type == "SalesforceNotFound"
    assert "Opportunity 0065g0000000zzzAAA" in raised.value.message
    assert "NOT_FOUND" in raised.value.message


async def test_unknown_object_is_not_retryable(activities: SalesforceActivities) -> None:
    update = SalesforceFieldUpdate("k", "Widget__c", "a005g000000001AAA", {"Name": "x"})
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.update_salesforce_record, update)
    assert raised.value.non_retryable and "Widget__c" in raised.value.message


async def test_other_refusals_are_not_retryable(
    activities: SalesforceActivities, salesforce_fake: SalesforceFake, opportunity_id: str
) -> None:
    salesforce_fake.fail_next(
        "PATCH",
        PATCH_OPPORTUNITY,
        403,
        [
            {
                "errorCode": "INSUFFICIENT_ACCESS",
                "message": "insufficient access rights on object id",
            }
        ],
    )
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            activities.update_salesforce_record, stage_update(opportunity_id)
        )
    assert raised.value.non_retryable and raised.value.type == "SalesforceRefused"
    assert "INSUFFICIENT_ACCESS" in raised.value.message


async def test_an_opportunity_lookup_says_found_or_not_found_without_failing(
    activities: SalesforceActivities, opportunity_id: str
) -> None:
    found = await ActivityEnvironment().run(
        activities.look_up_opportunity, OpportunityLookup(opportunity_id)
    )
    assert found == OpportunityFound(opportunity_id, found=True, name="Acme")
    missing = await ActivityEnvironment().run(
        activities.look_up_opportunity, OpportunityLookup("0065g0000000zzzAAA")
    )
    assert missing == OpportunityFound("0065g0000000zzzAAA", found=False)


@pytest.mark.parametrize(
    ("status", "code", "error_type", "retried"),
    [
        (403, "INSUFFICIENT_ACCESS", "SalesforceRefused", False),
        (400, "MALFORMED_ID", "SalesforceInvalidRequest", False),
        (503, "SERVER_UNAVAILABLE", "SalesforceUnavailable", True),
    ],
)
async def test_an_opportunity_lookup_refused_is_not_retried_and_a_server_error_is(
    activities: SalesforceActivities,
    salesforce_fake: SalesforceFake,
    opportunity_id: str,
    status: int,
    code: str,
    error_type: str,
    retried: bool,
) -> None:
    salesforce_fake.fail_next("GET", PATCH_OPPORTUNITY, status, [{"errorCode": code}])
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            activities.look_up_opportunity, OpportunityLookup(opportunity_id)
        )
    assert (raised.value.type, raised.value.non_retryable) == (error_type, not retried)
    assert f"the read of Opportunity {opportunity_id}" in raised.value.message


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("password", "wrong-password-123", "SALESFORCE_PASSWORD"),
        ("client_secret", "wrong-secret-456", "SALESFORCE_CLIENT_SECRET"),
        ("client_id", "wrong-client", "SALESFORCE_CLIENT_ID"),
    ],
)
async def test_bad_credentials_are_not_retryable_and_name_the_setting(
    salesforce_settings: SalesforceSettings,
    ledger: IdempotencyLedger,
    opportunity_id: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    setting: str,
    value: str,
    named: str,
) -> None:
    settings = dataclasses.replace(salesforce_settings, **{setting: value})
    activities = SalesforceActivities(SalesforceConnector(settings), ledger)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            activities.update_salesforce_record, stage_update(opportunity_id)
        )
    logged = caplog.text + capsys.readouterr().out
    assert raised.value.non_retryable and raised.value.type == "SalesforceLoginFailed"
    assert named in raised.value.message
    for secret in (value, salesforce_settings.password, salesforce_settings.client_secret):
        assert secret not in raised.value.message
        assert secret not in logged


async def test_missing_configuration_names_the_settings(ledger: IdempotencyLedger) -> None:
    activities = SalesforceActivities(SalesforceConnector(SalesforceSettings()), ledger)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            activities.update_salesforce_record, stage_update("0065g0000000001AAA")
        )
    assert raised.value.non_retryable
    assert "SALESFORCE_LOGIN_URL" in raised.value.message


async def test_untrusted_certificate_is_not_retryable(
    salesforce_settings: SalesforceSettings, ledger: IdempotencyLedger
) -> None:
    settings = dataclasses.replace(salesforce_settings, ca_bundle="")
    activities = SalesforceActivities(SalesforceConnector(settings), ledger)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            activities.update_salesforce_record, stage_update("0065g0000000001AAA")
        )
    assert raised.value.non_retryable and "SALESFORCE_CA_BUNDLE" in raised.value.message


async def test_ca_bundle_wins_over_requests_ca_bundle_env(
    activities: SalesforceActivities,
    opportunity_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # requests would otherwise let this variable replace Session.verify.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    result = await ActivityEnvironment().run(
        activities.update_salesforce_record, stage_update(opportunity_id)
    )
    assert result.record_id == opportunity_id


async def test_bad_task_date_is_not_retryable(activities: SalesforceActivities) -> None:
    request = dataclasses.replace(task_request(), activity_date="July 1st")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.create_salesforce_task, request)
    assert raised.value.non_retryable and "activity_date" in raised.value.message


async def test_reusing_a_key_for_another_kind_of_write_is_refused(
    activities: SalesforceActivities, opportunity_id: str
) -> None:
    env = ActivityEnvironment()
    await env.run(activities.update_salesforce_record, stage_update(opportunity_id, key="same"))
    with pytest.raises(ApplicationError) as raised:
        await env.run(activities.create_salesforce_task, task_request(key="same"))
    assert raised.value.non_retryable and raised.value.type == "IdempotencyKeyConflict"
