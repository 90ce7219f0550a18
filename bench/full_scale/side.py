"""One side of the full-scale bench: a dev server, a worker process, N workflows, their year.

A side starts its own dev server (so the server's CPU is the side's own) and its own worker
process (``bench.full_scale.worker_side``), starts N workflows of its kind (dealcycle's
``AccountWorkflow`` or the bare baseline), each on the compressed business clock starting at
the year's origin when it starts, and plays the team: at each of the account's checkpoints
(recorded by the calibration) it sends the same updates, in order, at the real moment the
account's business clock reaches that checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.service import RPCError

from bench.bare_account_workflow import UPSERT_CODE
from bench.business_clock import BusinessClock
from bench.common import (
    AE,
    CE,
    REPO_ROOT,
    bounded,
    cpu_seconds,
    descendants,
    dev_server,
    task_queue,
)
from bench.full_scale.worker_side import SideReport
from bench.payloads import BareAccountInput
from bench.year_of_accounts import (
    ACCOUNT,
    BARE,
    SEATS,
    YEAR,
    Kind,
    Variant,
    account_start,
    renewal_date,
)
from dealcycle.payloads import DATA_CONVERTER, with_data_converter
from schemas.account import account_workflow_id
from tests.support.accounts import run_histories
from workflows.account import AccountWorkflow

START_CONCURRENCY = 32
UPDATE_CONCURRENCY = 64
UPDATE_ATTEMPTS = 20
RETRY_AFTER = timedelta(seconds=0.5)
DRAIN_TIMEOUT = timedelta(minutes=3)
QUIET = timedelta(seconds=5)
IDLE_SAMPLE = timedelta(seconds=10)
PROGRESS_EVERY = timedelta(seconds=30)
"""How long after the last account's year a side may take to finish its year's effects."""


def effect_count(segment: str) -> int:
    """Activity calls of one script segment (upserts are not calls)."""
    return len(segment.partition(":")[2].rstrip("!").replace(UPSERT_CODE, ""))


@dataclass
class Account:
    """One workflow of a side and its business clock."""

    number: int
    variant: Variant
    clock: BusinessClock
    handle: WorkflowHandle[Any, Any]


@dataclass
class Measure:
    """A side's counters at one moment (worker and server)."""

    worker: SideReport
    server_cpu: float
    wall: float

    def since(self, before: Measure) -> dict[str, float]:
        """Wall and CPU seconds from ``before`` to this measure."""
        return {
            "wall": self.wall - before.wall,
            "workflow_thread_cpu": self.worker.workflow_thread_cpu
            - before.worker.workflow_thread_cpu,
            "worker_cpu": self.worker.process_cpu - before.worker.process_cpu,
            "server_cpu": self.server_cpu - before.server_cpu,
        }


@dataclass
class SideResult:
    kind: str
    count: int
    idle: dict[str, float] = field(default_factory=dict)
    """CPU over ``IDLE_SAMPLE`` before any workflow (``Measure.since`` keys)."""
    base: Measure | None = None
    fresh: Measure | None = None
    aged: Measure | None = None
    histories: list[list[WorkflowHistory]] = field(default_factory=list)
    clocks: list[BusinessClock] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    """Business seconds each update arrived after its checkpoint (driver and server lag)."""
    expected_calls: int = 0
    refused: int = 0
    failed: list[str] = field(default_factory=list)
    """Updates refused every time (the account's year went otherwise than calibrated)."""
    """Updates refused (and sent again a second later): should stay 0."""
    drained: bool = False
    year_checked: str = ""


