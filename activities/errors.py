"""How activities report failures to Temporal.

Every failure leaves an activity as an ``ApplicationError`` with a ``type`` naming the cause,
so retry policies and workflows can tell them apart, and ``non_retryable`` set for failures a
retry cannot fix (bad input, bad configuration). Messages name the cause (field, error code,
channel, setting) and never carry secrets.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.exceptions import ApplicationError

MAX_DETAIL = 500
"""Longest piece of a service's error text put into a message."""


def retryable(
    message: str, error_type: str, *, next_retry_delay: timedelta | None = None
) -> ApplicationError:
    return ApplicationError(
        message, type=error_type, non_retryable=False, next_retry_delay=next_retry_delay
    )


def non_retryable(message: str, error_type: str) -> ApplicationError:
    return ApplicationError(message, type=error_type, non_retryable=True)


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
