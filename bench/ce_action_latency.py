"""A CE action's latency against a no-op update, on the real Temporal dev server.

Target: p99 of ``execute_update(TrialWorkflow.complete_step, …)`` at most 1.5x the p99 of
an update that does nothing (``bench.noop_workflow.NoopWorkflow.noop``).

One in-process worker runs ``TrialWorkflow`` and ``NoopWorkflow`` with stub activities
(instant, in memory), so only Temporal's and the workflow's own cost is measured. For each
concurrency level, N fresh trials and N fresh no-op workflows are started; then the N x 8
planning items are completed, item by item across the trials (so concurrent updates never
hit the same workflow), interleaved one-for-one with N x 8 no-op updates so both see the
same server and worker load. The eighth item of each trial starts it: that update also
makes the workflow issue a key and post to Salesforce and Slack (after the update returns),
so it is reported separately too.

    python -m bench.ce_action_latency --trials 200 --concurrency 1,4
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client, WorkflowHandle

from bench.common import (
    CALLS,
    Clock,
    MachineWatch,
    Summary,
    bench_worker,
    bounded,
    dev_server,
    heading,
    planning_updates,
    run_main,
    target_line,
    task_queue,
    trial_input,
)
from bench.noop_workflow import NoopWorkflow
from bench.payloads import NoopRequest
from schemas.trial import CompleteStep
from workflows.trial import TrialWorkflow

TARGET_P99_RATIO = 1.5
START_LIMIT = 16


@dataclass
class Run:
    concurrency: int
    trial: list[float] = field(default_factory=list)
    trial_planning: list[float] = field(default_factory=list)
    """Items 1-7 of each trial."""
    trial_start: list[float] = field(default_factory=list)
    """The eighth item of each trial: the update that starts the trial."""
    noop: list[float] = field(default_factory=list)
    slowest: list[tuple[float, str, int]] = field(default_factory=list)
    """(seconds, kind, item number) of every update, to show where the tail is."""
    wall: float = 0.0
    cpu: float = 0.0
    server_cpu: float = 0.0


async def start_pairs(
    client: Client, queue: str, count: int, prefix: str
) -> tuple[list[WorkflowHandle[Any, Any]], list[WorkflowHandle[Any, Any]]]:
    async def trial(i: int) -> WorkflowHandle[Any, Any]:
        opportunity = f"{prefix}-{i:05d}"
        return await client.start_workflow(
            TrialWorkflow.run, trial_input(opportunity), id=f"trial-{opportunity}", task_queue=queue
        )

    async def noop(i: int) -> WorkflowHandle[Any, Any]:
        return await client.start_workflow(
            NoopWorkflow.run, id=f"noop-{prefix}-{i:05d}", task_queue=queue
        )

    trials = await bounded(range(count), START_LIMIT, trial)
    noops = await bounded(range(count), START_LIMIT, noop)
    # Both kinds have completed their first workflow task before any update is timed.
    await bounded(trials, START_LIMIT, lambda h: h.query(TrialWorkflow.state))
    await bounded(noops, START_LIMIT, lambda h: h.query(NoopWorkflow.count))
    return trials, noops


async def timed_updates(
    trials: list[WorkflowHandle[Any, Any]],
    noops: list[WorkflowHandle[Any, Any]],
    concurrency: int,
    run: Run | None,
) -> None:
    """Complete every planning item of ``trials``, interleaved with as many no-op updates."""
    items = planning_updates()
    last = len(items) - 1
    trial_jobs = [(h, n, step) for n, step in enumerate(items) for h in trials]
    noop_jobs = [
        (h, n, NoopRequest(step.step, step.actor)) for n, step in enumerate(items) for h in noops
    ]
    jobs: list[tuple[str, WorkflowHandle[Any, Any], int, Any]] = []
    for (th, tn, tr), (nh, nn, nr) in zip(trial_jobs, noop_jobs, strict=True):
        # Alternate which kind goes first, so neither always follows the other.
        pair = [("trial", th, tn, tr), ("noop", nh, nn, nr)]
        jobs.extend(pair if len(jobs) % 4 == 0 else pair[::-1])
    queue: asyncio.Queue[tuple[str, WorkflowHandle[Any, Any], int, Any]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def runner() -> None:
        while not queue.empty():
            kind, handle, n, request = queue.get_nowait()
            t0 = time.perf_counter()
            if kind == "trial":
                assert isinstance(request, CompleteStep)
                await handle.execute_update(TrialWorkflow.complete_step, request)
            else:
                await handle.execute_update(NoopWorkflow.noop, request)
            elapsed = time.perf_counter() - t0
            if run is None:
                continue
            run.slowest.append((elapsed, kind, n + 1))
            if kind == "noop":
                run.noop.append(elapsed)
            else:
                run.trial.append(elapsed)
                (run.trial_start if n == last else run.trial_planning).append(elapsed)

    await asyncio.gather(*(runner() for _ in range(concurrency)))


async def wait_for_effects(started_trials: int) -> None:
    """Let the trials' start effects (key, Salesforce, Slack) finish before the next run."""
    for _ in range(600):
        if sum(CALLS.values()) >= 3 * started_trials:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)


