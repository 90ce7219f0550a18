"""Waiting on Temporal in tests on a busy machine: transient RPC errors asked again, and
``settle`` that waits until a workflow has really done what it owes.

Shared by the fixtures and by ``bench/``, so nothing here needs pytest.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.api.workflowservice.v1 import ListOpenWorkflowExecutionsRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

TRANSIENT_ATTEMPTS = 8
"""How often a test-helper RPC is tried before its transient error fails the test."""
LEAK_CHECK_AFTER = 3.0
"""How long a skip may stand still before the test server is asked whether anything holds its
clock (``patient_rpcs``)."""
SETTLE_TIMEOUT = 60.0
SETTLE_POLL = 0.02
SETTLE_QUIET_POLLS = 5
"""Settled takes this many unchanged polls in a row: 100 ms of quiet, long enough for what the
server does on its own after a task (a child started, a signal delivered); the short poll
notices sooner that a task or an activity has finished (settle is called hundreds of times)."""
WIND_DOWN_TIMEOUT = 15.0
"""How long a test's teardown waits for a workflow's tasks in flight before terminating it."""
BACKED_OFF_AFTER = timedelta(minutes=5)
"""An activity attempt that started longer ago than this on the test server's clock is taken
for one waiting out its retry back-off: the test server describes such an activity as started
(with its last attempt's start time). Were the attempt running and holding the clock, the
clock could not have skipped, so its age there would be the real time it has run (no attempt
in the suite runs for minutes); one that holds no lock leaks none when terminated. A back-off
shorter than this is waited for as a running attempt is."""


T = TypeVar("T")

_OPENS_TASK = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        # A failed or timed-out task is scheduled again.
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    }
)


def is_transient(error: BaseException) -> bool:
    """An RPC error a loaded machine produces and a second try cures: the server or the
    connection was too slow, not the request wrong."""
    if not isinstance(error, RPCError):
        return False
    text = str(error)
    return (
        error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)
        or (error.status == RPCStatusCode.INTERNAL and "h2 protocol error" in text)
        or "Timeout expired" in text
    )


async def retry_transient(call: Callable[[], Awaitable[T]]) -> T:
    """``await call()``, asked again (bounded, with a short back-off) on a transient error."""
    delay = 0.1
    for _ in range(TRANSIENT_ATTEMPTS - 1):
        try:
            return await call()
        except RPCError as error:
            if not is_transient(error):
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)
    return await call()


def patient_rpcs(env: WorkflowEnvironment) -> None:
    """``env.sleep`` and ``env.get_current_time`` that survive a busy machine.

    The Java test server answers a slow skip with "Timeout expired", and the connection
    sometimes breaks mid-call ("h2 protocol error"); the skip may or may not have happened,
    so the sleep is asked again for what remains up to the same moment, a bounded number of
    times, rather than failing the test.

    The test server also leaks a time-skipping lock now and then (seen after a parent
    completed while its child did, test_red_account_lifecycle): every later skip then stands
    still until the client gives up on it (30 s) and asks again, whose unlocking lets both go
    through (each locks again when its time comes: the count is as it was). A skip that stands
    still while nothing holds the clock (``_held_by_nobody``) is asked again at once instead.
    """
    sleep, current_time = env.sleep, env.get_current_time
    client = env.client

    async def now(handle: WorkflowHandle[Any, Any] | None = None) -> datetime:
        return await retry_transient(functools.partial(current_time, handle))

    async def sleep_until_there(duration: timedelta | float) -> None:
        delta = duration if isinstance(duration, timedelta) else timedelta(seconds=duration)
        target = await now() + delta
        for _ in range(TRANSIENT_ATTEMPTS - 1):
            remaining = target - await now()
            if remaining <= timedelta(0):
                return
            try:
                if await skip(remaining):
                    return
                continue
            except RPCError as error:
                if not is_transient(error):
                    raise
            await asyncio.sleep(0.2)
        await sleep(max(target - await now(), timedelta(0)))

    async def skip(remaining: timedelta) -> bool:
        """Whether the skip got there; not when it stood still with nothing holding the clock
        (a leaked lock): then it is asked again, as after the client's timeout."""
        started, loop = await now(), asyncio.get_running_loop()
        began = loop.time()
        skipping = asyncio.ensure_future(sleep(remaining))
        try:
            done, _ = await asyncio.wait({skipping}, timeout=LEAK_CHECK_AFTER)
            if not done:
                stood_still = await now() - started <= timedelta(seconds=loop.time() - began + 1)
                if stood_still and not skipping.done() and await _held_by_nobody(client):
                    return False
            await skipping
            return True
        finally:
            skipping.cancel()

    env.sleep = sleep_until_there  # type: ignore[method-assign]
    env.get_current_time = now  # type: ignore[method-assign]


async def _held_by_nobody(client: Client) -> bool:
    """Whether no open workflow of the test server has a task in flight (no activity pending,
    no workflow task open), so that nothing may hold its clock: a lock it still counts was
    leaked. Any doubt (more workflows than one page) answers no."""
    request = ListOpenWorkflowExecutionsRequest(namespace=client.namespace, maximum_page_size=1000)
    listed = await retry_transient(
        functools.partial(client.workflow_service.list_open_workflow_executions, request)
    )
    if listed.next_page_token:
        return False
    for execution in listed.executions:
        handle = client.get_workflow_handle(
            execution.execution.workflow_id, run_id=execution.execution.run_id
        )
        description = await retry_transient(handle.describe)
        if description.status != WorkflowExecutionStatus.RUNNING:
            continue
        if description.raw_description.pending_activities:
            return False
        history = await retry_transient(handle.fetch_history)
        if open_workflow_task(history.events):
            return False
    return True


def open_workflow_task(events: Sequence[HistoryEvent]) -> bool:
    """Whether the history ends with a workflow task scheduled, started, failed or timed out
    and not yet completed."""
    open_task = False
    for event in events:
        if event.event_type in _OPENS_TASK:
            open_task = True
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            open_task = False
    return open_task


async def settle(handle: WorkflowHandle[Any, Any], within: float = SETTLE_TIMEOUT) -> None:
    """Wait until the workflow has done what it owes, or fail saying what it still does.

    Settled: closed, or its history length unchanged for a few polls with no activity pending
    and no workflow task open in the history. The Java test server never fills in the
    pending-workflow-task field of a description, so the history is the witness.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last, quiet = -1, 0
    why = "nothing polled yet"
    while True:
        description = await retry_transient(handle.describe)
        if description.status != WorkflowExecutionStatus.RUNNING:
            return
        raw = description.raw_description
        length = raw.workflow_execution_info.history_length
        pending = [activity.activity_type.name for activity in raw.pending_activities]
        if pending or raw.HasField("pending_workflow_task"):
            quiet, why = 0, f"activities pending: {pending or 'none'}, or a workflow task"
        elif length != last:
            quiet, why = 0, f"history still growing ({last} -> {length} events)"
        else:
            quiet += 1
        last = length
        if quiet >= SETTLE_QUIET_POLLS:
            history = await retry_transient(handle.fetch_history)
            if not open_workflow_task(history.events):
                return
            quiet, why = 0, f"a workflow task is open after event {len(history.events)}"
        if loop.time() > deadline:
            raise AssertionError(f"{handle.id} did not settle within {within:g} s: {why}")
        await asyncio.sleep(SETTLE_POLL)


async def wind_down(
    handle: WorkflowHandle[Any, Any],
    within: float = WIND_DOWN_TIMEOUT,
    clock: Callable[[], Awaitable[datetime]] | None = None,
) -> None:
    """Wait (at most ``within`` seconds, then give up quietly) until no task of the workflow is
    in flight: no activity running or about to be handed to the worker, no workflow task open.

    Call it before terminating a workflow whose worker still runs. The Java test server locks
    time skipping while an activity or workflow task is outstanding, and a workflow terminated
    meanwhile never releases that lock: the next test's ``env.sleep`` then passes in real time
    until the activity's timeout fires on that real-time clock (30 to 150 s were measured). An
    activity waiting out a retry back-off holds no lock and is not waited for; ``clock`` (the
    test server's time) tells one apart, since the test server describes it as started
    (``BACKED_OFF_AFTER``). Without it such an activity is waited for until ``within``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        description = await retry_transient(handle.describe)
        if description.status != WorkflowExecutionStatus.RUNNING:
            return
        pending = description.raw_description.pending_activities
        now = await clock() if clock is not None and pending else None
        in_flight = [activity for activity in pending if _in_flight(activity, now)]
        if not in_flight:
            history = await retry_transient(handle.fetch_history)
            if not open_workflow_task(history.events):
                return
        await asyncio.sleep(SETTLE_POLL)


def _in_flight(activity: PendingActivityInfo, now: datetime | None) -> bool:
    """Whether the activity is running or about to be handed to the worker (``wind_down``)."""
    if activity.attempt <= 1:
        return True
    if activity.state != PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
        return False
    if now is None or not activity.HasField("last_started_time"):
        return True
    started = activity.last_started_time.ToDatetime(tzinfo=UTC)
    return now - started < BACKED_OFF_AFTER
