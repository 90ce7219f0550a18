"""The Account Tracker of the Red Accounts program in our own database, on SQLite and
PostgreSQL."""

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

from activities.red_accounts import (
    RedAccountTrackerActivities,
    StoredRedAccountCase,
    get_red_account_case,
    list_red_account_cases,
)
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.db.models import RedAccountCase
from schemas.effects import RecordResult
from schemas.health import TrackerClose, TrackerOpen, TrackerUpdate, red_account_workflow_id

PACIFIC = timezone(timedelta(hours=-8))
OPENED = datetime(2027, 5, 3, 9, 15, 30, tzinfo=PACIFIC)
CASE = red_account_workflow_id("001ACME", 1)


@pytest.fixture
def ledger(engine: Engine) -> IdempotencyLedger:
    return IdempotencyLedger(engine)


@pytest.fixture
def tracker(engine: Engine, ledger: IdempotencyLedger) -> RedAccountTrackerActivities:
    return RedAccountTrackerActivities(engine, ledger)


def _open(**changes: Any) -> TrackerOpen:
    row = TrackerOpen(
        idempotency_key=f"{CASE}/tracker/open",
        case_id=CASE,
        account_id="001ACME",
        account_name="Acme Café",
        tier=1,
        ae_owner="U0AE",
        ce_owner="U0CE",
        reason="champion left",
        opened_at=OPENED,
        slack_channel="#red-accounts",
        slack_ts="1777.000100",
        workflow_url="http://localhost:8233/namespaces/default/workflows/red-account-001ACME-1",
    )
    return replace(row, **changes)


def _update(**changes: Any) -> TrackerUpdate:
    update = TrackerUpdate(
        idempotency_key=f"{CASE}/tracker/update/1",
        case_id=CASE,
        reasons=["champion left", "usage down 40%"],
        action_plan_complete=True,
        escalated=False,
    )
    return replace(update, **changes)


def _close(**changes: Any) -> TrackerClose:
    close = TrackerClose(
        idempotency_key=f"{CASE}/tracker/close",
        case_id=CASE,
        resolved_at=OPENED + timedelta(days=12, hours=3, seconds=7, microseconds=900_000),
        resolved_colour="yellow",
        resolved_by="score",
        resolution="usage back above 50",
    )
    return replace(close, **changes)


async def _run_open(tracker: RedAccountTrackerActivities, row: TrackerOpen) -> RecordResult:
    result: RecordResult = await ActivityEnvironment().run(tracker.open_red_account_case, row)
    return result


async def _run_update(tracker: RedAccountTrackerActivities, update: TrackerUpdate) -> RecordResult:
    result: RecordResult = await ActivityEnvironment().run(tracker.update_red_account_case, update)
    return result


async def _run_close(tracker: RedAccountTrackerActivities, close: TrackerClose) -> RecordResult:
    result: RecordResult = await ActivityEnvironment().run(tracker.close_red_account_case, close)
    return result


def _rows(engine: Engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(RedAccountCase)).scalar_one()


def _case(engine: Engine, case_id: str = CASE) -> StoredRedAccountCase:
    stored = get_red_account_case(engine, case_id)
    assert stored is not None
    return stored


# --- the migration ----------------------------------------------------------------------------


def test_migration_creates_the_table_keyed_by_case_id_and_indexed_by_account(
    engine: Engine,
) -> None:
    inspector = inspect(engine)

    assert "red_account_cases" in inspector.get_table_names()
    pk = inspector.get_pk_constraint("red_account_cases")
    assert (pk["name"], pk["constrained_columns"]) == ("pk_red_account_cases", ["case_id"])
    assert [index["name"] for index in inspector.get_indexes("red_account_cases")] == [
        "ix_red_account_cases_account_id"
    ]


# --- open, update, close ----------------------------------------------------------------------


