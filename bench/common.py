"""Shared by the benchmarks: stub activities, servers, workers, statistics and reporting."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from temporalio import activity
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from bench import bare_account_workflow, bare_trial_workflow
from dealcycle.activation_order import apply_activation_jobs_together
from dealcycle.devtools.devserver import free_port, running_dev_server
from dealcycle.devtools.interrupt import treat_sigterm_as_interrupt
from dealcycle.devtools.test_server import find_test_server
from schemas import search_attributes
from schemas.common import Role
from schemas.effects import (
    AccountPlanRecord,
    FeatureRequestRecord,
    IssuedLicense,
    LicenseRequest,
    RecordResult,
    SalesforceFieldUpdate,
    SalesforceTaskRequest,
    SalesforceWriteResult,
    SlackMessageUpdate,
    SlackPost,
    SlackPostResult,
    TrialOutcomeRecord,
)
from schemas.roster import Roster
from schemas.trial import TRIAL_PLANNING_ITEMS, CompleteStep, TrialInput, TrialStart
from workflows import effects
from workflows.roster import LOOK_UP_ROSTER

REPO_ROOT = Path(__file__).resolve().parents[1]
CE, AE = "U0CEBENCH1", "U0AEBENCH1"
T = TypeVar("T")

# --- Stub activities ---------------------------------------------------------------------------
# Registered under the names workflows/effects.py calls; in-memory, return at once, so only
# Temporal's and the workflow's cost is measured. CALLS counts calls per activity name.

CALLS: Counter[str] = Counter()
CALLS_BY_WORKFLOW: Counter[str] = Counter()
"""Activity calls per workflow id (the simulated year paces its updates with it)."""


_CALL_WAITERS: dict[str, list[tuple[int, asyncio.Future[None]]]] = {}


def _count(name: str) -> None:
    CALLS[name] += 1
    workflow_id = activity.info().workflow_id or ""
    CALLS_BY_WORKFLOW[workflow_id] += 1
    waiting = _CALL_WAITERS.get(workflow_id, [])
    for target, future in list(waiting):
        if CALLS_BY_WORKFLOW[workflow_id] >= target:
            waiting.remove((target, future))
            if not future.done():
                future.set_result(None)


async def activity_calls_reach(workflow_id: str, count: int) -> None:
    """Return once the in-process stubs have served ``count`` calls for this workflow.

    Gives up after two minutes (a bench that hangs helps nobody).
    """
    if CALLS_BY_WORKFLOW[workflow_id] >= count:
        return
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    _CALL_WAITERS.setdefault(workflow_id, []).append((count, future))
    try:
        async with asyncio.timeout(120):
            await future
    except TimeoutError:
        raise RuntimeError(
            f"{workflow_id}: {CALLS_BY_WORKFLOW[workflow_id]} activity calls, expected {count}"
        ) from None


@activity.defn(name=effects.POST_SLACK_MESSAGE)
async def stub_post_slack_message(post: SlackPost) -> SlackPostResult:
    _count(effects.POST_SLACK_MESSAGE)
    return SlackPostResult(channel=post.channel, ts=f"{time.time():.6f}")


@activity.defn(name=effects.UPDATE_SLACK_MESSAGE)
async def stub_update_slack_message(update: SlackMessageUpdate) -> None:
    _count(effects.UPDATE_SLACK_MESSAGE)


@activity.defn(name=effects.UPDATE_SALESFORCE_RECORD)
async def stub_update_salesforce_record(update: SalesforceFieldUpdate) -> SalesforceWriteResult:
    _count(effects.UPDATE_SALESFORCE_RECORD)
    return SalesforceWriteResult(sobject=update.sobject, record_id=update.record_id)


@activity.defn(name=effects.CREATE_SALESFORCE_TASK)
async def stub_create_salesforce_task(task: SalesforceTaskRequest) -> SalesforceWriteResult:
    _count(effects.CREATE_SALESFORCE_TASK)
    return SalesforceWriteResult(sobject="Task", record_id=f"00T{uuid.uuid4().hex[:15]}")


@activity.defn(name=effects.ISSUE_LICENSE_KEY)
async def stub_issue_license_key(request: LicenseRequest) -> IssuedLicense:
    _count(effects.ISSUE_LICENSE_KEY)
    return IssuedLicense(
        key_id=f"lk_{uuid.uuid4().hex[:16]}", kind=request.kind, expires_at=request.expires_at
    )


@activity.defn(name=effects.RECORD_TRIAL_OUTCOME)
async def stub_record_trial_outcome(record: TrialOutcomeRecord) -> RecordResult:
    _count(effects.RECORD_TRIAL_OUTCOME)
    return RecordResult(record_id=f"outcome-{record.opportunity_id}")


@activity.defn(name=effects.RECORD_ACCOUNT_PLAN)
async def stub_record_account_plan(record: AccountPlanRecord) -> RecordResult:
    _count(effects.RECORD_ACCOUNT_PLAN)
    return RecordResult(record_id=f"plan-{record.account_id}-{record.quarter}")


@activity.defn(name=effects.RECORD_FEATURE_REQUEST)
async def stub_record_feature_request(record: FeatureRequestRecord) -> RecordResult:
    _count(effects.RECORD_FEATURE_REQUEST)
    return RecordResult(record_id=f"feature-{record.account_id}-{record.number}")


@activity.defn(name=LOOK_UP_ROSTER)
async def stub_look_up_roster() -> Roster:
    _count(LOOK_UP_ROSTER)
    return Roster("U0CELEAD1", "U0SECPM1", "U0SECWEST1", "U0SECEAST1", "U0VALUE1", rotation=1)


@activity.defn(dynamic=True)
async def stub_unknown_activity(args: Sequence[RawValue]) -> None:
    """Any other activity name: fail loudly rather than let a benchmark hang on it."""
    name = activity.info().activity_type
    _count(name)
    raise ApplicationError(
        f"the benchmark has no stub for activity {name!r}; add one to bench/common.py",
        non_retryable=True,
    )


STUB_ACTIVITIES: list[Callable[..., Any]] = [
    stub_post_slack_message,
    stub_update_slack_message,
    stub_update_salesforce_record,
    stub_create_salesforce_task,
    stub_issue_license_key,
    stub_record_trial_outcome,
    stub_record_account_plan,
    stub_record_feature_request,
    stub_look_up_roster,
    stub_unknown_activity,
]
STUBBED_NAMES = frozenset(
    {
        effects.POST_SLACK_MESSAGE,
        effects.UPDATE_SLACK_MESSAGE,
        effects.UPDATE_SALESFORCE_RECORD,
        effects.CREATE_SALESFORCE_TASK,
        effects.ISSUE_LICENSE_KEY,
        effects.RECORD_TRIAL_OUTCOME,
        effects.RECORD_ACCOUNT_PLAN,
        effects.RECORD_FEATURE_REQUEST,
        LOOK_UP_ROSTER,
    }
)


def check_activity_names() -> None:
    """The bare workflows call the activities by the names workflows/effects.py uses."""
    bare_trial = {
        bare_trial_workflow.POST_SLACK_MESSAGE,
        bare_trial_workflow.UPDATE_SALESFORCE_RECORD,
        bare_trial_workflow.CREATE_SALESFORCE_TASK,
        bare_trial_workflow.ISSUE_LICENSE_KEY,
        bare_trial_workflow.RECORD_TRIAL_OUTCOME,
    }
    bare_account = set(bare_account_workflow.EFFECT_CODES)
    if (
        (bare_trial | bare_account) != STUBBED_NAMES
        or not STUBBED_NAMES <= effects.ACTIVITY_NAMES
        or len(set(bare_account_workflow.EFFECT_CODES.values())) != len(bare_account)
    ):
        raise RuntimeError(
            f"activity names drifted: bench/bare_trial_workflow.py {sorted(bare_trial)},"
            f" bench/bare_account_workflow.py {sorted(bare_account)}, stubs"
            f" {sorted(STUBBED_NAMES)}, workflows/effects.py {sorted(effects.ACTIVITY_NAMES)}"
        )


BENCH_SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "workflows", "schemas", "bench"
    )
)


def bench_worker(
    client: Client, task_queue: str, workflows: Sequence[type], **options: Any
) -> Worker:
    """A worker as production runs it (``worker.SHARED_MODULES_SANDBOX``), stub activities.

    The bare workflows' modules (``bench``) are passed through as ours are (``workflows``,
    ``schemas``): else the sandbox re-imports the bare module for every run and the baseline
    pays a cost dealcycle does not."""
    check_activity_names()
    options.setdefault("workflow_runner", BENCH_SANDBOX)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=STUB_ACTIVITIES,
        **options,
    )
    apply_activation_jobs_together(worker)
    return worker


def task_queue(name: str) -> str:
    return f"bench-{name}-{uuid.uuid4().hex[:8]}"


# --- Trials ------------------------------------------------------------------------------------


def trial_input(opportunity_id: str) -> TrialInput:
    return TrialInput(
        start=TrialStart(
            opportunity_id=opportunity_id,
            account_id=f"001{opportunity_id}",
            account_name=f"Account {opportunity_id}",
            ce_owner=CE,
            ae_owner=AE,
            seats=40,
        )
    )


def planning_updates() -> list[CompleteStep]:
    """The eight planning items, each completed by its lead, in template order."""
    return [
        CompleteStep(item.key, CE if item.lead is Role.CE else AE, item.lead)
        for item in TRIAL_PLANNING_ITEMS
    ]


# --- Servers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DevServer:
    client: Client
    target: str
    namespace: str
    pid: int | None
    """The dev server's process id (for its CPU time), when we started it ourselves."""


