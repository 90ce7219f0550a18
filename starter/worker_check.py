"""``dealcycle worker --check``: is a worker on this host up and connected to Temporal?

The container's health check. It connects as the worker does (same profile, TLS, API key) and
asks the server who has polled the task queue lately: a poller whose identity ends with this
host's name (the SDK's identity is ``pid@hostname``; in a container the hostname is the
container's) proves the worker process runs and its connection works. Anything less (the
server unreachable, the credentials refused, no recent poll from this host) exits 1 saying so.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from dealcycle.settings import Settings
from starter.errors import CommandError

# A worker's long polls last about a minute each, and the server notes each one's start.
RECENT = timedelta(minutes=2)


async def recent_pollers(client: Client, task_queue: str, now: datetime) -> dict[str, datetime]:
    """Identity -> last poll, for workflow and activity pollers seen within ``RECENT``."""
    seen: dict[str, datetime] = {}
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=kind,
            )
        )
        for poller in response.pollers:
            last = poller.last_access_time.ToDatetime(tzinfo=UTC)
            if now - last <= RECENT:
                seen[poller.identity] = max(last, seen.get(poller.identity, last))
    return seen


async def check_worker(settings: Settings, host: str | None = None) -> str:
    """The line to print when a worker on ``host`` polls ``settings.task_queue``; else raise
    ``CommandError`` saying what is missing."""
    from dealcycle.connection import connect

    host = host or socket.gethostname()
    client = await connect(settings)
    pollers = await recent_pollers(client, settings.task_queue, datetime.now(UTC))
    mine = sorted(identity for identity in pollers if identity.endswith(f"@{host}"))
    if not mine:
        others = ", ".join(sorted(pollers)) or "none"
        raise CommandError(
            f"no worker on {host} has polled task queue {settings.task_queue!r} at"
            f" {settings.temporal_address} in the last {int(RECENT.total_seconds())}s"
            f" (recent pollers: {others})"
        )
    return (
        f"ok: worker {', '.join(mine)} polls {settings.task_queue!r} at"
        f" {settings.temporal_address} (namespace {settings.temporal_namespace})"
    )
