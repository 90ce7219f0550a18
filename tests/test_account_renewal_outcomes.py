"""The renewal outcomes that end a cycle differently: a new team's expansion opportunity, and
churn; and the account's search attributes, what an engineer filters on in the UI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowExecutionStatus

from schemas import search_attributes as sa
from schemas.account import CompleteAccountStep, LifecycleStage, RecordRenewalOutcome
from schemas.common import Role
from schemas.opportunity import OpportunityKind, Stage
from tests.support.accounts import AE, DAY, VE, advance_to, settle, start_account, state
from workflows.account import AccountWorkflow
from workflows.opportunity import OpportunityWorkflow


async def in_renewal_window(harness: Any, salesforce_fake: Any, account_id: str) -> Any:
    handle = await start_account(
        harness.client,
        harness.env,
        harness.task_queue,
        harness.settings,
        salesforce_fake,
        account_id,
        60 * DAY,
        stage=LifecycleStage.RENEWAL,
        tier=2,
        track=harness.track,
    )
    view = await state(handle)
    task = next(step for step in view.open_steps if step.kind == "value_realization")
    await handle.execute_update(
        AccountWorkflow.complete_step, CompleteAccountStep(task.key, VE, Role.CE)
    )
    return handle


async def test_a_new_team_expansion_starts_its_own_opportunity_and_the_account_renews(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await in_renewal_window(harness, salesforce_fake, "001NEWTEAM")
        # The AE opened the new team's Opportunity in Salesforce.
        salesforce_fake.add_record("Opportunity", {"Id": "006PLATFORM", "Name": "Platform team"})
        before = await state(account)
        assert before.renewal_date is not None
        accepted = await account.execute_update(
            AccountWorkflow.record_renewal_outcome,
            RecordRenewalOutcome(
                "new_team",
                AE,
                Role.AE,
                expansion_opportunity_id="006PLATFORM",
                note="platform",
                new_team_seats=15,
            ),
        )
        assert "expansion opportunity 006PLATFORM starts for a new team of 15" in accepted.message
        opportunity = harness.client.get_workflow_handle_for(
            OpportunityWorkflow.run, "opportunity-006PLATFORM"
        )
        harness.track(opportunity)
        await settle(account)
        await settle(opportunity)
        started = await opportunity.query(OpportunityWorkflow.state)
        assert started.kind is OpportunityKind.EXPANSION
        assert started.account_id == "001NEWTEAM" and started.stage is Stage.DISCOVERY
        first = (await opportunity.fetch_history()).events[0]
        parent = first.workflow_execution_started_event_attributes.parent_workflow_execution
        assert parent.workflow_id == "account-001NEWTEAM"
        after = await state(account)
        assert after.renewals_completed == 1 and after.stage is LifecycleStage.ADOPTION
        assert after.renewal_date == before.renewal_date.replace(year=before.renewal_date.year + 1)
        assert any("renewed at" in m.text for m in slack_fake.messages_in("#customer-accounts"))


async def test_a_churned_account_ends_and_its_license_is_left_to_expire(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await in_renewal_window(harness, salesforce_fake, "001CHURN")
        keys_before = (await state(account)).license_key_ids
        await account.execute_update(
            AccountWorkflow.record_renewal_outcome,
            RecordRenewalOutcome("churned", AE, Role.AE, note="budget moved to a competitor"),
        )
        for _ in range(200):
            if (await account.describe()).status is WorkflowExecutionStatus.COMPLETED:
                break
            await advance_to(harness.env, account, await harness.env.get_current_time())
        assert (await account.describe()).status is WorkflowExecutionStatus.COMPLETED
        assert salesforce_fake.get_record("Account", "001CHURN")["Type"] == "Former Customer"
        [post] = [
            m.text for m in slack_fake.messages_in("#customer-accounts") if "churned" in m.text
        ]
        assert "left to expire" in post and "budget moved to a competitor" in post
        assert keys_before == []  # brought in past kickoff: its key predates dealcycle; none new


async def test_the_account_keeps_its_search_attributes_current(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await in_renewal_window(harness, salesforce_fake, "001SEARCH")
        view = await state(account)
        attributes = (await account.describe()).typed_search_attributes
        assert attributes.get(sa.ACCOUNT_ID) == "001SEARCH"
        assert attributes.get(sa.ACCOUNT_TIER) == 2
        assert attributes.get(sa.LIFECYCLE_STAGE) == "renewal"
        assert attributes.get(sa.RENEWAL_DATE) == view.renewal_date
        assert attributes.get(sa.CUSTOMER_HEALTH) == "green"
        assert attributes.get(sa.CE_OWNER) == "U0CE00001"
        assert attributes.get(sa.AE_OWNER) == AE
        await account.execute_update(
            AccountWorkflow.record_renewal_outcome, RecordRenewalOutcome("renewed", AE, Role.AE)
        )
        await settle(account)
        await advance_to(harness.env, account, await harness.env.get_current_time() + timedelta(1))
        attributes = (await account.describe()).typed_search_attributes
        assert attributes.get(sa.LIFECYCLE_STAGE) == "adoption"
        assert view.renewal_date is not None
        assert attributes.get(sa.RENEWAL_DATE) == view.renewal_date.replace(
            year=view.renewal_date.year + 1
        )
