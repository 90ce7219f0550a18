"""Our own records of customer accounts: quarterly account plans and feature requests.

The account workflow keeps only short summaries in its state; the plans and requests
themselves live in ``account_plans`` and ``feature_requests``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import non_retryable
from activities.records import _utc
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.db.models import AccountPlan, FeatureRequest
from schemas.effects import AccountPlanRecord, FeatureRequestRecord, RecordResult
from schemas.limits import ACCOUNT_NAME_CHARS

QUARTER = re.compile(r"\d{4}-Q[1-4]", re.ASCII)


@dataclass(frozen=True)
class _Kind:
    """One kind of record: its ledger kind, error type, and the noun its messages use."""

    ledger_kind: str
    error_type: str
    noun: str

    def invalid(self, message: str) -> ApplicationError:
        return non_retryable(f"{self.noun} {message}", self.error_type)

    def text(self, name: str, value: object, max_length: int | None, *, required: bool) -> None:
        if not isinstance(value, str) or (required and not value.strip()):
            wanted = "a non-empty string" if required else "a string"
            raise self.invalid(f"{name} must be {wanted}")
        if max_length is not None and len(value) > max_length:
            raise self.invalid(f"{name} is longer than {max_length} characters")

    def whole_number(self, name: str, value: object, minimum: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.invalid(
                f"{name} must be a whole number of at least {minimum}, not {value!r}"
            )

    def aware(self, name: str, value: object) -> None:
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise self.invalid(f"{name} must be a timezone-aware datetime")

    def strings(self, name: str, values: object) -> None:
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            raise self.invalid(f"{name} must be a list of strings")


PLAN = _Kind("account_plan_record", "InvalidAccountPlanRecord", "account plan")
FEATURE_REQUEST = _Kind("feature_request_record", "InvalidFeatureRequestRecord", "feature request")


@dataclass(frozen=True)
class StoredAccountPlan:
    """An ``account_plans`` row, datetimes aware (UTC)."""

    account_id: str
    quarter: str
    tier: int
    submitted_by: str
    submitted_at: datetime
    contacts: dict[str, str]
    use_cases: list[str]
    health: str
    expansion_opportunities: list[str]
    risks: list[str]
    product_feedback_themes: list[str]
    objectives: list[str]
    next_steps: str
    link: str


@dataclass(frozen=True)
class StoredFeatureRequest:
    """A ``feature_requests`` row, datetimes aware (UTC)."""

    account_id: str
    number: int
    account_name: str
    title: str
    detail: str
    requested_by: str
    role: str
    requested_at: datetime


def _stored_plan(row: AccountPlan) -> StoredAccountPlan:
    return StoredAccountPlan(
        account_id=row.account_id,
        quarter=row.quarter,
        tier=row.tier,
        submitted_by=row.submitted_by,
        submitted_at=_utc(row.submitted_at),
        contacts=dict(row.contacts),
        use_cases=list(row.use_cases),
        health=row.health,
        expansion_opportunities=list(row.expansion_opportunities),
        risks=list(row.risks),
        product_feedback_themes=list(row.product_feedback_themes),
        objectives=list(row.objectives),
        next_steps=row.next_steps,
        link=row.link,
    )


def _stored_feature_request(row: FeatureRequest) -> StoredFeatureRequest:
    return StoredFeatureRequest(
        account_id=row.account_id,
        number=row.number,
        account_name=row.account_name,
        title=row.title,
        detail=row.detail,
        requested_by=row.requested_by,
        role=row.role,
        requested_at=_utc(row.requested_at),
    )


def list_account_plans(engine: Engine, account_id: str) -> list[StoredAccountPlan]:
    """The account's plans, newest quarter first."""
    query = (
        select(AccountPlan)
        .where(AccountPlan.account_id == account_id)
        .order_by(AccountPlan.quarter.desc())
    )
    with Session(engine) as session:
        return [_stored_plan(row) for row in session.scalars(query)]


def list_feature_requests(
    engine: Engine, account_id: str | None = None
) -> list[StoredFeatureRequest]:
    """Feature requests, newest first: of one account, or of every account."""
    query = select(FeatureRequest).order_by(
        FeatureRequest.requested_at.desc(),
        FeatureRequest.account_id,
        FeatureRequest.number.desc(),
    )
    if account_id is not None:
        query = query.where(FeatureRequest.account_id == account_id)
    with Session(engine) as session:
        return [_stored_feature_request(row) for row in session.scalars(query)]


def _check_plan(record: AccountPlanRecord) -> None:
    """Problems no retry can fix (the column limits among them: PostgreSQL enforces them)."""
    PLAN.text("idempotency_key", record.idempotency_key, 200, required=True)
    PLAN.text("account_id", record.account_id, 64, required=True)
    if not isinstance(record.quarter, str) or not QUARTER.fullmatch(record.quarter):
        raise PLAN.invalid(f"quarter must look like 2027-Q2, not {record.quarter!r}")
    PLAN.whole_number("tier", record.tier, 0)
    PLAN.text("submitted_by", record.submitted_by, 64, required=True)
    PLAN.aware("submitted_at", record.submitted_at)
    if not isinstance(record.contacts, dict) or not all(
        isinstance(role, str) and isinstance(who, str) for role, who in record.contacts.items()
    ):
        raise PLAN.invalid("contacts must map roles to strings")
    PLAN.strings("use_cases", record.use_cases)
    PLAN.text("health", record.health, 20, required=True)
    PLAN.strings("expansion_opportunities", record.expansion_opportunities)
    PLAN.strings("risks", record.risks)
    PLAN.strings("product_feedback_themes", record.product_feedback_themes)
    PLAN.strings("objectives", record.objectives)
    PLAN.text("next_steps", record.next_steps, None, required=False)
    PLAN.text("link", record.link, None, required=False)