@contextlib.asynccontextmanager
async def dev_server(label: str) -> AsyncIterator[DevServer]:
    """The real Temporal dev server: in memory, free ports, no UI, a temporary state dir."""
    with tempfile.TemporaryDirectory(prefix=f"dealcycle-bench-{label}-") as tmp:
        async with running_dev_server(
            state_dir=Path(tmp),
            port=free_port(),
            ui_port=None,
            search_attributes=search_attributes.registrations(),
            repo_root=REPO_ROOT,
        ) as info:
            client = await Client.connect(info.target, namespace=info.namespace)
            yield DevServer(client, info.target, info.namespace, info.pid)


@contextlib.asynccontextmanager
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Java time-skipping test server, with our search attributes registered."""
    launcher = find_test_server(REPO_ROOT)
    if launcher is None:
        raise SystemExit(
            "the Java time-skipping test server is not installed: run scripts/install-test-server"
        )
    # A JVM starting on a busy machine takes more than the SDK's default 5 seconds.
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(launcher), test_server_startup_timeout=timedelta(minutes=1)
    )
    async with env:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={
                    key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
                    for key in search_attributes.ALL_KEYS
                },
            )
        )
        yield env


async def skip_time(env: WorkflowEnvironment, duration: timedelta) -> None:
    """``env.sleep(duration)`` without its default RPC deadline.

    The server answers once its clock has moved on, and the clock stays put while the
    workflows' effects run: with 1,000 workflows that is longer than the deadline.
    """
    request = SleepRequest()
    request.duration.FromTimedelta(duration)
    await env.client.test_service.unlock_time_skipping_with_sleep(
        request, timeout=timedelta(minutes=30)
    )


async def settled(handle: WorkflowHandle[Any, Any], calls: int) -> None:
    """Wait until the workflow has made ``calls`` activity calls and none is pending.

    The Java test server rejects a workflow task's completion when an activity completed
    while the task ran (``Expired workflow task``) and only retries it when the task times
    out 10 s later; an update sent while the workflow's activities run starts such a task.
    So each workflow gets its next action once its effects are done (every kind alike).
    """
    await activity_calls_reach(handle.id, calls)
    for _ in range(10_000):
        description = await handle.describe()
        if not description.raw_description.pending_activities:
            return
        await asyncio.sleep(0.002)
    raise RuntimeError(f"{handle.id}: activities still pending")


@dataclass
class Outcome:
    """One measured run of one kind of workflow: timings, activity calls, one's history."""

    kind: str
    count: int
    wall: float = 0.0
    cpu: float = 0.0
    server_cpu: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    history: Counter[str] = field(default_factory=Counter)
    """Event counts of one workflow's history (all its runs), by type and ``(all events)``."""
    history_bytes: int = 0
    runs: int = 1
    """How many runs that history spans (continue-as-new)."""

    @property
    def total_cpu(self) -> float:
        return self.cpu + self.server_cpu


