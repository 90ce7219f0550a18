"""Fixtures for the Salesforce and Slack fakes (owned by the fakes work).

Each test gets its own fake servers (starting one takes a few milliseconds); the TLS
certificate is made once per session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import SalesforceError
from slack_sdk import WebClient

from dealcycle.db.engine import make_engine
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.db.models import Base
from dealcycle.fakes import SalesforceFake, SlackFake, TLSFiles, ensure_tls_files
from dealcycle.settings import SalesforceSettings, SlackSettings


@pytest.fixture(scope="session")
def fake_tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """CA and server certificate for the Salesforce fake, shared by the session."""
    return ensure_tls_files(tmp_path_factory.mktemp("fake-tls"))


@pytest.fixture
def salesforce_fake(fake_tls: TLSFiles) -> Iterator[SalesforceFake]:
    """A fresh Salesforce fake (strict: unknown record ids answer 404)."""
    with SalesforceFake(fake_tls) as fake:
        yield fake


@pytest.fixture
def slack_fake() -> Iterator[SlackFake]:
    """A fresh Slack fake (strict: unknown channels answer channel_not_found)."""
    with SlackFake() as fake:
        yield fake


@pytest.fixture
def salesforce_settings(salesforce_fake: SalesforceFake) -> SalesforceSettings:
    return salesforce_fake.settings()


@pytest.fixture
def slack_settings(slack_fake: SlackFake) -> SlackSettings:
    return slack_fake.settings()


def login_to_fake(fake: SalesforceFake, api_version: str = "62.0") -> Salesforce:
    """A simple-salesforce client logged in to ``fake`` with a plain token request."""
    session = requests.Session()
    # Passed per request too: REQUESTS_CA_BUNDLE in the environment beats Session.verify.
    session.verify = fake.ca_bundle
    response = session.post(
        f"{fake.login_url}/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "username": fake.username,
            "password": fake.password,
        },
        verify=fake.ca_bundle,
        timeout=10,
    )
    response.raise_for_status()
    token = response.json()
    session.trust_env = False  # later calls go through simple-salesforce without verify=
    return Salesforce(
        instance_url=token["instance_url"],
        session_id=token["access_token"],
        session=session,
        version=api_version,
    )


@pytest.fixture
def salesforce_client(salesforce_fake: SalesforceFake) -> Salesforce:
    return login_to_fake(salesforce_fake)


@pytest.fixture
def slack_client(slack_fake: SlackFake) -> WebClient:
    """A plain WebClient (no rate-limit retries) for the fake."""
    return WebClient(token=slack_fake.bot_token, base_url=slack_fake.api_url, timeout=10)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[IdempotencyLedger]:
    """An idempotency ledger on a fresh SQLite file (tables made with create_all)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    Base.metadata.create_all(engine)
    yield IdempotencyLedger(engine)
    engine.dispose()


def sobject(client: Salesforce, name: str) -> SFType:
    """``client.<name>`` with a precise type (simple-salesforce types attributes as a union)."""
    return SFType(
        name,
        client.session_id,
        client.sf_instance,
        sf_version=client.sf_version,
        session=client.session,
        salesforce=client,
    )


def error_body(error: SalesforceError) -> Any:
    """The decoded error body (simple-salesforce declares it as bytes; it holds the JSON)."""
    return error.content


def stored_record(fake: SalesforceFake, sobject_name: str, record_id: str) -> dict[str, Any]:
    record = fake.get_record(sobject_name, record_id)
    assert record is not None, f"no {sobject_name} {record_id} in the fake"
    return record


def seed_opportunity(fake: SalesforceFake) -> str:
    """An open Opportunity in the fake (the fields a create requires); its Id."""
    return fake.seed_record(
        "Opportunity", {"Name": "Acme", "StageName": "Prospecting", "CloseDate": "2026-12-31"}
    )
