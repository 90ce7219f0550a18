"""Static summaries of the starts the time-skipping server does not keep (a signal-with-start
drops them there): the account a hand-off starts, the intake's run and its activities, and
the trial an opportunity starts as its child. On the dev server, on the real clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from schemas.account import account_workflow_id
from schemas.common import DeploymentType, Region, Role
from schemas.intake import CLOSED_WON_SCHEDULE_ID, IntakeRun
from schemas.opportunity import LinkTdd, OpportunityKind, StartOpportunityTrial
from schemas.trial import trial_workflow_id
from starter.intake import deal_closed, ensure_intake_schedule, run_intake_once
from starter.opportunities import opportunity_start_for, start_opportunity
from tests.support.accounts import AE, CE
from tests.support.dev_temporal import dev_client, dev_harness_factory
from tests.support.patience import settle
from tests.support.web_ui import current_details, event_summaries, of_type
from workflows.opportunity import OpportunityWorkflow

__all__ = ["dev_client", "dev_harness_factory"]  # the dev-server fixtures, shared


async def test_the_intake_and_the_account_its_hand_off_starts_say_what_they_are(
    dev_harness_factory: Any, salesforce_fake: Any
) -> None:
    salesforce_fake.add_record("Account", {"Id": "001WEBUI3", "Name": "Initech"})
    salesforce_fake.add_record(
        "Opportunity", {"Id": "006WEBUI3", "AccountId": "001WEBUI3", "StageName": "Closed Won"}
    )
    async with dev_harness_factory() as h:
        result = await run_intake_once(h.client, h.settings, IntakeRun())
        assert result.handed_off == ["006WEBUI3"]
        account = h.track(h.client.get_workflow_handle(account_workflow_id("001WEBUI3")))
        await settle(account)
        summary = await (await account.describe()).static_summary()
        assert summary is not None and summary.startswith("Initech · "), summary
        assert " · renews " in summary

        [run] = [
            run
            async for run in h.client.list_workflows(
                f"WorkflowId STARTS_WITH '{CLOSED_WON_SCHEDULE_ID}-manual-'"
            )
        ]
        intake = h.client.get_workflow_handle(run.id, run_id=run.run_id)
        assert await (await intake.describe()).static_summary() == (
            "Closed Won intake: poll Salesforce and hand won deals off"
        )
        activities = of_type(await event_summaries(h.client, intake), "ACTIVITY_TASK_SCHEDULED")
        assert activities[0].startswith("read the watermark ")
        assert activities[1].startswith("Salesforce: Closed Won since ")
        assert "hand off 1 won deal" in activities  # a page at a time
        assert activities[-1].startswith("save the watermark ")

        # `dealcycle deal-closed` reads the one deal and hands it off (again: a no-op).
        await deal_closed(h.client, h.settings, "006WEBUI3")
        [run] = [
            run
            async for run in h.client.list_workflows(
                f"WorkflowId STARTS_WITH '{CLOSED_WON_SCHEDULE_ID}-deal-closed-006WEBUI3-'"
            )
        ]
        named = h.client.get_workflow_handle(run.id, run_id=run.run_id)
        assert await (await named.describe()).static_summary() == "Deal closed: hand 006WEBUI3 off"
        assert of_type(await event_summaries(h.client, named), "ACTIVITY_TASK_SCHEDULED") == [
            "Salesforce: read 006WEBUI3",
            "hand 006WEBUI3 off to account-001WEBUI3",
        ]


async def test_an_opportunity_and_the_trial_it_starts_carry_their_summaries(
    dev_harness_factory: Any, salesforce_fake: Any
) -> None:
    salesforce_fake.add_record("Opportunity", {"Id": "006WEBUI4", "Name": "Globex"})
    async with dev_harness_factory() as h:
        start = opportunity_start_for(
            h.settings,
            opportunity_id="006WEBUI4",
            account_id="001GLOBEX",
            account_name="Globex",
            ae_owner=AE,
            ce_owner=CE,
            region=Region.US_EAST_EMEA,
            deployment_type=DeploymentType.SELF_HOSTED,
            tier=2,
            kind=OpportunityKind.NEW,
            complex_engagement=False,
        )
        opportunity = h.track(
            h.client.get_workflow_handle_for(
                OpportunityWorkflow.run, await start_opportunity(h.client, h.settings, start)
            )
        )
        assert await (await opportunity.describe()).static_summary() == (
            "Opportunity · Globex · 006WEBUI4 · new · Tier 2"
        )
        await opportunity.execute_update(
            OpportunityWorkflow.link_tdd, LinkTdd("https://docs/tdd/globex", CE, Role.CE)
        )
        await opportunity.execute_update(
            OpportunityWorkflow.start_trial, StartOpportunityTrial(CE, Role.CE, length_days=21)
        )
        await settle(opportunity)  # the child has started
        trial = h.track(h.client.get_workflow_handle(trial_workflow_id("006WEBUI4")))
        summary = await (await trial.describe()).static_summary()
        assert summary == "Trial · Globex · 006WEBUI4 · 21 days"
        found = await event_summaries(h.client, opportunity)
        assert of_type(found, "START_CHILD_WORKFLOW_EXECUTION_INITIATED") == [summary]
        details = await current_details(opportunity)
        assert details.startswith("**Opportunity · Globex · 006WEBUI4 · new · Tier 2** · phase ")
        assert details.endswith("\n\n- trial planning, technical win in_progress"), details


async def test_a_run_the_schedule_starts_carries_the_schedules_summary(
    dev_harness_factory: Any,
) -> None:
    async with dev_harness_factory() as h:
        await ensure_intake_schedule(h.client, h.settings, timedelta(hours=1))
        schedule = h.client.get_schedule_handle(CLOSED_WON_SCHEDULE_ID)
        try:
            await schedule.trigger()
            workflow_id = ""
            for _ in range(600):
                actions = (await schedule.describe()).info.recent_actions
                if actions:
                    workflow_id = actions[-1].action.workflow_id
                    break
                await asyncio.sleep(0.1)
            run = h.client.get_workflow_handle(workflow_id)
            description = await run.describe()
            assert await description.static_summary() == (
                "Closed Won intake: poll Salesforce and hand won deals off"
            )
            assert await description.static_details() == "**Runs**: every 1:00:00"
            await run.result()
        finally:
            await schedule.delete()
