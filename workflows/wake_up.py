"""A main loop's sleep: until something changes or its next deadline, on one durable timer
kept for as long as the deadline stays the same.

Waiting with ``workflow.wait_condition(changed, timeout=…)`` starts a timer on every wait and
cancels it whenever something changes first: every update, signal or finished effect cost a
``TIMER_CANCELED`` and a ``TIMER_STARTED`` though the deadline had not moved (two events of
every three wake-ups of an account-year). ``WakeUpTimer`` keeps the timer pending across waits
and replaces it only when the deadline moves. The timer carries the wake-up's summary, which
the Web UI shows instead of a bare duration (user metadata: not a command).

Runs recorded before (``KEEP_WAKE_UP_TIMER_PATCH``) wait the old way, command for command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.summaries import WakeUp

KEEP_WAKE_UP_TIMER_PATCH = "keep-wake-up-timer-while-deadline-unchanged"


class WakeUpTimer:
    """One per workflow run; its main loop calls ``until`` where it waited before."""

    def __init__(self) -> None:
        self._kept: bool | None = None
        self._deadline: datetime | None = None
        self._timer: asyncio.Task[None] | None = None

    async def until(self, changed: Callable[[], bool], wake_up: WakeUp | None) -> None:
        """Return when ``changed()`` holds or ``wake_up`` has come (never, if None); at
        once if it already has, without a timer."""
        deadline = None if wake_up is None else wake_up.at
        if self._kept is None:
            # Decided once per run: a run recorded before keeps starting a timer per wait.
            self._kept = workflow.patched(KEEP_WAKE_UP_TIMER_PATCH)
        if not self._kept:
            await _wait_with_timeout(changed, wake_up)
            return
        if deadline is not None and deadline <= workflow.now():
            return
        if deadline != self._deadline or self._timer is None:
            self._cancel()
            if wake_up is not None and deadline is not None:
                self._timer = asyncio.create_task(
                    workflow.sleep(deadline - workflow.now(), summary=wake_up.summary),
                    name="wake up",
                )
            self._deadline = deadline
        timer = self._timer
        await workflow.wait_condition(lambda: changed() or (timer is not None and timer.done()))
        if timer is not None and timer.done():
            self._timer, self._deadline = None, None

    def _cancel(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer, self._deadline = None, None


async def _wait_with_timeout(changed: Callable[[], bool], wake_up: WakeUp | None) -> None:
    """The wait of runs recorded before: a timer started on each wait, cancelled if something
    changes first."""
    timeout = None if wake_up is None else wake_up.at - workflow.now()
    if timeout is not None and timeout.total_seconds() <= 0:
        return
    try:
        await workflow.wait_condition(
            changed,
            timeout=timeout,
            timeout_summary=wake_up.summary if wake_up is not None else None,
        )
    except TimeoutError:
        pass
