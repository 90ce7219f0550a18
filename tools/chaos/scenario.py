"""One chaos run: start the stack, run the workload while faults are injected on a
schedule, lift the transient faults, wait for quiet, and audit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from temporalio.client import Client

from dealcycle.settings import Settings
from tools.chaos.audit import Findings, audit, effects_views, workflow_ids
from tools.chaos.stack import Stack
from tools.chaos.workload import POISONED_ACCOUNT, Workload, WorkloadSize

ARCHIVED_CHANNEL = "#product-feedback"
POST_METHOD = "chat.postMessage"
INVALID_FIELD = [
    {
        "message": "No such column 'Tier__c' on sobject of type Account",
        "errorCode": "INVALID_FIELD",
        "fields": ["Tier__c"],
    }
]


@dataclass(frozen=True)
class Plan:
    name: str
    kills: int
    chaos_seconds: float
    """The faults and the kills are spread over this long, from the workload's start."""
    retry_after: int
    """Slack's Retry-After on three 429s in a row."""
    slack_outage: float
    postgres_outage: float
    quiet_timeout: float
    stall_gap: float
    size: WorkloadSize
    fault_count: int
    """Calls each Salesforce 403/500 and Slack 500 fault answers."""
    after_faults: float
    """The least time given, once the faults are over, for the timers and retries they held
    back (a Salesforce 403 asks for 30 s) before quiet counts."""
    timings: dict[str, str] = field(default_factory=dict)


FULL = Plan(
    name="full",
    kills=12,
    chaos_seconds=200,
    retry_after=75,  # longer than an activity attempt may take
    slack_outage=45,
    postgres_outage=60,
    quiet_timeout=360,
    stall_gap=20,
    fault_count=4,
    after_faults=60,
    size=WorkloadSize(trials=8, opportunities=6, accounts=8, red_cases=3, trial_days=25, spread=90),
    timings={
        "DEALCYCLE_DAY_LENGTH": "4s",
        "DEALCYCLE_PLANNING_ITEM_DUE": "15s",
        "DEALCYCLE_OVERDUE_REMINDER_DELAY": "5s",
        "DEALCYCLE_OVERDUE_REMINDER_REPEAT": "20s",
        "DEALCYCLE_CHECK_IN_DUE": "8s",
        "DEALCYCLE_RED_ACCOUNT_REMINDER": "15s",
        "DEALCYCLE_RED_ACCOUNT_SLA": "40s",
    },
)
SHORT = Plan(
    name="short",
    kills=3,
    chaos_seconds=25,
    retry_after=3,
    slack_outage=5,
    postgres_outage=8,
    quiet_timeout=75,
    stall_gap=5,
    fault_count=1,
    after_faults=20,
    size=WorkloadSize(trials=2, opportunities=1, accounts=3, red_cases=1, trial_days=6, spread=8),
    timings={
        "DEALCYCLE_DAY_LENGTH": "2s",
        "DEALCYCLE_PLANNING_ITEM_DUE": "6s",
        "DEALCYCLE_OVERDUE_REMINDER_DELAY": "3s",
        "DEALCYCLE_OVERDUE_REMINDER_REPEAT": "10s",
        "DEALCYCLE_CHECK_IN_DUE": "4s",
        "DEALCYCLE_RED_ACCOUNT_REMINDER": "6s",
        "DEALCYCLE_RED_ACCOUNT_SLA": "15s",
    },
)


@dataclass
class Outcome:
    plan: Plan
    findings: Findings
    worker_kills: int
    server_restarts: int
    actions: int
    rejected: int
    workload_errors: list[str]
    events: list[str]
    seconds: float
    phases: str = ""

    @property
    def passed(self) -> bool:
        return (
            self.findings.clean
            and not self.workload_errors
            and self.worker_kills >= self.plan.kills
            and self.server_restarts >= 1
        )

    def report(self, detail: int = 15) -> str:
        f = self.findings
        lines = [
            f"chaos ({self.plan.name}): {self.worker_kills} worker kills,"
            f" {self.server_restarts} dev-server restart(s), {f.posts} Slack posts,"
            f" {f.tasks} Salesforce Tasks, {f.workflows} workflows, {self.actions} actions"
            f" ({self.rejected} rejected), {self.seconds:.0f} s ({self.phases})",
            f"duplicate writes:                {len(f.duplicates)}",
            f"lost effects:                    {len(f.lost)}",
            f"failed or stuck workflows:       {len(f.failed_or_stuck)}",
            f"permanent failures not surfaced: {len(f.not_surfaced)}",
        ]
        for title, items in (
            ("duplicate writes", f.duplicates),
            ("lost effects", f.lost),
            ("failed or stuck workflows", f.failed_or_stuck),
            ("permanent failures not surfaced", f.not_surfaced),
            ("workload errors", self.workload_errors),
            ("notes", f.notes),
        ):
            if items:
                lines.append(f"{title}:")
                lines += [f"  {item}" for item in items[:detail]]
                if len(items) > detail:
                    lines.append(f"  ... and {len(items) - detail} more")
        lines.append("faults: " + "; ".join(self.events))
        return "\n".join(lines)


async def _at(start: float, offset: float) -> None:
    await asyncio.sleep(max(0.0, start + offset - time.monotonic()))


