"""The intake's position in Salesforce, kept in our database between scheduled runs."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from temporalio import activity

from dealcycle.db.models import IntakeWatermark
from schemas.intake import Watermark, WatermarkRequest


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the zone


class IntakeWatermarkActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _load(self, name: str) -> Watermark:
        with Session(self._engine) as session:
            row = session.get(IntakeWatermark, name)
            if row is None:
                return Watermark(name, None)
            return Watermark(name, _aware(row.value), list(row.seen_ids or []), row.last_id or "")

    def _save(self, mark: Watermark) -> Watermark:
        if mark.value is None:
            return self._load(mark.name)
        with Session(self._engine) as session:
            row = session.get(IntakeWatermark, mark.name)
            now = datetime.now(UTC)
            if row is None:
                session.add(
                    IntakeWatermark(
                        name=mark.name,
                        value=mark.value,
                        seen_ids=[] if mark.last_id else mark.seen_ids,
                        last_id=mark.last_id or None,
                        updated_at=now,
                    )
                )
            elif mark.last_id:
                # Only forward, in the order the intake reads: a slow run finishing late must
                # not make the next one read again what others handed off. A row saved before
                # the intake paged by Id (no last_id) is where that second began.
                if (_aware(row.value), row.last_id or "") < (mark.value, mark.last_id):
                    row.value, row.last_id, row.seen_ids = mark.value, mark.last_id, []
                    row.updated_at = now
            elif _aware(row.value) < mark.value:
                # A run that started before the intake paged by Id (a second and its ids).
                row.value, row.seen_ids, row.last_id, row.updated_at = (
                    mark.value,
                    mark.seen_ids,
                    None,
                    now,
                )
            elif _aware(row.value) == mark.value and not row.last_id:
                row.seen_ids = sorted({*(row.seen_ids or []), *mark.seen_ids})
                row.updated_at = now
            session.commit()
        return self._load(mark.name)

    @activity.defn
    async def load_intake_watermark(self, request: WatermarkRequest) -> Watermark:
        return await asyncio.to_thread(self._load, request.name)

    @activity.defn
    async def save_intake_watermark(self, mark: Watermark) -> Watermark:
        return await asyncio.to_thread(self._save, mark)
