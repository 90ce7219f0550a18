"""History events and bytes of one Tier 1 account-year, against the target (issue 14).

One established Tier 1 account (``bench.year_of_accounts``' first variant: adoption, complete
profile, bi-weekly check-ins, renewal 351 days out) lives one simulated year on the Java
time-skipping test server, its team doing what is asked the day after each month starts and
the day after the renewal window opens (the plans, the QBRs, the renewal assessments, the
call and the outcome, renewed; the account then continues as new). Optionally a health feed
sends readings every day. Every run's history is then counted: events by type, bytes.

Target: at most ``EVENTS_PER_ACCOUNT_YEAR`` history events per account-year, also with the
daily usage feed's health signals (``HEALTH_FEED_HEADROOM`` added), and history bytes not
above the figure measured before events were cut (``BYTES_PER_ACCOUNT_YEAR``).

``live_account_year`` and ``year_events`` are the measure, reusable by a larger bench and by
``tests/test_account_year_events.py``; this module's ``main`` prints the histogram.

    python -m bench.account_year_events
    python -m bench.account_year_events --health-readings-per-day 1
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from bench.account_years import fakes_and_settings
from bench.common import heading, run_main, target_line, time_skipping_env
from bench.year_of_accounts import (
    YEAR,
    account_start,
    asked,
    checkpoints,
    move_to_anchor,
    skip_to,
)
from dealcycle.fakes import SalesforceFake
from dealcycle.settings import Settings
from schemas.account import account_workflow_id
from schemas.health import HEALTH_SIGNAL, HealthSignal
from tests.support.accounts import run_histories
from tests.support.patience import settle
from worker import WORKFLOWS, build_activities, build_worker
from workflows.account import AccountWorkflow

EVENTS_PER_ACCOUNT_YEAR = 1_000
"""Issue 14's target, daily health feed included."""
HEALTH_FEED_HEADROOM = 60 * 4
"""Left under the target for the daily usage feed: up to 60 health signals a year reach an
account once readings are coalesced, about four events each (signalled, a workflow task)."""
BYTES_PER_ACCOUNT_YEAR = 284_000
"""History bytes of this account-year before its events were cut (283,642 measured on
7502c30 with this module; 1,463 events then): the cut must not make histories heavier."""
WORKFLOW_TASK_EVENTS = (
    "WORKFLOW_TASK_SCHEDULED",
    "WORKFLOW_TASK_STARTED",
    "WORKFLOW_TASK_COMPLETED",
)


@dataclass(frozen=True)
class YearEvents:
    """One account-year's histories, counted."""

    events: Counter[str]
    """Events by type (``EVENT_TYPE_`` dropped)."""
    total: int
    size: int
    """Bytes of every event of every run."""
    runs: int

    @property
    def workflow_task_events(self) -> int:
        return sum(self.events[name] for name in WORKFLOW_TASK_EVENTS)


def year_events(histories: Sequence[WorkflowHistory]) -> YearEvents:
    events: Counter[str] = Counter()
    size = 0
    for history in histories:
        for event in history.events:
            events[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
            size += event.ByteSize()
    return YearEvents(events, sum(events.values()), size, len(histories))


async def _team_looks(handle: WorkflowHandle[Any, Any]) -> None:
    await settle(handle)
    view = await handle.query(AccountWorkflow.state)
    for name, request in asked(view):
        await handle.execute_update(name, request)
        await settle(handle)


async def live_account_year(
    env: WorkflowEnvironment,
    task_queue: str,
    *,
    settings: Settings,
    salesforce: SalesforceFake,
    variant: int = 0,
    health_readings_per_day: int = 0,
) -> list[WorkflowHistory]:
    """Live one Tier 1 account-year on ``env`` (a worker running ``AccountWorkflow`` with
    ``settings`` polls ``task_queue``) and return the histories of its runs, first to current.

    Its record is added to the ``salesforce`` fake first; the account is terminated at the
    end (the test server's clock is shared)."""
    client: Client = env.client
    anchor = await move_to_anchor(env)
    account_id = f"001EVENTS{uuid.uuid4().hex[:8].upper()}"
    start = account_start(account_id, anchor, variant)
    salesforce.add_record("Account", {"Id": account_id, "Name": start.account_name})
    started = await client.start_workflow(
        AccountWorkflow.run,
        replace(start, config=settings.account_config()),
        id=account_workflow_id(account_id),
        task_queue=task_queue,
    )
    handle = client.get_workflow_handle(started.id, first_execution_run_id=started.result_run_id)
    try:
        await settle(handle)
        looks = checkpoints(anchor)
        # Without a feed the clock jumps from one look to the next; with one, day by day.
        days = (
            [anchor + timedelta(days=n) for n in range(1, 365)] if health_readings_per_day else []
        )
        for moment in sorted([*looks, *days]):
            await skip_to(env, moment)
            if moment in looks:
                await _team_looks(handle)
                continue
            for reading in range(health_readings_per_day):
                await handle.signal(HEALTH_SIGNAL, _reading(reading))
            await settle(handle)
        await skip_to(env, anchor + YEAR)
        await settle(handle)
        return await run_histories(handle, client)
    finally:
        await handle.terminate("account-year measured")


def _reading(number: int) -> HealthSignal:
    return HealthSignal("usage", 80.0 + number, source="usage-feed")


def report(year: YearEvents, target: int = EVENTS_PER_ACCOUNT_YEAR) -> list[str]:
    """The histogram and the two target lines."""
    lines = [
        f"   {year.total} events in {year.runs} run(s), {year.size:,} bytes;"
        f" workflow-task events {year.workflow_task_events}"
    ]
    for name, count in year.events.most_common():
        lines.append(f"     {count:5}  {name}")
    lines.append(
        target_line("history events per Tier 1 account-year", year.total, target, unit=" events")
    )
    lines.append(
        target_line(
            f"the same with the usage feed's {HEALTH_FEED_HEADROOM} events of health signals",
            year.total + HEALTH_FEED_HEADROOM,
            target,
            unit=" events",
        )
    )
    lines.append(
        target_line(
            "history bytes per Tier 1 account-year (not above before the cut)",
            year.size,
            BYTES_PER_ACCOUNT_YEAR,
            unit=" B",
        )
    )
    return lines


async def main_async(health_readings_per_day: int) -> None:
    heading("History events per Tier 1 account-year, time-skipping test server")
    print(
        "   real activities against the Salesforce and Slack fakes (as the tests run them),"
        f" health readings per day: {health_readings_per_day}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="dealcycle-bench-year-events-") as tmp,
        fakes_and_settings(Path(tmp)) as (salesforce, _, settings),
    ):
        async with time_skipping_env() as env:
            activities = build_activities(settings)
            async with build_worker(env.client, settings, activities, workflows=WORKFLOWS):
                histories = await live_account_year(
                    env,
                    settings.task_queue,
                    settings=settings,
                    salesforce=salesforce,
                    health_readings_per_day=health_readings_per_day,
                )
    for line in report(year_events(histories)):
        print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.account_year_events", description=__doc__
    )
    parser.add_argument("--health-readings-per-day", type=int, default=0)
    args = parser.parse_args(argv)
    run_main(main_async(args.health_readings_per_day))


if __name__ == "__main__":
    main()