async def test_opened_case_reads_back_open(
    tracker: RedAccountTrackerActivities, engine: Engine
) -> None:
    result = await _run_open(tracker, _open())

    stored = _case(engine)
    assert result == RecordResult(record_id=CASE)
    assert (stored.case_id, stored.account_id, stored.account_name, stored.tier) == (
        "red-account-001ACME-1",
        "001ACME",
        "Acme Café",
        1,
    )
    assert (stored.ae_owner, stored.ce_owner) == ("U0AE", "U0CE")
    assert stored.reasons == ["champion left"]
    assert stored.opened_at == datetime(2027, 5, 3, 17, 15, 30, tzinfo=UTC)
    assert stored.opened_at.tzinfo is UTC
    assert (stored.status, stored.is_open) == ("open", True)
    assert (stored.action_plan_complete, stored.escalated) == (False, False)
    assert (stored.slack_channel, stored.slack_ts) == ("#red-accounts", "1777.000100")
    assert stored.workflow_url.endswith("/workflows/red-account-001ACME-1")
    assert (
        stored.resolved_at,
        stored.resolved_colour,
        stored.resolved_by,
        stored.resolution,
        stored.time_to_resolution_seconds,
    ) == (None, None, None, None, None)
    assert get_red_account_case(engine, "red-account-003NONE-1") is None


async def test_update_sets_the_reasons_the_action_plan_and_the_escalation(
    tracker: RedAccountTrackerActivities, engine: Engine
) -> None:
    await _run_open(tracker, _open())

    first = await _run_update(tracker, _update())
    second = await _run_update(
        tracker,
        _update(
            idempotency_key=f"{CASE}/tracker/update/2",
            reasons=["champion left", "usage down 40%", "renewal at risk"],
            action_plan_complete=False,
            escalated=True,
        ),
    )

    stored = _case(engine)
    assert first == second == RecordResult(record_id=CASE)
    assert stored.reasons == ["champion left", "usage down 40%", "renewal at risk"]
    assert (stored.action_plan_complete, stored.escalated) == (False, True)
    assert stored.status == "open"
    assert stored.opened_at == OPENED


async def test_an_update_with_the_thread_links_a_row_opened_before_its_post_landed(
    tracker: RedAccountTrackerActivities, engine: Engine
) -> None:
    await _run_open(tracker, _open(slack_ts=""))
    assert _case(engine).slack_ts == ""

    await _run_update(tracker, _update(idempotency_key=f"{CASE}/tracker/thread", slack_ts="17.01"))
    await _run_update(tracker, _update(idempotency_key=f"{CASE}/tracker/update/2", escalated=True))

    stored = _case(engine)
    assert (stored.slack_channel, stored.slack_ts) == ("#red-accounts", "17.01")
    assert stored.reasons == ["champion left", "usage down 40%"] and stored.escalated


async def test_close_records_the_resolution_and_the_time_to_resolution(
    tracker: RedAccountTrackerActivities, engine: Engine
) -> None:
    await _run_open(tracker, _open())
    await _run_update(tracker, _update())

    result = await _run_close(tracker, _close())

    stored = _case(engine)
    assert result == RecordResult(record_id=CASE)
    assert (stored.status, stored.is_open) == ("closed", False)
    assert stored.resolved_at == datetime(2027, 5, 15, 20, 15, 37, 900_000, tzinfo=UTC)
    assert stored.resolved_at.tzinfo is UTC
    assert (stored.resolved_colour, stored.resolved_by, stored.resolution) == (
        "yellow",
        "score",
        "usage back above 50",
    )
    # Whole seconds: 12 days, 3 hours and 7.9 seconds.
    assert stored.time_to_resolution_seconds == 12 * 86400 + 3 * 3600 + 7
    assert stored.reasons == ["champion left", "usage down 40%"]
    assert stored.action_plan_complete is True


async def test_close_in_another_zone_counts_from_the_opening_instant(
    tracker: RedAccountTrackerActivities, engine: Engine
) -> None:
    await _run_open(tracker, _open())

    await _run_close(
        tracker,
        _close(resolved_at=datetime(2027, 5, 3, 18, 15, 30, tzinfo=UTC), resolved_by="U0CE"),
    )

    stored = _case(engine)
    assert stored.time_to_resolution_seconds == 3600
    assert stored.resolved_by == "U0CE"


# --- idempotency ------------------------------------------------------------------------------


async def test_same_idempotency_key_twice_opens_once(
    tracker: RedAccountTrackerActivities, engine: Engine, ledger: IdempotencyLedger
) -> None:
    first = await _run_open(tracker, _open())

    again = await _run_open(tracker, _open(reason="something else", tier=3))

    stored = _case(engine)
    assert again == first == RecordResult(record_id=CASE)
    assert (stored.reasons, stored.tier) == (["champion left"], 1)
    assert _rows(engine) == 1
    entry = ledger.lookup(f"{CASE}/tracker/open")
    assert entry is not None and entry.done and entry.attempts == 1
    assert entry.kind == "red_account_case_open"


