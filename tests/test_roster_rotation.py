"""A rotation of the roster reaches running workflows from their next step, on the time-skipping
test server with the real activities, the Slack and Salesforce fakes and a fresh database.

Each workflow starts with the settings' roster; the roster is rotated (with the CLI, or the
function behind it) while it runs; what it does next goes to the new people. A failing lookup
leaves a workflow running with the last roster it knew.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from activities.roster import rotate_roster
from dealcycle.db.engine import make_engine
from schemas.account import CompleteAccountStep, LifecycleStage, RecordRenewalCall
from schemas.account_changes import ReassignOwner
from schemas.common import DeploymentType, Region, Role
from schemas.health import SetHealth
from schemas.opportunity import (
    OpportunityInput,
    OpportunityKind,
    OpportunityStart,
    ReceiveQuestionnaire,
    opportunity_workflow_id,
)
from schemas.roster import RotateRoster
from schemas.security_review import (
    CompleteSecurityStep,
    EscalateToSecurityPM,
    SecurityReviewInput,
    SecurityReviewStart,
    security_review_workflow_id,
)
from starter import cli
from tests.support.accounts import (
    AE,
    CE,
    CE_LEADER,
    DAY,
    VE,
    a_plan,
    advance_to,
    case_id,
    settle,
    start_account,
)
from tests.support.codec import failure_message
from tests.support.patience import retry_transient
from workflows.account import AccountWorkflow
from workflows.opportunity import OpportunityWorkflow
from workflows.red_account import RedAccountWorkflow
from workflows.security_review import SecurityReviewWorkflow

OPS = "U0OPS0001"
NEW_LEADER, NEW_VE = "U0NEWLEAD1", "U0VALUEENG2"
NEW_CE = "U0CE00002"
OLD_WEST_CE, NEW_WEST_CE = "U0SECWEST1", "U0SECWEST2"
OLD_PM, NEW_PM = "U0SECPM01", "U0SECPM02"
CHANNEL = "#dealcycle-trials"
Handle = WorkflowHandle[Any, Any]


def rotate(harness: Any, **roles: str) -> None:
    engine = make_engine(harness.settings.database_url)
    try:
        rotate_roster(
            engine, harness.settings.roster(), RotateRoster(by=OPS, **roles), datetime.now(UTC)
        )
    finally:
        engine.dispose()


def texts(slack_fake: Any, channel: str) -> list[str]:
    return [message.text for message in slack_fake.messages_in(channel)]


def every_text(slack_fake: Any) -> list[str]:
    return [message.text for message in slack_fake.messages]


async def open_account(harness: Any, salesforce_fake: Any, account_id: str, **kw: Any) -> Handle:
    return await start_account(
        harness.client,
        harness.env,
        harness.task_queue,
        harness.settings,
        salesforce_fake,
        account_id,
        kw.pop("renewal_in", 300 * DAY),
        track=harness.track,
        **kw,
    )


def review_start(harness: Any, opportunity_id: str) -> SecurityReviewStart:
    return SecurityReviewStart(
        opportunity_id=opportunity_id,
        account_id="001ACME",
        account_name="Acme",
        ae_owner=AE,
        ce_owner=CE,
        region=Region.US_WEST_APAC,
        deployment_type=DeploymentType.CLOUD,
        roster=harness.settings.security_roster,
        durations=harness.settings.durations,
        announce_channel=CHANNEL,
    )


async def start_review(harness: Any, opportunity_id: str) -> Handle:
    handle = await harness.client.start_workflow(
        SecurityReviewWorkflow.run,
        SecurityReviewInput(start=review_start(harness, opportunity_id)),
        id=security_review_workflow_id(opportunity_id),
        task_queue=harness.task_queue,
    )
    harness.track(handle)
    await settle(handle)
    return handle


async def started(harness: Any, workflow_run: Any, workflow_id: str) -> Handle:
    """The handle of a workflow another one starts, once it has started and settled."""
    handle = harness.client.get_workflow_handle_for(workflow_run, workflow_id)
    for _ in range(200):
        if await _exists(handle):
            harness.track(handle)
            await settle(handle)
            return handle
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never started")


async def _exists(handle: Handle) -> bool:
    try:
        await retry_transient(handle.describe)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def test_a_new_ce_leader_gets_the_next_escalation_of_an_account_a_red_case_and_a_review(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with harness_factory() as harness:
        # An account in kickoff whose plan will be late, red with an open case, and a security
        # review whose first step will be late: all started with the settings' CE leader.
        account = await open_account(
            harness, salesforce_fake, "001ROTATE", stage=LifecycleStage.KICKOFF
        )
        await account.execute_update(
            AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "champion left")
        )
        case = await started(harness, RedAccountWorkflow.run, case_id(account, 1))
        review = await start_review(harness, "006ROTATE")
        began = await harness.env.get_current_time()

        monkeypatch.setenv("DATABASE_URL", harness.settings.database_url)
        monkeypatch.setenv("DEALCYCLE_STATE_DIR", str(tmp_path / "cli-state"))
        assert cli.main(["roster", "set", "--ce-leader", NEW_LEADER, "--by", OPS]) == 0

        # The case escalates at its SLA (3 days), the review's access step after two
        # reminders (day 6), the kickoff plan (due day 14) after two reminders (day 19).
        for moment in (began + 4 * DAY, began + 7 * DAY, began + 21 * DAY):
            for handle in (case, review, account):
                await advance_to(harness.env, handle, moment)

        assert [t for t in texts(slack_fake, NEW_LEADER) if t.startswith("Escalation:")] != []
        assert "Kickoff call" in texts(slack_fake, NEW_LEADER)[0]
        case_escalation = [t for t in texts(slack_fake, "#red-accounts") if "Escalation" in t]
        assert case_escalation and f"<@{NEW_LEADER}>" in case_escalation[0]
        review_escalation = [t for t in texts(slack_fake, CHANNEL) if "Escalation" in t]
        assert review_escalation and f"CE leader <@{NEW_LEADER}>" in review_escalation[0]
        # The leader who rotated out hears nothing and is named nowhere.
        assert texts(slack_fake, CE_LEADER) == []
        assert [t for t in every_text(slack_fake) if CE_LEADER in t] == []


async def test_a_security_ce_rotated_before_the_questionnaire_arrives_gets_the_review(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        salesforce_fake.add_record("Opportunity", {"Id": "006SECROT", "Name": "Globex"})
        opportunity = await harness.client.start_workflow(
            OpportunityWorkflow.run,
            OpportunityInput(
                start=OpportunityStart(
                    opportunity_id="006SECROT",
                    account_id="001GLOBEX",
                    account_name="Globex",
                    ae_owner=AE,
                    ce_owner=CE,
                    region=Region.US_WEST_APAC,
                    deployment_type=DeploymentType.CLOUD,
                    tier=1,
                    kind=OpportunityKind.NEW,
                    complex_engagement=False,
                    roster=harness.settings.security_roster,
                    durations=harness.settings.durations,
                    announce_channel=CHANNEL,
                )
            ),
            id=opportunity_workflow_id("006SECROT"),
            task_queue=harness.task_queue,
        )
        harness.track(opportunity)
        await settle(opportunity)

        rotate(harness, security_ce_us_west_apac=NEW_WEST_CE)
        await opportunity.execute_update(
            OpportunityWorkflow.receive_questionnaire, ReceiveQuestionnaire(AE, Role.AE)
        )
        review = await started(harness, SecurityReviewWorkflow.run, "security-review-006SECROT")

        view = await review.query(SecurityReviewWorkflow.state)
        assert view.security_ce == NEW_WEST_CE
        [ce_review] = [step for step in view.steps if step.key == "security_ce_review"]
        assert ce_review.owner == NEW_WEST_CE
        [announced] = [t for t in texts(slack_fake, CHANNEL) if "questionnaire received" in t]
        assert f"Security CE <@{NEW_WEST_CE}>" in announced and OLD_WEST_CE not in announced

        # The Security CE who rotated out can no longer act on it; the new one can, and the
        # Security PM rotated since takes the escalation.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await review.execute_update(
                SecurityReviewWorkflow.escalate_to_security_pm,
                EscalateToSecurityPM(OLD_WEST_CE, "full review"),
            )
        assert f"Security CE ({NEW_WEST_CE})" in str(refused.value.cause)
        rotate(harness, security_pm=NEW_PM)
        await review.execute_update(
            SecurityReviewWorkflow.escalate_to_security_pm,
            EscalateToSecurityPM(NEW_WEST_CE, "full review"),
        )
        await settle(review)
        view = await review.query(SecurityReviewWorkflow.state)
        [pm_review] = [step for step in view.steps if step.key == "security_pm_review"]
        assert pm_review.owner == NEW_PM and view.security_pm == NEW_PM
        [escalated] = [t for t in texts(slack_fake, CHANNEL) if "escalated to the Security PM" in t]
        assert f"<@{NEW_PM}>" in escalated and OLD_PM not in escalated


async def test_a_rotated_value_engineering_gets_the_next_t_minus_90_task(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await open_account(
            harness,
            salesforce_fake,
            "001VEROT",
            renewal_in=100 * DAY,
            stage=LifecycleStage.ADOPTION,
        )
        began = await harness.env.get_current_time()
        rotate(harness, value_engineering=NEW_VE)
        await advance_to(harness.env, account, began + 11 * DAY)

        view = await account.query(AccountWorkflow.state)
        [exercise] = [step for step in view.open_steps if step.kind == "value_realization"]
        assert exercise.owner == NEW_VE
        assert any("Value-realization" in t for t in texts(slack_fake, NEW_VE))
        assert texts(slack_fake, VE) == []
        [task] = [t for t in salesforce_fake.records("Task") if "Value-realization" in t["Subject"]]
        assert f"Owner (dealcycle): {NEW_VE}" in task["Description"]


async def test_a_failing_lookup_leaves_the_workflow_running_with_the_last_roster_it_knew(
    harness_factory: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        rotate(harness, ce_leader=NEW_LEADER)
        # The review looks the roster up as it starts (to assign its Security CE) ...
        review = await start_review(harness, "006LOOKUP")
        began = await harness.env.get_current_time()
        # ... then the roster cannot be read any more.
        engine = make_engine(harness.settings.database_url)
        try:
            with engine.begin() as connection:
                connection.execute(text("DROP TABLE roster_rotations"))
        finally:
            engine.dispose()

        await advance_to(harness.env, review, began + 7 * DAY)

        [escalation] = [t for t in texts(slack_fake, CHANNEL) if "Escalation" in t]
        assert f"CE leader <@{NEW_LEADER}>" in escalation
        description = await review.describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        history = await review.fetch_history()
        failed_lookups = [
            event
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
            and "roster"
            in await failure_message(event.activity_task_failed_event_attributes.failure)
        ]
        assert failed_lookups != []
        # Still working: the AE grants access and the review moves on.
        accepted = await review.execute_update(
            SecurityReviewWorkflow.complete_step, CompleteSecurityStep("grant_access", AE)
        )
        assert "Next" in accepted.message


async def test_a_tier_2_plan_is_shared_with_the_ce_leader_of_the_day(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await open_account(
            harness, salesforce_fake, "001PLANROT", stage=LifecycleStage.ADOPTION, tier=2
        )
        now = await harness.env.get_current_time()
        month = ((now.month - 1) // 3 + 1) * 3 + 1
        next_quarter = datetime(now.year + (month > 12), (month - 1) % 12 + 1, 1, tzinfo=UTC)
        await advance_to(harness.env, account, next_quarter + DAY)
        view = await account.query(AccountWorkflow.state)
        [plan] = [step for step in view.open_steps if step.kind == "account_plan"]

        # (The old leader may have heard of late work before: only what comes next is checked.)
        told_before = texts(slack_fake, CE_LEADER)
        rotate(harness, ce_leader=NEW_LEADER)
        await account.execute_update(
            AccountWorkflow.submit_account_plan, a_plan(plan.key.removeprefix("account-plan-"))
        )
        await settle(account)

        [shared] = [t for t in texts(slack_fake, NEW_LEADER) if "account plan for" in t]
        assert "Tier 2 account plan" in shared and "1:1" in shared
        assert texts(slack_fake, CE_LEADER) == told_before


async def test_the_ce_leader_of_the_day_reassigns_an_accounts_ce(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        # In its renewal window: it looked the roster up as it started (to give the value
        # exercise), and has slept since.
        account = await open_account(
            harness,
            salesforce_fake,
            "001LEADROT",
            renewal_in=60 * DAY,
            stage=LifecycleStage.RENEWAL,
        )
        rotate(harness, ce_leader=NEW_LEADER)
        # The CE left; the new CE leader hands the account to another CE. The account has not
        # needed its CE leader since the rotation: it knew only the one before.
        accepted = await account.execute_update(
            AccountWorkflow.reassign_owner,
            ReassignOwner(Role.CE, NEW_CE, NEW_LEADER, "the CE left"),
        )
        assert accepted.message.startswith(f"{NEW_CE} is now the CE")
        await settle(account)
        view = await account.query(AccountWorkflow.state)
        assert view.profile is not None and view.profile.ce_owner == NEW_CE
        assert [t for t in texts(slack_fake, NEW_CE) if "now the CE" in t]

        # The leader who rotated out no longer may; someone who never led, never could.
        for actor in (CE_LEADER, AE):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await account.execute_update(
                    AccountWorkflow.reassign_owner, ReassignOwner(Role.CE, CE, actor)
                )
            assert str(refused.value.cause) == (
                f"RuleViolation: {actor} cannot reassign the CE: the outgoing CE ({NEW_CE})"
                f" or the CE leader ({NEW_LEADER}) does"
            )
        await settle(account)
        assert await account.query(AccountWorkflow.state) == view


async def test_a_ce_leader_rotated_out_cannot_reassign_an_account_that_knew_them(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await open_account(
            harness, salesforce_fake, "001OLDLEAD", stage=LifecycleStage.ADOPTION
        )
        before = await account.query(AccountWorkflow.state)
        rotate(harness, ce_leader=NEW_LEADER)
        # The account last knew CE_LEADER as its leader: the roster of the day says otherwise.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await account.execute_update(
                AccountWorkflow.reassign_owner, ReassignOwner(Role.CE, NEW_CE, CE_LEADER)
            )
        assert str(refused.value.cause) == (
            f"RuleViolation: {CE_LEADER} cannot reassign the CE: the outgoing CE ({CE})"
            f" or the CE leader ({NEW_LEADER}) does"
        )
        await settle(account)
        view = await account.query(AccountWorkflow.state)
        assert view.profile == before.profile


async def test_value_engineering_of_the_day_does_an_exercise_opened_before_the_rotation(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await open_account(
            harness, salesforce_fake, "001VEGONE", renewal_in=60 * DAY, stage=LifecycleStage.RENEWAL
        )
        view = await account.query(AccountWorkflow.state)
        [exercise] = [step for step in view.open_steps if step.kind == "value_realization"]
        assert exercise.owner == VE
        # The VE moves on before doing it; the renewal waits for the exercise.
        rotate(harness, value_engineering=NEW_VE)
        with pytest.raises(WorkflowUpdateFailedError) as someone_else:
            await account.execute_update(
                AccountWorkflow.complete_step, CompleteAccountStep(exercise.key, AE, Role.AE)
            )
        assert str(someone_else.value.cause) == (
            f"RuleViolation: step {exercise.key!r} is owned by {VE}, not {AE}"
        )
        accepted = await account.execute_update(
            AccountWorkflow.complete_step,
            CompleteAccountStep(exercise.key, NEW_VE, Role.CE, "exercise run with the champion"),
        )
        assert accepted.message == f"{exercise.key} done"
        view = await account.query(AccountWorkflow.state)
        assert view.value_exercise_done
        assert not [step for step in view.open_steps if step.kind == "value_realization"]
        called = await account.execute_update(
            AccountWorkflow.record_renewal_call, RecordRenewalCall(AE, Role.AE)
        )
        assert called.message == "first renewal call recorded"
