"""The idempotency ledger behind every external write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dealcycle.db.models import ExternalEffect


@dataclass(frozen=True)
class LedgerEntry:
    idempotency_key: str
    kind: str
    status: str
    """``started`` (a write may or may not have reached the service) or ``done``."""
    result: dict[str, Any] | None
    attempts: int
    started_at: datetime

    @property
    def done(self) -> bool:
        return self.status == "done"


def _entry(row: ExternalEffect) -> LedgerEntry:
    started = row.started_at
    if started.tzinfo is None:  # SQLite drops the zone
        started = started.replace(tzinfo=UTC)
    return LedgerEntry(row.idempotency_key, row.kind, row.status, row.result, row.attempts, started)


class IdempotencyLedger:
    """Blocking (SQLAlchemy); activities call it through ``asyncio.to_thread``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def lookup(self, key: str) -> LedgerEntry | None:
        with Session(self._engine) as session:
            row = session.get(ExternalEffect, key)
            return _entry(row) if row else None

    def start(self, key: str, kind: str) -> tuple[LedgerEntry, bool]:
        """Record that a write is about to happen.

        Returns the entry and whether an earlier attempt had already started it (so the
        caller must first find out whether that attempt reached the service).
        """
        now = datetime.now(UTC)
        with Session(self._engine) as session:
            row = session.get(ExternalEffect, key)
            if row is None:
                row = ExternalEffect(
                    idempotency_key=key, kind=kind, status="started", attempts=1, started_at=now
                )
                session.add(row)
                try:
                    session.commit()
                except IntegrityError:  # a concurrent attempt won the insert
                    session.rollback()
                    row = session.execute(
                        select(ExternalEffect).where(ExternalEffect.idempotency_key == key)
                    ).scalar_one()
                    return _entry(row), True
                return _entry(row), False
            if row.kind != kind:
                raise ValueError(
                    f"idempotency key {key!r} was used for a {row.kind} write, not {kind}"
                )
            if row.status != "done":
                row.attempts += 1
                session.commit()
            return _entry(row), True

    def finish(self, key: str, result: dict[str, Any]) -> None:
        with Session(self._engine) as session:
            row = session.get(ExternalEffect, key)
            if row is None:
                raise KeyError(f"idempotency key {key!r} was never started")
            row.status = "done"
            row.result = result
            row.finished_at = datetime.now(UTC)
            session.commit()