async def test_second_open_of_a_case_with_another_key_changes_nothing(
    tracker: RedAccountTrackerActivities, engine: Engine
) -> None:
    await _run_open(tracker, _open())
    await _run_update(tracker, _update(escalated=True))

    again = await _run_open(
        tracker, _open(idempotency_key="another/open", reason="later reason", ae_owner="U0NEW")
    )

    stored = _case(engine)
    assert again == RecordResult(record_id=CASE)
    assert stored.reasons == ["champion left", "usage down 40%"]
    assert (stored.ae_owner, stored.escalated) == ("U0AE", True)
    assert _rows(engine) == 1


async def test_concurrent_opens_of_one_case_leave_one_row(
    tracker: RedAccountTrackerActivities, engine: Engine
) -> None:
    results = await asyncio.gather(
        *(_run_open(tracker, _open(idempotency_key=f"k/{n}")) for n in range(4))
    )

    assert set(results) == {RecordResult(record_id=CASE)}
    assert _rows(engine) == 1


async def test_same_idempotency_key_twice_updates_once(
    tracker: RedAccountTrackerActivities, engine: Engine, ledger: IdempotencyLedger
) -> None:
    await _run_open(tracker, _open())
    first = await _run_update(tracker, _update())
    await _run_update(
        tracker, _update(idempotency_key="update/2", reasons=["champion left"], escalated=True)
    )

    retried = await _run_update(tracker, _update())

    stored = _case(engine)
    assert retried == first
    # The retry of the older update does not undo the later one.
    assert (stored.reasons, stored.escalated) == (["champion left"], True)
    entry = ledger.lookup(f"{CASE}/tracker/update/1")
    assert entry is not None and entry.done and entry.attempts == 1
    assert entry.kind == "red_account_case_update"


async def test_same_idempotency_key_twice_closes_once(
    tracker: RedAccountTrackerActivities, engine: Engine, ledger: IdempotencyLedger
) -> None:
    await _run_open(tracker, _open())
    first = await _run_close(tracker, _close())

    again = await _run_close(tracker, _close(resolved_colour="green", resolution="changed"))

    stored = _case(engine)
    assert again == first == RecordResult(record_id=CASE)
    assert (stored.resolved_colour, stored.resolution) == ("yellow", "usage back above 50")
    entry = ledger.lookup(f"{CASE}/tracker/close")
    assert entry is not None and entry.done and entry.attempts == 1
    assert entry.kind == "red_account_case_close"


async def test_closing_a_closed_case_with_another_key_keeps_the_first_close(
    tracker: RedAccountTrackerActivities, engine: Engine
) -> None:
    await _run_open(tracker, _open())
    await _run_close(tracker, _close())
    first = _case(engine)

    again = await _run_close(
        tracker,
        _close(
            idempotency_key="another/close",
            resolved_at=OPENED + timedelta(days=30),
            resolved_colour="green",
            resolved_by="U0AE",
            resolution="renewed",
        ),
    )

    assert again == RecordResult(record_id=CASE)
    assert _case(engine) == first


async def test_idempotency_key_of_another_kind_of_write_is_refused(
    tracker: RedAccountTrackerActivities, ledger: IdempotencyLedger, engine: Engine
) -> None:
    ledger.start(f"{CASE}/tracker/open", "slack_post")
    await _run_open(tracker, _open(idempotency_key="open/other"))
    await _run_update(tracker, _update(idempotency_key="shared"))

    with pytest.raises(ApplicationError, match="already used for a slack_post write") as opened:
        await _run_open(tracker, _open(case_id="red-account-002BETA-1"))
    with pytest.raises(
        ApplicationError, match="already used for a red_account_case_update write"
    ) as closed:
        await _run_close(tracker, _close(idempotency_key="shared"))

    assert opened.value.non_retryable and closed.value.non_retryable
    assert get_red_account_case(engine, "red-account-002BETA-1") is None
    assert _case(engine).status == "open"


# --- listing ----------------------------------------------------------------------------------