class WorkerProcess:
    """The side's worker process and its line protocol."""

    def __init__(self, target: str, namespace: str, queue: str, kind: str, cached: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.full_scale.worker_side",
                "--target",
                target,
                "--namespace",
                namespace,
                "--task-queue",
                queue,
                "--kind",
                kind,
                "--max-cached",
                str(cached),
            ],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lock = asyncio.Lock()

    async def _line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        while True:
            line = await asyncio.to_thread(self.process.stdout.readline)
            if not line:
                raise RuntimeError(f"the worker process ended (exit {self.process.wait()})")
            if line.startswith("{"):
                value: dict[str, Any] = json.loads(line)
                return value
            # Something in the worker printed: not ours to parse, but worth seeing.
            print(f"   [worker stdout] {line.rstrip()}", file=sys.stderr, flush=True)

    async def ready(self) -> None:
        await self._line()

    async def report(self) -> SideReport:
        assert self.process.stdin is not None
        async with self._lock:
            self.process.stdin.write("report\n")
            self.process.stdin.flush()
            return SideReport(**await self._line())

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.write("stop\n")
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Side:
    def __init__(
        self,
        kind: Kind,
        client: Client,
        server_pid: int | None,
        worker: WorkerProcess,
        queue: str,
    ) -> None:
        self.kind = kind
        self.client = client
        self.server_pids = [server_pid, *descendants(server_pid)] if server_pid else []
        self.worker = worker
        self.queue = queue

    async def measure(self) -> Measure:
        return Measure(await self.worker.report(), cpu_seconds(self.server_pids), time.monotonic())

    async def start(self, number: int, variant: Variant, clock: BusinessClock) -> Account:
        account_id = f"001{self.kind.name}{number:06d}"
        memo = clock.memo()
        if self.kind is ACCOUNT:
            started = await self.client.start_workflow(
                AccountWorkflow.run,
                account_start(account_id, clock.origin, variant.number),
                id=account_workflow_id(account_id),
                task_queue=self.queue,
                memo=memo,
            )
        else:
            started = await self.client.start_workflow(
                "BenchBareAccountWorkflow",
                BareAccountInput(
                    account_id,
                    f"Account {account_id}",
                    CE,
                    AE,
                    SEATS,
                    1,
                    renewal_date(clock.origin, variant.number),
                    clock.origin,
                    variant.script,
                ),
                id=f"bare-account-{account_id}",
                task_queue=self.queue,
                memo=memo,
            )
        handle = self.client.get_workflow_handle(
            started.id, first_execution_run_id=started.result_run_id
        )
        return Account(number, variant, clock, handle)


@contextlib.asynccontextmanager
async def running_side(kind: Kind, cached: int) -> AsyncIterator[Side]:
    async with dev_server(f"full-{kind.name}") as server:
        queue = task_queue(f"full-{kind.name}")
        worker = WorkerProcess(server.target, server.namespace, queue, kind.name, cached)
        try:
            await worker.ready()
            client = with_data_converter(server.client, DATA_CONVERTER)
            yield Side(kind, client, server.pid, worker, queue)
        finally:
            worker.stop()


async def calls_total(side: Side) -> int:
    return sum((await side.worker.report()).calls.values())


async def wait_for_calls(side: Side, expected: int, deadline: float) -> bool:
    """Poll the worker's stub counter until ``expected`` calls (or the monotonic deadline)."""
    while time.monotonic() < deadline:
        if await calls_total(side) >= expected:
            return True
        await asyncio.sleep(0.5)
    return False


