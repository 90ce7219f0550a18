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
            return Watermark(name, _aware(row.value), list(row.seen_ids or []))

    def _save(self, mark: Watermark) -> Watermark:
        if mark.value is None:
            return self._load(mark.name)
        with Session(self._engine) as session:
            row = session.get(IntakeWatermark, mark.name)
            now = datetime.now(UTC)
            if row is None:
                session.add(
                    IntakeWatermark(
                        name=mark.name, value=mark.value, seen_ids=mark.seen_ids, updated_at=now
                    )
                )
            elif _aware(row.value) < mark.value:
                # Only forward: a slow run finishing late must not re-read what others handed off.
                row.value, row.seen_ids, row.updated_at = mark.value, mark.seen_ids, now
            elif _aware(row.value) == mark.value:
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
