"""The usage feed's Temporal Schedule on the dev server (the test server has no schedules): made
and updated by `dealcycle usage-feed schedule`, its run reads the analytics database, and
`status` shows the schedule, its runs and the accounts' marks."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session
from temporalio.client import (
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    WorkflowExecutionStatus,
)

from dealcycle.db.engine import make_engine
from dealcycle.db.migrate import upgrade_to_head
from dealcycle.db.models import UsageFeedMark
from dealcycle.settings import Settings
from dealcycle.usage_feed_settings import UsageFeedSettings
from schemas.usage_feed import USAGE_FEED_SCHEDULE_ID, UsageFeedResult
from starter.usage_feed import (
    analytics_line,
    ensure_usage_feed_schedule,
    render_marks,
    render_usage_feed_result,
    schedule_status,
    stored_marks,
    with_demo_usage_feed,
)
from tests.support.dev_temporal import dev_client, dev_harness_factory
from tests.test_usage_feed import seed

__all__ = ["dev_client", "dev_harness_factory"]


async def test_the_schedule_runs_the_feed_and_status_shows_it(
    dev_harness_factory: Any, dev_client: Any, tmp_path: Path
) -> None:
    analytics = f"sqlite:///{tmp_path / 'analytics.db'}"
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    engine = make_engine(analytics)
    seed(engine, [("001GHOST", yesterday, 80, 80, 80), ("001BAD", yesterday, -5, 80, 80)])
    engine.dispose()
    feed = UsageFeedSettings(url=analytics, interval_seconds=6 * 3600, staleness_days=3)
    async with dev_harness_factory(usage_feed=feed) as harness:
        assert "created" in await ensure_usage_feed_schedule(dev_client, harness.settings)
        handle = dev_client.get_schedule_handle(USAGE_FEED_SCHEDULE_ID)
        try:
            await handle.trigger()
            run_id = ""
            for _ in range(600):
                actions = (await handle.describe()).info.recent_actions
                if actions:
                    run_id = actions[-1].action.workflow_id  # type: ignore[attr-defined]
                    break
                await asyncio.sleep(0.1)
            run = dev_client.get_workflow_handle(run_id, result_type=UsageFeedResult)
            result = await run.result()
            assert (await run.describe()).status is WorkflowExecutionStatus.COMPLETED
            assert (result.unknown_accounts, result.rows_out_of_bounds) == (1, 1)
            assert "1 rows dropped" in render_usage_feed_result(result)

            status = await schedule_status(dev_client, harness.settings)
            assert f"Schedule {USAGE_FEED_SCHEDULE_ID}: running, every 6:00:00" in status
            assert "  analytics database: set (DEALCYCLE_USAGE_FEED_URL)" in status.splitlines()
            assert f"ran {datetime.now(UTC):%Y-%m-%d}" in status and run_id in status

            slower = replace(harness.settings, usage_feed=replace(feed, interval_seconds=86_400))
            assert "updated" in await ensure_usage_feed_schedule(dev_client, slower)
            described = await handle.describe()
            assert described.schedule.spec.intervals[0].every == timedelta(days=1)
            assert described.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
            action = described.schedule.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert action.workflow == "UsageFeedWorkflow"
        finally:
            await handle.delete()
    assert "No usage feed schedule" in await schedule_status(dev_client, harness.settings)


def test_status_names_the_demo_analytics_that_make_runs_worker_reads(tmp_path: Path) -> None:
    unset = Settings.from_env({"DEALCYCLE_STATE_DIR": str(tmp_path / "state")})
    unset.state_dir.mkdir()
    assert analytics_line(unset) == (
        "  analytics database: not set (DEALCYCLE_USAGE_FEED_URL): each run fails at once saying so"
    )

    # What `make run` gives its worker when the setting is unset: run-now reads this URL.
    worker = with_demo_usage_feed(unset)
    demo = worker.usage_feed.url.removeprefix("sqlite:///")

    assert Path(demo).exists()
    assert analytics_line(unset) == (
        "  analytics database: not set (DEALCYCLE_USAGE_FEED_URL); `make run`'s worker reads"
        f" its demo analytics at {demo}, any other worker's runs fail saying so"
    )
    assert analytics_line(worker) == "  analytics database: set (DEALCYCLE_USAGE_FEED_URL)"


def test_status_lists_what_the_feed_last_sent_each_account(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dealcycle.db'}"
    assert render_marks(*stored_marks(url)) == "No account has been read by the usage feed yet."
    upgrade_to_head(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        session.add(
            UsageFeedMark(
                account_id="001ACME",
                last_day="2027-03-08",
                readings={"usage": 82.0, "adoption": 79.0},
                signalled_day="2027-03-02",
                signals=4,
                updated_at=datetime.now(UTC),
            )
        )
    engine.dispose()

    shown = render_marks(*stored_marks(url))

    assert shown.splitlines()[0] == "Accounts read by the usage feed (1; latest 1):"
    assert "001ACME" in shown and "read to 2027-03-08" in shown
    assert "last sent 2027-03-02: adoption 79, usage 82  (4 signals in all)" in shown
