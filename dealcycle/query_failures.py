"""A refused query keeps its message readable with the codec on.

With encoded failure attributes (``dealcycle.payloads``), a failure's message and stack trace
travel encrypted and the failure itself says only "Encoded failure". The client decodes them for
workflow, activity and update failures, but a query's refusal reaches it as a message alone (the
SDK core passes on no encoded attributes for queries): ``dealcycle status`` on a workflow that
did not start would say "Encoded failure" instead of why. A query's answer is never kept in a
history, so its refusal is sent plain: the message, without a stack trace.
"""

from __future__ import annotations

from temporalio.exceptions import ApplicationError


class QueryRefused(ApplicationError):
    """A query handler's error, as the asking client receives it (see the module). The
    worker's ``QueryRefusals`` interceptor (``dealcycle.worker_interceptors``) raises it."""
