"""Reminder preferences: who wants a daily digest instead of one DM per reminder.

Kept in our database (``reminder_preferences``); a person without a row gets immediate
reminders, as everyone did before the digest existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dealcycle.db.models import ReminderPreference


class ReminderMode(StrEnum):
    IMMEDIATE = "immediate"
    """One DM per reminder, when it is due."""
    DIGEST = "digest"
    """Reminders held; one DM a day lists the overdue and the week's steps."""


@dataclass(frozen=True)
class StoredPreference:
    member_id: str
    mode: ReminderMode
    changed_by: str
    changed_via: str
    changed_at: datetime


class ReminderPreferences:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def set(
        self, member_id: str, mode: ReminderMode, by: str, via: str, now: datetime
    ) -> StoredPreference:
        with Session(self._engine) as session, session.begin():
            row = session.get(ReminderPreference, member_id)
            if row is None:
                row = ReminderPreference(member_id=member_id)
                session.add(row)
            row.mode, row.changed_by, row.changed_via, row.changed_at = mode.value, by, via, now
        return StoredPreference(member_id, mode, by, via, now)

    def mode_of(self, member_id: str) -> ReminderMode:
        with Session(self._engine) as session:
            mode = session.scalar(
                select(ReminderPreference.mode).where(ReminderPreference.member_id == member_id)
            )
        return ReminderMode(mode) if mode else ReminderMode.IMMEDIATE

    def all(self) -> list[StoredPreference]:
        with Session(self._engine) as session:
            rows = session.scalars(
                select(ReminderPreference).order_by(ReminderPreference.member_id)
            ).all()
            return [
                StoredPreference(
                    row.member_id,
                    ReminderMode(row.mode),
                    row.changed_by,
                    row.changed_via,
                    row.changed_at,
                )
                for row in rows
            ]

    def digest_people(self) -> list[str]:
        return [p.member_id for p in self.all() if p.mode is ReminderMode.DIGEST]
