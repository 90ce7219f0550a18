"""Creating or updating a Temporal Schedule by id (the intake's poll, the daily digest)."""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleAlreadyRunningError,
    ScheduleUpdate,
    ScheduleUpdateInput,
)


async def ensure_schedule(client: Client, schedule_id: str, schedule: Schedule, what: str) -> str:
    """Create the schedule, or update it to ``schedule`` if it exists; say which and ``what``."""
    try:
        await client.create_schedule(schedule_id, schedule)
        return f"created schedule {schedule_id}: {what}"
    except ScheduleAlreadyRunningError:

        def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(update)
        return f"updated schedule {schedule_id}: {what}"
