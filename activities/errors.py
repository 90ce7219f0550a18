"""How activities report failures to Temporal.

Every failure leaves an activity as an ``ApplicationError`` with a ``type`` naming the cause,
so retry policies and workflows can tell them apart, and ``non_retryable`` set for failures a
retry cannot fix (bad input, bad configuration). Messages put the reason first, name the
cause (field, error code, channel, setting) and never carry secrets.

Temporal replaces a failure whose message and cause chain exceed 4 KB with "Failure exceeds
size limit", losing the reason. So messages are clipped to ``MAX_MESSAGE`` characters, the
errors are raised ``from None`` (a client library's exception chain, with the whole HTTP body
in its text, never rides along), and ``FailureSizeGuard`` does the same for anything else an
activity lets escape.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import temporalio.worker
from temporalio.exceptions import ApplicationError, TemporalError

MAX_DETAIL = 500
"""Longest piece of a service's error text put into a message."""
MAX_MESSAGE = 1000
"""Longest message of a failure an activity raises (Temporal's limit is 4 KB in all)."""


def retryable(
    message: str, error_type: str, *, next_retry_delay: timedelta | None = None
) -> ApplicationError:
    return ApplicationError(
        clip(message, MAX_MESSAGE),
        type=error_type,
        non_retryable=False,
        next_retry_delay=next_retry_delay,
    )


def non_retryable(message: str, error_type: str) -> ApplicationError:
    return ApplicationError(clip(message, MAX_MESSAGE), type=error_type, non_retryable=True)


def exponential_delay(attempt: int, base: timedelta, cap: timedelta) -> timedelta:
    """``base * 2**(attempt-1)``, at most ``cap``; ``attempt`` counts from 1."""
    exponent = max(0, attempt - 1)
    # Cap the exponent first: the delay is capped anyway and 2**large overflows timedelta.
    if exponent > 40:
        return cap
    return min(cap, base * (1 << exponent))


def clip(text: str, limit: int = MAX_DETAIL) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bounded(error: BaseException) -> BaseException:
    """``error`` as a failure that fits Temporal's limit: short message, no cause chain."""
    if isinstance(error, ApplicationError):
        if len(error.message) <= MAX_MESSAGE and error.__cause__ is None:
            return error
        return ApplicationError(
            clip(error.message, MAX_MESSAGE),
            *error.details,
            type=error.type,
            non_retryable=error.non_retryable,
            next_retry_delay=error.next_retry_delay,
            category=error.category,
        )
    if isinstance(error, TemporalError) or not isinstance(error, Exception):
        return error  # cancellation and the SDK's own signals pass untouched
    # What Temporal would make of it (retryable, typed by the class), minus the chain.
    return ApplicationError(
        clip(f"{type(error).__name__}: {error}", MAX_MESSAGE), type=type(error).__name__
    )


class FailureSizeGuard(temporalio.worker.Interceptor):
    """Passes every activity failure through ``bounded``."""

    def intercept_activity(
        self, next: temporalio.worker.ActivityInboundInterceptor
    ) -> temporalio.worker.ActivityInboundInterceptor:
        return _FailureSizeGuardInbound(next)


class _FailureSizeGuardInbound(temporalio.worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: temporalio.worker.ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except Exception as error:
            replacement = bounded(error)
            if replacement is error:
                raise
            raise replacement from None
