"""Asking a workflow for its state or sending it an action, and saying why it does not answer
when it does not.

A workflow whose task keeps failing (a bug, an input it cannot decode) or whose worker is gone
or stalled can neither answer a query nor take an update; Temporal then times the query out or
refuses it with a bare status, and an update waits for ever. The person is told the workflow
is not answering, and why when Temporal's records say; for an action, also that Temporal may
still hand it to the workflow later, so that it is checked before it is sent again (a second
send would be a second action).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, PendingWorkflowTaskState, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    GetWorkflowExecutionHistoryReverseRequest,
)
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from dealcycle.codec import PayloadDecryptionError
from starter.errors import CommandError, one_line

QUERY_TIMEOUT = timedelta(seconds=10)
"""A query answers in milliseconds when the workflow's worker is up; waiting longer than this
only delays the explanation."""
EXPLAIN_AFTER = timedelta(seconds=3)
"""Unanswered this long, Temporal's records are read: when they say why (a failing task, a
task queue no worker polls), that is the answer at once, not after ``QUERY_TIMEOUT``."""

UPDATE_PATIENCE = timedelta(seconds=30)
"""An action (update) is taken in well under a second when the workflow's worker is up; a
worker busy starting or catching up may take seconds. Past this, the person is told, not left
waiting on a silent command."""
MAY_STILL_LAND = (
    "Temporal may still hand it to the workflow once its worker takes the workflow's task:"
    " check with `dealcycle status {workflow_id}` before sending it again"
)

_NOT_ANSWERING = (
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.FAILED_PRECONDITION,
)
_RECENT_EVENTS = 50


async def query_workflow(client: Client, handle: WorkflowHandle[Any, Any], query: Any) -> Any:
    """``handle.query(query)``, or a ``CommandError`` saying why the workflow did not answer."""
    asking = asyncio.ensure_future(handle.query(query, rpc_timeout=QUERY_TIMEOUT))
    try:
        done, _ = await asyncio.wait({asking}, timeout=EXPLAIN_AFTER.total_seconds())
        if not done:
            early = await _why_not_answering(client, handle)
            if early is not None and not asking.done():
                raise CommandError(f"{handle.id} is not answering: {early}")
        return await asking
    except WorkflowQueryFailedError as err:
        reason = one_line(err.message)
    except RPCError as err:
        if err.status not in _NOT_ANSWERING:
            raise
        reason = await _why_not_answering(client, handle) or _plain(err)
    finally:
        asking.cancel()
    raise CommandError(f"{handle.id} is not answering: {reason}") from None


async def update_workflow(
    client: Client,
    handle: WorkflowHandle[Any, Any],
    update: Any,
    request: object,
    result_type: type | None = None,
) -> Any:
    """``handle.execute_update(update, request)``, or a ``CommandError`` saying the workflow
    has not taken it (and why, when Temporal's records say) once that is clear: at once when a
    reason is found after ``EXPLAIN_AFTER``, else after ``UPDATE_PATIENCE``. A rejection
    (``WorkflowUpdateFailedError``) is raised as it came, for the caller to word."""
    sending = asyncio.ensure_future(handle.execute_update(update, request, result_type=result_type))
    # Cancelled, the SDK ends the send with its own error: retrieved here, or asyncio prints it.
    sending.add_done_callback(lambda done: done.cancelled() or done.exception())
    try:
        done, _ = await asyncio.wait({sending}, timeout=EXPLAIN_AFTER.total_seconds())
        reason: str | None = None
        if not done:
            reason = await _why_not_answering(client, handle)
            if reason is None:
                left = UPDATE_PATIENCE - EXPLAIN_AFTER
                done, _ = await asyncio.wait({sending}, timeout=left.total_seconds())
        if sending.done():
            return sending.result()
        reason = reason or (
            f"it did not take the action within {UPDATE_PATIENCE.total_seconds():g} s"
            " (its worker is stalled or overloaded)"
        )
    except RPCError as err:
        if err.status not in _NOT_ANSWERING:
            raise
        reason = await _why_not_answering(client, handle) or one_line(err.message)
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        reason = await _why_not_answering(client, handle) or "the update timed out"
    finally:
        sending.cancel()
    later = MAY_STILL_LAND.format(workflow_id=handle.id)
    raise CommandError(f"{handle.id} is not answering: {reason}. {later}") from None


def _plain(err: RPCError) -> str:
    if err.status == RPCStatusCode.FAILED_PRECONDITION:
        return one_line(err.message)
    return f"the query timed out after {QUERY_TIMEOUT.total_seconds():g} s"


async def _why_not_answering(client: Client, handle: WorkflowHandle[Any, Any]) -> str | None:
    """From Temporal's records: a failing workflow task (with its first failure), or a task
    queue no worker polls. ``None`` when neither explains it."""
    try:
        description = await handle.describe()
        pending = description.raw_description.pending_workflow_task
        if pending.attempt > 1:
            failure = await _last_task_failure(client, handle.id)
            cause = f"; the failure: {failure}" if failure else ""
            return f"its workflow task has failed {pending.attempt - 1} times{cause}"
        if pending.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED:
            if not await _has_pollers(client, description.task_queue):
                return (
                    f"no worker polls its task queue {description.task_queue!r}"
                    " (is `dealcycle worker` running, with the same DEALCYCLE_TASK_QUEUE?)"
                )
    except RPCError:
        return None
    return None


async def _last_task_failure(client: Client, workflow_id: str) -> str | None:
    response = await client.workflow_service.get_workflow_execution_history_reverse(
        GetWorkflowExecutionHistoryReverseRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=workflow_id),
            maximum_page_size=_RECENT_EVENTS,
        )
    )
    for event in response.history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            # With the codec on, the message is encrypted in the failure's attributes.
            failure = event.workflow_task_failed_event_attributes.failure
            try:
                error = await client.data_converter.decode_failure(failure)
                message = error.message if isinstance(error, FailureError) else str(error)
            except PayloadDecryptionError as error:  # written with a key this client lacks
                message = f"{failure.message} ({error})"
            return one_line(message, 240)
    return None


async def _has_pollers(client: Client, task_queue: str) -> bool:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return bool(response.pollers)