def _check_feature_request(record: FeatureRequestRecord) -> None:
    """Problems no retry can fix (the column limits among them: PostgreSQL enforces them)."""
    FEATURE_REQUEST.text("idempotency_key", record.idempotency_key, 200, required=True)
    FEATURE_REQUEST.text("account_id", record.account_id, 64, required=True)
    FEATURE_REQUEST.text("account_name", record.account_name, ACCOUNT_NAME_CHARS, required=False)
    FEATURE_REQUEST.whole_number("number", record.number, 1)
    FEATURE_REQUEST.text("title", record.title, 200, required=True)
    FEATURE_REQUEST.text("detail", record.detail, None, required=False)
    FEATURE_REQUEST.text("requested_by", record.requested_by, 64, required=True)
    FEATURE_REQUEST.text("role", record.role, 20, required=True)
    FEATURE_REQUEST.aware("requested_at", record.requested_at)


def _plan_columns(record: AccountPlanRecord) -> dict[str, Any]:
    return {
        "tier": record.tier,
        "submitted_by": record.submitted_by,
        # Stored as UTC: SQLite keeps the wall-clock time and drops the offset.
        "submitted_at": record.submitted_at.astimezone(UTC),
        "contacts": dict(record.contacts),
        "use_cases": list(record.use_cases),
        "health": record.health,
        "expansion_opportunities": list(record.expansion_opportunities),
        "risks": list(record.risks),
        "product_feedback_themes": list(record.product_feedback_themes),
        "objectives": list(record.objectives),
        "next_steps": record.next_steps,
        "link": record.link,
    }


def _feature_request_columns(record: FeatureRequestRecord) -> dict[str, Any]:
    return {
        "account_name": record.account_name,
        "title": record.title,
        "detail": record.detail,
        "requested_by": record.requested_by,
        "role": record.role,
        "requested_at": record.requested_at.astimezone(UTC),
    }


def record_once(
    ledger: IdempotencyLedger, kind: _Kind, key: str, write: Callable[[Session], str]
) -> tuple[RecordResult, bool]:
    """Blocking. Runs ``write`` (which adds its rows to the session and returns the record
    id) once per idempotency key, in the transaction that records the key done; returns the
    result and whether this call wrote it."""
    try:
        entry, fresh = ledger.write_once(
            key, kind.ledger_kind, lambda session: {"record_id": write(session)}
        )
    except ValueError as error:  # the key was used for a write of another kind
        raise kind.invalid(str(error)) from None
    assert entry.result is not None
    return RecordResult(record_id=entry.result["record_id"]), fresh


async def write_once(
    ledger: IdempotencyLedger, kind: _Kind, key: str, write: Callable[[Session], str], done: str
) -> RecordResult:
    """``record_once`` off the event loop, logged as ``<done> <noun> <record id>``."""
    result, fresh = await asyncio.to_thread(record_once, ledger, kind, key, write)
    activity.logger.info(
        "%s %s %s", done if fresh else f"already {done}", kind.noun, result.record_id
    )
    return result


def _upsert_plan(session: Session, record: AccountPlanRecord) -> str:
    """Insert or replace the quarter's plan (an insert that loses to a concurrent one fails
    the commit, and the ledger's next round updates the row it finds)."""
    columns = _plan_columns(record)
    row = session.get(AccountPlan, (record.account_id, record.quarter))
    if row is None:
        session.add(AccountPlan(account_id=record.account_id, quarter=record.quarter, **columns))
    else:
        for name, value in columns.items():
            setattr(row, name, value)
    return f"{record.account_id}/{record.quarter}"


def _insert_feature_request(session: Session, record: FeatureRequestRecord) -> str:
    columns = _feature_request_columns(record)
    record_id = f"{record.account_id}/{record.number}"
    row = session.get(FeatureRequest, (record.account_id, record.number))
    if row is None:
        session.add(FeatureRequest(account_id=record.account_id, number=record.number, **columns))
        return record_id
    # Written already (under another key, or a concurrent insert the ledger's next round
    # finds): keep it, unless it says something else, which is a workflow bug to report loudly.
    stored = _stored_feature_request(row)
    differences = [name for name, value in columns.items() if getattr(stored, name) != value]
    if differences:
        raise FEATURE_REQUEST.invalid(
            f"{record_id} was already recorded with a different {', '.join(differences)}"
        )
    return record_id


class AccountRecordActivities:
    def __init__(self, engine: Engine, ledger: IdempotencyLedger) -> None:
        self._engine = engine
        self._ledger = ledger

    @activity.defn
    async def record_account_plan(self, record: AccountPlanRecord) -> RecordResult:
        """Insert or replace the plan of ``record.account_id`` for ``record.quarter``.

        Once an idempotency key has been recorded, a call with it changes nothing and returns
        the first result, even if a later submission (another key) replaced the row since.
        """
        _check_plan(record)
        return await write_once(
            self._ledger,
            PLAN,
            record.idempotency_key,
            lambda session: _upsert_plan(session, record),
            "recorded",
        )

    @activity.defn
    async def record_feature_request(self, record: FeatureRequestRecord) -> RecordResult:
        """Insert feature request ``record.number`` of ``record.account_id``.

        The row is written once: a second record of the same number (another idempotency key)
        leaves it as it is, and fails without retry if it says something else.
        """
        _check_feature_request(record)
        return await write_once(
            self._ledger,
            FEATURE_REQUEST,
            record.idempotency_key,
            lambda session: _insert_feature_request(session, record),
            "recorded",
        )
