"""``UsageFeedWorkflow``: one run of the usage feed schedule.

Page by page (accounts in id order), an activity reads each account's rows newer than the
feed's mark for it from the analytics database; the workflow decides, with the health rules,
which accounts need readings (``usage_feed_rules``: a colour change, or none sent for
``staleness_days``); a second activity signals them (``health_signal``, one per input) and
moves every account's mark on in our database. A second run the same day finds no rows past
the marks and sends nothing. The signals go from the activity, not as workflow commands: a
warehouse of 10,000 accounts costs this history two activities a page, not 30,000 signals.

A failing read (the warehouse unreachable) is retried a few times, then fails the run; the
schedule's next run carries on from the marks.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from schemas import limits
    from schemas.usage_feed import (
        USAGE_FEED_WORKFLOW_TYPE,
        UsageDelivered,
        UsageDelivery,
        UsageFeedProgress,
        UsageFeedResult,
        UsageFeedRun,
        UsagePage,
        UsagePageRequest,
    )
    from workflows.usage_feed_rules import plan_page, totals_after

READ_USAGE_PAGE = "read_usage_page"
DELIVER_USAGE = "deliver_usage"
FEED_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=10),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=5,
)
"""A warehouse still down after five tries is the next scheduled run's to read."""


@workflow.defn(name=USAGE_FEED_WORKFLOW_TYPE)
class UsageFeedWorkflow:
    @workflow.run
    async def run(self, run: UsageFeedRun) -> UsageFeedResult:
        limits.check(run, workflow.now(), "cannot run the usage feed: ")
        if run.resume is not None:
            until, after, result = run.resume.until, run.resume.after_account, run.resume.result
        else:
            until, after = workflow.now().date().isoformat(), ""
            result = UsageFeedResult(until)
        since = (date.fromisoformat(until) - timedelta(days=run.lookback_days)).isoformat()
        attempt = timedelta(seconds=run.attempt_timeout_seconds)
        while True:
            page: UsagePage = await workflow.execute_activity(
                READ_USAGE_PAGE,
                UsagePageRequest(since, until, after, run.page_size),
                result_type=UsagePage,
                start_to_close_timeout=attempt,
                retry_policy=FEED_RETRY,
                summary=f"read usage {since}..{until}"
                + (f" after {after}" if after else "")
                + f", {run.page_size} accounts",
            )
            plan = plan_page(page.accounts, run.health, run.staleness_days)
            delivered = UsageDelivered()
            if plan.marks:
                delivered = await workflow.execute_activity(
                    DELIVER_USAGE,
                    UsageDelivery(plan.sends, plan.marks),
                    result_type=UsageDelivered,
                    start_to_close_timeout=attempt,
                    retry_policy=FEED_RETRY,
                    summary=f"send health readings to {len(plan.sends)} accounts",
                )
            result = totals_after(result, page, plan, delivered)
            if not page.next_after:
                return result
            after = page.next_after
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    replace(run, resume=UsageFeedProgress(until, after, result))
                )
