"""The worker's interceptors from ``dealcycle``: the log context of an activity, and a query's
refusal sent readable.

Kept apart from ``dealcycle.logging`` and ``dealcycle.query_failures`` because they subclass
the SDK's worker classes: a client (every CLI command but ``worker``) imports neither those
nor this module.
"""

from __future__ import annotations

from typing import Any

import structlog
import temporalio.activity
import temporalio.worker
from temporalio.exceptions import ApplicationError

from dealcycle.query_failures import QueryRefused


class ActivityLogContext(temporalio.worker.Interceptor):
    """Binds the running activity's workflow id, run id, name and attempt to every log line.

    structlog context variables follow the activity's task (and ``asyncio.to_thread``), so
    plain ``structlog`` loggers in activity code carry the same context as ``activity.logger``.
    """

    def intercept_activity(
        self, next: temporalio.worker.ActivityInboundInterceptor
    ) -> temporalio.worker.ActivityInboundInterceptor:
        return _ActivityLogContextInbound(next)


class _ActivityLogContextInbound(temporalio.worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: temporalio.worker.ExecuteActivityInput) -> Any:
        info = temporalio.activity.info()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
            activity=info.activity_type,
            attempt=info.attempt,
        )
        try:
            return await self.next.execute_activity(input)
        finally:
            structlog.contextvars.clear_contextvars()


class QueryRefusals(temporalio.worker.Interceptor):
    """Turns every error of a query handler into a ``QueryRefused`` with the same message
    (``dealcycle.query_failures`` says why)."""

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[temporalio.worker.WorkflowInboundInterceptor] | None:
        return _QueryRefusalsInbound


class _QueryRefusalsInbound(temporalio.worker.WorkflowInboundInterceptor):
    async def handle_query(self, input: temporalio.worker.HandleQueryInput) -> Any:
        try:
            return await self.next.handle_query(input)
        except ApplicationError as error:
            raise QueryRefused(error.message, type=error.type) from None
        except Exception as error:
            raise QueryRefused(str(error), type=type(error).__name__) from None
