"""Short effects tried once inside the workflow task, then handed to a durable activity.

An activity costs its workflow six history events (scheduled, started, completed, and the
workflow task its completion wakes); a local activity that succeeds costs one marker, recorded
with the workflow task that owed it. A Slack post or edit is the lone effect of most of an
account's wake-ups (a check-in brief, a step announced, a prompt marked done after an update):
over a Tier 1 account-year that is about 100 of its 124 effects and 500 of its events.

Only the first attempt runs locally (``maximum_attempts=1``). If it fails, the effect runs as
before, an activity with its kind's retry policy and what is left of its budget, so an outage
is waited out by the server (no timer, no workflow task per retry) and ends the way it did
(expired, or failed; a non-retryable error on its first attempt). The idempotency key is the
same either way: the write happens once.

Runs recorded before (``LOCAL_FIRST_PATCH``) run every effect as an activity.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from schemas.effects import Effect, EffectKind

LOCAL_FIRST_PATCH = "short-effects-tried-once-in-the-workflow-task"
LOCAL_FIRST_KINDS = frozenset(
    {EffectKind.REMINDER, EffectKind.ANNOUNCEMENT, EffectKind.MESSAGE_UPDATE}
)
"""Slack posts and edits: one call each, idempotent by its key (a post, through the ledger)
or by nature (``chat.update``). Salesforce, licenses and records stay activities."""
ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)


async def run_local_first(
    effect: Effect,
    argument: object,
    result_type: type | None,
    *,
    attempt: timedelta,
    budget: timedelta,
    retry_policy: RetryPolicy,
) -> Any:
    """The effect's result: from one local attempt, else from the durable activity."""
    started = workflow.now()
    summary = effect.summary or effect.name
    try:
        return await workflow.execute_local_activity(
            effect.activity,
            argument,
            result_type=result_type,
            start_to_close_timeout=attempt,
            retry_policy=ONE_ATTEMPT,
            summary=summary,
        )
    except CancelledError:
        raise
    except FailureError:
        # A local activity's failure comes as it was raised (not as an ActivityError); the
        # durable activity below fails the way the effect always did, a non-retryable error
        # on its first attempt.
        pass
    # What is left of the budget, never less than one attempt's time.
    left = max(budget - (workflow.now() - started), attempt)
    return await workflow.execute_activity(
        effect.activity,
        argument,
        result_type=result_type,
        start_to_close_timeout=attempt,
        schedule_to_close_timeout=left,
        retry_policy=retry_policy,
        summary=summary,
    )
