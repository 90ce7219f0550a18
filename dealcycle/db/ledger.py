"""The idempotency ledger behind every external write."""

from __future__ import annotations

from collections.abc import Callable
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


WRITE_ROUNDS = 3
"""Tries of a write whose transaction lost to a concurrent one (a unique key taken)."""


class IdempotencyLedger:
    """Blocking (SQLAlchemy); activities call it through ``asyncio.to_thread``.

    Two ways to use it. A write to another service (Slack, Salesforce) cannot share our
    transaction: ``start`` before it and ``finish`` after, and an attempt that finds the key
    started must find out whether the earlier one reached the service. A write to our own
    database can: ``write_once`` does it and records it done in one transaction.
    """

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

    def write_once(
        self, key: str, kind: str, write: Callable[[Session], dict[str, Any]]
    ) -> tuple[LedgerEntry, bool]:
        """Run ``write`` (rows added to the session it is given, not committed) once per key,
        and record its result in the same transaction; the entry, and whether this call wrote.

        Still exactly once with a single transaction: the rows and the key's ``done`` entry
        commit together or not at all. A crash before the commit leaves neither, so the retry
        writes; after it, the retry finds the key done and writes nothing. Two attempts at
        once both insert the key: the database lets one commit, the other's commit fails on
        the key (or on a row the first wrote) and rolls back its rows with it, and its next
        round finds the key done. A key left ``started`` by code from before (which wrote
        in separate transactions) is finished here: that code's row writes were idempotent
        upserts, so writing again is what it would have done. ``ValueError`` if the key was
        used for another kind of write.
        """
        for _ in range(WRITE_ROUNDS):
            with Session(self._engine) as session:
                row = session.get(ExternalEffect, key)
                if row is not None and row.kind != kind:
                    raise ValueError(
                        f"idempotency key {key!r} was already used for a {row.kind} write"
                    )
                if row is not None and row.status == "done":
                    return _entry(row), False
                result = write(session)
                now = datetime.now(UTC)
                if row is None:
                    row = ExternalEffect(
                        idempotency_key=key, kind=kind, status="done", attempts=1, started_at=now
                    )
                    session.add(row)
                else:
                    row.status, row.attempts = "done", row.attempts + 1
                row.result, row.finished_at = result, now
                try:
                    session.commit()
                except IntegrityError:  # a concurrent attempt committed first: look again
                    session.rollback()
                    continue
                return _entry(row), True
        raise RuntimeError(f"could not record {kind} {key!r}: every try lost to another")
