"""Salesforce login: the JWT bearer flow (the default), client credentials and username-password,
with the real simple-salesforce and requests over HTTPS against the fake, which checks the
signed assertion against the connected app's certificate."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography import x509
from temporalio.client import WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.salesforce import SalesforceActivities, SalesforceConnector
from activities.salesforce_auth import (
    ASSERTION_LIFETIME,
    JWT_BEARER_GRANT,
    SalesforceLoginError,
    jwt_assertion,
    log_in,
)
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.fakes import (
    ConnectedAppFiles,
    SalesforceFake,
    TLSFiles,
    ensure_connected_app_files,
    start_sandbox,
)
from dealcycle.settings import Settings, SettingsError
from schemas.common import Role
from schemas.effects import SalesforceFieldUpdate
from schemas.opportunity import AdvanceStage, LinkTdd, Stage
from starter import cli
from tests.support.fakes import stored_record
from tests.test_opportunity_workflow import AE, CE, effects_done, start_opportunity
from workflows.opportunity import OpportunityWorkflow

TOKEN = r"^/services/oauth2/token$"


@pytest.fixture(scope="session")
def connected_app(tmp_path_factory: pytest.TempPathFactory) -> ConnectedAppFiles:
    """The key pair whose certificate the fake's connected app holds."""
    return ensure_connected_app_files(tmp_path_factory.mktemp("connected-app"))


@pytest.fixture(scope="session")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> ConnectedAppFiles:
    """Another key pair: its certificate was never uploaded to the app."""
    return ensure_connected_app_files(tmp_path_factory.mktemp("stranger"))


@pytest.fixture
def salesforce_fake(
    fake_tls: TLSFiles, connected_app: ConnectedAppFiles
) -> Iterator[SalesforceFake]:
    """The fake with the connected app's certificate: its ``settings()`` (and so the worker's
    in ``harness_factory``) log in with the JWT bearer flow."""
    with SalesforceFake(fake_tls, connected_app=connected_app) as server:
        yield server


@pytest.fixture
def fake(salesforce_fake: SalesforceFake) -> SalesforceFake:
    return salesforce_fake


@pytest.fixture
def opportunity_id(fake: SalesforceFake) -> str:
    return fake.seed_record(
        "Opportunity", {"Name": "Acme", "StageName": "Prospecting", "CloseDate": "2026-12-31"}
    )


def stage_update(record_id: str, key: str) -> SalesforceFieldUpdate:
    return SalesforceFieldUpdate(key, "Opportunity", record_id, {"StageName": "Closed Won"})


async def write(settings: Any, ledger: IdempotencyLedger, update: SalesforceFieldUpdate) -> Any:
    connector = SalesforceConnector(settings, timeout=10)
    try:
        return await ActivityEnvironment().run(
            SalesforceActivities(connector, ledger).update_salesforce_record, update
        )
    finally:
        connector.close()


# each flow logs in and writes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flow", "grant_type"),
    [
        ("jwt", JWT_BEARER_GRANT),
        ("client_credentials", "client_credentials"),
        ("password", "password"),
    ],
)
async def test_each_flow_logs_in_and_writes(
    fake: SalesforceFake,
    ledger: IdempotencyLedger,
    opportunity_id: str,
    flow: str,
    grant_type: str,
) -> None:
    result = await write(fake.settings(auth=flow), ledger, stage_update(opportunity_id, "k1"))
    (login,) = fake.calls_to(TOKEN)
    assert result.record_id == opportunity_id
    assert stored_record(fake, "Opportunity", opportunity_id)["StageName"] == "Closed Won"
    assert login.json["grant_type"] == grant_type and login.status == 200


def test_jwt_is_the_default_and_the_assertion_carries_the_claims(
    fake: SalesforceFake, connected_app: ConnectedAppFiles
) -> None:
    settings = Settings.from_env(
        {
            "SALESFORCE_LOGIN_URL": fake.login_url + "/",
            "SALESFORCE_CLIENT_ID": fake.client_id,
            "SALESFORCE_USERNAME": fake.username,
            "SALESFORCE_JWT_KEY_FILE": str(connected_app.key),
        }
    ).salesforce
    now = datetime.now(UTC)
    certificate = x509.load_pem_x509_certificate(connected_app.cert.read_bytes())
    claims = jwt.decode(
        jwt_assertion(settings, now),
        certificate.public_key(),  # type: ignore[arg-type]
        algorithms=["RS256"],
        audience=fake.login_url,
    )
    assert settings.auth == "jwt" and settings.configured
    assert claims["iss"] == fake.client_id and claims["sub"] == fake.username
    assert claims["aud"] == fake.login_url
    assert claims["exp"] == int((now + ASSERTION_LIFETIME).timestamp())
    assert ASSERTION_LIFETIME <= timedelta(minutes=3)