class Chaos:
    def __init__(self, plan: Plan, stack: Stack) -> None:
        self.plan = plan
        self.stack = stack
        self.events: list[str] = []
        self._begin = time.monotonic()

    def _note(self, what: str) -> None:
        self.events.append(f"{time.monotonic() - self._begin:.0f}s {what}")

    async def run(self) -> None:
        self._begin = time.monotonic()
        plan, fakes = self.plan, self.stack.fakes
        slack, salesforce = fakes.slack, fakes.salesforce
        w, n = plan.chaos_seconds, plan.fault_count

        def now(what: str, action: Callable[[], None]) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                action()
                self._note(what)

            return run

        schedule: list[tuple[float, Callable[[], Awaitable[None]]]] = [
            (0.05 * w, now("Salesforce sessions expired (401)", salesforce.expire_sessions)),
            (
                0.10 * w,
                now(
                    f"Slack 429 Retry-After {plan.retry_after}s x3",
                    lambda: slack.rate_limit_next(3, plan.retry_after, POST_METHOD),
                ),
            ),
            (
                0.20 * w,
                now(f"Salesforce 403 x{n}", lambda: salesforce.rate_limit_next(n)),
            ),
            (0.30 * w, now(f"Salesforce 500 x{n}", lambda: salesforce.server_error_next(n))),
            (0.35 * w, now(f"Slack 500 x{n}", lambda: slack.server_error_next(n, POST_METHOD))),
            (0.45 * w, self._slack_down),
            (0.60 * w, self._restart_server),
            (0.70 * w, self._postgres_down),
        ]

        async def later(offset: float, job: Callable[[], Awaitable[None]]) -> None:
            await _at(self._begin, offset)
            await job()

        await asyncio.gather(self._kills(), *(later(o, job) for o, job in schedule))

    async def _kills(self) -> None:
        gap = self.plan.chaos_seconds / (self.plan.kills + 1)
        for n in range(1, self.plan.kills + 1):
            await _at(self._begin, n * gap)
            for _ in range(120):  # the worker may be down: PostgreSQL or the server is
                if self.stack.kill_worker():
                    break
                await asyncio.sleep(0.5)

    async def _slack_down(self) -> None:
        self.stack.fakes.slack.stop()
        self._note(f"Slack down ({self.plan.slack_outage:.0f}s: refused connections)")
        await asyncio.sleep(self.plan.slack_outage)
        self.stack.fakes.slack.start()
        self._note("Slack back")

    async def _restart_server(self) -> None:
        self._note("dev server restart")
        await self.stack.restart_server()
        self._note("dev server back")

    async def _postgres_down(self) -> None:
        await asyncio.to_thread(self.stack.postgres.stop)
        self._note(f"PostgreSQL down ({self.plan.postgres_outage:.0f}s)")
        await asyncio.sleep(self.plan.postgres_outage)
        await asyncio.to_thread(self.stack.postgres.start)
        self._note("PostgreSQL back")


async def _quiet(client: Client, stack: Stack, within: float) -> bool:
    """Until no activity of ours is pending (every fault has been lived through; an attempt
    cut off by a worker kill is retried only once its start-to-close has passed), or
    ``within`` seconds. A write refused for good leaves its ledger row unfinished for ever,
    so the ledger cannot say when it is quiet; its effect has no activity pending."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        busy = False
        for workflow_id in await workflow_ids(client, stack.task_queue):
            raw = (await client.get_workflow_handle(workflow_id).describe()).raw_description
            if raw.pending_activities:
                busy = True
                break
        if not busy:
            return True
        await asyncio.sleep(2.0)
    return False


async def _pending_effects(client: Client, ids: list[str]) -> set[tuple[str, str, int]]:
    views = await effects_views(client, ids)
    return {
        (workflow_id, effect.key, effect.attempts)
        for workflow_id, view in views.items()
        if not isinstance(view, Exception)
        for effect in view.effects
        if effect.state == "pending"
    }


async def run(plan: Plan, run_dir: Path) -> Outcome:
    began = time.monotonic()
    stack = Stack(run_dir, plan.timings)
    client = await stack.start()
    marks = [("start-up", time.monotonic())]
    try:
        fakes = stack.fakes
        archived = fakes.slack.channel_id(ARCHIVED_CHANNEL)
        fakes.slack.archive_channel(ARCHIVED_CHANNEL)
        fakes.salesforce.fail_next(
            "PATCH", rf"/sobjects/Account/{POISONED_ACCOUNT}", 400, INVALID_FIELD, count=100_000
        )
        settings = replace(Settings.from_env(stack.worker_env()), task_queue=stack.task_queue)
        workload = Workload(client, settings, plan.size)
        chaos = Chaos(plan, stack)
        await asyncio.gather(workload.run(), chaos.run())
        marks.append(("workload and faults", time.monotonic()))
        await asyncio.sleep(plan.after_faults)
        quiet = await _quiet(client, stack, plan.quiet_timeout)
        marks.append(("quiet", time.monotonic()))
        ids = await workflow_ids(client, stack.task_queue)
        before = await _pending_effects(client, ids)
        await asyncio.sleep(plan.stall_gap)
        after = await _pending_effects(client, ids)
        stalled = {(wf, key) for wf, key, _ in before & after}
        findings = await audit(
            client,
            fakes,
            stack.database_url,
            stack.task_queue,
            archived_channel_ids={archived} if archived else set(),
            poisoned_records={POISONED_ACCOUNT},
            stalled=stalled,
        )
        marks.append(("audit", time.monotonic()))
        if not quiet:
            findings.notes.append(f"not quiet after {plan.quiet_timeout:.0f} s")
        return Outcome(
            plan=plan,
            findings=findings,
            worker_kills=stack.worker_kills,
            server_restarts=stack.server_restarts,
            actions=workload.actions,
            rejected=workload.rejected,
            workload_errors=workload.errors,
            events=chaos.events,
            seconds=time.monotonic() - began,
            phases=", ".join(
                f"{name} {end - start:.0f} s"
                for (name, end), (_, start) in zip(marks, [("", began), *marks], strict=False)
            ),
        )
    finally:
        await stack.stop()
