"""A simulated year against bare Temporal workflows, on the time-skipping test server.

Target: a simulated year of 1,000 accounts costs at most 1.3x bare Temporal workflows with the
same timers and activities (wall time and CPU time).

Accounts (the headline, ``--accounts``; ``bench.year_of_accounts`` says how in detail): N
``AccountWorkflow``s (Tier 1, brought in at adoption with a complete profile, bi-weekly
check-ins, renewal 351 to 379 days out) live one simulated year: 12 months of check-in briefs,
monthly renewal assessments, four quarterly plans and QBRs, the renewal window and a renewal
(continue-as-new), the team acting on every open step the day after it opens (36 updates,
88 activity calls, 39 timers fired per account). The baseline, ``BareAccountWorkflow``, makes
the same activity calls, upserts, timer wake-ups and continue-as-new, replayed from a script
recorded from a real account, and gets the same updates at the same moments.

Trials (the stand-in before the account lifecycle existed, ``--trials``, 0 to skip): a year's
worth of trials runs concurrently, each the way tests/test_trial_workflow.py drives one: the
eight planning items completed by updates (the trial starts), technical win set to in
progress; 16 days skip (the midpoint check-in is prompted); the check-in is completed, the
trial extended by 14 days and the technical win set to won; then every result is awaited,
which skips time to each trial's end (day 44) and its outcome. 12 updates and 15 activity
calls per trial. The baseline, ``bench.bare_trial_workflow.BareTrialWorkflow``, gets the same
updates and makes the same activity calls, search attribute upserts and durable waits.

Both: all activities stubbed in memory; one in-process worker per run (sandboxed, as in
production); CPU time is this process's (client and worker) plus the Java test server's,
measured separately. Each measured run gets a fresh test server (it keeps every workflow in
memory and slows as they pile up), warmed up first with a few untimed workflows. Each
workflow gets its next update only once the effects of the previous one are done (see
``bench.common.settled``: a test server limitation, not dealcycle's). ``--rounds 2`` runs
bare, ours, ours, bare so that drift over the process's life cancels out.

    python -m bench.simulated_year --accounts 1000 --trials 0   # the target's size: 30+ min
    python -m bench.simulated_year --accounts 100 --trials 200 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from bench import year_of_accounts as accounts
from bench.bare_trial_workflow import BareTrialWorkflow
from bench.common import (
    AE,
    CALLS,
    CE,
    Clock,
    MachineWatch,
    Outcome,
    bench_worker,
    bounded,
    descendants,
    heading,
    planning_updates,
    run_main,
    settled,
    skip_time,
    tally,
    target_line,
    task_queue,
    time_skipping_env,
    trial_input,
)
from bench.payloads import BareTrialInput, BareTrialResult
from schemas.common import Role, TechnicalWinStatus
from schemas.trial import (
    MID_TRIAL_CHECK_IN,
    CompleteStep,
    ExtendTrial,
    SetTechnicalWin,
    TrialOutcome,
    TrialResult,
)
from workflows.trial import TrialWorkflow

TARGET_RATIO = 1.3
DAY = timedelta(days=1)
UPDATES_PER_TRIAL = 12
ACTIVITIES_PER_TRIAL = 15


@dataclass
class Kind:
    name: str
    workflow: type
    run: Any
    complete_step: Any
    extend_trial: Any
    set_technical_win: Any


TRIAL = Kind(
    "trial",
    TrialWorkflow,
    TrialWorkflow.run,
    TrialWorkflow.complete_step,
    TrialWorkflow.extend_trial,
    TrialWorkflow.set_technical_win,
)
BARE = Kind(
    "bare",
    BareTrialWorkflow,
    BareTrialWorkflow.run,
    BareTrialWorkflow.complete_step,
    BareTrialWorkflow.extend_trial,
    BareTrialWorkflow.set_technical_win,
)


def _input(kind: Kind, key: str) -> Any:
    if kind is TRIAL:
        return trial_input(key)
    return BareTrialInput(key, f"001{key}", f"Account {key}", CE, AE, seats=40)


async def drive(
    env: WorkflowEnvironment, kind: Kind, count: int, concurrency: int, label: str
) -> tuple[list[WorkflowHandle[Any, Any]], Counter[str]]:
    client = env.client
    queue = task_queue(f"year-{kind.name}")
    before = CALLS.copy()
    async with bench_worker(client, queue, [kind.workflow], max_cached_workflows=count + 100):

        async def start(i: int) -> WorkflowHandle[Any, Any]:
            key = f"{label}-{kind.name}-{i:05d}"
            return await client.start_workflow(
                kind.run, _input(kind, key), id=f"{kind.name}-{key}", task_queue=queue
            )

        async def plan(handle: WorkflowHandle[Any, Any]) -> None:
            for request in planning_updates():
                await handle.execute_update(kind.complete_step, request)
            await settled(handle, 3)  # key, trial dates, announcement
            await handle.execute_update(
                kind.set_technical_win, SetTechnicalWin(TechnicalWinStatus.IN_PROGRESS, CE)
            )
            await settled(handle, 5)  # Salesforce, Slack

        async def finish(handle: WorkflowHandle[Any, Any]) -> None:
            await settled(handle, 7)  # the check-in prompt: Slack, Salesforce task
            await handle.execute_update(
                kind.complete_step, CompleteStep(MID_TRIAL_CHECK_IN.key, CE, Role.CE, "on track")
            )
            await handle.execute_update(
                kind.extend_trial, ExtendTrial(14, "security review pending", AE, Role.AE)
            )
            await settled(handle, 10)  # new key, announcement, trial dates
            await handle.execute_update(
                kind.set_technical_win,
                SetTechnicalWin(TechnicalWinStatus.WON, CE, "all use cases met"),
            )
            await settled(handle, 12)  # Salesforce, Slack

        handles = await bounded(range(count), concurrency, start)
        await bounded(handles, concurrency, plan)
        await skip_time(env, 16 * DAY)  # past every midpoint: check-ins are prompted
        await bounded(handles, concurrency, finish)
        results = await all_results(env, handles)
    for result in results:
        check_result(kind, result)
    return handles, CALLS - before


async def all_results(
    env: WorkflowEnvironment, handles: list[WorkflowHandle[Any, Any]]
) -> list[Any]:
    """Await every result with time skipping unlocked once for all of them.

    The SDK unlocks per ``result()`` call and locks again when the first one returns, which
    would stop the clock for the others; so unlock here, for the whole gather.
    """
    with env.auto_time_skipping_disabled():
        await env.client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
        try:
            return list(await asyncio.gather(*(handle.result() for handle in handles)))
        finally:
            await env.client.test_service.lock_time_skipping(LockTimeSkippingRequest())


def check_result(kind: Kind, result: Any) -> None:
    if kind is TRIAL:
        assert isinstance(result, TrialResult), result
        ok = result.outcome is TrialOutcome.TECHNICAL_WIN and len(result.license_key_ids) == 2
    else:
        assert isinstance(result, BareTrialResult), result
        ok = result.outcome == "technical_win" and len(result.license_key_ids) == 2
    if not ok:
        raise RuntimeError(f"{kind.name} workflow ended unexpectedly: {result}")


async def measured(
    env: WorkflowEnvironment, kind: Kind, count: int, concurrency: int, label: str
) -> Outcome:
    server_pids = descendants(os.getpid())
    outcome = Outcome(kind.name, count)
    with Clock(server_pids) as clock:
        handles, calls = await drive(env, kind, count, concurrency, label)
    outcome.wall, outcome.cpu, outcome.server_cpu = clock.wall, clock.cpu, clock.other_cpu
    outcome.calls = calls
    outcome.history, outcome.history_bytes = tally([await handles[0].fetch_history()])
    return outcome


def report_run(outcome: Outcome, expected_calls: int) -> None:
    print(
        f"   {outcome.kind:7}  wall {outcome.wall:6.1f}s   CPU: test process (client + worker)"
        f" {outcome.cpu:6.1f}s, test server {outcome.server_cpu:6.1f}s,"
        f" total {outcome.total_cpu:6.1f}s   activity calls {sum(outcome.calls.values())}"
        f" (expected {expected_calls})"
    )


HISTORY_ROWS = (
    "(all events)",
    "WORKFLOW_TASK_COMPLETED",
    "WORKFLOW_EXECUTION_UPDATE_ACCEPTED",
    "TIMER_STARTED",
    "TIMER_FIRED",
    "TIMER_CANCELED",
    "ACTIVITY_TASK_SCHEDULED",
    "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
    "WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
)


def report_totals(
    plural: str, ours: list[Outcome], bares: list[Outcome], watch: MachineWatch, heading: str
) -> None:
    """Totals over the rounds, the ratios, one workflow's history and the TARGET lines.

    ``plural`` names our kind (``accounts``, ``trials``), ``heading`` starts its TARGET lines.
    """

    def total(outcomes: list[Outcome], attr: str) -> float:
        return sum(float(getattr(outcome, attr)) for outcome in outcomes)

    print()
    print(watch.report())
    print(f"   totals              {plural:>9}      bare     ratio")
    ratios = {}
    for attr, label in (
        ("wall", "wall s"),
        ("cpu", "CPU s, test process"),
        ("server_cpu", "CPU s, test server"),
        ("total_cpu", "CPU s, total"),
    ):
        o, b = total(ours, attr), total(bares, attr)
        ratios[attr] = o / b
        print(f"   {label:22} {o:9.1f}  {b:8.1f}  {o / b:6.2f}x")
    o_calls, b_calls = Counter[str](), Counter[str]()
    for outcome in ours:
        o_calls += outcome.calls
    for outcome in bares:
        b_calls += outcome.calls
    print(f"   activity calls by name ({plural} / bare): {_calls(o_calls, b_calls)}")
    one, bare = ours[0], bares[0]
    runs = f", {one.runs} / {bare.runs} runs" if one.runs > 1 or bare.runs > 1 else ""
    print(
        f"   one workflow's history ({plural} / bare): {one.history_bytes} /"
        f" {bare.history_bytes} bytes{runs}"
    )
    for row in HISTORY_ROWS:
        if one.history[row] or bare.history[row]:
            print(f"     {row:36} {one.history[row]:4} / {bare.history[row]:4}")
    print(
        target_line(f"{heading}: wall time ratio ({plural} / bare)", ratios["wall"], TARGET_RATIO)
    )
    print(
        target_line(
            f"{heading}: CPU time ratio, test process incl. worker ({plural} / bare)",
            ratios["cpu"],
            TARGET_RATIO,
        )
    )
    print(
        target_line(
            f"{heading}: CPU time ratio, incl. test server", ratios["total_cpu"], TARGET_RATIO
        )
    )


def _calls(ours: Counter[str], bare: Counter[str]) -> str:
    names = sorted(set(ours) | set(bare))
    return ", ".join(f"{name} {ours[name]}/{bare[name]}" for name in names)


async def accounts_main(count: int, concurrency: int, rounds: int, warmup: int) -> None:
    heading(
        f"Simulated year: {count} accounts vs {count} bare workflows, time-skipping test"
        f" server, {rounds} round(s)"
    )
    watch = MachineWatch()
    print("   calibrating: one AccountWorkflow per renewal variant lives the year (untimed) ...")
    variants = await accounts.calibrate()
    one = variants[0]
    print(
        f"   each account-year: {one.updates} updates at {len(one.checkpoints)} checkpoints,"
        f" {one.calls} activity calls (stubs), {one.timers_fired} timers fired,"
        f" {one.runs - 1} continue-as-new; renewal {min(accounts.RENEWAL_DAYS)} to"
        f" {max(accounts.RENEWAL_DAYS)} days out ({len(variants)} variants); {concurrency}"
        " workflows driven at a time"
    )
    print(
        "   the team acts on every open step the day after it opens (assessments, plans, QBRs,"
        " the renewal): nothing goes overdue; both kinds get the same updates, recorded from"
        " the calibration, at the same moments"
    )
    if any(variant.calls != one.calls or variant.updates != one.updates for variant in variants):
        print(
            "   variants differ: "
            + ", ".join(f"{v.number}: {v.updates} updates, {v.calls} calls" for v in variants)
        )
    ours: list[Outcome] = []
    bares: list[Outcome] = []
    for round_ in range(rounds):
        order = (
            (accounts.BARE, accounts.ACCOUNT)
            if round_ % 2 == 0
            else (accounts.ACCOUNT, accounts.BARE)
        )
        for kind in order:
            # A fresh test server per run: it keeps every workflow in memory and slows as
            # they pile up, which would penalise whichever kind runs second.
            async with time_skipping_env() as env:
                if warmup:  # JVM, sandbox and connection warm-up, not measured
                    await accounts.live_year(
                        env, kind, variants, warmup, concurrency, f"warm{round_}", keep=False
                    )
                outcome = await accounts.live_year(
                    env,
                    kind,
                    variants,
                    count,
                    concurrency,
                    f"r{round_}",
                    server_pids=descendants(os.getpid()),
                )
            report_run(outcome, sum(variants[i % len(variants)].calls for i in range(count)))
            (ours if kind is accounts.ACCOUNT else bares).append(outcome)
    report_totals("accounts", ours, bares, watch, "accounts")


async def trials_main(count: int, concurrency: int, rounds: int, warmup: int) -> None:
    heading(
        f"Simulated year, trials (the former stand-in): {count} vs {count} bare workflows,"
        f" {rounds} round(s)"
    )
    watch = MachineWatch()
    print(
        f"   each: {UPDATES_PER_TRIAL} updates, {ACTIVITIES_PER_TRIAL} activity calls (stubs),"
        f" 44 simulated days; {concurrency} workflows driven at a time"
    )
    trials: list[Outcome] = []
    bares: list[Outcome] = []
    for round_ in range(rounds):
        order = (BARE, TRIAL) if round_ % 2 == 0 else (TRIAL, BARE)
        for kind in order:
            # A fresh test server per run: it keeps every workflow in memory and slows as
            # they pile up, which would penalise whichever kind runs second.
            async with time_skipping_env() as env:
                if warmup:  # JVM, sandbox and connection warm-up, not measured
                    await drive(env, kind, warmup, concurrency, f"warm{round_}")
                outcome = await measured(env, kind, count, concurrency, f"r{round_}")
            report_run(outcome, ACTIVITIES_PER_TRIAL * count)
            (trials if kind is TRIAL else bares).append(outcome)
    report_totals("trials", trials, bares, watch, "trials (the former stand-in)")


async def main_async(args: argparse.Namespace) -> None:
    if args.accounts:
        await accounts_main(args.accounts, args.concurrency, args.rounds, args.account_warmup)
    if args.trials:
        await trials_main(args.trials, args.concurrency, args.rounds, args.warmup)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.simulated_year",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=100,
        help="accounts per kind, the headline (default 100; the target's size is 1000; 0 skips)",
    )
    parser.add_argument(
        "--trials", type=int, default=200, help="trials per kind (default 200; 0 skips them)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="workflows driven at a time (default 32)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measured rounds per kind, alternating which kind goes first (default 1)",
    )
    parser.add_argument(
        "--warmup", type=int, default=10, help="untimed trials per kind first (default 10)"
    )
    parser.add_argument(
        "--account-warmup",
        type=int,
        default=accounts.VARIANTS,
        help=f"untimed account-years per kind first (default {accounts.VARIANTS})",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    run_main(main_async(args))


if __name__ == "__main__":
    main()