# refusals: non-retryable, naming the setting, secrets kept out -----------------------------------


@pytest.mark.parametrize(
    ("flow", "change", "error", "named"),
    [
        ("jwt", "stranger_key", "invalid assertion", "SALESFORCE_JWT_KEY_FILE"),
        ("jwt", "audience", "audience is invalid", "SALESFORCE_LOGIN_URL"),
        ("jwt", "unknown_user", "hasn't approved", "SALESFORCE_USERNAME"),
        ("jwt", "consumer_key", "invalid_client_id", "SALESFORCE_CLIENT_ID"),
        ("jwt", "slow_clock", "expired assertion", "clock"),
        ("client_credentials", "secret", "invalid_client", "SALESFORCE_CLIENT_SECRET"),
        ("client_credentials", "no_run_as_user", "invalid_grant", "run-as user"),
        ("password", "password", "invalid_grant", "SALESFORCE_PASSWORD"),
    ],
)
async def test_a_refused_login_is_not_retried_and_names_the_setting(
    fake: SalesforceFake,
    fake_tls: TLSFiles,
    connected_app: ConnectedAppFiles,
    stranger: ConnectedAppFiles,
    ledger: IdempotencyLedger,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    flow: str,
    change: str,
    error: str,
    named: str,
) -> None:
    server = fake
    settings = fake.settings(auth=flow)
    if change == "stranger_key":
        settings = dataclasses.replace(settings, jwt_key_file=str(stranger.key))
    elif change == "audience":
        # The same server under another name: the assertion's audience is not the org's.
        settings = dataclasses.replace(
            settings, login_url=fake.login_url.replace("127.0.0.1", "localhost")
        )
    elif change == "unknown_user":
        settings = dataclasses.replace(settings, username="nobody@example.com")
    elif change == "consumer_key":
        settings = dataclasses.replace(settings, client_id="3MVG9-someone-elses-app")
    elif change == "secret":
        settings = dataclasses.replace(settings, client_secret="wrong-secret-456")
    elif change in ("no_run_as_user", "slow_clock"):
        server = SalesforceFake(
            fake_tls,
            connected_app=connected_app,
            client_credentials_enabled=change != "no_run_as_user",
            # This machine's clock runs 10 minutes behind: its assertions arrive expired.
            clock_ahead=timedelta(minutes=10 if change == "slow_clock" else 0),
        ).start()
        settings = server.settings(auth=flow)
    elif change == "password":
        settings = dataclasses.replace(settings, password="wrong-password-123")
    caplog.set_level(logging.DEBUG)
    try:
        with pytest.raises(ApplicationError) as raised:
            await write(settings, ledger, stage_update("0065g0000000001AAA", "k1"))
    finally:
        if server is not fake:
            server.stop()
    logged = caplog.text + capsys.readouterr().out
    (login,) = server.calls_to(TOKEN)
    assert raised.value.non_retryable and raised.value.type == "SalesforceLoginFailed"
    assert error in raised.value.message and named in raised.value.message
    assert f"({flow})" in raised.value.message
    for secret in (settings.client_secret, settings.password):
        assert secret not in raised.value.message and secret not in logged
    if flow == "jwt":
        assert login.json["assertion"] == "***"  # the fake records no assertion either


@pytest.mark.parametrize(
    ("shift", "error", "named"),
    [
        (-timedelta(minutes=10), "expired assertion", "clock"),
        (timedelta(minutes=10), "more than 3 minutes ahead", "clock"),
    ],
)
def test_an_assertion_out_of_its_window_is_refused_for_good(
    fake: SalesforceFake, shift: timedelta, error: str, named: str
) -> None:
    session = requests.Session()
    session.verify = fake.ca_bundle
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would beat verify
    with pytest.raises(SalesforceLoginError) as raised:
        log_in(session, fake.settings(auth="jwt"), now=datetime.now(UTC) + shift)
    assert not raised.value.retryable and raised.value.code == "invalid_grant"
    assert error in str(raised.value) and named in str(raised.value)


def test_the_fake_refuses_an_assertion_not_signed_rs256_by_the_app(fake: SalesforceFake) -> None:
    claims = {
        "iss": fake.client_id,
        "sub": fake.username,
        "aud": fake.login_url,
        "exp": int((datetime.now(UTC) + timedelta(minutes=2)).timestamp()),
    }
    forged = jwt.encode(claims, "a-shared-secret-of-32-bytes-or-more!", algorithm="HS256")
    unsigned = jwt.encode(claims, "", algorithm="none")
    for assertion in (forged, unsigned, "not-a-jwt"):
        response = requests.post(
            f"{fake.login_url}/services/oauth2/token",
            data={"grant_type": JWT_BEARER_GRANT, "assertion": assertion},
            verify=fake.ca_bundle,  # passed per request: REQUESTS_CA_BUNDLE would win otherwise
            timeout=10,
        )
        assert response.status_code == 400
        assert response.json() == {
            "error": "invalid_grant",
            "error_description": "invalid assertion",
        }


