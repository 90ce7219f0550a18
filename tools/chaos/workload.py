"""The mixed workload: trials, opportunities, accounts and red-account cases, driven through
the client the way the CLI drives them, every call retried until the system answers.

Actions carry an update id, so an action asked again after a lost answer (the worker or the
server died meanwhile) is taken once. A rejection is an answer, not a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError, RPCStatusCode

from dealcycle.settings import Settings
from schemas.account import LifecycleStage, RecordFeatureRequest, account_workflow_id
from schemas.common import DeploymentType, Region, Role, TechnicalWinStatus
from schemas.health import HealthView, RecordActionPlan, SetHealth
from schemas.opportunity import AdvanceStage, CloseOpportunity, LinkTdd, OpportunityKind, Stage
from schemas.trial import TRIAL_PLANNING_ITEMS, CompleteStep, SetTechnicalWin, StartTrialOverride
from starter.accounts import account_start_for, start_account
from starter.opportunities import opportunity_start_for, start_opportunity
from starter.trials import CommandError, start_trial, trial_start_for

CE, AE = "U0CHAOSCE1", "U0CHAOSAE1"
POISONED_ACCOUNT = "001CHAOSBAD"
"""Its Salesforce record refuses every write with INVALID_FIELD (a permanent failure)."""
CALL_PATIENCE = 180.0

TRANSIENT = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.CANCELLED,
    }
)
"""What a server restart or a busy machine answers; anything else is the workload's error."""

T = TypeVar("T")


@dataclass
class WorkloadSize:
    trials: int
    opportunities: int
    accounts: int
    red_cases: int
    trial_days: int
    spread: float
    """Seconds over which the workflows are started."""