async def main_async(trials: int, levels: list[int], warmup: int) -> list[Run]:
    heading(f"CE action latency: {trials} trials x 8 planning items per level, dev server")
    watch = MachineWatch()
    runs: list[Run] = []
    async with dev_server("latency") as server:
        client, server_pid = server.client, server.pid
        queue = task_queue("latency")
        cache = 2 * (trials * len(levels) + warmup) + 100
        async with bench_worker(
            client, queue, [TrialWorkflow, NoopWorkflow], max_cached_workflows=cache
        ):
            started = 0
            if warmup:
                warm_trials, warm_noops = await start_pairs(client, queue, warmup, "warm")
                await timed_updates(warm_trials, warm_noops, max(levels), None)
                started += warmup
                await wait_for_effects(started)
            for level, concurrency in enumerate(levels):
                handles = await start_pairs(client, queue, trials, f"c{concurrency}-{level}")
                run = Run(concurrency)
                with Clock([server_pid] if server_pid else []) as clock:
                    await timed_updates(*handles, concurrency, run)
                run.wall, run.cpu, run.server_cpu = clock.wall, clock.cpu, clock.other_cpu
                runs.append(run)
                started += trials
                await wait_for_effects(started)
                report(run)
    print()
    print(watch.report())
    print("   p99 ratio (complete_step / no-op) by concurrency:")
    for run in runs:
        ratio = Summary.of(run.trial).p99 / Summary.of(run.noop).p99
        print(target_line(f"p99 ratio, concurrency {run.concurrency}", ratio, TARGET_P99_RATIO))
    return runs


def report(run: Run) -> None:
    print()
    print(
        f"   concurrency {run.concurrency}: {len(run.trial) + len(run.noop)} updates in "
        f"{run.wall:.1f}s wall ({(len(run.trial) + len(run.noop)) / run.wall:.0f}/s); "
        f"CPU: this process (client + worker) {run.cpu:.1f}s, dev server {run.server_cpu:.1f}s"
    )
    trial, noop = Summary.of(run.trial), Summary.of(run.noop)
    print(f"   complete_step (all 8 items)  {trial.ms()}")
    print(f"     items 1-7 (planning)       {Summary.of(run.trial_planning).ms()}")
    print(f"     item 8 (starts the trial)  {Summary.of(run.trial_start).ms()}")
    print(f"   no-op update                 {noop.ms()}")
    slowest = sorted(run.slowest, reverse=True)[:6]
    print("   slowest: " + ", ".join(f"{kind} item {n} {t * 1e3:.0f} ms" for t, kind, n in slowest))
    print(
        f"   ratio complete_step / no-op: p50 {trial.p50 / noop.p50:.2f}  "
        f"p95 {trial.p95 / noop.p95:.2f}  p99 {trial.p99 / noop.p99:.2f}"
    )


def parse_levels(text: str) -> list[int]:
    levels = [int(part) for part in text.split(",") if part.strip()]
    if not levels or any(level < 1 for level in levels):
        raise argparse.ArgumentTypeError("concurrency levels are positive integers, e.g. 1,8")
    return levels


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ce_action_latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=200,
        help="trials (and no-op workflows) per concurrency level (default 200)",
    )
    parser.add_argument(
        "--concurrency",
        type=parse_levels,
        default=[1, 4],
        help="comma-separated concurrency levels (default 1,4)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=10,
        help="untimed trials and no-op workflows first (default 10)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    run_main(main_async(args.trials, args.concurrency, args.warmup))


if __name__ == "__main__":
    main()
