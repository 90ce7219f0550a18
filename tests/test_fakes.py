"""The fakes, exercised through the real client libraries (simple-salesforce, slack-sdk)."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from activities.salesforce import SalesforceConnector
from dealcycle.fakes import (
    ControlClient,
    SalesforceFake,
    SlackFake,
    TLSFiles,
    endpoints_path,
    ensure_tls_files,
    read_endpoints,
    start_sandbox,
)
from dealcycle.fakes.salesforce import parse_soql, to_18_char_id
from dealcycle.settings import Settings
from tests.support.fakes import error_body, login_to_fake, sobject, stored_record

SF_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def _token_request(fake: SalesforceFake, **overrides: str) -> requests.Response:
    form = {
        "grant_type": "password",
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "username": fake.username,
        "password": fake.password,
        **overrides,
    }
    return requests.post(
        f"{fake.login_url}/services/oauth2/token", data=form, verify=fake.ca_bundle, timeout=10
    )


def _opportunity(sf: Salesforce, **fields: object) -> str:
    values = {"Name": "Acme expansion", "StageName": "Prospecting", "CloseDate": "2026-12-31"}
    values.update(fields)  # type: ignore[arg-type]
    return str(sobject(sf, "Opportunity").create(values)["id"])


# TLS -------------------------------------------------------------------------------------


def test_tls_files_are_reused_while_valid(tmp_path: Path) -> None:
    first = ensure_tls_files(tmp_path)
    before = {p: p.read_bytes() for p in (first.cert, first.key, first.ca)}
    second = ensure_tls_files(tmp_path)
    assert second == first
    assert {p: p.read_bytes() for p in (second.cert, second.key, second.ca)} == before
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600


def test_tls_server_certificate_is_reissued_under_the_same_ca(tmp_path: Path) -> None:
    files = ensure_tls_files(tmp_path)
    ca_before = files.ca.read_bytes()
    files.cert.write_text("not a certificate")
    again = ensure_tls_files(tmp_path)
    assert again.ca.read_bytes() == ca_before
    assert again.cert.read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_tls_certificate_is_trusted_for_localhost_and_ip(fake_tls: TLSFiles) -> None:
    with SalesforceFake(fake_tls) as fake:
        for host in ("127.0.0.1", "localhost"):
            url = f"https://{host}:{fake.port}/services/data/v62.0/limits"
            response = requests.get(url, verify=fake.ca_bundle, timeout=10)
            assert response.status_code == 401  # TLS worked; the call has no session
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{fake.url}/services/data/", verify=True, timeout=10)


# Salesforce: login and sessions ------------------------------------------------------------


def test_salesforce_login_returns_a_token_for_the_right_credentials(
    salesforce_fake: SalesforceFake,
) -> None:
    response = _token_request(salesforce_fake)
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == salesforce_fake.url
    assert {"access_token", "issued_at", "id", "signature"} <= set(body)


@pytest.mark.parametrize(
    ("override", "error"),
    [
        ({"password": "wrong"}, "invalid_grant"),
        ({"username": "someone@else.com"}, "invalid_grant"),
        ({"client_id": "other-app"}, "invalid_client_id"),
        ({"client_secret": "nope"}, "invalid_client"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
    ],
)
def test_salesforce_login_refuses_wrong_credentials(
    salesforce_fake: SalesforceFake, override: dict[str, str], error: str
) -> None:
    response = _token_request(salesforce_fake, **override)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_salesforce_login_call_is_recorded_without_secrets(
    salesforce_fake: SalesforceFake,
) -> None:
    _token_request(salesforce_fake)
    (call,) = salesforce_fake.calls
    assert call.path == "/services/oauth2/token"
    assert call.json["password"] == "***"
    assert call.json["client_secret"] == "***"
    assert call.json["username"] == salesforce_fake.username
    assert salesforce_fake.password not in json.dumps(call.to_dict())


def test_salesforce_data_calls_need_a_valid_session(salesforce_fake: SalesforceFake) -> None:
    sf = Salesforce(
        instance_url=salesforce_fake.url,
        session_id="00Dxx!not-issued",
        session=requests.Session(),
        version="62.0",
    )
    sf.session.verify = salesforce_fake.ca_bundle
    sf.session.trust_env = False
    with pytest.raises(SalesforceExpiredSession) as raised:
        sobject(sf, "Opportunity").get("0065g000000000AAAA")
    assert error_body(raised.value)[0]["errorCode"] == "INVALID_SESSION_ID"


def test_salesforce_expire_sessions_invalidates_issued_tokens(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    record_id = _opportunity(salesforce_client)
    salesforce_fake.expire_sessions()
    with pytest.raises(SalesforceExpiredSession):
        sobject(salesforce_client, "Opportunity").get(record_id)
    fresh = login_to_fake(salesforce_fake)
    assert sobject(fresh, "Opportunity").get(record_id)["Id"] == record_id


# Salesforce: records -----------------------------------------------------------------------


def test_salesforce_create_and_read_a_record(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    result = sobject(salesforce_client, "Opportunity").create(
        {"Name": "Acme", "StageName": "Prospecting", "CloseDate": "2026-12-31", "Amount": 5000}
    )
    record = sobject(salesforce_client, "Opportunity").get(result["id"])
    assert result["success"] is True and result["errors"] == []
    assert re.fullmatch(r"0065g0[0-9A-Za-z]{12}", result["id"])
    assert record["Name"] == "Acme" and record["Amount"] == 5000
    assert record["IsWon"] is False and record["Technical_Win_Status__c"] is None
    assert SF_DATETIME.match(record["LastModifiedDate"])
    assert record["attributes"]["type"] == "Opportunity"
    assert stored_record(salesforce_fake, "Opportunity", result["id"])["Name"] == "Acme"


def test_salesforce_ids_use_each_objects_prefix(salesforce_client: Salesforce) -> None:
    account = sobject(salesforce_client, "Account").create({"Name": "Acme"})["id"]
    task = sobject(salesforce_client, "Task").create({"Subject": "Call"})["id"]
    assert account.startswith("001") and len(account) == 18
    assert task.startswith("00T") and len(task) == 18
    assert to_18_char_id(account[:15]) == account


def test_salesforce_update_changes_fields_and_last_modified(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    record_id = _opportunity(salesforce_client)
    before = stored_record(salesforce_fake, "Opportunity", record_id)
    time.sleep(1.0)  # Salesforce keeps whole seconds
    status = sobject(salesforce_client, "Opportunity").update(
        record_id, {"StageName": "Closed Won"}
    )
    after = stored_record(salesforce_fake, "Opportunity", record_id)
    assert status == 204
    assert after["StageName"] == "Closed Won"
    assert after["IsWon"] is True and after["IsClosed"] is True
    assert after["LastModifiedDate"] > before["LastModifiedDate"]


def test_salesforce_unknown_field_is_refused_and_changes_nothing(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    record_id = _opportunity(salesforce_client)
    before = stored_record(salesforce_fake, "Opportunity", record_id)
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sobject(salesforce_client, "Opportunity").update(
            record_id, {"StageName": "X", "Bogus__c": 1}
        )
    assert error_body(raised.value) == [
        {
            "message": "No such column 'Bogus__c' on sobject of type Opportunity",
            "errorCode": "INVALID_FIELD",
        }
    ]
    assert stored_record(salesforce_fake, "Opportunity", record_id) == before


def test_salesforce_read_only_and_required_fields(salesforce_client: Salesforce) -> None:
    record_id = _opportunity(salesforce_client)
    with pytest.raises(SalesforceMalformedRequest) as read_only:
        sobject(salesforce_client, "Opportunity").update(record_id, {"IsWon": True})
    with pytest.raises(SalesforceMalformedRequest) as required:
        sobject(salesforce_client, "Opportunity").create({"Name": "No stage"})
    assert error_body(read_only.value)[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert error_body(required.value)[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert "StageName" in error_body(required.value)[0]["message"]


def test_salesforce_add_record_keeps_the_given_id(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    returned = salesforce_fake.add_record("Opportunity", {"Id": "006TRIAL1", "Name": "Acme"})
    read = sobject(salesforce_client, "Opportunity").get("006TRIAL1")
    assert returned == "006TRIAL1"
    assert (read["Name"], read["StageName"]) == ("Acme", None)
    # Seeding is not a call: only the GET was recorded.
    assert salesforce_fake.calls_to("/sobjects/") == [salesforce_fake.calls[-1]]


def test_salesforce_unknown_object_and_record_are_not_found(
    salesforce_client: Salesforce,
) -> None:
    with pytest.raises(SalesforceResourceNotFound) as unknown_object:
        sobject(salesforce_client, "Widget__c").update("a005g000000001AAA", {"Name": "x"})
    with pytest.raises(SalesforceResourceNotFound) as unknown_record:
        sobject(salesforce_client, "Opportunity").update("0065g0000000zzzAAA", {"Name": "x"})
    assert error_body(unknown_object.value)[0]["errorCode"] == "NOT_FOUND"
    assert error_body(unknown_record.value) == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]


def test_salesforce_sandbox_mode_creates_unknown_records_on_patch(fake_tls: TLSFiles) -> None:
    with SalesforceFake(fake_tls, auto_create_records=True) as fake:
        sf = login_to_fake(fake)
        status = sobject(sf, "Opportunity").update(
            "0065g00000DEMO1AAA", {"StageName": "Closed Won"}
        )
        record = stored_record(fake, "Opportunity", "0065g00000DEMO1AAA")
    assert status == 204
    assert record is not None and record["IsWon"] is True


def test_salesforce_upsert_creates_then_updates_by_external_id(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    created = sobject(salesforce_client, "Task").upsert(
        "Dealcycle_Key__c/trial%2F42", {"Subject": "Kick-off"}, raw_response=True
    )
    updated = sobject(salesforce_client, "Task").upsert(
        "Dealcycle_Key__c/trial%2F42", {"Subject": "Kick-off call"}, raw_response=True
    )
    (task,) = salesforce_fake.records("Task")
    assert created.status_code == 201 and created.json()["created"] is True
    assert updated.status_code == 200 and updated.json()["created"] is False
    assert created.json()["id"] == updated.json()["id"] == task["Id"]
    assert task["Dealcycle_Key__c"] == "trial/42" and task["Subject"] == "Kick-off call"
    assert task["Status"] == "Not Started"  # the org default for new Tasks
    assert (
        sobject(salesforce_client, "Task").get_by_custom_id("Dealcycle_Key__c", "trial/42")["Id"]
        == task["Id"]
    )


def test_salesforce_external_ids_are_unique(salesforce_client: Salesforce) -> None:
    sobject(salesforce_client, "Task").create({"Subject": "a", "Dealcycle_Key__c": "k1"})
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sobject(salesforce_client, "Task").create({"Subject": "b", "Dealcycle_Key__c": "k1"})
    assert error_body(raised.value)[0]["errorCode"] == "DUPLICATE_VALUE"


def test_salesforce_upsert_needs_an_external_id_field(salesforce_client: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sobject(salesforce_client, "Task").upsert("Subject/x", {"Description": "y"})
    assert "Subject" in error_body(raised.value)[0]["message"]


# Salesforce: SOQL --------------------------------------------------------------------------


def test_salesforce_query_filters_orders_and_limits(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    salesforce_fake.seed_record(
        "Opportunity",
        {
            "Name": "Old win",
            "StageName": "Closed Won",
            "LastModifiedDate": "2020-01-01T00:00:00.000+0000",
        },
    )
    _opportunity(salesforce_client, Name="B win", StageName="Closed Won", Amount=200)
    _opportunity(salesforce_client, Name="A win", StageName="Closed Won", Amount=100)
    _opportunity(salesforce_client, Name="Open", StageName="Prospecting")
    result = salesforce_client.query(
        "SELECT Id, Name, Amount FROM Opportunity "
        "WHERE IsWon = true AND LastModifiedDate > 2024-01-01T00:00:00Z "
        "ORDER BY Name ASC LIMIT 5"
    )
    assert result["done"] is True and result["totalSize"] == 2
    assert [r["Name"] for r in result["records"]] == ["A win", "B win"]
    assert set(result["records"][0]) == {"attributes", "Id", "Name", "Amount"}


def test_salesforce_query_compares_strings_numbers_and_dates(
    salesforce_client: Salesforce,
) -> None:
    _opportunity(salesforce_client, Name="Small", Amount=10, CloseDate="2026-01-10")
    _opportunity(salesforce_client, Name="Large", Amount=1000, CloseDate="2026-06-10")

    def names(where: str) -> list[str]:
        soql = f"SELECT Name FROM Opportunity WHERE {where} ORDER BY Amount DESC"
        return [r["Name"] for r in salesforce_client.query(soql)["records"]]

    assert names("Amount >= 10") == ["Large", "Small"]
    assert names("Amount > 10") == ["Large"]
    assert names("Name = 'small'") == ["Small"]  # SOQL text comparison ignores case
    assert names("CloseDate < 2026-03-01") == ["Small"]
    assert names("Closed_Lost_Reason__c = null AND Amount < 500") == ["Small"]


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT FROM Opportunity",
        "SELECT Id FROM Opportunity WHERE Name = 'x' AND Name = 'y' OR Name = 'z'",
        "SELECT Id FROM Opportunity WHERE (Name = 'x' OR Name = 'y'",
        "SELECT Id FROM Opportunity LIMIT many",
        "DELETE FROM Opportunity",
        "SELECT Id FROM Opportunity WHERE IsWon > true",
    ],
)
def test_salesforce_malformed_queries_answer_malformed_query(
    salesforce_client: Salesforce, soql: str
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        salesforce_client.query(soql)
    assert error_body(raised.value)[0]["errorCode"] == "MALFORMED_QUERY"


def test_salesforce_query_names_unknown_columns_and_objects(
    salesforce_client: Salesforce,
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as column:
        salesforce_client.query("SELECT Id, Nope__c FROM Opportunity")
    with pytest.raises(SalesforceMalformedRequest) as sobject:
        salesforce_client.query("SELECT Id FROM Widget__c")
    assert error_body(column.value)[0]["errorCode"] == "INVALID_FIELD"
    assert "Nope__c" in error_body(column.value)[0]["message"]
    assert error_body(sobject.value)[0]["errorCode"] == "INVALID_TYPE"


def test_salesforce_pages_by_last_modified_date_and_id_like_salesforce(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    """The intake's keyset page: a compound WHERE with OR and parentheses, two ORDER BY keys,
    datetime literals, and ids compared case-sensitively (``...a`` after ``...Z``)."""
    same = "2026-11-24T10:00:00.000+0000"
    for record_id, moment in [
        ("006000000000aaa", same),
        ("006000000000AAA", same),
        ("006000000000BBB", same),
        ("006000000000ZZZ", "2026-11-24T09:59:59.000+0000"),
        ("006000000000CCC", "2026-11-24T10:00:01.000+0000"),
    ]:
        salesforce_fake.seed_record(
            "Opportunity", {"StageName": "Closed Won", "LastModifiedDate": moment}, record_id
        )

    def page(after: str, after_id: str) -> list[str]:
        soql = (
            "SELECT Id FROM Opportunity WHERE StageName = 'Closed Won' AND"
            f" (LastModifiedDate > {after} OR (LastModifiedDate = {after} AND Id > '{after_id}'))"
            " ORDER BY LastModifiedDate ASC, Id ASC LIMIT 2"
        )
        return [r["Id"][:15] for r in salesforce_client.query(soql)["records"]]

    assert page("2026-11-24T09:59:59Z", "006000000000ZZZ") == ["006000000000AAA", "006000000000BBB"]
    assert page("2026-11-24T10:00:00Z", "006000000000BBB") == ["006000000000aaa", "006000000000CCC"]
    assert page("2026-11-24T10:00:00.000+00:00", "006000000000aaa") == ["006000000000CCC"]
    assert page("2026-11-24T10:00:01Z", "006000000000CCC") == []
    newest_first = salesforce_client.query(
        "SELECT Id FROM Opportunity WHERE NOT StageName = 'Prospecting'"
        " ORDER BY LastModifiedDate DESC, Id DESC LIMIT 3"
    )["records"]
    assert [r["Id"][:15] for r in newest_first] == [
        "006000000000CCC",
        "006000000000aaa",
        "006000000000BBB",
    ]


def test_soql_parser_reads_the_supported_subset() -> None:
    query = parse_soql(
        "select Id, Name from Task where Status = 'It\\'s done' and IsClosed = false "
        "order by LastModifiedDate desc limit 3"
    )
    assert query.fields == ("Id", "Name") and query.sobject == "Task"
    assert [(c.field, c.op, c.value) for c in query.conditions] == [
        ("Status", "=", "It's done"),
        ("IsClosed", "=", False),
    ]
    assert (query.order_by, query.descending, query.limit) == ("LastModifiedDate", True, 3)


# Salesforce: limits header, faults, recording, control ------------------------------------


def test_salesforce_every_response_carries_api_usage(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    _opportunity(salesforce_client)
    salesforce_client.query("SELECT Id FROM Opportunity")
    usage = salesforce_client.api_usage["api-usage"]
    assert (usage.used, usage.total) == (2, 15000)
    assert salesforce_fake.api_usage == 2


def test_salesforce_scripted_faults_answer_in_order_and_change_nothing(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    record_id = _opportunity(salesforce_client)
    salesforce_fake.rate_limit_next(1)
    salesforce_fake.server_error_next(1)
    with pytest.raises(SalesforceRefusedRequest) as limited:
        sobject(salesforce_client, "Opportunity").update(record_id, {"StageName": "Closed Won"})
    with pytest.raises(SalesforceGeneralError) as failed:
        sobject(salesforce_client, "Opportunity").update(record_id, {"StageName": "Closed Won"})
    record = stored_record(salesforce_fake, "Opportunity", record_id)
    assert error_body(limited.value)[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert failed.value.status == 500
    assert record["StageName"] == "Prospecting"
    assert [(c.status, c.faulted) for c in salesforce_fake.calls[-2:]] == [(403, True), (500, True)]
    assert (
        sobject(salesforce_client, "Opportunity").update(record_id, {"StageName": "Closed Won"})
        == 204
    )


def test_salesforce_fail_next_matches_method_and_path(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    salesforce_fake.fail_next(
        "PATCH", r"/sobjects/Task/", 503, [{"errorCode": "SERVER_UNAVAILABLE", "message": "x"}]
    )
    record_id = _opportunity(salesforce_client)
    sobject(salesforce_client, "Opportunity").update(record_id, {"Amount": 1})  # not matched
    with pytest.raises(SalesforceGeneralError) as raised:
        sobject(salesforce_client, "Task").upsert("Dealcycle_Key__c/k", {"Subject": "s"})
    assert raised.value.status == 503
    assert salesforce_fake.pending_faults == []


def test_salesforce_reset_forgets_records_calls_and_faults(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    _opportunity(salesforce_client)
    salesforce_fake.rate_limit_next(3)
    salesforce_fake.reset()
    assert salesforce_fake.records("Opportunity") == []
    assert salesforce_fake.calls == [] and salesforce_fake.pending_faults == []
    assert salesforce_client.query("SELECT Id FROM Opportunity")["totalSize"] == 0


def test_salesforce_control_endpoints(
    salesforce_fake: SalesforceFake, salesforce_client: Salesforce
) -> None:
    control = ControlClient(salesforce_fake.url, salesforce_fake.ca_bundle)
    seeded = control.post("records/Account", {"Name": "Globex", "Tier__c": "1"})["id"]
    control.add_faults({"kind": "rate_limit", "count": 1})
    with pytest.raises(SalesforceRefusedRequest):
        sobject(salesforce_client, "Account").get(seeded)
    assert sobject(salesforce_client, "Account").get(seeded)["Name"] == "Globex"
    calls = control.calls()[1:]  # after the fixture's login
    assert calls[0].path.endswith(seeded)
    assert [(c.method, c.status, c.faulted) for c in calls] == [
        ("GET", 403, True),
        ("GET", 200, False),
    ]
    assert [r["Id"] for r in control.get("records/Account")] == [seeded]
    control.reset()
    assert salesforce_fake.records("Account") == [] and control.calls() == []


# Slack -------------------------------------------------------------------------------------


def test_slack_auth(slack_fake: SlackFake, slack_client: WebClient) -> None:
    assert slack_client.auth_test()["user_id"] == "U0DEALBOT1"
    with pytest.raises(SlackApiError) as wrong:
        WebClient(token="xoxb-wrong", base_url=slack_fake.api_url).auth_test()
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=slack_fake.api_url).auth_test()
    assert wrong.value.response.status_code == 200
    assert wrong.value.response["error"] == "invalid_auth"
    assert missing.value.response["error"] == "not_authed"


@pytest.mark.parametrize("target", ["#red-accounts", "red-accounts", "channel-id"])
def test_slack_post_by_channel_name_or_id(
    slack_fake: SlackFake, slack_client: WebClient, target: str
) -> None:
    channel_id = slack_fake.channel_id("#red-accounts")
    assert channel_id is not None
    response = slack_client.chat_postMessage(
        channel=channel_id if target == "channel-id" else target, text="Acme went red"
    )
    (message,) = slack_fake.messages_in("#red-accounts")
    assert response["channel"] == channel_id == message.channel
    assert response["message"]["text"] == "Acme went red"
    assert (message.channel_name, message.ts) == ("red-accounts", response["ts"])


def test_slack_post_to_a_member_id_goes_to_the_dm(
    slack_fake: SlackFake, slack_client: WebClient
) -> None:
    response = slack_client.chat_postMessage(channel="U024BE7LH", text="Your trial ends soon")
    opened = slack_client.conversations_open(users="U024BE7LH")
    assert response["channel"].startswith("D")
    assert opened["channel"]["id"] == response["channel"]
    assert [m.text for m in slack_fake.messages_in("U024BE7LH")] == ["Your trial ends soon"]


def test_slack_unknown_channel_and_sandbox_mode(slack_client: WebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        slack_client.chat_postMessage(channel="#nowhere", text="x")
    assert raised.value.response["error"] == "channel_not_found"
    with SlackFake(auto_create_channels=True) as sandbox:
        client = WebClient(token=sandbox.bot_token, base_url=sandbox.api_url)
        response = client.chat_postMessage(channel="#nowhere", text="x")
        assert response["channel"] == sandbox.channel_id("nowhere")


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_slack_post_refusals(slack_fake: SlackFake, slack_client: WebClient) -> None:
    slack_fake.archive_channel("#product-feedback")
    slack_fake.remove_bot_from("#red-accounts")
    errors = []
    for kwargs in (
        {"channel": "#product-feedback", "text": "x"},
        {"channel": "#red-accounts", "text": "x"},
        {"channel": "#dealcycle-trials", "text": ""},
        {"channel": "#dealcycle-trials", "text": "x" * 40001},
        {"channel": "#dealcycle-trials", "text": "x", "thread_ts": "123.456"},
    ):
        with pytest.raises(SlackApiError) as raised:
            slack_client.chat_postMessage(**kwargs)  # type: ignore[arg-type]
        errors.append(raised.value.response["error"])
    assert errors == [
        "is_archived",
        "not_in_channel",
        "no_text",
        "msg_too_long",
        "thread_not_found",
    ]
    assert slack_fake.messages == []


def test_slack_threads_history_and_metadata(slack_fake: SlackFake, slack_client: WebClient) -> None:
    parent = slack_client.chat_postMessage(
        channel="#dealcycle-trials",
        text="Trial started",
        metadata={"event_type": "dealcycle_post", "event_payload": {"idempotency_key": "k1"}},
    )
    channel = parent["channel"]
    reply = slack_client.chat_postMessage(channel=channel, text="Day 1", thread_ts=parent["ts"])
    later = slack_client.chat_postMessage(channel=channel, text="Another")
    history = slack_client.conversations_history(channel=channel)["messages"]
    with_metadata = slack_client.conversations_history(channel=channel, include_all_metadata=True)
    replies = slack_client.conversations_replies(channel=channel, ts=parent["ts"])["messages"]
    assert [m["text"] for m in history] == ["Another", "Trial started"]  # newest first, no replies
    assert "metadata" not in history[1] and history[1]["reply_count"] == 1
    assert with_metadata["messages"][1]["metadata"]["event_payload"] == {"idempotency_key": "k1"}
    assert [m["ts"] for m in replies] == [parent["ts"], reply["ts"]]
    assert [m.text for m in slack_fake.replies_to(channel, parent["ts"])] == ["Day 1"]
    assert float(parent["ts"]) < float(reply["ts"]) < float(later["ts"])


def test_slack_history_window_and_pages(slack_fake: SlackFake, slack_client: WebClient) -> None:
    posted = [
        slack_client.chat_postMessage(channel="#red-accounts", text=f"m{i}")["ts"] for i in range(5)
    ]
    channel = slack_fake.channel_id("#red-accounts")
    assert channel is not None
    recent = slack_client.conversations_history(channel=channel, oldest=posted[1])["messages"]
    first = slack_client.conversations_history(channel=channel, limit=2)
    second = slack_client.conversations_history(
        channel=channel, limit=2, cursor=first["response_metadata"]["next_cursor"]
    )
    with pytest.raises(SlackApiError) as by_name:
        slack_client.conversations_history(channel="#red-accounts")
    assert [m["text"] for m in recent] == ["m4", "m3", "m2"]
    assert [m["text"] for m in first["messages"] + second["messages"]] == ["m4", "m3", "m2", "m1"]
    assert first["has_more"] is True
    assert by_name.value.response["error"] == "channel_not_found"  # read methods take ids


def test_slack_accepts_form_encoded_calls(slack_fake: SlackFake, slack_client: WebClient) -> None:
    response = slack_client.api_call(
        "chat.postMessage",
        params={
            "channel": "#dealcycle-trials",
            "text": "form",
            "metadata": json.dumps({"event_type": "t", "event_payload": {"a": 1}}),
        },
    )
    (message,) = slack_fake.messages
    assert response["ok"] is True
    assert message.metadata == {"event_type": "t", "event_payload": {"a": 1}}
    assert slack_fake.calls[-1].json["text"] == "form"


def test_slack_rate_limit_and_server_error_faults(
    slack_fake: SlackFake, slack_client: WebClient
) -> None:
    slack_fake.rate_limit_next(1, retry_after=7)
    slack_fake.server_error_next(1)
    with pytest.raises(SlackApiError) as limited:
        slack_client.chat_postMessage(channel="#red-accounts", text="x")
    with pytest.raises(SlackApiError) as failed:
        slack_client.chat_postMessage(channel="#red-accounts", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"
    assert failed.value.response.status_code == 500
    assert "non-JSON" in failed.value.response["error"]
    assert [(c.status, c.faulted) for c in slack_fake.calls] == [(429, True), (500, True)]
    assert slack_fake.messages == []


def test_slack_error_next_scopes_to_one_api_method(
    slack_fake: SlackFake, slack_client: WebClient
) -> None:
    slack_fake.error_next("missing_scope", api_method="conversations.history")
    slack_client.chat_postMessage(channel="#red-accounts", text="x")
    channel = slack_fake.channel_id("#red-accounts")
    assert channel is not None
    with pytest.raises(SlackApiError) as raised:
        slack_client.conversations_history(channel=channel)
    assert raised.value.response["error"] == "missing_scope"
    assert len(slack_client.conversations_history(channel=channel)["messages"]) == 1


def test_slack_control_endpoints(slack_fake: SlackFake, slack_client: WebClient) -> None:
    control = ControlClient(slack_fake.url)
    control.add_faults({"kind": "error", "error": "internal_error", "api_method": "auth.test"})
    with pytest.raises(SlackApiError):
        slack_client.auth_test()
    slack_client.chat_postMessage(channel="#red-accounts", text="hello")
    messages = control.get("messages")
    assert [(m["channel_name"], m["text"]) for m in messages] == [("red-accounts", "hello")]
    assert [c.path for c in control.calls()] == ["/api/auth.test", "/api/chat.postMessage"]
    control.reset()
    assert slack_fake.messages == [] and slack_fake.calls == []


# Sandbox -----------------------------------------------------------------------------------


def test_start_sandbox_serves_both_fakes_from_settings(tmp_path: Path) -> None:
    with start_sandbox(tmp_path, write_endpoints_file=True) as sandbox:
        settings = Settings.from_env({**sandbox.env, "DEALCYCLE_STATE_DIR": str(tmp_path)})
        connector = SalesforceConnector(settings.salesforce)
        status = connector.call(
            lambda sf: sobject(sf, "Opportunity").update(
                "0065g00000SBOX1AAA", {"StageName": "Closed Won"}
            )
        )
        slack = WebClient(token=settings.slack.bot_token, base_url=settings.slack.api_url)
        posted = slack.chat_postMessage(channel="#any-new-channel", text="hi")
        from_file = read_endpoints(tmp_path)
        assert status == 204
        assert sandbox.salesforce.get_record("Opportunity", "0065g00000SBOX1AAA") is not None
        assert posted["channel"] == sandbox.slack.channel_id("#any-new-channel")
        assert from_file == sandbox.endpoints
        assert Path(settings.salesforce.ca_bundle).parent == tmp_path / "fakes"
        connector.close()
    assert not endpoints_path(tmp_path).exists()


def test_python_m_dealcycle_fakes_runs_until_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "dealcycle.fakes", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    try:
        deadline = time.monotonic() + 20
        while not endpoints_path(tmp_path).exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the fakes did not write endpoints.json"
            time.sleep(0.05)
        endpoints = read_endpoints(tmp_path)
        raw = json.loads(endpoints_path(tmp_path).read_text())
        slack = WebClient(token=endpoints.slack_bot_token, base_url=endpoints.slack_api_url)
        slack.chat_postMessage(channel="#dealcycle-trials", text="from the test")
        messages = endpoints.slack_control().get("messages")
        sf_calls = endpoints.salesforce_control().calls()
        assert [m["text"] for m in messages] == ["from the test"]
        assert sf_calls == []
        assert raw["env"]["SLACK_API_URL"] == endpoints.slack_api_url
        assert stat.S_IMODE(endpoints_path(tmp_path).stat().st_mode) == 0o600
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0
    assert not endpoints_path(tmp_path).exists()
