"""How workflows ask for side effects: activities called by name.

Workflows name activities only to call them; calling by name keeps the activity modules (and
the Salesforce, Slack and SQLAlchemy clients they import) out of the workflow sandbox, which
keeps workflow tasks light. ``tests/test_worker.py`` checks every name here is registered.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from schemas.effects import (
        AccountPlanRecord,
        FeatureRequestRecord,
        IssuedLicense,
        LicenseRequest,
        RecordResult,
        SalesforceFieldUpdate,
        SalesforceTaskRequest,
        SalesforceWriteResult,
        SlackPost,
        SlackPostResult,
        TrialOutcomeRecord,
    )
    from schemas.health import TrackerClose, TrackerOpen, TrackerUpdate

POST_SLACK_MESSAGE = "post_slack_message"
UPDATE_SALESFORCE_RECORD = "update_salesforce_record"
CREATE_SALESFORCE_TASK = "create_salesforce_task"
ISSUE_LICENSE_KEY = "issue_license_key"
RECORD_TRIAL_OUTCOME = "record_trial_outcome"
HAND_OFF_CLOSED_DEAL = "hand_off_closed_deal"
POLL_CLOSED_WON = "poll_closed_won"
LOAD_INTAKE_WATERMARK = "load_intake_watermark"
SAVE_INTAKE_WATERMARK = "save_intake_watermark"
RECORD_ACCOUNT_PLAN = "record_account_plan"
RECORD_FEATURE_REQUEST = "record_feature_request"
OPEN_RED_ACCOUNT_CASE = "open_red_account_case"
UPDATE_RED_ACCOUNT_CASE = "update_red_account_case"
CLOSE_RED_ACCOUNT_CASE = "close_red_account_case"

ACTIVITY_NAMES = frozenset(
    {
        POST_SLACK_MESSAGE,
        UPDATE_SALESFORCE_RECORD,
        CREATE_SALESFORCE_TASK,
        ISSUE_LICENSE_KEY,
        RECORD_TRIAL_OUTCOME,
        HAND_OFF_CLOSED_DEAL,
        POLL_CLOSED_WON,
        LOAD_INTAKE_WATERMARK,
        SAVE_INTAKE_WATERMARK,
        RECORD_ACCOUNT_PLAN,
        RECORD_FEATURE_REQUEST,
        OPEN_RED_ACCOUNT_CASE,
        UPDATE_RED_ACCOUNT_CASE,
        CLOSE_RED_ACCOUNT_CASE,
    }
)

# External services fail for minutes at a time; non-retryable errors (bad field, unknown
# channel, bad credentials) stop retries at once, everything else keeps trying.
EXTERNAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
START_TO_CLOSE = timedelta(seconds=60)
T = TypeVar("T")


async def execute(name: str, argument: object, result_type: type[T]) -> T:
    result: T = await workflow.execute_activity(
        name,
        argument,
        result_type=result_type,
        start_to_close_timeout=START_TO_CLOSE,
        retry_policy=EXTERNAL_RETRY,
    )
    return result


async def post_slack(post: SlackPost) -> SlackPostResult:
    return await execute(POST_SLACK_MESSAGE, post, SlackPostResult)


async def update_salesforce(update: SalesforceFieldUpdate) -> SalesforceWriteResult:
    return await execute(UPDATE_SALESFORCE_RECORD, update, SalesforceWriteResult)


async def create_salesforce_task(task: SalesforceTaskRequest) -> SalesforceWriteResult:
    return await execute(CREATE_SALESFORCE_TASK, task, SalesforceWriteResult)


async def issue_license_key(request: LicenseRequest) -> IssuedLicense:
    return await execute(ISSUE_LICENSE_KEY, request, IssuedLicense)


async def record_trial_outcome(record: TrialOutcomeRecord) -> RecordResult:
    return await execute(RECORD_TRIAL_OUTCOME, record, RecordResult)


async def record_account_plan(record: AccountPlanRecord) -> RecordResult:
    return await execute(RECORD_ACCOUNT_PLAN, record, RecordResult)


async def record_feature_request(record: FeatureRequestRecord) -> RecordResult:
    return await execute(RECORD_FEATURE_REQUEST, record, RecordResult)


async def open_red_account_case(row: TrackerOpen) -> RecordResult:
    return await execute(OPEN_RED_ACCOUNT_CASE, row, RecordResult)


async def update_red_account_case(update: TrackerUpdate) -> RecordResult:
    return await execute(UPDATE_RED_ACCOUNT_CASE, update, RecordResult)


async def close_red_account_case(close: TrackerClose) -> RecordResult:
    return await execute(CLOSE_RED_ACCOUNT_CASE, close, RecordResult)