def tally(histories: Iterable[WorkflowHistory]) -> tuple[Counter[str], int]:
    """Event counts (by type, and ``(all events)``) and bytes of these runs' histories."""
    counts: Counter[str] = Counter()
    size = 0
    for history in histories:
        for event in history.events:
            counts[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
        counts["(all events)"] += len(history.events)
        size += sum(event.ByteSize() for event in history.events)
    return counts, size


# --- Processes (from /proc) --------------------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name is in parentheses and may hold spaces: split after its closing one.
    return text[text.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if int(_stat_fields(int(entry.name))[1]) == pid:
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def descendants(pid: int) -> list[int]:
    result, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            result.append(child)
            todo.append(child)
    return result


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds of these processes (those that have exited count 0)."""
    total = 0.0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        # After the command: state(0) ppid(1) ... utime(11) stime(12).
        total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return total


def memory_kb(pid: int) -> dict[str, int]:
    """``VmRSS``, ``VmHWM``, ``RssAnon`` … of a process, in kB."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            values[name] = int(parts[0])
    return values


# --- Concurrency, timing, statistics -----------------------------------------------------------


async def bounded(
    items: Iterable[T], limit: int, action: Callable[[T], Awaitable[Any]]
) -> list[Any]:
    """``action(item)`` for every item, at most ``limit`` at a time; results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(item: T) -> Any:
        async with semaphore:
            return await action(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


@dataclass
class Clock:
    """Wall time, this process's CPU time and other processes' CPU time over a block."""

    other_pids: Sequence[int] = ()
    wall: float = 0.0
    cpu: float = 0.0
    other_cpu: float = 0.0

    def __enter__(self) -> Clock:
        self._wall0 = time.perf_counter()
        self._cpu0 = time.process_time()
        self._other0 = cpu_seconds(self.other_pids)
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.cpu = time.process_time() - self._cpu0
        self.other_cpu = cpu_seconds(self.other_pids) - self._other0


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Summary:
    count: int
    mean: float
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Summary:
        ordered = sorted(values)
        return cls(
            count=len(ordered),
            mean=statistics.fmean(ordered) if ordered else float("nan"),
            p50=percentile(ordered, 0.50),
            p95=percentile(ordered, 0.95),
            p99=percentile(ordered, 0.99),
            max=ordered[-1] if ordered else float("nan"),
        )

    def ms(self) -> str:
        return (
            f"n={self.count:<5} mean {self.mean * 1e3:7.2f}  p50 {self.p50 * 1e3:7.2f}  "
            f"p95 {self.p95 * 1e3:7.2f}  p99 {self.p99 * 1e3:7.2f}  max {self.max * 1e3:7.2f} ms"
        )


def run_main(main: Coroutine[Any, Any, Any]) -> NoReturn:
    """``asyncio.run(main)``, then exit without interpreter finalization. A SIGTERM stops it
    as Ctrl-C does, stopping the servers it started.

    The Temporal client's Rust threads can outlive the event loop and abort a finalizing
    interpreter (temporalio/sdk-python#300); starter/cli.py exits the same way.
    """
    code = 0
    treat_sigterm_as_interrupt()
    try:
        asyncio.run(main)
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# --- Reporting ---------------------------------------------------------------------------------


def heading(title: str) -> None:
    print()
    print(f"== {title} ".ljust(96, "="))
    one, five, _ = os.getloadavg()
    print(
        f"   {datetime.now(UTC).isoformat(timespec='seconds')}, {os.cpu_count()} CPUs,"
        f" load average {one:.1f} / {five:.1f}"
    )


def _tree_cpu() -> float:
    """CPU seconds of this process, its reaped children and its living descendants."""
    fields = _stat_fields(os.getpid())
    own = sum(int(value) for value in fields[11:15]) / _CLOCK_TICKS  # utime stime cutime cstime
    return own + cpu_seconds(descendants(os.getpid()))


def _system_busy() -> float:
    """CPU seconds all CPUs spent busy since boot (``/proc/stat``)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


class MachineWatch:
    """How much CPU *other* processes took while a benchmark ran (they inflate its timings)."""

    def __init__(self) -> None:
        self._wall0 = time.perf_counter()
        self._system0 = _system_busy()
        self._ours0 = _tree_cpu()

    def report(self) -> str:
        wall = time.perf_counter() - self._wall0
        others = max(0.0, (_system_busy() - self._system0) - (_tree_cpu() - self._ours0))
        cores = others / wall if wall > 0 else 0.0
        note = (
            "  BUSY MACHINE: timings are inflated and noisier than on an idle one"
            if cores > 0.25
            else ""
        )
        return (
            f"   other processes used {others:.0f} CPU-s during this benchmark"
            f" ({cores:.2f} of {os.cpu_count()} cores on average).{note}"
        )


def target_line(label: str, measured: float, target: float, unit: str = "x") -> str:
    """``label: measured (target ≤ target) ratio … MET/MISSED``; lower is better."""
    verdict = "MET" if measured <= target else "MISSED"
    # Three figures, but never an exponent: 1086 events, not 1.09e+03.
    shown = f"{measured:.0f}" if abs(measured) >= 1000 else f"{measured:.3g}"
    return (
        f"   TARGET {label}: {shown}{unit}  (target <= {target:g}{unit}, "
        f"{measured / target:.2f} of target)  {verdict}"
    )
