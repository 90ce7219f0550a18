"""A CE action's latency against a no-op update, on the real Temporal dev server.

Target: a CE action's p99 (``execute_update`` on the workflow, to its answer) at most 1.5x the
p99 of an update that does nothing (``bench.noop_workflow.NoopWorkflow.noop``).

Measured on accounts (the headline) and on trials (the stand-in before the account lifecycle
existed), each against no-op updates interleaved with its own actions:

- account: ``AccountWorkflow``, a Tier 1 customer brought in at onboarding with a complete
  profile (bi-weekly check-ins, renewal a year out), so its three core trainings are open.
  Eight CE actions each: the three trainings completed (``complete_step``), four feature
  requests (``record_feature_request``: after the update returns, the workflow records each
  and posts it to Slack) between them, and ``complete_onboarding`` (the stage moves to
  adoption) before the last request;
- trial: ``TrialWorkflow``'s eight planning items (``complete_step``); the eighth starts the
  trial: that update also makes the workflow issue a key and post to Salesforce and Slack
  (after the update returns).

One in-process worker runs ``AccountWorkflow``, ``TrialWorkflow`` and ``NoopWorkflow`` with
stub activities (instant, in memory), so only Temporal's and the workflow's own cost is
measured. For each kind and concurrency level, N fresh workflows of the kind and N fresh no-op
workflows are started; then the N x 8 actions are sent, action by action across the workflows
(so concurrent updates never hit the same workflow), interleaved one-for-one with N x 8 no-op
updates so both see the same server and worker load. Each kind of action is reported
separately too.

    python -m bench.ce_action_latency --accounts 200 --trials 200 --concurrency 1,4
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle

from bench.common import (
    AE,
    CALLS,
    CE,
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
from schemas.account import (
    AccountProfile,
    AccountStart,
    CompleteAccountStep,
    CompleteOnboarding,
    LifecycleStage,
    RecordFeatureRequest,
    account_workflow_id,
)
from schemas.common import Role
from workflows.account import AccountWorkflow
from workflows.account_calendar import midnight
from workflows.trial import TrialWorkflow

TARGET_P99_RATIO = 1.5
START_LIMIT = 16
Handle = WorkflowHandle[Any, Any]


@dataclass(frozen=True)
class Action:
    group: str
    """The row it is reported in."""
    update: Any
    request: Any


@dataclass(frozen=True)
class Subject:
    """A kind of workflow and the eight CE actions each of its workflows gets."""

    name: str
    label: str
    """What its actions are called in the report and the TARGET lines."""
    start: Callable[[Client, str, str], Awaitable[Handle]]
    ready: Callable[[Handle], Awaitable[Any]]
    """A query: the workflow has completed its first workflow task."""
    actions: list[Action]
    calls: int
    """Activity calls each workflow makes in all (its start's effects and its actions')."""

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(action.group for action in self.actions))


async def _start_trial(client: Client, queue: str, key: str) -> Handle:
    return await client.start_workflow(
        TrialWorkflow.run, trial_input(key), id=f"trial-{key}", task_queue=queue
    )


async def _start_account(client: Client, queue: str, key: str) -> Handle:
    """A Tier 1 customer brought in at onboarding, complete profile: trainings are open."""
    account_id = f"001{key}"
    profile = AccountProfile(
        account_id=account_id,
        account_name=f"Account {key}",
        tier=1,
        region="US East / EMEA",
        ae_owner=AE,
        ce_owner=CE,
        seats=100,
        renewal_date=midnight(datetime.now(UTC) + timedelta(days=365)),
    )
    return await client.start_workflow(
        AccountWorkflow.run,
        AccountStart(
            account_id,
            profile.account_name,
            profile=profile,
            stage=LifecycleStage.ONBOARDING,
            cadence="bi-weekly",
        ),
        id=account_workflow_id(account_id),
        task_queue=queue,
    )


def _account_actions() -> list[Action]:
    def training(name: str) -> Action:
        return Action(
            "complete_step (a training)",
            AccountWorkflow.complete_step,
            CompleteAccountStep(f"training-{name}", CE, Role.CE, "session held"),
        )

    def feature(number: int) -> Action:
        return Action(
            "record_feature_request (then record + Slack)",
            AccountWorkflow.record_feature_request,
            RecordFeatureRequest(
                f"Saved searches per team ({number})", CE, Role.CE, "asked in the training"
            ),
        )

    return [
        training("101"),
        feature(1),
        training("102"),
        feature(2),
        training("admin"),
        feature(3),
        Action(
            "complete_onboarding (to adoption)",
            AccountWorkflow.complete_onboarding,
            CompleteOnboarding(CE, Role.CE, "all trainings held"),
        ),
        feature(4),
    ]


def _trial_actions() -> list[Action]:
    steps = planning_updates()
    return [
        Action(
            "items 1-7 (planning)" if n < len(steps) - 1 else "item 8 (starts the trial)",
            TrialWorkflow.complete_step,
            step,
        )
        for n, step in enumerate(steps)
    ]


ACCOUNT = Subject(
    "account",
    "account action",
    _start_account,
    lambda h: h.query(AccountWorkflow.state),
    _account_actions(),
    # Its start: the profile to Salesforce and the onboarding plan to Slack; then each
    # feature request is recorded and posted.
    calls=2 + 4 * 2,
)
TRIAL = Subject(
    "trial",
    "trial complete_step",
    _start_trial,
    lambda h: h.query(TrialWorkflow.state),
    _trial_actions(),
    calls=3,  # the eighth item: key, trial dates, announcement
)


@dataclass
class Run:
    subject: Subject
    concurrency: int
    actions: list[float] = field(default_factory=list)
    by_group: dict[str, list[float]] = field(default_factory=dict)
    noop: list[float] = field(default_factory=list)
    slowest: list[tuple[float, str, int]] = field(default_factory=list)
    """(seconds, kind, action number) of every update, to show where the tail is."""
    wall: float = 0.0
    cpu: float = 0.0
    server_cpu: float = 0.0

    @property
    def ratio(self) -> float:
        return Summary.of(self.actions).p99 / Summary.of(self.noop).p99


async def start_pairs(
    client: Client, queue: str, subject: Subject, count: int, prefix: str
) -> tuple[list[Handle], list[Handle]]:
    async def one(i: int) -> Handle:
        return await subject.start(client, queue, f"{prefix}-{i:05d}")

    async def noop(i: int) -> Handle:
        return await client.start_workflow(
            NoopWorkflow.run, id=f"noop-{prefix}-{i:05d}", task_queue=queue
        )

    workflows = await bounded(range(count), START_LIMIT, one)
    noops = await bounded(range(count), START_LIMIT, noop)
    # Both kinds have completed their first workflow task before any update is timed.
    await bounded(workflows, START_LIMIT, subject.ready)
    await bounded(noops, START_LIMIT, lambda h: h.query(NoopWorkflow.count))
    return workflows, noops


async def timed_updates(
    subject: Subject,
    workflows: list[Handle],
    noops: list[Handle],
    concurrency: int,
    run: Run | None,
) -> None:
    """Every action of ``subject`` on ``workflows``, interleaved with as many no-op updates."""
    jobs_of = [(h, n, action) for n, action in enumerate(subject.actions) for h in workflows]
    noop_jobs = [
        (h, n, NoopRequest(f"action-{n + 1}", CE))
        for n, _ in enumerate(subject.actions)
        for h in noops
    ]
    jobs: list[tuple[str, Handle, int, Any]] = []
    for (wh, wn, wa), (nh, nn, nr) in zip(jobs_of, noop_jobs, strict=True):
        # Alternate which kind goes first, so neither always follows the other.
        pair = [(subject.name, wh, wn, wa), ("noop", nh, nn, nr)]
        jobs.extend(pair if len(jobs) % 4 == 0 else pair[::-1])
    queue: asyncio.Queue[tuple[str, Handle, int, Any]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)

    async def runner() -> None:
        while not queue.empty():
            kind, handle, n, payload = queue.get_nowait()
            t0 = time.perf_counter()
            if kind == "noop":
                await handle.execute_update(NoopWorkflow.noop, payload)
            else:
                assert isinstance(payload, Action)
                await handle.execute_update(payload.update, payload.request)
            elapsed = time.perf_counter() - t0
            if run is None:
                continue
            run.slowest.append((elapsed, kind, n + 1))
            if kind == "noop":
                run.noop.append(elapsed)
            else:
                run.actions.append(elapsed)
                run.by_group.setdefault(payload.group, []).append(elapsed)

    await asyncio.gather(*(runner() for _ in range(concurrency)))


async def wait_for_effects(expected_calls: int) -> None:
    """Let the workflows' effects (keys, Salesforce, Slack, records) finish before the next
    run."""
    for _ in range(600):
        if sum(CALLS.values()) >= expected_calls:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    if sum(CALLS.values()) != expected_calls:
        print(f"   ({sum(CALLS.values())} activity calls, expected {expected_calls})")


async def main_async(counts: dict[str, int], levels: list[int], warmup: int) -> list[Run]:
    subjects = [subject for subject in (ACCOUNT, TRIAL) if counts[subject.name]]
    sizes = ", ".join(f"{counts[s.name]} {s.name}s" for s in subjects)
    heading(f"CE action latency: {sizes} x 8 CE actions per level, dev server")
    watch = MachineWatch()
    runs: list[Run] = []
    async with dev_server("latency") as server:
        client, server_pid = server.client, server.pid
        queue = task_queue("latency")
        cache = 2 * sum(counts[s.name] * len(levels) + warmup for s in subjects) + 100
        workflows = [AccountWorkflow, TrialWorkflow, NoopWorkflow]
        async with bench_worker(client, queue, workflows, max_cached_workflows=cache):
            expected = 0
            for subject in subjects:
                if warmup:
                    warm = await start_pairs(client, queue, subject, warmup, f"warm-{subject.name}")
                    await timed_updates(subject, *warm, max(levels), None)
                    expected += warmup * subject.calls
                    await wait_for_effects(expected)
            for subject in subjects:
                count = counts[subject.name]
                for level, concurrency in enumerate(levels):
                    prefix = f"{subject.name}-c{concurrency}-{level}"
                    handles = await start_pairs(client, queue, subject, count, prefix)
                    run = Run(subject, concurrency)
                    with Clock([server_pid] if server_pid else []) as clock:
                        await timed_updates(subject, *handles, concurrency, run)
                    run.wall, run.cpu, run.server_cpu = clock.wall, clock.cpu, clock.other_cpu
                    runs.append(run)
                    expected += count * subject.calls
                    await wait_for_effects(expected)
                    report(run)
    print()
    print(watch.report())
    for subject in subjects:
        print(f"   p99 ratio ({subject.label} / no-op) by concurrency:")
        for run in runs:
            if run.subject is subject:
                label = f"{subject.label} p99 ratio, concurrency {run.concurrency}"
                print(target_line(label, run.ratio, TARGET_P99_RATIO))
    return runs


def report(run: Run) -> None:
    subject = run.subject
    updates = len(run.actions) + len(run.noop)
    print()
    print(
        f"   {subject.name}s, concurrency {run.concurrency}: {updates} updates in"
        f" {run.wall:.1f}s wall ({updates / run.wall:.0f}/s); CPU: this process (client +"
        f" worker) {run.cpu:.1f}s, dev server {run.server_cpu:.1f}s"
    )
    actions, noop = Summary.of(run.actions), Summary.of(run.noop)
    print(f"   {subject.label + ' (all 8)':46} {actions.ms()}")
    for group in subject.groups:
        print(f"     {group:44} {Summary.of(run.by_group.get(group, [])).ms()}")
    print(f"   {'no-op update':46} {noop.ms()}")
    slowest = sorted(run.slowest, reverse=True)[:6]
    print(
        "   slowest: " + ", ".join(f"{kind} action {n} {t * 1e3:.0f} ms" for t, kind, n in slowest)
    )
    print(
        f"   ratio {subject.label} / no-op: p50 {actions.p50 / noop.p50:.2f}  "
        f"p95 {actions.p95 / noop.p95:.2f}  p99 {actions.p99 / noop.p99:.2f}"
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
        "--accounts",
        type=int,
        default=200,
        help="accounts (and no-op workflows) per concurrency level (default 200; 0 skips)",
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=200,
        help="trials (and no-op workflows) per concurrency level (default 200; 0 skips)",
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
        help="untimed workflows of each kind (and no-op workflows) first (default 10)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    counts = {"account": args.accounts, "trial": args.trials}
    run_main(main_async(counts, args.concurrency, args.warmup))


if __name__ == "__main__":
    main()
