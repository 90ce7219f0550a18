"""A refused query keeps its message readable with the codec on.

With encoded failure attributes (``dealcycle.payloads``), a failure's message and stack trace
travel encrypted and the failure itself says only "Encoded failure". The client decodes them for
workflow, activity and update failures, but a query's refusal reaches it as a message alone (the
SDK core passes on no encoded attributes for queries): ``dealcycle status`` on a workflow that
did not start would say "Encoded failure" instead of why. A query's answer is never kept in a
history, so its refusal is sent plain: the message, without a stack trace.
"""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    HandleQueryInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)


class QueryRefused(ApplicationError):
    """A query handler's error, as the asking client receives it (see the module)."""


class QueryRefusals(Interceptor):
    """Turns every error of a query handler into a ``QueryRefused`` with the same message."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _QueryRefusalsInbound


class _QueryRefusalsInbound(WorkflowInboundInterceptor):
    async def handle_query(self, input: HandleQueryInput) -> Any:
        try:
            return await self.next.handle_query(input)
        except ApplicationError as error:
            raise QueryRefused(error.message, type=error.type) from None
        except Exception as error:
            raise QueryRefused(str(error), type=type(error).__name__) from None
