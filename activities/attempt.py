"""An activity attempt's deadline, and the timeout each HTTP call gets from it.

Temporal gives up on an attempt when its start-to-close (or schedule-to-close) timeout passes
and schedules the next one, but it cannot stop the thread the attempt runs its blocking calls
in: a call still under way there can write after the next attempt wrote (a duplicate post).
So no HTTP call may outlive its attempt: each gets at most its client's cap, and never more
than the attempt has left (less a margin); with too little left, none starts.

The deadline is worked out as the Go SDK does, from the server's timestamps:
``min(started + start_to_close, scheduled + schedule_to_close)``. It lives in a context
variable, which ``asyncio.to_thread`` carries into the thread doing the calls.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

from temporalio import activity

MARGIN = timedelta(seconds=2)
"""Left unused at the end of an attempt (at most a tenth of it): clock skew, the answer's way
back to the server."""
MIN_CALL_SECONDS = 0.5
"""A call is not started with less than this left: it could not finish."""

_DEADLINE: ContextVar[float | None] = ContextVar("dealcycle_attempt_deadline", default=None)


class AttemptTimeSpent(Exception):
    """Too little of the attempt's time is left to start another call; the next attempt will."""


def attempt_deadline(info: activity.Info, now: datetime) -> datetime | None:
    """When the attempt described by ``info`` ends, less the margin; ``None`` without server
    timestamps (``temporalio.testing.ActivityEnvironment`` reports the epoch)."""
    if info.started_time.timestamp() == 0:
        return None
    ends: list[datetime] = []
    if info.start_to_close_timeout:
        ends.append(info.started_time + info.start_to_close_timeout)
        margin = min(MARGIN, info.start_to_close_timeout / 10)
    else:
        margin = MARGIN
    if info.schedule_to_close_timeout:
        ends.append(info.scheduled_time + info.schedule_to_close_timeout)
    if not ends:
        return None
    return min(ends) - margin


@contextmanager
def bounded_by_attempt() -> Iterator[None]:
    """Within the block, ``call_timeout`` keeps calls inside the running attempt."""
    now = datetime.now(UTC)
    deadline = attempt_deadline(activity.info(), now)
    monotonic = None if deadline is None else time.monotonic() + (deadline - now).total_seconds()
    token = _DEADLINE.set(monotonic)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def call_timeout(cap: float) -> float:
    """Seconds the next HTTP call may take: ``cap``, or less near the attempt's end.

    Raises ``AttemptTimeSpent`` when too little time is left to start one.
    """
    deadline = _DEADLINE.get()
    if deadline is None:
        return cap
    left = deadline - time.monotonic()
    if left < MIN_CALL_SECONDS:
        raise AttemptTimeSpent(
            f"the attempt's time is spent ({max(left, 0):.1f}s left before its timeout)"
        )
    return min(cap, left)
