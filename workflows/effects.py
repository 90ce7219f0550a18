"""How workflows ask for side effects: activities called by name, as owed work.

Workflows name activities only to call them; calling by name keeps the activity modules (and
the Salesforce, Slack and SQLAlchemy clients they import) out of the workflow sandbox, which
keeps workflow tasks light. ``tests/test_worker.py`` checks every name here is registered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from schemas.effects import (
        EffectKind,
        IssuedLicense,
        LicenseRequest,
        SalesforceFieldUpdate,
        SalesforceTaskRequest,
        SlackMessageUpdate,
        SlackPost,
        SlackPostResult,
    )
    from workflows import summaries
    from workflows.opportunity_lookup import LOOK_UP_OPPORTUNITY
    from workflows.owed_work import (
        NOTIFY_FAILED_EFFECT,
        SALESFORCE_FIELD_UPDATE,
        SALESFORCE_TASK_UPSERT,
        OwedWork,
    )
    from workflows.roster import LOOK_UP_ROSTER

POST_SLACK_MESSAGE = "post_slack_message"
UPDATE_SLACK_MESSAGE = "update_slack_message"
UPDATE_SALESFORCE_RECORD = SALESFORCE_FIELD_UPDATE
CREATE_SALESFORCE_TASK = SALESFORCE_TASK_UPSERT
ISSUE_LICENSE_KEY = "issue_license_key"
RECORD_TRIAL_OUTCOME = "record_trial_outcome"
HAND_OFF_CLOSED_DEAL = "hand_off_closed_deal"
HAND_OFF_CLOSED_DEALS = "hand_off_closed_deals"
POLL_CLOSED_WON = "poll_closed_won"
LOAD_INTAKE_WATERMARK = "load_intake_watermark"
SAVE_INTAKE_WATERMARK = "save_intake_watermark"
RECORD_ACCOUNT_PLAN = "record_account_plan"
RECORD_FEATURE_REQUEST = "record_feature_request"
OPEN_RED_ACCOUNT_CASE = "open_red_account_case"
UPDATE_RED_ACCOUNT_CASE = "update_red_account_case"
CLOSE_RED_ACCOUNT_CASE = "close_red_account_case"
GATHER_DAILY_DIGESTS = "gather_daily_digests"

ACTIVITY_NAMES = frozenset(
    {
        POST_SLACK_MESSAGE,
        UPDATE_SLACK_MESSAGE,
        UPDATE_SALESFORCE_RECORD,
        CREATE_SALESFORCE_TASK,
        ISSUE_LICENSE_KEY,
        RECORD_TRIAL_OUTCOME,
        HAND_OFF_CLOSED_DEAL,
        HAND_OFF_CLOSED_DEALS,
        POLL_CLOSED_WON,
        LOAD_INTAKE_WATERMARK,
        SAVE_INTAKE_WATERMARK,
        RECORD_ACCOUNT_PLAN,
        RECORD_FEATURE_REQUEST,
        OPEN_RED_ACCOUNT_CASE,
        UPDATE_RED_ACCOUNT_CASE,
        CLOSE_RED_ACCOUNT_CASE,
        GATHER_DAILY_DIGESTS,
        NOTIFY_FAILED_EFFECT,
        LOOK_UP_ROSTER,
        LOOK_UP_OPPORTUNITY,
    }
)

# The intake's own steps (a scheduled poll, not owed work): a poll that fails is the next
# poll's to repeat, so its retries are bounded.
INTAKE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
START_TO_CLOSE = timedelta(seconds=60)
INTAKE_BUDGET = timedelta(minutes=10)
T = TypeVar("T")


async def execute(name: str, argument: object, result_type: type[T], *, summary: str = "") -> T:
    result: T = await workflow.execute_activity(
        name,
        argument,
        result_type=result_type,
        summary=summary or name,
        start_to_close_timeout=START_TO_CLOSE,
        schedule_to_close_timeout=INTAKE_BUDGET,
        retry_policy=INTAKE_RETRY,
    )
    return result


# --- Owed work, by what it writes --------------------------------------------------------------


async def post_slack(
    fx: OwedWork,
    post: SlackPost,
    *,
    kind: EffectKind = EffectKind.ANNOUNCEMENT,
    then: Callable[[SlackPostResult | None], bool | None] | None = None,
) -> None:
    # One lane per channel (or person): posts to it keep their order, threads follow parents.
    await fx.owe(
        post.idempotency_key,
        kind,
        POST_SLACK_MESSAGE,
        post,
        lane=f"slack:{post.channel}",
        summary=summaries.slack_post(post, kind),
        result_type=SlackPostResult,
        then=then,
    )


async def update_slack_message(fx: OwedWork, update: SlackMessageUpdate) -> None:
    # Optional: a message deleted or a channel archived since leaves the old message, and the
    # workflow owes nothing more for it.
    await fx.owe(
        update.idempotency_key,
        EffectKind.MESSAGE_UPDATE,
        UPDATE_SLACK_MESSAGE,
        update,
        lane=f"slack:{update.channel}",
        summary=summaries.slack_update(update),
    )


async def update_salesforce(fx: OwedWork, update: SalesforceFieldUpdate) -> None:
    # One lane per record: a later stage never lands before an earlier one.
    await fx.owe(
        update.idempotency_key,
        EffectKind.SALESFORCE_SYNC,
        UPDATE_SALESFORCE_RECORD,
        update,
        lane=f"salesforce:{update.sobject}/{update.record_id}",
        summary=summaries.salesforce_update(update),
    )


async def create_salesforce_task(fx: OwedWork, task: SalesforceTaskRequest) -> None:
    await fx.owe(
        task.idempotency_key,
        EffectKind.SALESFORCE_SYNC,
        CREATE_SALESFORCE_TASK,
        task,
        lane=f"salesforce-task:{task.what_id}",
        summary=summaries.salesforce_task(task),
    )


class LicenseGrantLike(Protocol):
    """A trial's or an account's grant: what the issued key is written back to."""

    key_id: str | None
    expires_at: datetime


def _keep_issued(grant: LicenseGrantLike, issued: IssuedLicense | None) -> None:
    # A skipped key leaves "" so it is not owed again; the key's real expiry is the signer's.
    grant.key_id = issued.key_id if issued else ""
    if issued is not None:
        grant.expires_at = issued.expires_at


async def issue_license_key(fx: OwedWork, request: LicenseRequest, grant: LicenseGrantLike) -> None:
    """Owe the key; once issued, its id and real expiry are kept on ``grant``."""
    await fx.owe(
        request.idempotency_key,
        EffectKind.LICENSE,
        ISSUE_LICENSE_KEY,
        request,
        lane=f"license:{request.account_id}",
        summary=summaries.license_key(request),
        result_type=IssuedLicense,
        then=functools.partial(_keep_issued, grant),
    )


async def record(
    fx: OwedWork, activity: str, row: Any, summary: str, *, lane: str | None = None
) -> None:
    """A row in our own database (the activity names the table). Rows that must be written
    in order (a case's open, updates and close) share a ``lane``."""
    await fx.owe(
        row.idempotency_key,
        EffectKind.RECORD,
        activity,
        row,
        lane=lane or f"db:{activity}",
        summary=summary,
    )
