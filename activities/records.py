"""Our own records of how deals went: trial outcomes, one row per opportunity."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import non_retryable
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.db.models import TrialOutcome
from schemas.effects import RecordResult, TrialOutcomeRecord

LEDGER_KIND = "trial_outcome_record"
INVALID_RECORD = "InvalidTrialOutcomeRecord"


@dataclass(frozen=True)
class StoredTrialOutcome:
    """A ``trial_outcomes`` row, datetimes aware (UTC)."""

    opportunity_id: str
    account_id: str
    outcome: str
    technical_win: str
    started_at: datetime | None
    ended_at: datetime
    ce_owner: str
    ae_owner: str
    override_reason: str | None
    license_key_ids: list[str]


def _utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes for DateTime(timezone=True); they were stored as UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def get_trial_outcome(engine: Engine, opportunity_id: str) -> StoredTrialOutcome | None:
    with Session(engine) as session:
        row = session.get(TrialOutcome, opportunity_id)
        if row is None:
            return None
        return StoredTrialOutcome(
            opportunity_id=row.opportunity_id,
            account_id=row.account_id,
            outcome=row.outcome,
            technical_win=row.technical_win,
            started_at=_utc(row.started_at) if row.started_at else None,
            ended_at=_utc(row.ended_at),
            ce_owner=row.ce_owner,
            ae_owner=row.ae_owner,
            override_reason=row.override_reason,
            license_key_ids=list(row.license_key_ids),
        )


def _invalid(message: str) -> ApplicationError:
    return non_retryable(message, INVALID_RECORD)


def _check_text(name: str, value: object, max_length: int, *, required: bool = True) -> None:
    if not isinstance(value, str) or (required and not value.strip()):
        raise _invalid(f"trial outcome {name} must be a non-empty string")
    if len(value) > max_length:
        raise _invalid(f"trial outcome {name} is longer than {max_length} characters")


def _check(record: TrialOutcomeRecord) -> None:
    """Problems no retry can fix (the column limits among them: PostgreSQL enforces them)."""
    _check_text("idempotency_key", record.idempotency_key, 200)
    _check_text("opportunity_id", record.opportunity_id, 64)
    _check_text("account_id", record.account_id, 64)
    _check_text("outcome", record.outcome, 40)
    _check_text("technical_win", record.technical_win, 20)
    _check_text("ce_owner", record.ce_owner, 64, required=False)
    _check_text("ae_owner", record.ae_owner, 64, required=False)
    if not isinstance(record.ended_at, datetime) or record.ended_at.utcoffset() is None:
        raise _invalid("trial outcome ended_at must be a timezone-aware datetime")
    if record.started_at is not None and (
        not isinstance(record.started_at, datetime) or record.started_at.utcoffset() is None
    ):
        raise _invalid("trial outcome started_at must be a timezone-aware datetime or None")
    if not all(isinstance(key_id, str) for key_id in record.license_key_ids):
        raise _invalid("trial outcome license_key_ids must be strings")


def _columns(record: TrialOutcomeRecord) -> dict[str, Any]:
    return {
        "account_id": record.account_id,
        "outcome": record.outcome,
        "technical_win": record.technical_win,
        # Stored as UTC: SQLite keeps the wall-clock time and drops the offset.
        "started_at": record.started_at.astimezone(UTC) if record.started_at else None,
        "ended_at": record.ended_at.astimezone(UTC),
        "ce_owner": record.ce_owner,
        "ae_owner": record.ae_owner,
        "override_reason": record.override_reason,
        "license_key_ids": list(record.license_key_ids),
    }


class TrialRecordActivities:
    def __init__(self, engine: Engine, ledger: IdempotencyLedger) -> None:
        self._engine = engine
        self._ledger = ledger

    @activity.defn
    async def record_trial_outcome(self, record: TrialOutcomeRecord) -> RecordResult:
        """Insert or replace the outcome of ``record.opportunity_id``.

        Once an idempotency key has been recorded, a call with it changes nothing and returns
        the first result, even if a later record (another key) replaced the row since.
        """
        _check(record)
        result, fresh = await asyncio.to_thread(self._record, record)
        activity.logger.info(
            "%s trial outcome %s of opportunity %s",
            "recorded" if fresh else "already recorded",
            record.outcome,
            record.opportunity_id,
        )
        return result

    def _record(self, record: TrialOutcomeRecord) -> tuple[RecordResult, bool]:
        """The outcome's row and the key's ledger entry in one transaction."""
        try:
            entry, fresh = self._ledger.write_once(
                record.idempotency_key,
                LEDGER_KIND,
                lambda session: {"record_id": _upsert(session, record)},
            )
        except ValueError as error:  # the key was used for a write of another kind
            raise _invalid(str(error)) from None
        assert entry.result is not None
        return RecordResult(record_id=entry.result["record_id"]), fresh


def _upsert(session: Session, record: TrialOutcomeRecord) -> str:
    """Insert or replace the outcome (an insert that loses to a concurrent one fails the
    commit, and the ledger's next round updates the row it finds)."""
    columns = _columns(record)
    row = session.get(TrialOutcome, record.opportunity_id)
    if row is None:
        session.add(TrialOutcome(opportunity_id=record.opportunity_id, **columns))
    else:
        for name, value in columns.items():
            setattr(row, name, value)
    return record.opportunity_id
