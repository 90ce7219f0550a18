"""The Account Tracker of the Red Accounts program: one ``red_account_cases`` row per case.

A ``RedAccountWorkflow`` opens its row when the case begins (its Slack thread linked once the
case's post lands), updates it as the action plan, the reasons and the escalation change, and
closes it when the account is promoted. The
``dealcycle`` CLI reads the rows with ``list_red_account_cases`` and ``get_red_account_case``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, case, select
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.accounts import _Kind, write_once
from activities.records import _utc
from dealcycle.db.ledger import IdempotencyLedger
from dealcycle.db.models import RedAccountCase
from schemas.effects import RecordResult
from schemas.health import TrackerClose, TrackerOpen, TrackerUpdate
from schemas.limits import ACCOUNT_NAME_CHARS

OPEN = "open"
CLOSED = "closed"

INVALID = "InvalidRedAccountCase"
NOUN = "red account case"
OPEN_CASE = _Kind("red_account_case_open", INVALID, NOUN)
UPDATE_CASE = _Kind("red_account_case_update", INVALID, NOUN)
CLOSE_CASE = _Kind("red_account_case_close", INVALID, NOUN)


@dataclass(frozen=True)
class StoredRedAccountCase:
    """A ``red_account_cases`` row, datetimes aware (UTC)."""

    case_id: str
    account_id: str
    account_name: str
    tier: int
    ae_owner: str
    ce_owner: str
    reasons: list[str]
    opened_at: datetime
    status: str
    action_plan_complete: bool
    escalated: bool
    slack_channel: str
    slack_ts: str
    workflow_url: str
    resolved_at: datetime | None
    resolved_colour: str | None
    resolved_by: str | None
    resolution: str | None
    time_to_resolution_seconds: int | None

    @property
    def is_open(self) -> bool:
        return self.status == OPEN


def _stored(row: RedAccountCase) -> StoredRedAccountCase:
    return StoredRedAccountCase(
        case_id=row.case_id,
        account_id=row.account_id,
        account_name=row.account_name,
        tier=row.tier,
        ae_owner=row.ae_owner,
        ce_owner=row.ce_owner,
        reasons=list(row.reasons),
        opened_at=_utc(row.opened_at),
        status=row.status,
        action_plan_complete=row.action_plan_complete,
        escalated=row.escalated,
        slack_channel=row.slack_channel,
        slack_ts=row.slack_ts,
        workflow_url=row.workflow_url,
        resolved_at=_utc(row.resolved_at) if row.resolved_at is not None else None,
        resolved_colour=row.resolved_colour,
        resolved_by=row.resolved_by,
        resolution=row.resolution,
        time_to_resolution_seconds=row.time_to_resolution_seconds,
    )


def list_red_account_cases(
    engine: Engine, *, open_only: bool = False, account_id: str | None = None
) -> list[StoredRedAccountCase]:
    """Cases, open ones first, then the newest opened first: all, the open ones, or one
    account's."""
    query = select(RedAccountCase).order_by(
        case((RedAccountCase.status == OPEN, 0), else_=1),
        RedAccountCase.opened_at.desc(),
        RedAccountCase.case_id,
    )
    if open_only:
        query = query.where(RedAccountCase.status == OPEN)
    if account_id is not None:
        query = query.where(RedAccountCase.account_id == account_id)
    with Session(engine) as session:
        return [_stored(row) for row in session.scalars(query)]


def get_red_account_case(engine: Engine, case_id: str) -> StoredRedAccountCase | None:
    with Session(engine) as session:
        row = session.get(RedAccountCase, case_id)
        return _stored(row) if row is not None else None


def _check_open(row: TrackerOpen) -> None:
    """Problems no retry can fix (the column limits among them: PostgreSQL enforces them)."""
    OPEN_CASE.text("idempotency_key", row.idempotency_key, 200, required=True)
    OPEN_CASE.text("case_id", row.case_id, 100, required=True)
    OPEN_CASE.text("account_id", row.account_id, 64, required=True)
    OPEN_CASE.text("account_name", row.account_name, ACCOUNT_NAME_CHARS, required=False)
    OPEN_CASE.whole_number("tier", row.tier, 0)
    OPEN_CASE.text("ae_owner", row.ae_owner, 64, required=False)
    OPEN_CASE.text("ce_owner", row.ce_owner, 64, required=False)
    OPEN_CASE.text("reason", row.reason, None, required=True)
    OPEN_CASE.aware("opened_at", row.opened_at)
    OPEN_CASE.text("slack_channel", row.slack_channel, 100, required=False)
    OPEN_CASE.text("slack_ts", row.slack_ts, 40, required=False)
    OPEN_CASE.text("workflow_url", row.workflow_url, None, required=False)


def _check_update(update: TrackerUpdate) -> None:
    UPDATE_CASE.text("idempotency_key", update.idempotency_key, 200, required=True)
    UPDATE_CASE.text("case_id", update.case_id, 100, required=True)
    UPDATE_CASE.text("ae_owner", update.ae_owner, 64, required=False)
    UPDATE_CASE.text("ce_owner", update.ce_owner, 64, required=False)
    UPDATE_CASE.text("slack_ts", update.slack_ts, 40, required=False)
    UPDATE_CASE.strings("reasons", update.reasons)
    if not update.reasons:
        raise UPDATE_CASE.invalid("reasons must hold at least the opening reason")
    for name in ("action_plan_complete", "escalated"):
        if not isinstance(getattr(update, name), bool):
            raise UPDATE_CASE.invalid(f"{name} must be true or false")


