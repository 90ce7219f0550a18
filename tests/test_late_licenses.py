"""A license is never refused for being issued late: its expiry is derived when it is signed.

Seen: an extension's key was issued after its own ``expires_at`` (Slack had been down for
75 s and the effects ran in order); the activity refused it, non-retryable, and the trial
failed with no outcome.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.licensing import (
    MINIMUM_VALIDITY,
    LicenseActivities,
    effective_expiry,
    load_license_key,
)
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.licensing import LicenseSigner, verify_license_key
from schemas.effects import IssuedLicense, LicenseRequest

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def signer() -> LicenseSigner:
    return LicenseSigner(Ed25519PrivateKey.generate())


@pytest.fixture
def licenses(signer: LicenseSigner, engine: Engine) -> LicenseActivities:
    return LicenseActivities(signer, engine, IdempotencyLedger(engine))


def request(expires_at: datetime, **changes: Any) -> LicenseRequest:
    base = LicenseRequest(
        idempotency_key="trial-006ACME/license/1",
        account_id="001ACME",
        customer="Acme",
        kind="trial",
        seats=25,
        expires_at=expires_at,
    )
    return replace(base, **changes)


async def issue(licenses: LicenseActivities, wanted: LicenseRequest) -> IssuedLicense:
    issued: IssuedLicense = await ActivityEnvironment().run(licenses.issue_license_key, wanted)
    return issued


def test_the_expiry_is_the_requested_one_unless_too_soon() -> None:
    later = NOW + timedelta(days=30)
    assert effective_expiry(later, NOW) == later
    assert effective_expiry(NOW - timedelta(seconds=75), NOW) == NOW + MINIMUM_VALIDITY
    assert effective_expiry(NOW + timedelta(hours=1), NOW) == NOW + MINIMUM_VALIDITY
    assert MINIMUM_VALIDITY == timedelta(days=1)


@pytest.mark.parametrize("late_by", [timedelta(seconds=75), timedelta(days=40)])
async def test_a_key_issued_after_its_requested_expiry_is_issued_with_the_minimum_validity(
    licenses: LicenseActivities, signer: LicenseSigner, engine: Engine, late_by: timedelta
) -> None:
    before = datetime.now(UTC)
    issued = await issue(licenses, request(before - late_by))
    after = datetime.now(UTC)

    assert before + MINIMUM_VALIDITY <= issued.expires_at <= after + MINIMUM_VALIDITY
    key = load_license_key(engine, issued.key_id)
    assert key is not None
    payload = verify_license_key(key, signer.public_key)
    assert payload.expires == issued.expires_at
    assert payload.expires - payload.issued == MINIMUM_VALIDITY
    assert not payload.is_expired()


async def test_a_retry_of_a_late_key_returns_the_first_one(licenses: LicenseActivities) -> None:
    late = request(datetime.now(UTC) - timedelta(minutes=5))
    first = await issue(licenses, late)
    again = await issue(licenses, late)
    assert again == first


async def test_a_key_requested_in_time_keeps_its_expiry(licenses: LicenseActivities) -> None:
    wanted = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    issued = await issue(licenses, request(wanted))
    assert issued.expires_at == wanted


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seats": 0}, "seats must be a whole number of at least 1"),
        ({"kind": "forever"}, "kind must be one of"),
        ({"customer": " "}, "customer must be a non-empty string"),
        ({"expires_at": datetime(2026, 5, 1)}, "expires_at must be a timezone-aware datetime"),
    ],
)
async def test_bad_requests_are_still_refused_without_retry(
    licenses: LicenseActivities, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApplicationError, match=message) as raised:
        late = request(datetime.now(UTC) - timedelta(days=1))
        await issue(licenses, replace(late, **changes))
    assert raised.value.non_retryable and raised.value.type == "InvalidLicenseRequest"


async def test_a_license_for_an_account_name_as_long_as_salesforce_allows_is_issued(
    licenses: LicenseActivities, signer: LicenseSigner, engine: Engine
) -> None:
    """255 characters: Account.Name's length, and what an account's workflow takes; the
    license effect of such an account failed, and no retry could fix it."""
    name = "N" * 254 + "é"
    issued = await issue(licenses, request(datetime.now(UTC) + timedelta(days=30), customer=name))

    key = load_license_key(engine, issued.key_id)
    assert key is not None
    assert verify_license_key(key, signer.public_key).customer == name
