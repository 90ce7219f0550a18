"""A Tier 1 account-year stays within its history budget (issue 14): counted, not timed.

The year is ``bench.account_year_events``' (the bench prints the same figures against the
target): an established Tier 1 account with bi-weekly check-ins, its team doing what is asked
each month and at the renewal, which it then continues as new from.
"""

from __future__ import annotations

from typing import Any

from bench.account_year_events import EVENTS_CEILING, live_account_year, year_events


async def test_a_tier_1_account_year_keeps_its_timer_and_its_event_budget(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        histories = await live_account_year(
            harness.env, harness.task_queue, settings=harness.settings, salesforce=salesforce_fake
        )
    year = year_events(histories)
    # The year happened: two runs (renewed, continued as new), every effect done.
    assert year.runs == 2
    assert year.events["WORKFLOW_EXECUTION_UPDATE_COMPLETED"] >= 30
    assert year.events["ACTIVITY_TASK_COMPLETED"] == year.events["ACTIVITY_TASK_SCHEDULED"]
    # A timer is cancelled only when the next deadline moved (a step done earlier than its
    # reminder): never for an update, a signal or an effect that left the deadline where it
    # was (before: 147 timers cancelled in the year, 1,463 events).
    assert year.events["TIMER_CANCELED"] <= 12
    assert year.events["TIMER_STARTED"] <= year.events["TIMER_FIRED"] + 12
    assert year.total <= EVENTS_CEILING