async def test_a_missing_key_file_is_refused_naming_it(
    fake: SalesforceFake, ledger: IdempotencyLedger, tmp_path: Path
) -> None:
    settings = dataclasses.replace(fake.settings(auth="jwt"), jwt_key_file=str(tmp_path / "no.pem"))
    with pytest.raises(ApplicationError) as raised:
        await write(settings, ledger, stage_update("0065g0000000001AAA", "k1"))
    assert raised.value.non_retryable and "SALESFORCE_JWT_KEY_FILE" in raised.value.message
    assert not fake.calls_to(TOKEN)


async def test_password_settings_without_a_key_say_how_to_keep_the_password_flow(
    fake: SalesforceFake, ledger: IdempotencyLedger
) -> None:
    settings = dataclasses.replace(fake.settings(auth="jwt"), jwt_key_file="")
    with pytest.raises(ApplicationError) as raised:
        await write(settings, ledger, stage_update("0065g0000000001AAA", "k1"))
    assert raised.value.non_retryable
    assert "SALESFORCE_JWT_KEY_FILE" in raised.value.message
    assert "SALESFORCE_AUTH=password" in raised.value.message


def test_client_credentials_against_the_shared_login_host_is_refused() -> None:
    settings = Settings.from_env(
        {
            "SALESFORCE_AUTH": "client_credentials",
            "SALESFORCE_LOGIN_URL": "https://login.salesforce.com",
            "SALESFORCE_CLIENT_ID": "3MVG9",
            "SALESFORCE_CLIENT_SECRET": "s3cr3t-value",
        }
    ).salesforce
    with pytest.raises(SalesforceLoginError) as raised:
        log_in(requests.Session(), settings)
    assert not raised.value.retryable and "My Domain" in str(raised.value)
    assert "s3cr3t-value" not in str(raised.value) and "s3cr3t-value" not in repr(settings)


# an expired session logs in again once -----------------------------------------------------------


@pytest.mark.parametrize("flow", ["jwt", "client_credentials"])
async def test_an_expired_session_logs_in_again_exactly_once(
    fake: SalesforceFake, ledger: IdempotencyLedger, opportunity_id: str, flow: str
) -> None:
    connector = SalesforceConnector(fake.settings(auth=flow), timeout=10)
    activities = SalesforceActivities(connector, ledger)
    env = ActivityEnvironment()
    await env.run(activities.update_salesforce_record, stage_update(opportunity_id, "k1"))
    fake.expire_sessions()
    await env.run(activities.update_salesforce_record, stage_update(opportunity_id, "k2"))
    await env.run(activities.update_salesforce_record, stage_update(opportunity_id, "k3"))
    connector.close()
    patches = [c.status for c in fake.calls_to(r"/sobjects/Opportunity/", "PATCH")]
    assert [c.status for c in fake.calls_to(TOKEN)] == [200, 200]
    assert patches == [204, 401, 204, 204]


# settings ------------------------------------------------------------------------------------


def test_salesforce_auth_settings() -> None:
    base = {"SALESFORCE_LOGIN_URL": "https://acme.my.salesforce.com", "SALESFORCE_CLIENT_ID": "c"}
    jwt_settings = Settings.from_env(base).salesforce
    client = Settings.from_env(
        {**base, "SALESFORCE_AUTH": "client_credentials", "SALESFORCE_CLIENT_SECRET": "hidden-1"}
    ).salesforce
    password = Settings.from_env(
        {**base, "SALESFORCE_AUTH": "Password", "SALESFORCE_USERNAME": "u"}
    ).salesforce
    assert jwt_settings.missing() == ["SALESFORCE_USERNAME", "SALESFORCE_JWT_KEY_FILE"]
    assert client.configured and client.auth == "client_credentials"
    assert "hidden-1" not in repr(client)
    assert password.configured and password.auth == "password"
    with pytest.raises(SettingsError, match="SALESFORCE_AUTH='saml'"):
        Settings.from_env({"SALESFORCE_AUTH": "saml"})


# the sandbox uses the documented default ---------------------------------------------------------