@dataclass
class Workload:
    client: Client
    settings: Settings
    size: WorkloadSize
    started: list[str] = field(default_factory=list)
    actions: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    _updates: int = 0

    async def run(self) -> None:
        jobs: list[Awaitable[None]] = []
        plan: list[tuple[str, int]] = (
            [("trial", n) for n in range(self.size.trials)]
            + [("opportunity", n) for n in range(self.size.opportunities)]
            + [("account", n) for n in range(self.size.accounts)]
        )
        random.Random(7).shuffle(plan)
        gap = self.size.spread / max(len(plan), 1)
        for index, (kind, n) in enumerate(plan):
            delay = index * gap
            if kind == "trial":
                jobs.append(self._guard(f"trial {n}", self._trial(n, delay)))
            elif kind == "opportunity":
                jobs.append(self._guard(f"opportunity {n}", self._opportunity(n, delay)))
            else:
                red = 0 < n <= self.size.red_cases
                jobs.append(self._guard(f"account {n}", self._account(n, delay, red)))
        await asyncio.gather(*jobs)

    async def _guard(self, what: str, job: Awaitable[None]) -> None:
        try:
            await job
        except Exception as error:  # reported, never hidden: the harness fails on it
            self.errors.append(f"{what}: {type(error).__name__}: {error}")

    # -- calls ----------------------------------------------------------------------------

    async def _patiently(self, call: Callable[[], Awaitable[T]]) -> T:
        """The call, asked again while the server, the worker or the database is down."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CALL_PATIENCE
        while True:
            try:
                return await asyncio.wait_for(call(), 30)
            except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
                pass  # the worker is down: the update waits for the next one
            except RPCError as error:
                # A call cut off by the server's restart comes back as UNKNOWN "transport
                # error"; update ids and start's duplicate check make asking again safe.
                cut_off = error.status == RPCStatusCode.UNKNOWN and "transport" in str(error)
                if error.status not in TRANSIENT and not cut_off:
                    raise
            if loop.time() > deadline:
                raise TimeoutError(f"no answer in {CALL_PATIENCE:.0f} s")
            await asyncio.sleep(1.0)

    async def _act(self, workflow_id: str, update: str, request: object) -> None:
        self._updates += 1
        update_id = f"chaos-{self._updates}"
        handle = self.client.get_workflow_handle(workflow_id)
        self.actions += 1
        try:
            await self._patiently(
                lambda: handle.execute_update(update, request, id=update_id, rpc_timeout=None)
            )
        except WorkflowUpdateFailedError:
            self.rejected += 1

    async def _start(self, workflow_id: str, start: Callable[[], Awaitable[Any]]) -> None:
        async def once() -> None:
            with contextlib.suppress(CommandError):  # an earlier try got through
                await start()

        await self._patiently(once)
        self.started.append(workflow_id)

    # -- the kinds of work ----------------------------------------------------------------

    async def _trial(self, n: int, delay: float) -> None:
        await asyncio.sleep(delay)
        opportunity = f"006CHAOST{n:03d}"
        workflow_id = f"trial-{opportunity}"
        start = trial_start_for(
            self.settings,
            opportunity_id=opportunity,
            account_id=f"001CHAOST{n:03d}",
            account_name=f"Trial Customer {n}",
            ce_owner=CE,
            ae_owner=AE,
            seats=20 + n,
            length_days=self.size.trial_days,
        )
        await self._start(workflow_id, lambda: start_trial(self.client, self.settings, start))
        if n % 2 == 0:
            for item in TRIAL_PLANNING_ITEMS:
                actor = CE if item.lead is Role.CE else AE
                step = CompleteStep(item.key, actor, item.lead)
                await self._act(workflow_id, "complete_step", step)
        else:
            await self._act(
                workflow_id,
                "start_with_override",
                StartTrialOverride(AE, Role.AE, "the customer's budget closes this quarter"),
            )
        await self._act(
            workflow_id,
            "set_technical_win",
            SetTechnicalWin(TechnicalWinStatus.IN_PROGRESS, CE, "use cases agreed"),
        )

    async def _opportunity(self, n: int, delay: float) -> None:
        await asyncio.sleep(delay)
        opportunity = f"006CHAOSO{n:03d}"
        workflow_id = f"opportunity-{opportunity}"
        start = opportunity_start_for(
            self.settings,
            opportunity_id=opportunity,
            account_id=f"001CHAOSO{n:03d}",
            account_name=f"Prospect {n}",
            ae_owner=AE,
            ce_owner=CE,
            region=Region.US_WEST_APAC if n % 2 else Region.US_EAST_EMEA,
            deployment_type=DeploymentType.CLOUD,
            tier=2,
            kind=OpportunityKind.NEW,
            complex_engagement=False,
            stage=Stage.QUALIFICATION,
        )
        await self._start(workflow_id, lambda: start_opportunity(self.client, self.settings, start))
        await self._act(
            workflow_id, "link_tdd", LinkTdd(f"https://docs.example/tdd/{n}", CE, Role.CE)
        )
        await self._act(workflow_id, "advance_stage", AdvanceStage(Stage.SOLUTION, AE, Role.AE))
        if n % 2:
            await self._act(
                workflow_id, "close", CloseOpportunity(False, AE, Role.AE, "went with a rival")
            )

    async def _account(self, n: int, delay: float, red: bool) -> None:
        await asyncio.sleep(delay)
        account = POISONED_ACCOUNT if n == 0 else f"001CHAOSA{n:03d}"
        workflow_id = account_workflow_id(account)
        now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        profile: dict[str, Any] = dict(
            account_id=account,
            account_name=f"Customer {n}",
            tier=1 + n % 3,
            renewal_date=now + timedelta(days=200),
            seats=100 + n,
            ae_owner=AE,
            ce_owner=CE,
            region="US West / APAC",
            stage=LifecycleStage.ADOPTION,
            cadence="weekly",
        )
        account_start_for(self.settings, **profile)  # a bad profile fails here, not in a retry
        await self._start(workflow_id, lambda: start_account(self.client, self.settings, **profile))
        last = n == self.size.accounts - 1
        if n > self.size.red_cases and (n % 2 == 0 or last):
            # Product feedback goes to a channel archived for the whole run.
            await self._act(
                workflow_id,
                "record_feature_request",
                RecordFeatureRequest(f"Export to CSV ({n})", CE, Role.CE),
            )
        if not red:
            return
        await self._act(
            workflow_id, "set_health", SetHealth("red", AE, Role.AE, "the champion left")
        )
        case_id = await self._open_case(workflow_id)
        if case_id is None:
            self.errors.append(f"{workflow_id}: set red, but no red-account case opened")
            return
        self.started.append(case_id)
        # Reminders run until both halves of the action plan are in.
        await asyncio.sleep(self.size.spread / 2)
        for actor, role in ((AE, Role.AE), (CE, Role.CE)):
            await self._act(
                case_id,
                "record_action_plan",
                RecordActionPlan(actor, role, "at risk", "exec sponsor", "weekly calls"),
            )

    async def _open_case(self, workflow_id: str) -> str | None:
        handle = self.client.get_workflow_handle(workflow_id)
        for _ in range(60):
            view: HealthView = await self._patiently(
                lambda: handle.query("health", result_type=HealthView)
            )
            if view.open_case:
                return view.open_case
            await asyncio.sleep(1.0)
        return None
