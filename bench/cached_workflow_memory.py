"""Worker memory per cached workflow, read from the worker process's ``/proc/<pid>/status``.

Target: at most 150 MB of worker RSS per 1,000 cached *account* workflows. Measured on
``AccountWorkflow`` as accounts mostly live: brought in at the adoption stage with a complete
profile (Tier 1, 100 seats, AE, CE, renewal a year out, bi-weekly check-ins), so each cached
workflow holds the full account snapshot, its renewal cycle and its check-in schedule, and
waits for its next check-in brief. ``TrialWorkflow`` (open, in its planning phase, the state
most trials spend weeks in; the target's stand-in before the account lifecycle existed) is
measured beside it against the same target. The baseline is ``IdleWorkflow``: a workflow
that only waits on a condition.

For each kind, a fresh worker process (``bench.memory_worker``, stub activities,
``max_cached_workflows`` above the count) polls its own task queue on the real dev server;
a few warm-up workflows are started and queried first (one-time costs: the sandbox's module
imports, gRPC buffers), then RSS is read, then N workflows are started and each queried
once (so every one is in the worker's cache), and RSS is read again once it settles.
MB here is 10^6 bytes.

    python -m bench.cached_workflow_memory --workflows 1000
    python -m bench.cached_workflow_memory --unsandboxed   # also without the sandbox (diagnostic)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle

from bench.common import (
    AE,
    CE,
    REPO_ROOT,
    DevServer,
    MachineWatch,
    bounded,
    dev_server,
    heading,
    memory_kb,
    run_main,
    target_line,
    task_queue,
    trial_input,
)
from bench.idle_workflow import IdleWorkflow
from schemas.account import (
    AccountProfile,
    AccountStart,
    AccountState,
    LifecycleStage,
    account_workflow_id,
)
from workflows.account import AccountWorkflow
from workflows.account_calendar import midnight
from workflows.trial import TrialWorkflow

TARGET_MB_PER_1000 = 150.0
LIMIT = 32
KB = 1024  # /proc reports kB = KiB


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    start: Callable[[Client, str, str], Any]
    query: Callable[[WorkflowHandle[Any, Any]], Any]
    describe: Callable[[Any], str] | None = None
    """What one cached workflow's query answer says about it (printed once)."""


def _start_trial(client: Client, queue: str, key: str) -> Any:
    return client.start_workflow(
        TrialWorkflow.run, trial_input(key), id=f"trial-{key}", task_queue=queue
    )


def _start_account(client: Client, queue: str, key: str) -> Any:
    """An established Tier 1 customer brought in at adoption: the complete profile, so the
    workflow builds its renewal cycle and check-in schedule, syncs the profile to Salesforce
    (one stubbed activity) and waits for its first check-in brief, two weeks out."""
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
    return client.start_workflow(
        AccountWorkflow.run,
        AccountStart(
            account_id,
            profile.account_name,
            profile=profile,
            stage=LifecycleStage.ADOPTION,
            cadence="bi-weekly",
        ),
        id=account_workflow_id(account_id),
        task_queue=queue,
    )


def _describe_account(view: Any) -> str:
    assert isinstance(view, AccountState), view
    return (
        f"stage {view.stage.value}, Tier {view.profile.tier if view.profile else '?'},"
        f" {view.profile.seats if view.profile else '?'} seats, renewal"
        f" {view.renewal_date.date() if view.renewal_date else '-'}, cadence {view.cadence},"
        f" {len(view.open_steps)} open steps, missing profile {view.missing_profile or 'none'}"
    )


def _start_idle(client: Client, queue: str, key: str) -> Any:
    return client.start_workflow(IdleWorkflow.run, id=f"idle-{key}", task_queue=queue)


KINDS = {
    "trial": Kind(
        "trial",
        "TrialWorkflow (planning phase)",
        _start_trial,
        lambda h: h.query(TrialWorkflow.state),
    ),
    "account": Kind(
        "account",
        "AccountWorkflow (Tier 1, brought in at adoption, complete profile)",
        _start_account,
        lambda h: h.query(AccountWorkflow.state),
        _describe_account,
    ),
    "idle": Kind(
        "idle",
        "IdleWorkflow (bare: waits on a condition)",
        _start_idle,
        lambda h: h.query(IdleWorkflow.state),
    ),
}


@dataclass(frozen=True)
class Measurement:
    kind: Kind
    count: int
    idle_kb: int
    before_kb: int
    after_kb: int
    hwm_kb: int
    anon_before_kb: int
    anon_after_kb: int
    start_seconds: float
    unsandboxed: bool
    sample: str = ""
    """``kind.describe`` of one measured workflow's query answer."""

    @property
    def mb_per_1000(self) -> float:
        return (self.after_kb - self.before_kb) * KB / 1e6 / self.count * 1000

    @property
    def anon_mb_per_1000(self) -> float:
        return (self.anon_after_kb - self.anon_before_kb) * KB / 1e6 / self.count * 1000