def test_the_sandbox_logs_in_with_the_jwt_flow(tmp_path: Path) -> None:
    with start_sandbox(tmp_path) as sandbox:
        settings = Settings.from_env({**sandbox.env, "DEALCYCLE_STATE_DIR": str(tmp_path)})
        connector = SalesforceConnector(settings.salesforce)
        connector.client()
        connector.close()
        (login,) = sandbox.salesforce.calls_to(TOKEN)
    assert settings.salesforce.auth == "jwt"
    assert Path(settings.salesforce.jwt_key_file).parent == tmp_path / "fakes"
    assert (Path(settings.salesforce.jwt_key_file).stat().st_mode & 0o777) == 0o600
    assert login.json["grant_type"] == JWT_BEARER_GRANT and login.status == 200


# a worker on the time-skipping server ------------------------------------------------------------


async def test_a_workflow_writes_to_salesforce_through_the_jwt_flow(
    harness_factory: Any, fake: SalesforceFake
) -> None:
    async with harness_factory() as harness:
        assert harness.settings.salesforce.auth == "jwt"
        opp = await start_opportunity(harness, fake, "006JWTFLOW")
        await opp.execute_update(
            OpportunityWorkflow.advance_stage, AdvanceStage(Stage.QUALIFICATION, AE, Role.AE)
        )
        await effects_done(opp)
        fake.expire_sessions()
        await opp.execute_update(
            OpportunityWorkflow.link_tdd, LinkTdd("https://docs/tdd/jwt", CE, Role.CE)
        )
        await opp.execute_update(
            OpportunityWorkflow.advance_stage, AdvanceStage(Stage.SOLUTION, AE, Role.AE)
        )
        state = await effects_done(opp)
    logins = fake.calls_to(TOKEN)
    assert [c.json["grant_type"] for c in logins] == [JWT_BEARER_GRANT] * 2
    assert all(c.status == 200 for c in logins)
    assert all(e.state == "done" for e in state.effects if e.kind == "salesforce_sync")
    assert stored_record(fake, "Opportunity", "006JWTFLOW")["StageName"] == Stage.SOLUTION.value


async def test_a_refused_jwt_login_fails_the_effect_not_the_workflow(
    harness_factory: Any, fake: SalesforceFake, stranger: ConnectedAppFiles
) -> None:
    wrong_key = dataclasses.replace(fake.settings(), jwt_key_file=str(stranger.key))
    async with harness_factory(salesforce=wrong_key) as harness:
        opp = await start_opportunity(harness, fake, "006JWTBAD")
        await opp.execute_update(
            OpportunityWorkflow.advance_stage, AdvanceStage(Stage.QUALIFICATION, AE, Role.AE)
        )
        state = await effects_done(opp)
        description = await opp.describe()
    syncs = [e for e in state.effects if e.kind == "salesforce_sync"]
    assert syncs and all(e.state == "failed" and e.attempts == 1 for e in syncs)
    assert all("SALESFORCE_JWT_KEY_FILE" in e.cause for e in syncs)
    assert "invalid assertion" in syncs[0].cause
    # Each write tried the login once: a refusal is never retried.
    assert len(fake.calls_to(TOKEN)) == len(syncs)
    assert description.status == WorkflowExecutionStatus.RUNNING


# the command line --------------------------------------------------------------------------------


def test_keygen_makes_a_key_the_connected_app_accepts_and_login_says_so(
    fake_tls: TLSFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = tmp_path / "keys" / "dealcycle-jwt.pem"
    monkeypatch.setenv("DEALCYCLE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("SALESFORCE_JWT_KEY_FILE", str(key))
    assert cli.main(["salesforce", "keygen"]) == 0
    made = capsys.readouterr().out
    assert cli.main(["salesforce", "keygen"]) == 1  # never replaces a key unasked
    assert "--force" in capsys.readouterr().err
    uploaded = ConnectedAppFiles(key=key, cert=key.with_suffix(".crt"))
    with SalesforceFake(fake_tls, connected_app=uploaded) as org:
        for name, value in {
            "SALESFORCE_LOGIN_URL": org.login_url,
            "SALESFORCE_CLIENT_ID": org.client_id,
            "SALESFORCE_USERNAME": org.username,
            "SALESFORCE_CA_BUNDLE": org.ca_bundle,
        }.items():
            monkeypatch.setenv(name, value)
        assert cli.main(["salesforce", "login"]) == 0
        logged_in = capsys.readouterr().out
        monkeypatch.setenv("SALESFORCE_USERNAME", "nobody@example.com")
        assert cli.main(["salesforce", "login"]) == 1
        refused = capsys.readouterr().err
        login_url, username = org.login_url, org.username
    assert (key.stat().st_mode & 0o777) == 0o600
    assert str(key.with_suffix(".crt")) in made and "PRIVATE KEY" not in made
    assert f"logged in with jwt as {username} to {login_url}" in logged_in
    assert "hasn't approved this consumer" in refused and "SALESFORCE_USERNAME" in refused