async def report_progress(side: Side, result: SideResult, clock: BusinessClock) -> None:
    """A line on stderr now and then, so a long run shows it is alive and how far behind."""
    while True:
        await asyncio.sleep(PROGRESS_EVERY.total_seconds())
        calls = await calls_total(side)
        recent = sorted(result.lags[-200:])
        lag = recent[len(recent) // 2] / 3600 if recent else 0.0
        print(
            f"   [{side.kind.name}] business {clock.business(datetime.now(UTC)):%Y-%m-%d}:"
            f" {calls}/{result.expected_calls} activity calls, recent update lag {lag:.0f}"
            f" business hours, {result.refused} refused",
            file=sys.stderr,
            flush=True,
        )


async def drain(side: Side, expected: int) -> bool:
    """After the year: wait for the calibrated number of calls, or for a quiet worker (a year
    that went otherwise may make fewer), at most ``DRAIN_TIMEOUT``; True if all came."""
    deadline = time.monotonic() + DRAIN_TIMEOUT.total_seconds()
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        calls = await calls_total(side)
        if calls >= expected:
            return True
        if calls != last:
            last, quiet_since = calls, time.monotonic()
        elif time.monotonic() - quiet_since > QUIET.total_seconds():
            return False
        await asyncio.sleep(0.5)
    return False


async def live_year(
    side: Side,
    variants: Sequence[Variant],
    count: int,
    scale: float,
    sample: int,
    spread: timedelta,
) -> SideResult:
    """Start ``count`` workflows, play their year, measure (fresh, aged), sample histories."""
    result = SideResult(side.kind.name, count)
    origin = variants[0].anchor
    of = [variants[i % len(variants)] for i in range(count)]
    result.expected_calls = sum(variant.calls for variant in of)
    first_effects = sum(effect_count(variant.script[0]) for variant in of)
    # The idle cost of a worker and a server with nothing to do (polls, timers, GC), so that
    # what the accounts cost can be told apart from it at small sizes.
    idle = await side.measure()
    await asyncio.sleep(IDLE_SAMPLE.total_seconds())
    result.base = await side.measure()
    result.idle = result.base.since(idle)

    # Starts spread over ``spread`` of business time: every account lives the same calendar on
    # its own clock, and the calendar's bursts (every account's month starting at once) reach
    # the worker spread out, as a machine of this size could take them.
    first = datetime.now(UTC)
    gap = spread / scale / max(1, count)

    async def start(number: int) -> Account:
        await asyncio.sleep(max(0.0, (first + gap * number - datetime.now(UTC)).total_seconds()))
        clock = BusinessClock(origin, datetime.now(UTC), scale)
        return await side.start(number, of[number], clock)

    accounts = await bounded(range(count), START_CONCURRENCY, start)
    # Fresh: every workflow started and its first wake-up's effects done.
    await wait_for_calls(side, first_effects, time.monotonic() + DRAIN_TIMEOUT.total_seconds())
    result.fresh = await side.measure()

    updates = asyncio.Semaphore(UPDATE_CONCURRENCY)

    async def play(account: Account) -> None:
        for checkpoint in account.variant.checkpoints:
            due = account.clock.real(origin + checkpoint.offset)
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            async with updates:
                for action in checkpoint.actions:
                    lag = datetime.now(UTC) - due
                    result.lags.append(lag.total_seconds() * scale)
                    if not await send(account, action.update, action.request):
                        return  # the account's year went another way: not the calibrated one

    async def send(account: Account, update: str, request: Any) -> bool:
        """Send one update; refused (the step not open yet: the worker behind), try again."""
        for attempt in range(UPDATE_ATTEMPTS):
            try:
                await account.handle.execute_update(update, request)
                return True
            except (WorkflowUpdateFailedError, RPCError) as failed:
                # An update racing the renewal's continue-as-new finds the run completed.
                if attempt + 1 == UPDATE_ATTEMPTS:
                    refused = isinstance(failed, WorkflowUpdateFailedError)
                    cause = failed.cause if refused else failed
                    result.failed.append(f"{account.handle.id} {update}: {cause}")
                    return False
                result.refused += 1
                await asyncio.sleep(RETRY_AFTER.total_seconds())
        return False

    progress = asyncio.create_task(report_progress(side, result, accounts[0].clock))
    try:
        await asyncio.gather(*(play(account) for account in accounts))
    finally:
        progress.cancel()
    year_end = max(account.clock.real(origin + YEAR) for account in accounts)
    await asyncio.sleep(max(0.0, (year_end - datetime.now(UTC)).total_seconds()))
    result.drained = await drain(side, result.expected_calls)
    result.aged = await side.measure()

    result.year_checked = await check_year(side, accounts[: len(variants)])
    for account in accounts[:sample]:
        result.histories.append(await run_histories(account.handle, side.client))
        result.clocks.append(account.clock)
    return result


async def check_year(side: Side, accounts: Sequence[Account]) -> str:
    """One workflow per variant is asked how its year went; '' when as calibrated."""
    problems = []
    for account in accounts:
        if side.kind is ACCOUNT:
            view = await account.handle.query(AccountWorkflow.state)
            if view.renewals_completed != 1 or view.plans_submitted != 4:
                problems.append(
                    f"{account.handle.id}: {view.renewals_completed} renewals,"
                    f" {view.plans_submitted} plans"
                )
        else:
            position = await account.handle.query("position")
            cursor, length = position["cursor"], position["script_length"]
            if cursor != length:
                problems.append(f"{account.handle.id}: at {cursor} of {length}")
    return "; ".join(problems)


__all__ = ["ACCOUNT", "BARE", "Side", "SideResult", "live_year", "running_side"]
