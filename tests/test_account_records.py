"""Account plans and feature requests in our own database, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.accounts import (
    AccountRecordActivities,
    list_account_plans,
    list_feature_requests,
)
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.db.models import AccountPlan, FeatureRequest
from schemas.effects import AccountPlanRecord, FeatureRequestRecord, RecordResult

PACIFIC = timezone(timedelta(hours=-8))


@pytest.fixture
def ledger(engine: Engine) -> IdempotencyLedger:
    return IdempotencyLedger(engine)


@pytest.fixture
def accounts(engine: Engine, ledger: IdempotencyLedger) -> AccountRecordActivities:
    return AccountRecordActivities(engine, ledger)


def _plan(**changes: Any) -> AccountPlanRecord:
    record = AccountPlanRecord(
        idempotency_key="account-001ACME/plan/2027-Q2/1",
        account_id="001ACME",
        quarter="2027-Q2",
        tier=1,
        submitted_by="U0CE",
        submitted_at=datetime(2027, 4, 2, 9, 30, tzinfo=PACIFIC),
        contacts={
            "champion": "Ada",
            "economic_buyer": "Grace",
            "advocate": "Linus",
            "admin": "Ken",
        },
        use_cases=["CI caching", "security scanning"],
        health="green",
        expansion_opportunities=["platform team"],
        risks=["budget freeze"],
        product_feedback_themes=["SSO"],
        objectives=["roll out to 300 seats"],
        next_steps="QBR in May",
        link="https://docs.example.com/acme-2027-q2",
    )
    return replace(record, **changes)


def _feature(**changes: Any) -> FeatureRequestRecord:
    record = FeatureRequestRecord(
        idempotency_key="account-001ACME/feature/1",
        account_id="001ACME",
        account_name="Acme Café",
        number=1,
        title="SAML group sync",
        detail="Map IdP groups to teams.",
        requested_by="U0CE",
        role="CE",
        requested_at=datetime(2027, 4, 3, 10, 0, tzinfo=PACIFIC),
    )
    return replace(record, **changes)


async def _record_plan(
    accounts: AccountRecordActivities, record: AccountPlanRecord
) -> RecordResult:
    result: RecordResult = await ActivityEnvironment().run(accounts.record_account_plan, record)
    return result


async def _record_feature(
    accounts: AccountRecordActivities, record: FeatureRequestRecord
) -> RecordResult:
    result: RecordResult = await ActivityEnvironment().run(accounts.record_feature_request, record)
    return result


def _rows(engine: Engine, model: type[AccountPlan] | type[FeatureRequest]) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


# --- the migration ----------------------------------------------------------------------------


def test_migration_creates_both_tables_keyed_by_their_natural_keys(engine: Engine) -> None:
    inspector = inspect(engine)

    assert {"account_plans", "feature_requests"} <= set(inspector.get_table_names())
    keys = {
        table: (constraint["name"], constraint["constrained_columns"])
        for table in ("account_plans", "feature_requests")
        for constraint in [inspector.get_pk_constraint(table)]
    }
    assert keys == {
        "account_plans": ("pk_account_plans", ["account_id", "quarter"]),
        "feature_requests": ("pk_feature_requests", ["account_id", "number"]),
    }


# --- record_account_plan ----------------------------------------------------------------------


async def test_recorded_plan_reads_back(accounts: AccountRecordActivities, engine: Engine) -> None:
    result = await _record_plan(accounts, _plan())

    [stored] = list_account_plans(engine, "001ACME")
    assert result == RecordResult(record_id="001ACME/2027-Q2")
    assert (stored.account_id, stored.quarter, stored.tier, stored.health) == (
        "001ACME",
        "2027-Q2",
        1,
        "green",
    )
    assert stored.submitted_by == "U0CE"
    assert stored.submitted_at == datetime(2027, 4, 2, 17, 30, tzinfo=UTC)
    assert stored.submitted_at.tzinfo is UTC
    assert stored.contacts == _plan().contacts
    assert stored.use_cases == ["CI caching", "security scanning"]
    assert (stored.expansion_opportunities, stored.risks) == (["platform team"], ["budget freeze"])
    assert (stored.product_feedback_themes, stored.objectives) == (
        ["SSO"],
        ["roll out to 300 seats"],
    )
    assert (stored.next_steps, stored.link) == (
        "QBR in May",
        "https://docs.example.com/acme-2027-q2",
    )


async def test_resubmitted_plan_replaces_the_quarter_and_plans_list_newest_first(
    accounts: AccountRecordActivities, engine: Engine
) -> None:
    await _record_plan(accounts, _plan())
    await _record_plan(
        accounts, _plan(idempotency_key="account-001ACME/plan/2027-Q1/1", quarter="2027-Q1")
    )
    await _record_plan(
        accounts,
        _plan(idempotency_key="account-001ACME/plan/2026-Q4/1", quarter="2026-Q4"),
    )
    await _record_plan(
        accounts, _plan(idempotency_key="account-002BETA/plan/2027-Q3/1", account_id="002BETA")
    )

    resubmitted = await _record_plan(
        accounts,
        _plan(
            idempotency_key="account-001ACME/plan/2027-Q2/2",
            health="yellow",
            risks=["champion left"],
            submitted_at=datetime(2027, 4, 20, 12, 0, tzinfo=UTC),
        ),
    )

    plans = list_account_plans(engine, "001ACME")
    assert resubmitted == RecordResult(record_id="001ACME/2027-Q2")
    assert [plan.quarter for plan in plans] == ["2027-Q2", "2027-Q1", "2026-Q4"]
    assert (plans[0].health, plans[0].risks, plans[0].submitted_at) == (
        "yellow",
        ["champion left"],
        datetime(2027, 4, 20, 12, 0, tzinfo=UTC),
    )
    assert _rows(engine, AccountPlan) == 4
    assert list_account_plans(engine, "003NONE") == []


async def test_same_idempotency_key_twice_writes_the_plan_once(
    accounts: AccountRecordActivities, engine: Engine, ledger: IdempotencyLedger
) -> None:
    first = await _record_plan(accounts, _plan())

    again = await _record_plan(accounts, _plan(health="red", next_steps="changed"))

    [stored] = list_account_plans(engine, "001ACME")
    assert again == first
    assert (stored.health, stored.next_steps) == ("green", "QBR in May")
    entry = ledger.lookup("account-001ACME/plan/2027-Q2/1")
    assert entry is not None and entry.done and entry.attempts == 1
    assert entry.kind == "account_plan_record"


async def test_retry_of_an_older_plan_does_not_undo_a_resubmission(
    accounts: AccountRecordActivities, engine: Engine
) -> None:
    first = await _record_plan(accounts, _plan())
    await _record_plan(accounts, _plan(idempotency_key="account-001ACME/plan/2027-Q2/2", tier=2))

    retried = await _record_plan(accounts, _plan())

    [stored] = list_account_plans(engine, "001ACME")
    assert retried == first
    assert stored.tier == 2


async def test_concurrent_submissions_of_one_quarter_leave_one_row(
    accounts: AccountRecordActivities, engine: Engine
) -> None:
    results = await asyncio.gather(
        *(_record_plan(accounts, _plan(idempotency_key=f"k/{n}", tier=n)) for n in range(4))
    )

    assert set(results) == {RecordResult(record_id="001ACME/2027-Q2")}
    assert _rows(engine, AccountPlan) == 1


async def test_idempotency_key_of_another_kind_of_write_is_refused(
    accounts: AccountRecordActivities, ledger: IdempotencyLedger, engine: Engine
) -> None:
    ledger.start("account-001ACME/plan/2027-Q2/1", "slack_post")
    ledger.start("account-001ACME/feature/1", "account_plan_record")

    with pytest.raises(ApplicationError, match="already used for a slack_post write") as plan:
        await _record_plan(accounts, _plan())
    with pytest.raises(
        ApplicationError, match="already used for a account_plan_record write"
    ) as feature:
        await _record_feature(accounts, _feature())

    assert plan.value.non_retryable and feature.value.non_retryable
    assert _rows(engine, AccountPlan) == _rows(engine, FeatureRequest) == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"account_id": ""}, "account plan account_id must be a non-empty string"),
        ({"account_id": "x" * 65}, "account plan account_id is longer than 64 characters"),
        ({"idempotency_key": " "}, "account plan idempotency_key must be a non-empty string"),
        ({"quarter": "2027Q2"}, "account plan quarter must look like 2027-Q2, not '2027Q2'"),
        ({"quarter": "2027-Q5"}, "account plan quarter must look like 2027-Q2"),
        ({"quarter": ""}, "account plan quarter must look like 2027-Q2"),
        ({"submitted_at": datetime(2027, 4, 2)}, "submitted_at must be a timezone-aware"),
        ({"submitted_by": "u" * 65}, "account plan submitted_by is longer than 64 characters"),
        ({"health": "h" * 21}, "account plan health is longer than 20 characters"),
        ({"health": ""}, "account plan health must be a non-empty string"),
        ({"tier": -1}, "account plan tier must be a whole number of at least 0, not -1"),
        ({"risks": ["ok", 3]}, "account plan risks must be a list of strings"),
        ({"contacts": {"champion": None}}, "account plan contacts must map roles to strings"),
    ],
)
async def test_invalid_plans_fail_without_retry_naming_the_field(
    accounts: AccountRecordActivities,
    engine: Engine,
    ledger: IdempotencyLedger,
    changes: dict[str, Any],
    message: str,
) -> None:
    record = _plan(**changes)

    with pytest.raises(ApplicationError, match=message) as failure:
        await _record_plan(accounts, record)

    assert failure.value.non_retryable
    assert failure.value.type == "InvalidAccountPlanRecord"
    assert _rows(engine, AccountPlan) == 0
    assert ledger.lookup(record.idempotency_key) is None


# --- record_feature_request -------------------------------------------------------------------


async def test_feature_requests_list_newest_first_and_by_account(
    accounts: AccountRecordActivities, engine: Engine
) -> None:
    start = datetime(2027, 4, 3, 18, 0, tzinfo=UTC)
    results = [
        await _record_feature(accounts, _feature()),
        await _record_feature(
            accounts,
            _feature(
                idempotency_key="account-002BETA/feature/1",
                account_id="002BETA",
                account_name="Beta",
                title="Audit log export",
                requested_at=start + timedelta(days=1),
            ),
        ),
        await _record_feature(
            accounts,
            _feature(
                idempotency_key="account-001ACME/feature/2",
                number=2,
                title="Dark mode",
                detail="",
                requested_by="U0AE",
                role="AE",
                requested_at=start + timedelta(days=2),
            ),
        ),
    ]

    assert results == [
        RecordResult(record_id="001ACME/1"),
        RecordResult(record_id="002BETA/1"),
        RecordResult(record_id="001ACME/2"),
    ]
    everything = list_feature_requests(engine)
    assert [(r.account_id, r.number) for r in everything] == [
        ("001ACME", 2),
        ("002BETA", 1),
        ("001ACME", 1),
    ]
    acme = list_feature_requests(engine, "001ACME")
    assert [r.title for r in acme] == ["Dark mode", "SAML group sync"]
    first = acme[1]
    assert (first.account_name, first.detail, first.requested_by, first.role) == (
        "Acme Café",
        "Map IdP groups to teams.",
        "U0CE",
        "CE",
    )
    assert first.requested_at == start
    assert first.requested_at.tzinfo is UTC
    assert list_feature_requests(engine, "003NONE") == []


async def test_same_idempotency_key_twice_writes_the_feature_request_once(
    accounts: AccountRecordActivities, engine: Engine, ledger: IdempotencyLedger
) -> None:
    first = await _record_feature(accounts, _feature())

    again = await _record_feature(accounts, _feature(title="something else"))

    assert again == first == RecordResult(record_id="001ACME/1")
    assert [r.title for r in list_feature_requests(engine)] == ["SAML group sync"]
    entry = ledger.lookup("account-001ACME/feature/1")
    assert entry is not None and entry.done and entry.attempts == 1
    assert entry.kind == "feature_request_record"


async def test_feature_request_written_before_its_ledger_entry_finished_is_kept(
    accounts: AccountRecordActivities, engine: Engine, ledger: IdempotencyLedger
) -> None:
    # The same request under another key: an attempt that stored the row and then died.
    await _record_feature(accounts, _feature(idempotency_key="account-001ACME/feature/1/old"))

    result = await _record_feature(accounts, _feature())

    assert result == RecordResult(record_id="001ACME/1")
    assert _rows(engine, FeatureRequest) == 1
    entry = ledger.lookup("account-001ACME/feature/1")
    assert entry is not None and entry.done


async def test_another_request_under_a_recorded_number_is_refused(
    accounts: AccountRecordActivities, engine: Engine
) -> None:
    await _record_feature(accounts, _feature())

    with pytest.raises(
        ApplicationError, match=r"001ACME/1 was already recorded with a different title$"
    ) as refused:
        await _record_feature(
            accounts, _feature(idempotency_key="account-001ACME/feature/1/b", title="Other")
        )

    assert refused.value.non_retryable
    assert [r.title for r in list_feature_requests(engine)] == ["SAML group sync"]


async def test_a_feature_request_of_an_account_name_as_long_as_salesforce_allows_is_recorded(
    accounts: AccountRecordActivities, engine: Engine
) -> None:
    """255 characters: Account.Name's length, and what an account's workflow takes."""
    await _record_feature(accounts, _feature(account_name="N" * 254 + "é"))

    assert [r.account_name for r in list_feature_requests(engine)] == ["N" * 254 + "é"]


async def test_concurrent_records_of_one_feature_request_leave_one_row(
    accounts: AccountRecordActivities, engine: Engine
) -> None:
    results = await asyncio.gather(
        *(_record_feature(accounts, _feature(idempotency_key=f"k/{n}")) for n in range(4))
    )

    assert set(results) == {RecordResult(record_id="001ACME/1")}
    assert _rows(engine, FeatureRequest) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"account_id": ""}, "feature request account_id must be a non-empty string"),
        ({"account_id": "a" * 65}, "feature request account_id is longer than 64 characters"),
        ({"account_name": "n" * 256}, "account_name is longer than 255 characters"),
        ({"title": ""}, "feature request title must be a non-empty string"),
        ({"title": "t" * 201}, "feature request title is longer than 200 characters"),
        ({"requested_by": ""}, "feature request requested_by must be a non-empty string"),
        ({"role": "r" * 21}, "feature request role is longer than 20 characters"),
        ({"number": 0}, "feature request number must be a whole number of at least 1, not 0"),
        ({"number": True}, "feature request number must be a whole number"),
        ({"requested_at": datetime(2027, 4, 3)}, "requested_at must be a timezone-aware"),
        ({"idempotency_key": "k" * 201}, "idempotency_key is longer than 200 characters"),
    ],
)
async def test_invalid_feature_requests_fail_without_retry_naming_the_field(
    accounts: AccountRecordActivities,
    engine: Engine,
    ledger: IdempotencyLedger,
    changes: dict[str, Any],
    message: str,
) -> None:
    record = _feature(**changes)

    with pytest.raises(ApplicationError, match=message) as failure:
        await _record_feature(accounts, record)

    assert failure.value.non_retryable
    assert failure.value.type == "InvalidFeatureRequestRecord"
    assert _rows(engine, FeatureRequest) == 0
    assert ledger.lookup(record.idempotency_key) is None
