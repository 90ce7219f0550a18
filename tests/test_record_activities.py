"""The database-backed activities: issuing license keys and recording trial outcomes."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.licensing import LicenseActivities, license_key_id, load_license_key
from activities.records import TrialRecordActivities, get_trial_outcome
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.db.models import LicenseKey
from dealcycle.licensing import LicenseSigner, verify_license_key
from schemas.effects import LicenseRequest, RecordResult, TrialOutcomeRecord


@pytest.fixture
def ledger(engine: Engine) -> IdempotencyLedger:
    return IdempotencyLedger(engine)


@pytest.fixture
def signer() -> LicenseSigner:
    return LicenseSigner(Ed25519PrivateKey.generate())


@pytest.fixture
def licenses(signer: LicenseSigner, engine: Engine, ledger: IdempotencyLedger) -> LicenseActivities:
    return LicenseActivities(signer, engine, ledger)


@pytest.fixture
def records(engine: Engine, ledger: IdempotencyLedger) -> TrialRecordActivities:
    return TrialRecordActivities(engine, ledger)


def _request(**changes: Any) -> LicenseRequest:
    request = LicenseRequest(
        idempotency_key="trial-006ACME/license/0",
        account_id="001ACME",
        customer="Acme Café",
        kind="trial",
        seats=25,
        expires_at=datetime.now(UTC).replace(microsecond=0) + timedelta(days=30),
    )
    return replace(request, **changes)


def _license_rows(engine: Engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(LicenseKey)).scalar_one()


async def _issue(licenses: LicenseActivities, request: LicenseRequest) -> Any:
    return await ActivityEnvironment().run(licenses.issue_license_key, request)


async def _record(records: TrialRecordActivities, record: TrialOutcomeRecord) -> RecordResult:
    result: RecordResult = await ActivityEnvironment().run(records.record_trial_outcome, record)
    return result


# --- issue_license_key ------------------------------------------------------------------------


async def test_issued_key_verifies_and_carries_what_was_asked(
    licenses: LicenseActivities, signer: LicenseSigner, engine: Engine
) -> None:
    request = _request(kind="full", seats=120)
    before = datetime.now(UTC)

    issued = await _issue(licenses, request)

    key = load_license_key(engine, issued.key_id)
    assert key is not None
    payload = verify_license_key(key, signer.public_key)
    assert issued.key_id == payload.key_id == license_key_id(request.idempotency_key)
    assert (issued.kind, issued.expires_at) == ("full", request.expires_at)
    assert (payload.account, payload.customer, payload.kind, payload.seats) == (
        "001ACME",
        "Acme Café",
        "full",
        120,
    )
    assert payload.expires == request.expires_at
    assert before <= payload.issued <= datetime.now(UTC)
    assert not payload.is_expired()


async def test_retry_with_the_same_idempotency_key_returns_the_first_license(
    licenses: LicenseActivities, engine: Engine, ledger: IdempotencyLedger
) -> None:
    request = _request()

    first = await _issue(licenses, request)
    key = load_license_key(engine, first.key_id)
    second = await _issue(licenses, request)

    assert second == first
    assert load_license_key(engine, first.key_id) == key
    assert _license_rows(engine) == 1
    entry = ledger.lookup(request.idempotency_key)
    assert entry is not None and entry.done and entry.attempts == 1


async def test_each_idempotency_key_gets_its_own_license(
    licenses: LicenseActivities, engine: Engine
) -> None:
    first = _request()
    trial = await _issue(licenses, first)
    extension = await _issue(
        licenses,
        replace(
            first,
            idempotency_key="trial-006ACME/license/1",
            expires_at=first.expires_at + timedelta(days=14),
        ),
    )

    assert trial.key_id != extension.key_id
    assert extension.expires_at - trial.expires_at == timedelta(days=14)
    assert _license_rows(engine) == 2


async def test_concurrent_attempts_issue_one_license(
    licenses: LicenseActivities, engine: Engine
) -> None:
    request = _request()

    results = await asyncio.gather(*(_issue(licenses, request) for _ in range(4)))

    assert len(set(results)) == 1
    assert _license_rows(engine) == 1


async def test_attempt_that_died_after_storing_the_key_is_completed_by_the_retry(
    licenses: LicenseActivities,
    engine: Engine,
    ledger: IdempotencyLedger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    request = _request()

    def crash(key: str, result: dict[str, Any]) -> None:
        raise ConnectionError("worker lost the database")

    with monkeypatch.context() as patch:
        patch.setattr(ledger, "finish", crash)
        with pytest.raises(ConnectionError):
            await _issue(licenses, request)
    stored = load_license_key(engine, license_key_id(request.idempotency_key))

    retried = await _issue(licenses, request)

    assert stored is not None
    assert retried.key_id == license_key_id(request.idempotency_key)
    assert load_license_key(engine, retried.key_id) == stored
    assert _license_rows(engine) == 1
    entry = ledger.lookup(request.idempotency_key)
    assert entry is not None and entry.done and entry.result is not None
    assert entry.result["key_id"] == retried.key_id


async def test_late_retry_gets_the_first_license_even_after_it_expired(
    licenses: LicenseActivities, engine: Engine
) -> None:
    request = _request(expires_at=datetime.now(UTC) + timedelta(seconds=1))
    first = await _issue(licenses, request)
    await asyncio.sleep(max(0.0, (request.expires_at - datetime.now(UTC)).total_seconds()) + 0.05)

    again = await _issue(licenses, request)

    assert again == first
    assert _license_rows(engine) == 1


async def test_reusing_an_idempotency_key_for_another_license_is_refused(
    licenses: LicenseActivities, engine: Engine
) -> None:
    first = _request()
    await _issue(licenses, first)

    with pytest.raises(ApplicationError, match=r"with a different seats$") as refused:
        await _issue(licenses, replace(first, seats=26))

    assert refused.value.non_retryable
    assert _license_rows(engine) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seats": 0}, "seats must be a whole number of at least 1, not 0"),
        ({"seats": -5}, "seats must be a whole number of at least 1, not -5"),
        ({"kind": "enterprise"}, "kind must be one of trial, full, not 'enterprise'"),
        ({"expires_at": datetime(2999, 1, 1)}, "expires_at must be a timezone-aware datetime"),
        ({"account_id": ""}, "account_id must be a non-empty string"),
        ({"customer": "x" * 256}, "customer is longer than 255 characters"),
    ],
)
async def test_invalid_requests_fail_without_retry_and_leave_no_trace(
    licenses: LicenseActivities,
    engine: Engine,
    ledger: IdempotencyLedger,
    changes: dict[str, Any],
    message: str,
) -> None:
    request = _request(**changes)

    with pytest.raises(ApplicationError, match=message) as failure:
        await _issue(licenses, request)

    assert failure.value.non_retryable
    assert failure.value.type == "InvalidLicenseRequest"
    assert _license_rows(engine) == 0
    assert ledger.lookup(request.idempotency_key) is None


async def test_idempotency_key_of_another_kind_of_write_is_refused(
    licenses: LicenseActivities, ledger: IdempotencyLedger
) -> None:
    ledger.start("trial-006ACME/license/0", "slack_post")

    with pytest.raises(ApplicationError, match="already used for a slack_post write") as refused:
        await _issue(licenses, _request())

    assert refused.value.non_retryable


async def test_the_key_string_stays_out_of_logs_and_results(
    licenses: LicenseActivities, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        issued = await _issue(licenses, _request())
    key = load_license_key(engine, issued.key_id)

    assert key is not None
    assert issued.key_id in caplog.text
    assert key not in caplog.text
    assert key.split(".")[2] not in caplog.text
    assert key not in repr(issued)


def test_unknown_key_id_loads_nothing(engine: Engine) -> None:
    assert load_license_key(engine, "no-such-key") is None


# --- record_trial_outcome ---------------------------------------------------------------------

PACIFIC = timezone(timedelta(hours=-8))


def _outcome(**changes: Any) -> TrialOutcomeRecord:
    record = TrialOutcomeRecord(
        idempotency_key="trial-006ACME/outcome/record",
        opportunity_id="006ACME",
        account_id="001ACME",
        outcome="technical_win",
        technical_win="won",
        started_at=datetime(2026, 3, 1, 9, 0, tzinfo=PACIFIC),
        ended_at=datetime(2026, 3, 31, 17, 30, tzinfo=PACIFIC),
        ce_owner="U0CE",
        ae_owner="U0AE",
        override_reason=None,
        license_key_ids=["k1", "k2"],
    )
    return replace(record, **changes)


async def test_recording_an_outcome_stores_the_row(
    records: TrialRecordActivities, engine: Engine
) -> None:
    result = await _record(records, _outcome())

    stored = get_trial_outcome(engine, "006ACME")
    assert result == RecordResult(record_id="006ACME")
    assert stored is not None
    assert (stored.account_id, stored.outcome, stored.technical_win) == (
        "001ACME",
        "technical_win",
        "won",
    )
    assert stored.started_at == datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
    assert stored.ended_at == datetime(2026, 4, 1, 1, 30, tzinfo=UTC)
    assert (stored.ce_owner, stored.ae_owner, stored.override_reason) == ("U0CE", "U0AE", None)
    assert stored.license_key_ids == ["k1", "k2"]


async def test_retrying_a_recorded_outcome_changes_nothing(
    records: TrialRecordActivities, engine: Engine, ledger: IdempotencyLedger
) -> None:
    first = await _record(records, _outcome())
    overridden = _outcome(
        idempotency_key="trial-006ACME/outcome/override",
        outcome="technical_loss",
        technical_win="lost",
        override_reason="champion left",
        started_at=None,
    )
    await _record(records, overridden)

    retried = await _record(records, _outcome())

    stored = get_trial_outcome(engine, "006ACME")
    assert retried == first
    assert stored is not None
    assert (stored.outcome, stored.override_reason, stored.started_at) == (
        "technical_loss",
        "champion left",
        None,
    )
    entry = ledger.lookup("trial-006ACME/outcome/record")
    assert entry is not None and entry.done and entry.attempts == 1


async def test_concurrent_records_of_one_opportunity_leave_one_row(
    records: TrialRecordActivities, engine: Engine
) -> None:
    results = await asyncio.gather(
        *(_record(records, _outcome(idempotency_key=f"k/{n}")) for n in range(4))
    )

    assert set(results) == {RecordResult(record_id="006ACME")}
    assert get_trial_outcome(engine, "006ACME") is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ended_at": datetime(2026, 3, 31)}, "ended_at must be a timezone-aware datetime"),
        ({"started_at": datetime(2026, 3, 1)}, "started_at must be a timezone-aware datetime"),
        ({"outcome": "x" * 41}, "outcome is longer than 40 characters"),
        ({"opportunity_id": ""}, "opportunity_id must be a non-empty string"),
    ],
)
async def test_invalid_outcomes_fail_without_retry(
    records: TrialRecordActivities,
    engine: Engine,
    changes: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ApplicationError, match=message) as failure:
        await _record(records, _outcome(**changes))

    assert failure.value.non_retryable
    assert get_trial_outcome(engine, "006ACME") is None


def test_unknown_opportunity_has_no_outcome(engine: Engine) -> None:
    assert get_trial_outcome(engine, "006NONE") is None
