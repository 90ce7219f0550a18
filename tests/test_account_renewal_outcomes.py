"""The renewal outcomes that end a cycle differently: a new team's expansion opportunity, and
churn; and the account's search attributes, what an engineer filters on in the UI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError

from schemas import search_attributes as sa
from schemas.account import CompleteAccountStep, LifecycleStage, RecordRenewalOutcome
from schemas.common import Role
from schemas.health import HealthSignal
from schemas.opportunity import OpportunityKind, Stage
from starter import accounts
from starter.trials import CommandError
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


def new_team_outcome(opportunity_id: str) -> dict[str, Any]:
    """``dealcycle account renewal-outcome ACCOUNT new_team --opportunity … --team-seats 15``."""
    return {
        "actor": AE,
        "role": Role.AE,
        "expansion_opportunity_id": opportunity_id,
        "team_seats": 15,
    }


async def test_a_new_team_outcome_reads_salesforce_once_with_the_workers_session(
    harness_factory: Any, salesforce_fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's check that the new team's Opportunity exists is one GET, sent by the worker
    on the session it already holds: the CLI logs in to nothing."""
    async with harness_factory() as harness:
        account = await in_renewal_window(harness, salesforce_fake, "001ONECALL")
        salesforce_fake.add_record("Opportunity", {"Id": "006ONECALL", "Name": "Data team"})
        await settle(account)
        assert salesforce_fake.calls_to(r"^/services/oauth2/token")  # the worker logged in
        before = len(salesforce_fake.calls)
        sent_after: list[int] = []
        real_update = accounts._update

        async def update(*args: Any) -> str:
            sent_after.append(len(salesforce_fake.calls))
            return await real_update(*args)

        monkeypatch.setattr(accounts, "_update", update)
        # Real time: waiting on the lookup, the test server would skip to the account's timers.
        with harness.env.auto_time_skipping_disabled():
            accepted = await accounts.record_renewal_outcome(
                harness.client,
                "001ONECALL",
                "new_team",
                settings=harness.settings,
                **new_team_outcome("006ONECALL"),
            )
        assert "expansion opportunity 006ONECALL starts for a new team of 15" in accepted
        checked = salesforce_fake.calls[before : sent_after[0]]
        assert [call.method for call in checked] == ["GET"]
        assert checked[0].path.endswith("/sobjects/Opportunity/006ONECALL")
        await settle(account)
        assert not salesforce_fake.calls_to(r"^/services/oauth2/token")[1:]


async def test_a_new_team_outcome_naming_a_missing_opportunity_changes_nothing(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await in_renewal_window(harness, salesforce_fake, "001NOOPP")
        await settle(account)
        before = await state(account)
        events = len((await account.fetch_history()).events)
        with (
            harness.env.auto_time_skipping_disabled(),
            pytest.raises(CommandError, match=r"^Salesforce has no Opportunity '006MISSING'$"),
        ):
            await accounts.record_renewal_outcome(
                harness.client,
                "001NOOPP",
                "new_team",
                settings=harness.settings,
                **new_team_outcome("006MISSING"),
            )
        assert salesforce_fake.calls_to(r"/sobjects/Opportunity/006MISSING$", "GET")
        assert len((await account.fetch_history()).events) == events
        after = await state(account)
        assert (after.stage, after.renewals_completed) == (before.stage, 0)
        assert after.renewal_date == before.renewal_date


async def test_a_new_team_outcome_whose_lookup_salesforce_refuses_names_the_refusal(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    salesforce_fake.fail_next(
        "GET", r"/sobjects/Opportunity/006DENIED$", 403, [{"errorCode": "INSUFFICIENT_ACCESS"}]
    )
    async with harness_factory() as harness:
        with (
            harness.env.auto_time_skipping_disabled(),
            pytest.raises(
                CommandError,
                match=r"^the lookup of Opportunity 006DENIED in Salesforce failed:"
                r" INSUFFICIENT_ACCESS: Salesforce refused the read of Opportunity 006DENIED",
            ),
        ):
            await accounts.record_renewal_outcome(
                harness.client,
                "001DENIED",
                "new_team",
                settings=harness.settings,
                **new_team_outcome("006DENIED"),
            )
        # Not retried: a refusal does not go away by asking again.
        assert len(salesforce_fake.calls_to(r"/sobjects/Opportunity/006DENIED$")) == 1


async def test_a_plain_renewal_given_fewer_seats_is_refused_not_renewed_at_the_old_count(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await in_renewal_window(harness, salesforce_fake, "001DOWNSELL")
        await settle(account)
        before = await state(account)
        # The customer renews with 80 of its 100 seats: `renewal-outcome renewed --seats 80`.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await account.execute_update(
                AccountWorkflow.record_renewal_outcome,
                RecordRenewalOutcome("renewed", AE, Role.AE, seats=80),
            )
        assert "seats (80) belong to a seat_expansion outcome: renewed keeps the account's" in (
            str(refused.value.cause)
        )
        await settle(account)
        assert await state(account) == before
        assert not [m for m in slack_fake.messages if "renewed at" in m.text]


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


async def test_a_churned_account_still_writing_its_effects_opens_no_case_on_a_low_reading(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """Its churn post refused (an archived channel), the account runs on until that is retried
    or skipped; the usage feed reads the customer who left as barely used. No case opens."""
    slack_fake.archive_channel("#customer-accounts")
    try:
        async with harness_factory() as harness:
            account = await in_renewal_window(harness, salesforce_fake, "001GONEQUIET")
            await account.execute_update(
                AccountWorkflow.record_renewal_outcome, RecordRenewalOutcome("churned", AE, Role.AE)
            )
            await settle(account)
            for name in ("usage", "adoption", "sentiment"):
                await account.signal(AccountWorkflow.health_signal, HealthSignal(name, 5, "feed"))
            await settle(account)
            assert (await account.describe()).status is WorkflowExecutionStatus.RUNNING
            health = await account.query(AccountWorkflow.health)
            assert (health.colour, health.open_case, health.cases_opened) == ("green", None, 0)
    finally:
        slack_fake.unarchive_channel("#customer-accounts")
