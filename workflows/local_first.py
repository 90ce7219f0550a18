"""Short effects tried once inside the workflow task, then handed to a durable activity.

An activity costs its workflow six history events (scheduled, started, completed, and the
workflow task its completion wakes); a local activity that succeeds costs one marker, recorded
with the workflow task that owed it. A Slack post or edit is the lone effect of most of an
account's wake-ups (a check-in brief, a step announced, a prompt marked done after an update):
over a Tier 1 account-year that is about 100 of its 124 effects and 500 of its events.

Only the first attempt runs locally (``maximum_attempts=1``). A refusal no retry would mend
(non-retryable) fails the effect at once, as it did on an activity's first attempt. Any other
failure hands the effect to the activity it always was, with its kind's retry policy and what
is left of its budget, so an outage is waited out by the server (no timer, no workflow task
per retry) and ends the way it did (expired, or failed). The idempotency key is the same
either way: the write happens once.

Runs recorded before (``LOCAL_FIRST_PATCH``) run every effect as an activity.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    FailureError,
    RetryState,
)

with workflow.unsafe.imports_passed_through():
    from schemas.effects import Effect, EffectKind

LOCAL_FIRST_PATCH = "short-effects-tried-once-in-the-workflow-task"
LOCAL_FIRST_KINDS = frozenset(
    {EffectKind.REMINDER, EffectKind.ANNOUNCEMENT, EffectKind.MESSAGE_UPDATE}
)
"""Slack posts and edits: one call each, idempotent by its key (a post, through the ledger)
or by nature (``chat.update``). Salesforce, licenses and records stay activities."""
ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)


def _refused(error: BaseException | None) -> bool:
    """A failure no retry would mend (an archived channel, revoked credentials): the effect
    fails at once, as on an activity's first attempt."""
    return isinstance(error, ApplicationError) and error.non_retryable


def _as_activity_error(effect: Effect, cause: ApplicationError) -> ActivityError:
    """The refusal as an activity's failure, which the owed work turns into a failed effect
    (its cause in the effect, the operations notice) exactly as before."""
    err = ActivityError(
        f"{effect.activity} refused",
        scheduled_event_id=0,
        started_event_id=0,
        identity="",
        activity_type=effect.activity,
        activity_id="",
        retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )
    err.__cause__ = cause
    return err


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
    except ActivityError as err:
        if _refused(err.cause):
            raise
    except ApplicationError as err:
        # A local activity's failure comes as it was raised, not as an ActivityError.
        if _refused(err):
            raise _as_activity_error(effect, err) from err
    except FailureError:
        pass  # a timeout, say: the activity tries again
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
