"""Operations on deal close: ``dealcycle deal-closed`` and the Closed Won intake schedule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from simple_salesforce.exceptions import SalesforceResourceNotFound
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError

from activities.handoff import hand_off
from activities.salesforce import SalesforceConnector
from dealcycle.settings import Settings
from schemas.account import AccountHandOff, HandOffRequest
from schemas.intake import CLOSED_WON_SCHEDULE_ID, IntakeResult, IntakeRun
from schemas.opportunity import OpportunityState, opportunity_workflow_id
from starter.trials import CommandError
from workflows.intake import ClosedWonIntakeWorkflow
from workflows.opportunity import OpportunityWorkflow


def salesforce_settings_for_cli(settings: Settings) -> Settings:
    """Real credentials, or the sandbox a running ``dealcycle run`` advertises."""
    if settings.salesforce.configured:
        return settings
    from dealcycle.fakes import endpoints_path, read_endpoints
    from worker import with_sandbox

    if not endpoints_path(settings.state_dir).exists():
        raise CommandError(
            "Salesforce is not configured (set SALESFORCE_LOGIN_URL, SALESFORCE_CLIENT_ID, ...)"
            " and no sandbox is running (`dealcycle run` starts one)"
        )
    return with_sandbox(settings, dict(read_endpoints(settings.state_dir).env))


def read_opportunity(settings: Settings, opportunity_id: str) -> dict[str, Any]:
    """Blocking: the Salesforce Opportunity, or a CommandError saying there is none."""
    connector = SalesforceConnector(settings.salesforce)
    try:
        opportunity: dict[str, Any] = connector.call(
            lambda sf: connector.sobject(sf, "Opportunity").get(opportunity_id)
        )
    except SalesforceResourceNotFound:
        raise CommandError(f"Salesforce has no Opportunity {opportunity_id!r}") from None
    return opportunity


def _read_won_deal(
    settings: Settings, opportunity_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    connector = SalesforceConnector(settings.salesforce)
    opportunity = read_opportunity(settings, opportunity_id)
    stage = opportunity.get("StageName")
    if stage != "Closed Won":
        raise CommandError(
            f"{opportunity_id} is not Closed Won (it is {stage!r}); nothing was handed off"
        )
    account_id = opportunity.get("AccountId")
    if not account_id:
        raise CommandError(
            f"{opportunity_id} has no AccountId in Salesforce; nothing was handed off"
        )
    account: dict[str, Any] = connector.call(
        lambda sf: connector.sobject(sf, "Account").get(account_id)
    )
    return opportunity, account


async def deal_closed(client: Client, settings: Settings, opportunity_id: str) -> str:
    """Hand a Closed Won opportunity to its account's workflow; a repeat changes nothing."""
    opportunity, account = await asyncio.to_thread(
        _read_won_deal, salesforce_settings_for_cli(settings), opportunity_id
    )
    known = await _opportunity_state(client, opportunity_id)
    deal = AccountHandOff(
        opportunity_id=opportunity_id,
        account_id=str(opportunity["AccountId"]),
        account_name=str(account.get("Name") or opportunity["AccountId"]),
        kind=known.kind.value if known else str(opportunity.get("Type") or "new"),
        seats=0,
        ae_owner=known.ae_owner if known else "",
        ce_owner=known.ce_owner if known else "",
        tier=0,
        region=known.region.value if known else str(account.get("Region__c") or ""),
        closed_at=datetime.now(UTC),
    )
    result = await hand_off(
        client, settings.task_queue, HandOffRequest(deal), settings.account_config()
    )
    if result.already_handed_off:
        return f"{result.workflow_id} is already running and has {opportunity_id}; nothing changed"
    if result.started:
        return f"started {result.workflow_id} for {opportunity_id}"
    return f"{result.workflow_id} was already running; handed {opportunity_id} to it"


async def _opportunity_state(client: Client, opportunity_id: str) -> OpportunityState | None:
    try:
        handle = client.get_workflow_handle_for(
            OpportunityWorkflow.run, opportunity_workflow_id(opportunity_id)
        )
        state: OpportunityState = await handle.query(OpportunityWorkflow.state)
    except RPCError:  # no opportunity workflow (a deal made outside dealcycle): Salesforce alone
        return None
    return state


def intake_schedule(settings: Settings, every: timedelta) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ClosedWonIntakeWorkflow.run,
            IntakeRun(),
            id=f"{CLOSED_WON_SCHEDULE_ID}-run",
            task_queue=settings.task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # A poll still running when the next is due: skip rather than read twice at once.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_intake_schedule(client: Client, settings: Settings, every: timedelta) -> str:
    schedule = intake_schedule(settings, every)
    try:
        await client.create_schedule(CLOSED_WON_SCHEDULE_ID, schedule)
        return f"created schedule {CLOSED_WON_SCHEDULE_ID}: a Closed Won poll every {every}"
    except ScheduleAlreadyRunningError:

        def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(CLOSED_WON_SCHEDULE_ID).update(update)
        return f"updated schedule {CLOSED_WON_SCHEDULE_ID}: a Closed Won poll every {every}"


async def run_intake_once(
    client: Client, settings: Settings, run: IntakeRun | None = None
) -> IntakeResult:
    result: IntakeResult = await client.execute_workflow(
        ClosedWonIntakeWorkflow.run,
        run or IntakeRun(),
        id=f"{CLOSED_WON_SCHEDULE_ID}-manual-{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
        task_queue=settings.task_queue,
    )
    return result
