"""Driving one ``AccountWorkflow`` on the time-skipping test server, the way its team would.

Shared by ``tests/test_account_workflow.py`` and ``bench/account_years.py``, so nothing here
needs pytest or the test harness: every function takes what it uses (client, environment,
task queue, settings, the Salesforce fake) explicitly. ``live_three_years`` is the long
simulation: three years of a Tier 1 account, the team doing what is asked of it each month.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from dealcycle.fakes import SalesforceFake
from dealcycle.settings import Settings
from schemas.account import (
    AccountProfile,
    AccountStart,
    AccountState,
    CompleteAccountStep,
    CompleteOnboarding,
    LifecycleStage,
    PlanContacts,
    RecordFeatureRequest,
    RecordKickoffPlan,
    RecordRenewalAssessment,
    RecordRenewalCall,
    RecordRenewalOutcome,
    ReportProductionReady,
    SubmitAccountPlan,
    UsageReport,
    account_workflow_id,
)
from schemas.common import Role
from tests.support.patience import settle
from workflows.account import AccountWorkflow
from workflows.account_calendar import add_years, midnight

CE, AE, VE = "U0CE00001", "U0AE00001", "U0VALUEENG1"
CE_LEADER = "U0CELEAD1"
DAY = timedelta(days=1)
HISTORY_LIMIT = 1_000
"""The tests' history ceiling per run: low, so that three years continue as new by size too."""
TIER_1_ACCOUNT = "001TIER1"

Handle = WorkflowHandle[Any, Any]


def profile(account_id: str, renewal_date: datetime, tier: int = 1, seats: int = 100) -> Any:
    return AccountProfile(
        account_id=account_id,
        account_name=f"Acme {account_id}",
        tier=tier,
        region="US East / EMEA",
        ae_owner=AE,
        ce_owner=CE,
        seats=seats,
        renewal_date=renewal_date,
    )


async def start_account(
    client: Client,
    env: WorkflowEnvironment,
    task_queue: str,
    settings: Settings,
    salesforce_fake: SalesforceFake,
    account_id: str,
    renewal_in: timedelta,
    *,
    stage: LifecycleStage = LifecycleStage.KICKOFF,
    tier: int = 1,
    history_limit: int = HISTORY_LIMIT,
    track: Callable[[Handle], object] | None = None,
) -> Handle:
    """Start the account (its Salesforce record first) and wait until it has settled.

    ``track`` gets the handle as soon as the workflow exists (the test harness terminates
    what it tracked, so a failed test leaves nothing holding the test server's clock).
    """
    salesforce_fake.add_record("Account", {"Id": account_id, "Name": f"Acme {account_id}"})
    now = await env.get_current_time()
    config = replace(settings.account_config(), history_event_limit=history_limit)
    start = AccountStart(
        account_id,
        f"Acme {account_id}",
        profile=profile(account_id, midnight(now + renewal_in), tier),
        stage=stage,
        config=config,
    )
    started = await client.start_workflow(
        AccountWorkflow.run,
        start,
        id=account_workflow_id(account_id),
        task_queue=task_queue,
    )
    # No run id: actions follow the account across continue-as-new.
    handle: Handle = client.get_workflow_handle_for(
        AccountWorkflow.run, started.id, first_execution_run_id=started.result_run_id
    )
    if track is not None:
        track(handle)
    await settle(handle)
    return handle


def case_id(account: Handle, number: int) -> str:
    """The id of the account's ``number``-th red-account case: scoped by the account's first
    run, so a later run of the same account never reuses it."""
    # Imported here: the history recorder imports this module with older checkouts' code.
    from schemas.health import red_account_workflow_id
    from workflows.health_rules import case_scope_of

    assert account.first_execution_run_id, "the account's handle needs its first run id"
    scope = case_scope_of(f"{account.id}/{account.first_execution_run_id}")
    return red_account_workflow_id(account.id.removeprefix("account-"), number, scope)


async def state(handle: Handle) -> AccountState:
    return await handle.query(AccountWorkflow.state)


async def advance_to(env: WorkflowEnvironment, handle: Handle, moment: datetime) -> None:
    """Skip the test server's clock to ``moment`` (if it is ahead), then let the account
    settle."""
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)
    await settle(handle)


def a_plan(quarter: str, actor: str = CE) -> SubmitAccountPlan:
    return SubmitAccountPlan(
        quarter=quarter,
        actor=actor,
        role=Role.CE,
        contacts=PlanContacts("Dana (VP Eng)", "Sam (CTO)", "Lee (Staff Eng)", "Kim (IT)"),
        use_cases=["code search across 4,000 repos"],
        health="green",
        expansion_opportunities=["platform team"],
        risks=["champion moving teams"],
        product_feedback_themes=["faster indexing"],
        objectives=[f"{quarter}: 80% weekly active"],
        next_steps=f"{quarter}: schedule admin training refresh",
        link=f"https://docs.example.com/plans/acme-{quarter}",
    )


async def onboard(handle: Handle, cadence: str = "bi-weekly") -> None:
    await handle.execute_update(
        AccountWorkflow.record_kickoff_plan,
        RecordKickoffPlan(CE, Role.CE, cadence, ["security"], True, ["monorepo migration"]),
    )
    await handle.execute_update(
        AccountWorkflow.report_production_ready, ReportProductionReady(CE, Role.CE)
    )
    for training in ("training-101", "training-102", "training-admin", "training-security"):
        await handle.execute_update(
            AccountWorkflow.complete_step, CompleteAccountStep(training, CE, Role.CE)
        )
    await handle.execute_update(
        AccountWorkflow.complete_onboarding, CompleteOnboarding(CE, Role.CE)
    )


