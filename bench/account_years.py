"""Three simulated years of a Tier 1 account, timed: the figure the account test does not assert.

``tests/test_account_workflow.py::test_three_years_of_a_tier_1_account`` lives three years of
one Tier 1 account (kickoff, onboarding, 12 quarters of plans and QBRs, monthly renewal
assessments, bi-weekly check-in briefs, two renewals and a seat expansion) and checks what it
wrote; its wall time is reported here instead. This runs the very same driver
(``tests.support.accounts.live_three_years``) the same way: the Java time-skipping test
server, a worker built by ``worker.build_activities`` / ``build_worker`` with the real
activities against the local Salesforce and Slack fakes (``dealcycle.fakes``, in this
process), and a temporary SQLite database.

Printed: the wall time of the three years (start to the last checkpoint, 20 days before the
third renewal), CPU time of this process (client, worker, activities and the fakes) and of the
test server, then every run of the account (it continues as new at each renewal and whenever
its history nears the configured limit) with its history length against the limit, and the
activities, updates and timers those histories hold. The result is checked (renewals, plans,
history under the limit) so a broken simulation is not reported as a fast one; the timings
are only printed.

    python -m bench.account_years                      # the test's limit, 1,000 events
    python -m bench.account_years --history-limit 8000 # the production default
    python -m bench.account_years --rounds 3           # each round on a fresh test server
    python -m bench.account_years --logs               # the worker's logs on stderr
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from bench.common import (
    Clock,
    MachineWatch,
    descendants,
    heading,
    run_main,
    time_skipping_env,
)
from dealcycle.fakes import SalesforceFake, SlackFake, ensure_tls_files
from dealcycle.logging import configure_logging
from dealcycle.settings import Settings
from schemas.account import AccountConfig, LifecycleStage
from tests.support.accounts import (
    HISTORY_LIMIT,
    TIER_1_ACCOUNT,
    live_three_years,
    run_histories,
    state,
)
from worker import WORKFLOWS, build_activities, build_worker


@dataclass
class Outcome:
    wall: float = 0.0
    cpu: float = 0.0
    server_cpu: float = 0.0
    checkpoints: int = 0
    handled: int = 0
    lengths: list[int] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)
    activities: Counter[str] = field(default_factory=Counter)
    salesforce_calls: int = 0
    slack_messages: int = 0


@contextlib.contextmanager
def fakes_and_settings(tmp: Path) -> Iterator[tuple[SalesforceFake, SlackFake, Settings]]:
    """The fakes (strict, as in the tests) and settings pointing at them and a fresh SQLite
    database; the license signing key is made in ``tmp`` on first use."""
    tls = ensure_tls_files(tmp / "tls")
    with SalesforceFake(tls) as salesforce, SlackFake() as slack:
        base = Settings.from_env({"DEALCYCLE_STATE_DIR": str(tmp / "state")})
        settings = replace(
            base,
            database_url=f"sqlite:///{tmp / 'dealcycle.db'}",
            salesforce=salesforce.settings(),
            slack=slack.settings(),
            task_queue=f"bench-account-years-{uuid.uuid4().hex[:8]}",
        )
        yield salesforce, slack, settings


def tally(outcome: Outcome, histories: list[WorkflowHistory]) -> None:
    outcome.lengths = [len(history.events) for history in histories]
    for history in histories:
        for event in history.events:
            outcome.events[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                attributes = event.activity_task_scheduled_event_attributes
                outcome.activities[attributes.activity_type.name] += 1


def check(outcome: Outcome, renewals_completed: int, plans: int, stage: str, limit: int) -> None:
    """The simulation did what the test says it does (else its wall time means nothing)."""
    problems = []
    if renewals_completed != 2:
        problems.append(f"{renewals_completed} renewals completed, expected 2")
    if plans != 12:
        problems.append(f"{plans} plans submitted, expected 12")
    if stage != LifecycleStage.RENEWAL.value:
        problems.append(f"stage {stage}, expected renewal")
    if max(outcome.lengths) >= limit:
        problems.append(f"a run's history reached the limit: {outcome.lengths} (limit {limit})")
    failed = outcome.events["ACTIVITY_TASK_FAILED"] + outcome.events["ACTIVITY_TASK_TIMED_OUT"]
    if failed:
        problems.append(f"{failed} activity attempts failed or timed out")
    if problems:
        raise RuntimeError("the three years went wrong: " + "; ".join(problems))


async def one_round(history_limit: int) -> Outcome:
    outcome = Outcome()
    with (
        tempfile.TemporaryDirectory(prefix="dealcycle-bench-account-years-") as tmp,
        fakes_and_settings(Path(tmp)) as (salesforce, slack, settings),
    ):
        async with time_skipping_env() as env:
            server_pids = descendants(os.getpid())
            activities = build_activities(settings)
            async with build_worker(env.client, settings, activities, workflows=WORKFLOWS):
                with Clock(server_pids) as clock:
                    years = await live_three_years(
                        env.client,
                        env,
                        settings.task_queue,
                        settings,
                        salesforce,
                        account_id=TIER_1_ACCOUNT,
                        history_limit=history_limit,
                    )
                outcome.wall, outcome.cpu, outcome.server_cpu = (
                    clock.wall,
                    clock.cpu,
                    clock.other_cpu,
                )
                outcome.checkpoints, outcome.handled = years.checkpoints, len(years.handled)
                view = await state(years.handle)
                tally(outcome, await run_histories(years.handle, env.client))
                # The third renewal is still open: stop the account before its worker goes.
                await years.handle.terminate("benchmark finished")
        outcome.salesforce_calls = len(salesforce.calls)
        outcome.slack_messages = len(slack.messages)
    check(outcome, view.renewals_completed, view.plans_submitted, view.stage.value, history_limit)
    return outcome


def report_round(number: int, outcome: Outcome, limit: int) -> None:
    o = outcome
    print(
        f"   round {number}: wall {o.wall:6.1f}s   CPU: this process (client, worker,"
        f" activities, fakes) {o.cpu:5.1f}s, test server {o.server_cpu:5.1f}s"
    )
    print(
        f"     {o.checkpoints} checkpoints ({o.wall / o.checkpoints:.2f}s each on average),"
        f" {o.handled} steps handled by the team"
    )
    threshold = limit * 9 // 10
    print(
        f"     {len(o.lengths)} runs (continue-as-new {len(o.lengths) - 1} times), history limit"
        f" {limit:,} events (continues as new from {threshold:,}):"
    )
    for index, length in enumerate(o.lengths, 1):
        last = "  (current run, still open)" if index == len(o.lengths) else ""
        print(f"       run {index:2}: {length:5} events, {length / limit:4.0%} of the limit{last}")
    executed = sum(o.activities.values())
    print(
        f"     {executed} activities scheduled ({o.events['ACTIVITY_TASK_COMPLETED']} completed):"
        f" {', '.join(f'{name} {count}' for name, count in sorted(o.activities.items()))}"
    )
    print(
        f"     {o.events['WORKFLOW_EXECUTION_UPDATE_ACCEPTED']} updates accepted,"
        f" {o.events['WORKFLOW_EXECUTION_SIGNALED']} signals, {o.events['TIMER_STARTED']} timers"
        f" started, {o.events['WORKFLOW_TASK_COMPLETED']} workflow tasks;"
        f" the fakes saw {o.salesforce_calls} Salesforce calls and {o.slack_messages} Slack"
        " messages"
    )


async def main_async(rounds: int, history_limit: int) -> None:
    heading(
        "Account years: three simulated years of a Tier 1 account, time-skipping test server,"
        f" {rounds} round(s)"
    )
    watch = MachineWatch()
    print(
        "   the driver of tests/test_account_workflow.py::test_three_years_of_a_tier_1_account;"
        " real activities against the Salesforce and Slack fakes, SQLite; each round on a"
        " fresh test server"
    )
    print(
        f"   history limit {history_limit:,} events per run"
        f" (the test's {HISTORY_LIMIT:,}; production default"
        f" {AccountConfig().history_event_limit:,})"
    )
    outcomes = []
    for number in range(1, rounds + 1):
        outcome = await one_round(history_limit)
        report_round(number, outcome, history_limit)
        outcomes.append(outcome)
    print()
    print(watch.report())
    walls = [outcome.wall for outcome in outcomes]
    spread = f" (min {min(walls):.1f}s, max {max(walls):.1f}s)" if len(walls) > 1 else ""
    last = outcomes[-1]
    print(
        f"   FIGURE three simulated years of a Tier 1 account: wall {statistics.median(walls):.1f}s"
        f"{'' if len(walls) == 1 else ' median'}{spread}; {len(last.lengths)} runs, longest"
        f" history {max(last.lengths)} of {history_limit:,} events;"
        f" {sum(last.activities.values())} activities"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.account_years",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="simulations, one after another (default 1)"
    )
    parser.add_argument(
        "--history-limit",
        type=int,
        default=HISTORY_LIMIT,
        help=f"history events per run (default {HISTORY_LIMIT}, the test's)",
    )
    parser.add_argument(
        "--logs", action="store_true", help="the worker's logs to stderr (default: discarded)"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    # Logged as the worker logs in production (info, JSON), so that cost is in the figure;
    # to stderr with --logs, else discarded (some 270 lines a round would bury the report).
    configure_logging("json", "info", sys.stderr if args.logs else open(os.devnull, "w"))
    run_main(main_async(args.rounds, args.history_limit))


if __name__ == "__main__":
    main()