async def test_cases_list_open_first_then_newest_opened_first(
    tracker: RedAccountTrackerActivities, engine: Engine
) -> None:
    day = timedelta(days=1)
    cases = [
        ("001ACME", 1, OPENED),
        ("001ACME", 2, OPENED + 20 * day),
        ("002BETA", 1, OPENED + 5 * day),
        ("003GAMMA", 1, OPENED + 10 * day),
        ("002BETA", 2, OPENED + 30 * day),
    ]
    for account_id, number, opened_at in cases:
        case_id = red_account_workflow_id(account_id, number)
        await _run_open(
            tracker,
            _open(
                idempotency_key=f"{case_id}/open",
                case_id=case_id,
                account_id=account_id,
                opened_at=opened_at,
            ),
        )
    for case_id, resolved_at in [
        ("red-account-001ACME-1", OPENED + 3 * day),
        ("red-account-003GAMMA-1", OPENED + 12 * day),
    ]:
        await _run_close(
            tracker,
            _close(idempotency_key=f"{case_id}/close", case_id=case_id, resolved_at=resolved_at),
        )

    everything = list_red_account_cases(engine)
    assert [(c.case_id, c.status) for c in everything] == [
        ("red-account-002BETA-2", "open"),
        ("red-account-001ACME-2", "open"),
        ("red-account-002BETA-1", "open"),
        ("red-account-003GAMMA-1", "closed"),
        ("red-account-001ACME-1", "closed"),
    ]
    assert all(c.opened_at.tzinfo is UTC for c in everything)
    assert [c.case_id for c in list_red_account_cases(engine, open_only=True)] == [
        "red-account-002BETA-2",
        "red-account-001ACME-2",
        "red-account-002BETA-1",
    ]
    assert [c.case_id for c in list_red_account_cases(engine, account_id="001ACME")] == [
        "red-account-001ACME-2",
        "red-account-001ACME-1",
    ]
    assert [
        c.case_id for c in list_red_account_cases(engine, open_only=True, account_id="003GAMMA")
    ] == []
    closed = list_red_account_cases(engine, account_id="003GAMMA")[0]
    assert closed.resolved_at == (OPENED + 12 * day).astimezone(UTC)
    assert closed.time_to_resolution_seconds == 2 * 86400
    assert list_red_account_cases(engine, account_id="004NONE") == []


async def test_an_account_name_as_long_as_salesforce_allows_is_recorded(
    tracker: RedAccountTrackerActivities, engine: Engine
) -> None:
    """255 characters: Account.Name's length, and what an account's workflow takes."""
    await _run_open(tracker, _open(account_name="N" * 254 + "é"))

    [stored] = list_red_account_cases(engine)
    assert stored.account_name == "N" * 254 + "é"