def _check_close(close: TrackerClose) -> None:
    CLOSE_CASE.text("idempotency_key", close.idempotency_key, 200, required=True)
    CLOSE_CASE.text("case_id", close.case_id, 100, required=True)
    CLOSE_CASE.aware("resolved_at", close.resolved_at)
    CLOSE_CASE.text("resolved_colour", close.resolved_colour, 20, required=True)
    CLOSE_CASE.text("resolved_by", close.resolved_by, 64, required=True)
    CLOSE_CASE.text("resolution", close.resolution, None, required=False)


def _open_columns(row: TrackerOpen) -> dict[str, Any]:
    return {
        "account_id": row.account_id,
        "account_name": row.account_name,
        "tier": row.tier,
        "ae_owner": row.ae_owner,
        "ce_owner": row.ce_owner,
        "reasons": [row.reason],
        # Stored as UTC: SQLite keeps the wall-clock time and drops the offset.
        "opened_at": row.opened_at.astimezone(UTC),
        "status": OPEN,
        "action_plan_complete": False,
        "escalated": False,
        "slack_channel": row.slack_channel,
        "slack_ts": row.slack_ts,
        "workflow_url": row.workflow_url,
    }


def _unknown(kind: _Kind, case_id: str) -> ApplicationError:
    return kind.invalid(f"case_id {case_id!r} is not in the tracker (it was never opened)")


class RedAccountTrackerActivities:
    def __init__(self, engine: Engine, ledger: IdempotencyLedger) -> None:
        self._engine = engine
        self._ledger = ledger

    @activity.defn
    async def open_red_account_case(self, row: TrackerOpen) -> RecordResult:
        """Insert the row of ``row.case_id``, open, with ``row.reason`` as its first reason.

        The row is written once: an open of a case already in the tracker (another
        idempotency key) changes nothing. A call with a recorded key returns the first result.
        """
        _check_open(row)
        return await write_once(
            self._ledger,
            OPEN_CASE,
            row.idempotency_key,
            lambda session: _insert(session, row),
            "opened",
        )

    @activity.defn
    async def update_red_account_case(self, update: TrackerUpdate) -> RecordResult:
        """Set the reasons, whether the action plan is complete, whether the case escalated,
        the owners if given (they changed hands) and the thread if given (the case's post
        landed after the row opened). A case not in the tracker fails without retry."""
        _check_update(update)
        return await write_once(
            self._ledger,
            UPDATE_CASE,
            update.idempotency_key,
            lambda session: _update(session, update),
            "updated",
        )

    @activity.defn
    async def close_red_account_case(self, close: TrackerClose) -> RecordResult:
        """Close the case: the resolution, and the time from opening to resolution.

        The first close stands: closing a closed case again (another idempotency key) changes
        nothing. A case not in the tracker, or resolved before it opened, fails without retry.
        """
        _check_close(close)
        return await write_once(
            self._ledger,
            CLOSE_CASE,
            close.idempotency_key,
            lambda session: _close(session, close),
            "closed",
        )


def _insert(session: Session, row: TrackerOpen) -> str:
    if session.get(RedAccountCase, row.case_id) is None:
        # A concurrent open inserting it first fails this commit; the ledger's next round
        # finds the row.
        session.add(RedAccountCase(case_id=row.case_id, **_open_columns(row)))
    # Opened already (an attempt that died before the ledger, or a repeat): keep it.
    return row.case_id


def _update(session: Session, update: TrackerUpdate) -> str:
    stored = session.get(RedAccountCase, update.case_id)
    if stored is None:
        raise _unknown(UPDATE_CASE, update.case_id)
    stored.reasons = list(update.reasons)
    stored.action_plan_complete = update.action_plan_complete
    stored.escalated = update.escalated
    if update.ae_owner and update.ce_owner:  # the account's owners changed hands
        stored.ae_owner, stored.ce_owner = update.ae_owner, update.ce_owner
    if update.slack_ts:  # the case's post landed after the row opened: its thread link
        stored.slack_ts = update.slack_ts
    return update.case_id


def _close(session: Session, close: TrackerClose) -> str:
    stored = session.get(RedAccountCase, close.case_id, with_for_update=True)
    if stored is None:
        raise _unknown(CLOSE_CASE, close.case_id)
    if stored.status == CLOSED:  # the first close stands
        return close.case_id
    resolved_at = close.resolved_at.astimezone(UTC)
    open_for = resolved_at - _utc(stored.opened_at)
    if open_for < timedelta(0):
        raise CLOSE_CASE.invalid(
            f"resolved_at {resolved_at.isoformat()} is before the case opened"
            f" ({_utc(stored.opened_at).isoformat()})"
        )
    stored.status = CLOSED
    stored.resolved_at = resolved_at
    stored.resolved_colour = close.resolved_colour
    stored.resolved_by = close.resolved_by
    stored.resolution = close.resolution
    stored.time_to_resolution_seconds = open_for // timedelta(seconds=1)
    return close.case_id