@contextlib.asynccontextmanager
async def worker_process(
    server: DevServer, queue: str, max_cached: int, unsandboxed: bool
) -> AsyncIterator[int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.memory_worker",
        "--target",
        server.target,
        "--namespace",
        server.namespace,
        "--task-queue",
        queue,
        "--max-cached",
        str(max_cached),
        *(["--unsandboxed"] if unsandboxed else []),
        cwd=REPO_ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"bench.memory_worker did not start (said {line!r})")
        yield process.pid
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def settled_rss(pid: int) -> dict[str, int]:
    """Memory once RSS stops moving (within 0.5 MB over half a second), or after 15 s."""
    await asyncio.sleep(1.0)
    previous = memory_kb(pid)
    for _ in range(30):
        await asyncio.sleep(0.5)
        current = memory_kb(pid)
        if abs(current["VmRSS"] - previous["VmRSS"]) * KB < 0.5e6:
            return current
        previous = current
    return previous


async def fill(client: Client, queue: str, kind: Kind, prefix: str, count: int) -> Any:
    """Start ``count`` workflows and query each once; returns the last one's answer."""

    async def one(i: int) -> Any:
        handle = await kind.start(client, queue, f"{prefix}-{i:05d}")
        return await kind.query(handle)

    answers = await bounded(range(count), LIMIT, one)
    return answers[-1] if answers else None


async def measure(
    server: DevServer, kind: Kind, count: int, warmup: int, unsandboxed: bool = False
) -> Measurement:
    queue = task_queue(f"memory-{kind.name}")
    loop = asyncio.get_running_loop()
    async with worker_process(server, queue, count + warmup + 100, unsandboxed) as pid:
        idle = await settled_rss(pid)
        await fill(server.client, queue, kind, f"{queue}-warm", warmup)
        before = await settled_rss(pid)
        t0 = loop.time()
        answer = await fill(server.client, queue, kind, queue, count)
        elapsed = loop.time() - t0
        after = await settled_rss(pid)
        return Measurement(
            kind,
            count,
            idle["VmRSS"],
            before["VmRSS"],
            after["VmRSS"],
            after["VmHWM"],
            before["RssAnon"],
            after["RssAnon"],
            elapsed,
            unsandboxed,
            kind.describe(answer) if kind.describe and answer is not None else "",
        )


def report(m: Measurement) -> None:
    mb = KB / 1e6
    print()
    runner = "  [diagnostic: UnsandboxedWorkflowRunner]" if m.unsandboxed else ""
    print(
        f"   {m.kind.label}: {m.count} workflows started and queried in"
        f" {m.start_seconds:.1f}s{runner}"
    )
    if m.sample:
        print(f"     each cached as (one's state query): {m.sample}")
    print(
        f"     worker RSS: idle {m.idle_kb * mb:.1f} MB, after warm-up {m.before_kb * mb:.1f} MB,"
        f" with {m.count} cached {m.after_kb * mb:.1f} MB (peak {m.hwm_kb * mb:.1f} MB)"
    )
    print(
        f"     = {m.mb_per_1000:.1f} MB per 1,000 cached workflows"
        f" ({m.anon_mb_per_1000:.1f} MB of it anonymous memory)"
    )


async def main_async(count: int, warmup: int, unsandboxed: bool) -> list[Measurement]:
    heading(f"Cached workflow memory: {count} workflows per kind, worker in its own process")
    watch = MachineWatch()
    print("   The target is per 1,000 cached ACCOUNT workflows: measured on AccountWorkflow as an")
    print("   established account (adoption, complete profile, renewal a year out); TrialWorkflow")
    print("   (open, planning phase; the stand-in before the account lifecycle existed) beside it.")
    names = ("account", "trial", "idle")
    results = {}
    async with dev_server("memory") as server:
        for name in names:
            results[name] = await measure(server, KINDS[name], count, warmup)
            report(results[name])
        if unsandboxed:
            print()
            print("   Diagnostic: the same without the workflow sandbox (the real worker uses it),")
            print("   to show how much of the above is the sandbox's per-workflow module copies.")
            for name in names:
                diagnostic = await measure(server, KINDS[name], count, warmup, unsandboxed=True)
                report(diagnostic)
                results[f"{name}-unsandboxed"] = diagnostic
    account, trial, idle = (results[name] for name in names)
    print()
    print(watch.report())
    for m in (account, trial):
        print(
            f"   {m.kind.label.split()[0]} vs bare: {m.mb_per_1000:.1f} vs {idle.mb_per_1000:.1f}"
            f" MB per 1,000 ({m.mb_per_1000 / idle.mb_per_1000:.2f}x; its own share"
            f" {m.mb_per_1000 - idle.mb_per_1000:.1f} MB)"
        )
    print(
        target_line(
            "worker MB per 1,000 cached account workflows (adoption, complete profile)",
            account.mb_per_1000,
            TARGET_MB_PER_1000,
            " MB",
        )
    )
    print(
        target_line(
            "worker MB per 1,000 cached trial workflows (the former stand-in)",
            trial.mb_per_1000,
            TARGET_MB_PER_1000,
            " MB",
        )
    )
    return list(results.values())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cached_workflow_memory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--workflows", type=int, default=1000, help="workflows per kind (default 1000)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="workflows per kind before the baseline (20)"
    )
    parser.add_argument(
        "--unsandboxed",
        action="store_true",
        help="also measure every kind without the workflow sandbox (diagnostic)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    run_main(main_async(args.workflows, args.warmup, args.unsandboxed))


if __name__ == "__main__":
    main()