# --- invalid input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"idempotency_key": " "}, "red account case idempotency_key must be a non-empty string"),
        ({"idempotency_key": "k" * 201}, "idempotency_key is longer than 200 characters"),
        ({"case_id": ""}, "red account case case_id must be a non-empty string"),
        ({"case_id": "c" * 101}, "red account case case_id is longer than 100 characters"),
        ({"account_id": ""}, "red account case account_id must be a non-empty string"),
        ({"account_id": "a" * 65}, "red account case account_id is longer than 64 characters"),
        ({"account_name": "n" * 256}, "account_name is longer than 255 characters"),
        ({"tier": -1}, "red account case tier must be a whole number of at least 0, not -1"),
        ({"tier": True}, "red account case tier must be a whole number"),
        ({"ae_owner": "u" * 65}, "red account case ae_owner is longer than 64 characters"),
        ({"ce_owner": None}, "red account case ce_owner must be a string"),
        ({"reason": "  "}, "red account case reason must be a non-empty string"),
        ({"opened_at": datetime(2027, 5, 3)}, "opened_at must be a timezone-aware datetime"),
        ({"slack_channel": "c" * 101}, "slack_channel is longer than 100 characters"),
        ({"slack_ts": "t" * 41}, "red account case slack_ts is longer than 40 characters"),
        ({"workflow_url": None}, "red account case workflow_url must be a string"),
    ],
)
async def test_invalid_opens_fail_without_retry_naming_the_field(
    tracker: RedAccountTrackerActivities,
    engine: Engine,
    ledger: IdempotencyLedger,
    changes: dict[str, Any],
    message: str,
) -> None:
    row = _open(**changes)

    with pytest.raises(ApplicationError, match=message) as failure:
        await _run_open(tracker, row)

    assert failure.value.non_retryable
    assert failure.value.type == "InvalidRedAccountCase"
    assert _rows(engine) == 0
    assert ledger.lookup(row.idempotency_key) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"idempotency_key": ""}, "red account case idempotency_key must be a non-empty string"),
        ({"case_id": ""}, "red account case case_id must be a non-empty string"),
        ({"reasons": ["ok", 3]}, "red account case reasons must be a list of strings"),
        ({"reasons": "champion left"}, "red account case reasons must be a list of strings"),
        ({"reasons": []}, "red account case reasons must hold at least the opening reason"),
        ({"action_plan_complete": "yes"}, "action_plan_complete must be true or false"),
        ({"escalated": 1}, "red account case escalated must be true or false"),
        ({"slack_ts": "t" * 41}, "red account case slack_ts is longer than 40 characters"),
    ],
)
async def test_invalid_updates_fail_without_retry_naming_the_field(
    tracker: RedAccountTrackerActivities,
    engine: Engine,
    ledger: IdempotencyLedger,
    changes: dict[str, Any],
    message: str,
) -> None:
    await _run_open(tracker, _open())
    update = _update(**changes)

    with pytest.raises(ApplicationError, match=message) as failure:
        await _run_update(tracker, update)

    assert failure.value.non_retryable
    assert failure.value.type == "InvalidRedAccountCase"
    assert _case(engine).reasons == ["champion left"]
    assert ledger.lookup(update.idempotency_key) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"idempotency_key": " "}, "red account case idempotency_key must be a non-empty string"),
        ({"case_id": "c" * 101}, "red account case case_id is longer than 100 characters"),
        ({"resolved_at": datetime(2027, 5, 9)}, "resolved_at must be a timezone-aware datetime"),
        ({"resolved_colour": ""}, "red account case resolved_colour must be a non-empty string"),
        ({"resolved_colour": "c" * 21}, "resolved_colour is longer than 20 characters"),
        ({"resolved_by": ""}, "red account case resolved_by must be a non-empty string"),
        ({"resolved_by": "b" * 65}, "red account case resolved_by is longer than 64 characters"),
        ({"resolution": None}, "red account case resolution must be a string"),
    ],
)
async def test_invalid_closes_fail_without_retry_naming_the_field(
    tracker: RedAccountTrackerActivities,
    engine: Engine,
    ledger: IdempotencyLedger,
    changes: dict[str, Any],
    message: str,
) -> None:
    await _run_open(tracker, _open())
    close = _close(**changes)

    with pytest.raises(ApplicationError, match=message) as failure:
        await _run_close(tracker, close)

    assert failure.value.non_retryable
    assert failure.value.type == "InvalidRedAccountCase"
    assert _case(engine).status == "open"
    assert ledger.lookup(close.idempotency_key) is None


async def test_update_or_close_of_a_case_never_opened_fails_without_retry(
    tracker: RedAccountTrackerActivities, engine: Engine, ledger: IdempotencyLedger
) -> None:
    with pytest.raises(
        ApplicationError, match="case_id 'red-account-001ACME-1' is not in the tracker"
    ) as update:
        await _run_update(tracker, _update())
    with pytest.raises(
        ApplicationError, match="case_id 'red-account-001ACME-1' is not in the tracker"
    ) as close:
        await _run_close(tracker, _close())

    assert update.value.non_retryable and close.value.non_retryable
    assert update.value.type == close.value.type == "InvalidRedAccountCase"
    assert _rows(engine) == 0
    # Nothing was recorded as done: the keys are free for a later attempt.
    for key in (f"{CASE}/tracker/update/1", f"{CASE}/tracker/close"):
        entry = ledger.lookup(key)
        assert entry is None or not entry.done


async def test_close_before_the_case_opened_fails_without_retry_naming_resolved_at(
    tracker: RedAccountTrackerActivities, engine: Engine
) -> None:
    await _run_open(tracker, _open())

    with pytest.raises(
        ApplicationError,
        match=r"red account case resolved_at 2027-05-03T17:15:29\+00:00 is before the case",
    ) as failure:
        await _run_close(tracker, _close(resolved_at=OPENED - timedelta(seconds=1)))

    assert failure.value.non_retryable
    stored = _case(engine)
    assert (stored.status, stored.resolved_at, stored.time_to_resolution_seconds) == (
        "open",
        None,
        None,
    )
