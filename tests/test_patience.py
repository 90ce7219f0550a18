"""The test harness's waits on the time-skipping test server (``tests.support.patience``): a
skip held back by a leaked time-skipping lock is asked again at once, and a teardown passes
over an activity waiting out its retry back-off."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.support.patience import BACKED_OFF_AFTER, _in_flight

DAY = timedelta(days=1)


async def time_skipping_locks(env: WorkflowEnvironment) -> int:
    """How many time-skipping locks the test server counts (ask only while nothing runs):
    unlocked one by one until it refuses (unbalanced), then locked back as they were."""
    service = env.client.test_service
    unlocked = 0
    while True:
        try:
            await service.unlock_time_skipping(UnlockTimeSkippingRequest())
        except RPCError:
            break
        unlocked += 1
    for _ in range(unlocked):
        await service.lock_time_skipping(LockTimeSkippingRequest())
    return unlocked


async def test_a_skip_held_back_by_a_leaked_lock_is_asked_again_at_once(
    time_skipping_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = time_skipping_env
    service = env.client.test_service
    asked: list[str] = []
    original = service.unlock_time_skipping_with_sleep

    async def recorded(*args: Any, **kwargs: Any) -> Any:
        try:
            response = await original(*args, **kwargs)
        except asyncio.CancelledError:
            asked.append("abandoned")
            raise
        except RPCError as error:
            asked.append(f"failed: {error}")
            raise
        asked.append("done")
        return response

    monkeypatch.setattr(service, "unlock_time_skipping_with_sleep", recorded)
    locks = await time_skipping_locks(env)
    await service.lock_time_skipping(LockTimeSkippingRequest())  # the leak
    try:
        before = await env.get_current_time()
        await env.sleep(DAY)
        assert await env.get_current_time() - before >= DAY
        # Not left to the client's timeout ("Timeout expired" after 30 s).
        assert asked == ["abandoned", "done"]
        assert await time_skipping_locks(env) == locks + 1  # asking again unlocked nothing
    finally:
        await service.unlock_time_skipping(UnlockTimeSkippingRequest())  # the leak, undone


def started_activity(attempt: int, started: datetime | None) -> PendingActivityInfo:
    info = PendingActivityInfo(
        attempt=attempt, state=PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    )
    if started is not None:
        stamp = Timestamp()
        stamp.FromDatetime(started)
        info.last_started_time.CopyFrom(stamp)
    return info


@pytest.mark.parametrize(
    ("attempt", "started_ago", "in_flight"),
    [
        (1, 2 * BACKED_OFF_AFTER, True),  # a first attempt is always waited for
        (5, timedelta(seconds=3), True),  # may be running
        (5, 2 * BACKED_OFF_AFTER, False),  # the clock moved on: waiting out its back-off
        (5, None, True),  # no start time: no telling
    ],
)
def test_an_activity_is_in_flight_unless_its_last_attempt_is_too_old_to_be_running(
    attempt: int, started_ago: timedelta | None, in_flight: bool
) -> None:
    now = datetime(2027, 3, 1, tzinfo=UTC)
    started = None if started_ago is None else now - started_ago
    assert _in_flight(started_activity(attempt, started), now) is in_flight
    assert _in_flight(started_activity(attempt, started), None) is True  # no clock: waited for