async def do_what_is_asked(handle: Handle, outcomes: dict[str, RecordRenewalOutcome]) -> list[str]:
    """Everything open today, done by its owner; returns the step keys handled."""
    view = await state(handle)
    handled = []
    for step in view.open_steps:
        if step.kind == "renewal_assessment":
            role = Role(step.role)
            risks = ["budget review in Q3"] if role is Role.AE else []
            await handle.execute_update(
                AccountWorkflow.record_renewal_assessment,
                RecordRenewalAssessment(step.owner, role, risks),
            )
        elif step.kind == "account_plan":
            await handle.execute_update(
                AccountWorkflow.submit_account_plan, a_plan(step.key.removeprefix("account-plan-"))
            )
        elif step.kind in ("qbr", "value_realization", "renewal_proposal"):
            if step.kind == "renewal_proposal":
                await handle.execute_update(
                    AccountWorkflow.record_renewal_call, RecordRenewalCall(AE, Role.AE, "kickoff")
                )
            await handle.execute_update(
                AccountWorkflow.complete_step, CompleteAccountStep(step.key, step.owner, Role.CE)
            )
        elif step.kind == "renewal_outcome":
            tag = step.key.removeprefix("renewal-outcome-")
            if tag not in outcomes:
                continue
            await handle.execute_update(AccountWorkflow.record_renewal_outcome, outcomes[tag])
        else:
            continue
        handled.append(step.key)
    return handled


async def run_histories(handle: Handle, client: Client) -> list[WorkflowHistory]:
    """The history of every run of the account, first to current."""
    histories = []
    run_id: str | None = handle.first_execution_run_id
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        else:
            run_id = None
    return histories


async def run_lengths(handle: Handle, client: Client) -> list[int]:
    """The history length of every run of the account, first to current."""
    return [len(history.events) for history in await run_histories(handle, client)]


@dataclass(frozen=True)
class ThreeYearsResult:
    """What ``live_three_years`` leaves for its caller to check (or to report)."""

    handle: Handle
    began: datetime
    """The test server's clock once the account had started and settled."""
    first: AccountState
    """The account's state right after it started, before anyone acted."""
    renewals: list[datetime]
    """The three contract ends: a year, two and three years after ``began`` (midnight)."""
    end: datetime
    """Where the clock was left: 20 days before the third renewal (its window is open)."""
    handled: list[str]
    """The step keys the team handled, in order."""
    checkpoints: int
    """How many times the team looked at what was asked of it."""


async def live_three_years(
    client: Client,
    env: WorkflowEnvironment,
    task_queue: str,
    settings: Settings,
    salesforce_fake: SalesforceFake,
    *,
    account_id: str = TIER_1_ACCOUNT,
    history_limit: int = HISTORY_LIMIT,
    track: Callable[[Handle], object] | None = None,
) -> ThreeYearsResult:
    """Three years of a Tier 1 account with 100 seats, renewing yearly.

    Kickoff and onboarding (bi-weekly check-ins), a usage report and a feature request, then
    the team acts the day after work appears (each month's start, each renewal window): the
    monthly assessments, twelve quarterly plans and QBRs, the value exercises and renewal
    calls; the first renewal is a plain one, the second a seat expansion to 150. The clock
    stops 20 days before the third renewal, whose outcome is left open.
    """
    handle = await start_account(
        client,
        env,
        task_queue,
        settings,
        salesforce_fake,
        account_id,
        renewal_in=365 * DAY,
        history_limit=history_limit,
        track=track,
    )
    began = await env.get_current_time()
    first = await state(handle)
    renewals = [add_years(midnight(began), 365 * n) for n in (1, 2, 3)]
    await onboard(handle)
    await handle.signal(
        AccountWorkflow.usage_reported,
        UsageReport(72, "5.4.1", ["SSO login loop (#4411)"]),
    )
    await handle.execute_update(
        AccountWorkflow.record_feature_request,
        RecordFeatureRequest("Saved searches per team", CE, Role.CE, "asked by Dana"),
    )
    outcomes = {
        renewals[0].date().isoformat(): RecordRenewalOutcome("renewed", AE, Role.AE),
        renewals[1].date().isoformat(): RecordRenewalOutcome(
            "seat_expansion", AE, Role.AE, seats=150, note="platform team joins"
        ),
    }
    # The team acts the day after work appears: each month's start, each renewal window.
    end = renewals[2] - 20 * DAY
    checkpoints = {renewal - 89 * DAY for renewal in renewals}
    month = datetime(began.year, began.month, 1, tzinfo=UTC)
    while month < end:
        month = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        checkpoints.add(month + DAY)
    moments = sorted(moment for moment in checkpoints if moment < end)
    handled: list[str] = []
    for moment in moments:
        await advance_to(env, handle, moment)
        done = await do_what_is_asked(handle, outcomes)
        if done:
            await settle(handle)
        handled += done
    await advance_to(env, handle, end)
    return ThreeYearsResult(handle, began, first, renewals, end, handled, len(moments))
