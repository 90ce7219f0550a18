"""Owed work: a refused write is a failed effect of its workflow, surfaced and retryable,
never a failed workflow (time-skipping test server, real activities against the fakes)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError

from activities.red_accounts import get_red_account_case
from dealcycle.db.engine import make_engine
from schemas import search_attributes as sa
from schemas.common import Role
from schemas.effects import EffectsView, RetryEffect, SkipEffect
from schemas.health import RecordActionPlan, SetHealth
from schemas.opportunity import CloseOpportunity, LinkTdd, ReopenOpportunity
from schemas.security_review import CompleteSecurityStep
from schemas.trial import TrialPhase
from starter.effects import FailedEffect, render_effects, render_failed
from tests.support.accounts import AE, case_id, settle
from tests.test_opportunity_workflow import AE as AE_OPP
from tests.test_opportunity_workflow import opportunity_state, start_opportunity
from tests.test_red_account_workflow import CHANNEL as RED_CHANNEL
from tests.test_red_account_workflow import case_handle, case_state, open_account
from tests.test_security_review_workflow import AE as AE_OWNER
from tests.test_security_review_workflow import start as start_review
from tests.test_security_review_workflow import state as review_state
from tests.test_trial_workflow import CE, CHANNEL, DAY, complete_planning, start, state, texts
from workflows.account import AccountWorkflow
from workflows.opportunity import OpportunityWorkflow
from workflows.red_account import RedAccountWorkflow
from workflows.security_review import SecurityReviewWorkflow
from workflows.trial import TrialWorkflow

OPS = "#dealcycle-ops"
OPERATOR = "U0OPS0001"


async def effects_of(handle: WorkflowHandle[Any, Any]) -> EffectsView:
    return await handle.query(TrialWorkflow.effects)


async def needs_attention(handle: WorkflowHandle[Any, Any]) -> bool | None:
    described = await handle.describe()
    return described.typed_search_attributes.get(sa.NEEDS_ATTENTION)


async def refused(update: Any, why: str) -> None:
    """The update is rejected by its validator, with ``why`` in the reason."""
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await update
    assert why in str(rejected.value.cause)


def by_name(view: EffectsView, name: str) -> Any:
    matches = [effect for effect in view.effects if effect.name == name]
    assert matches, f"no effect {name} in {[e.name for e in view.effects]}"
    return matches[0]


async def test_an_archived_channel_fails_the_post_not_the_trial_and_a_retry_lands_it_once(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    slack_fake.archive_channel(CHANNEL)
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006ARCHIVE")
        await complete_planning(handle)
        await harness.env.sleep(DAY)

        described = await handle.describe()
        assert described.status is WorkflowExecutionStatus.RUNNING
        view = await effects_of(handle)
        failed = by_name(view, "trial-started")
        assert failed.state == "failed" and "is_archived" in failed.cause
        assert view.needs_attention
        assert await needs_attention(handle) is True
        # Everything else carried on: the license and the Salesforce dates were written.
        trial = await state(handle)
        assert trial.phase is TrialPhase.RUNNING and len(trial.license_key_ids) == 1
        assert any(e.name == "trial-started" and e.state == "failed" for e in trial.effects)
        assert salesforce_fake.get_record("Opportunity", "006ARCHIVE")["Trial_Start_Date__c"]
        assert texts(slack_fake, CHANNEL) == []
        # Operations hear of it once, with the command that fixes it.
        ops = await ops_notices(slack_fake)
        assert len(ops) == 1
        assert "trial-006ARCHIVE" in ops[0] and "trial-started" in ops[0]
        assert "is_archived" in ops[0] and "dealcycle effects retry" in ops[0]

        await refused(
            handle.execute_update(TrialWorkflow.retry_effect, RetryEffect("license/0", OPERATOR)),
            "only a failed or expired",
        )
        await refused(
            handle.execute_update(
                TrialWorkflow.retry_effect, RetryEffect("no-such-effect", OPERATOR)
            ),
            "not known here",
        )

        slack_fake.unarchive_channel(CHANNEL)
        accepted = await handle.execute_update(
            TrialWorkflow.retry_effect, RetryEffect("trial-started", OPERATOR)
        )
        assert "original key" in accepted.message
        await harness.env.sleep(60)
        posted = texts(slack_fake, CHANNEL)
        assert len(posted) == 1 and posted[0].startswith("Trial started for Acme (006ARCHIVE)")
        view = await effects_of(handle)
        retried = by_name(view, "trial-started")
        assert (retried.state, retried.attempts, retried.changed_by) == ("done", 2, OPERATOR)
        assert not view.needs_attention
        assert await needs_attention(handle) is False
        # The retry cannot post twice either: a second retry of a done effect is refused.
        await refused(
            handle.execute_update(
                TrialWorkflow.retry_effect, RetryEffect("trial-started", OPERATOR)
            ),
            "only a failed or expired",
        )
        assert len(texts(slack_fake, CHANNEL)) == 1


async def test_an_invalid_field_is_a_failed_sync_that_a_person_can_skip(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    invalid = [{"errorCode": "INVALID_FIELD", "message": "No such column 'Trial_Start_Date__c'"}]
    async with harness_factory() as harness:
        salesforce_fake.fail_next("PATCH", r"/sobjects/Opportunity/006BADFIELD", 400, invalid)
        handle = await start(harness, salesforce_fake, "006BADFIELD")
        await complete_planning(handle)
        await harness.env.sleep(DAY)

        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
        view = await effects_of(handle)
        failed = by_name(view, "trial-dates/1")
        assert failed.state == "failed" and "INVALID_FIELD" in failed.cause
        assert await needs_attention(handle) is True
        # The Slack announcement did not wait for Salesforce.
        assert len(texts(slack_fake, CHANNEL)) == 1

        await refused(
            handle.execute_update(
                TrialWorkflow.skip_effect, SkipEffect("trial-dates/1", " ", OPERATOR)
            ),
            "reason",
        )
        await handle.execute_update(
            TrialWorkflow.skip_effect,
            SkipEffect("trial-dates/1", "field added by hand in Salesforce", OPERATOR),
        )
        view = await effects_of(handle)
        skipped = by_name(view, "trial-dates/1")
        assert (skipped.state, skipped.reason) == ("skipped", "field added by hand in Salesforce")
        assert await needs_attention(handle) is False


async def test_a_failed_outcome_keeps_the_trial_open_until_it_is_retried(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, salesforce_fake, "006LATEOUT")
        await complete_planning(handle)
        slack_fake.archive_channel(CHANNEL)
        await harness.env.sleep(31 * DAY)

        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
        trial = await state(handle)
        assert trial.phase is TrialPhase.ENDED
        view = await effects_of(handle)
        assert by_name(view, "outcome/slack").state == "failed"
        assert by_name(view, "outcome/record").state == "done"
        # Reminders to people are not held back by the channel.
        assert texts(slack_fake, CE)

        slack_fake.unarchive_channel(CHANNEL)
        for name in [e.name for e in view.effects if e.state == "failed" and not e.optional]:
            await handle.execute_update(TrialWorkflow.retry_effect, RetryEffect(name, OPERATOR))
        result = await handle.result()
        assert result.outcome == trial.outcome
        assert any(text.startswith("Trial ended for Acme") for text in texts(slack_fake, CHANNEL))


# --- The other workflows: a refused write fails the effect, never the workflow -----------------


PATIENT_POLLS = 1200
"""A minute of 50-ms polls: a loaded machine (two test processes on two cores) is slow."""


async def until_failed(handle: WorkflowHandle[Any, Any], name: str) -> EffectsView:
    """The effects once ``name`` has failed (the main loop does not wait for its effects)."""
    for _ in range(PATIENT_POLLS):
        view = await effects_of(handle)
        if any(e.name == name and e.state == "failed" for e in view.effects):
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never failed: {view.effects}")


async def ops_notices(slack_fake: Any) -> list[str]:
    """What operations were told, once they were told something: the notice is an effect of
    its own, owed when another failed, so it may come after the failure is visible."""
    for _ in range(PATIENT_POLLS):
        if ops := texts(slack_fake, OPS):
            return ops
        await asyncio.sleep(0.05)
    return []


async def until_done(handle: WorkflowHandle[Any, Any], name: str) -> EffectsView:
    for _ in range(PATIENT_POLLS):
        view = await effects_of(handle)
        if by_name(view, name).state == "done":
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never done: {view.effects}")


async def test_an_archived_red_accounts_channel_holds_the_case_until_its_post_is_retried(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    slack_fake.archive_channel(RED_CHANNEL)
    async with harness_factory() as harness:
        account = await open_account(harness, salesforce_fake, "001ARCHIVED")
        await account.execute_update(
            AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "champion left")
        )
        case = await case_handle(harness, account, 1)
        view = await until_failed(case, "post")
        assert "is_archived" in by_name(view, "post").cause
        assert view.needs_attention
        assert (await case.describe()).status is WorkflowExecutionStatus.RUNNING
        assert await needs_attention(case) is True
        assert any(
            e.name == "post" and e.state == "failed" for e in (await case_state(case)).effects
        )
        ops = await ops_notices(slack_fake)
        assert len(ops) == 1 and case_id(account, 1) in ops[0] and "post" in ops[0]
        # The CE records a plan meanwhile: its reply waits for the thread; the case's row is in
        # the tracker already, its thread not linked yet.
        await case.execute_update(
            RedAccountWorkflow.record_action_plan,
            RecordActionPlan(CE, Role.CE, "usage halved", "SSO fix", "weekly office hours"),
        )
        await settle(case)
        assert slack_fake.messages_in(RED_CHANNEL) == []
        engine = make_engine(harness.settings.database_url)
        row = get_red_account_case(engine, case_id(account, 1))
        assert row is not None and row.status == "open" and row.slack_ts == ""

        slack_fake.unarchive_channel(RED_CHANNEL)
        await case.execute_update(RedAccountWorkflow.retry_effect, RetryEffect("post", OPERATOR))
        await until_done(case, "post")
        await settle(case)
        [post] = slack_fake.messages_in(RED_CHANNEL, include_replies=False)
        assert "(001ARCHIVED) is red" in post.text and "champion left" in post.text
        replies = [m.text for m in slack_fake.messages_in(RED_CHANNEL) if m.thread_ts == post.ts]
        assert len(replies) == 1 and replies[0].startswith("Action plan from the CE")
        row = get_red_account_case(engine, case_id(account, 1))
        assert row is not None and row.status == "open" and row.slack_ts == post.ts
        view = await effects_of(case)
        assert (by_name(view, "post").state, by_name(view, "post").attempts) == ("done", 2)
        assert not view.needs_attention and await needs_attention(case) is False
        await refused(
            case.execute_update(RedAccountWorkflow.retry_effect, RetryEffect("post", OPERATOR)),
            "only a failed or expired",
        )
        assert len(slack_fake.messages_in(RED_CHANNEL, include_replies=False)) == 1


async def test_an_invalid_field_fails_the_stage_sync_not_the_opportunity(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    invalid = [{"errorCode": "INVALID_FIELD", "message": "No such column 'StageName'"}]
    async with harness_factory() as harness:
        salesforce_fake.fail_next("PATCH", r"/sobjects/Opportunity/006OPPFIELD", 400, invalid)
        opp = await start_opportunity(harness, salesforce_fake, "006OPPFIELD")
        view = await until_failed(opp, "stage/1")
        assert "INVALID_FIELD" in by_name(view, "stage/1").cause
        assert (await opp.describe()).status is WorkflowExecutionStatus.RUNNING
        assert await needs_attention(opp) is True
        opportunity = await opportunity_state(opp)
        assert any(e.name == "stage/1" and e.state == "failed" for e in opportunity.effects)
        assert salesforce_fake.get_record("Opportunity", "006OPPFIELD").get("StageName") is None
        assert len(await ops_notices(slack_fake)) == 1

        # The fault was one call: the field is there now.
        await opp.execute_update(OpportunityWorkflow.retry_effect, RetryEffect("stage/1", OPERATOR))
        await until_done(opp, "stage/1")
        writes = [
            call
            for call in salesforce_fake.calls_to(r"/sobjects/Opportunity/006OPPFIELD", "PATCH")
            if call.status < 300
        ]
        assert len(writes) == 1 and writes[0].json == {"StageName": opportunity.stage.value}
        assert salesforce_fake.get_record("Opportunity", "006OPPFIELD")["StageName"] == (
            opportunity.stage.value
        )
        assert await needs_attention(opp) is False


async def test_an_archived_channel_fails_the_security_review_announcement_not_the_review(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    slack_fake.archive_channel(CHANNEL)
    async with harness_factory() as harness:
        review = await start_review(harness, "006SECARCH")
        view = await until_failed(review, "announce/start")
        assert "is_archived" in by_name(view, "announce/start").cause
        assert by_name(view, "announce/start").retry_refused == ""  # a retry is welcome
        assert f"dealcycle effects retry {review.id} announce/start" in render_effects(view)
        assert (await review.describe()).status is WorkflowExecutionStatus.RUNNING
        assert await needs_attention(review) is True
        assert any(
            e.name == "announce/start" and e.state == "failed"
            for e in (await review_state(review)).effects
        )
        ops = await ops_notices(slack_fake)
        assert len(ops) == 1 and "security-review-006SECARCH" in ops[0]
        # The review itself goes on: its steps can be completed.
        await review.execute_update(
            SecurityReviewWorkflow.complete_step, CompleteSecurityStep("grant_access", AE_OWNER)
        )

        slack_fake.unarchive_channel(CHANNEL)
        await review.execute_update(
            SecurityReviewWorkflow.retry_effect, RetryEffect("announce/start", OPERATOR)
        )
        await until_done(review, "announce/start")
        posted = texts(slack_fake, CHANNEL)
        assert len(posted) == 1 and posted[0].startswith("Security questionnaire received")
        assert await needs_attention(review) is False


async def closed_lost_and_reopened(
    harness: Any, salesforce_fake: Any, opportunity_id: str, *, failing: int, **overrides: Any
) -> WorkflowHandle[Any, Any]:
    """An opportunity closed lost and reopened, the next ``failing`` stage writes refused (a
    missing field): the close's write (``stage/2``) has failed."""
    invalid = [{"errorCode": "INVALID_FIELD", "message": "No such column 'Closed_Lost_Reason__c'"}]
    opp: WorkflowHandle[Any, Any] = await start_opportunity(
        harness, salesforce_fake, opportunity_id, **overrides
    )
    await until_done(opp, "stage/1")
    path = rf"/sobjects/Opportunity/{opportunity_id}"
    salesforce_fake.fail_next("PATCH", path, 400, invalid, failing)
    await opp.execute_update(
        OpportunityWorkflow.close, CloseOpportunity(False, AE_OPP, Role.AE, "went dark")
    )
    await until_failed(opp, "stage/2")
    await opp.execute_update(
        OpportunityWorkflow.reopen, ReopenOpportunity(AE_OPP, Role.AE, "back in play")
    )
    return opp


async def close_retry_refused(
    opp: WorkflowHandle[Any, Any], salesforce_fake: Any, opportunity_id: str
) -> None:
    """A retry of the close's write is refused (``stage/3`` set the stage since), and changes
    nothing: Salesforce keeps the open stage, the effect stays failed."""
    await refused(
        opp.execute_update(OpportunityWorkflow.retry_effect, RetryEffect("stage/2", OPERATOR)),
        # The reopen's write cleared the lost reason too.
        f"Closed_Lost_Reason__c, StageName of Opportunity {opportunity_id} was written since"
        " by stage/3",
    )
    record = salesforce_fake.get_record("Opportunity", opportunity_id)
    assert record["StageName"] == "Stage 1 - Discovery"
    view = await effects_of(opp)
    effect = by_name(view, "stage/2")
    assert effect.state == "failed"
    # The effects view says so, and the CLI suggests the skip, not the retry it would refuse.
    assert effect.retry_refused == (
        f"effect stage/2 is out of date: Closed_Lost_Reason__c, StageName of Opportunity"
        f" {opportunity_id} was written since by stage/3, and a retry would put back the older"
        " value"
    )
    skip = f"dealcycle effects skip {opp.id} stage/2 --reason … --by U…"
    for shown in (
        render_effects(view),
        render_failed([FailedEffect(opp.id, "OpportunityWorkflow", effect)]),
    ):
        assert skip in shown and "effects retry" not in shown, shown
        assert "not to be retried: effect stage/2 is out of date" in shown


async def test_a_retry_that_would_put_back_an_older_salesforce_value_is_refused(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """Closing it lost failed to sync; it was reopened since, and that stage did land. A retry
    of the old write would set Closed Lost over the open stage: refused, saying why."""
    async with harness_factory() as harness:
        opp = await closed_lost_and_reopened(harness, salesforce_fake, "006STALE", failing=1)
        await until_done(opp, "stage/3")

        await close_retry_refused(opp, salesforce_fake, "006STALE")
        # What the refusal says to do instead.
        await opp.execute_update(
            OpportunityWorkflow.skip_effect, SkipEffect("stage/2", "superseded", OPERATOR)
        )
        assert await needs_attention(opp) is False
        assert salesforce_fake.get_record("Opportunity", "006STALE")["StageName"] == (
            "Stage 1 - Discovery"
        )


async def test_a_newer_write_that_landed_by_a_retry_still_refuses_the_older_ones_retry(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """Closed lost and reopened while the field was missing: both stage writes failed. The
    newer one (the open stage) is retried and lands; a retry of the older one would put Closed
    Lost back over it, so it is refused as when the newer write landed at once."""
    async with harness_factory() as harness:
        opp = await closed_lost_and_reopened(harness, salesforce_fake, "006STALE2", failing=2)
        await until_failed(opp, "stage/3")

        await opp.execute_update(OpportunityWorkflow.retry_effect, RetryEffect("stage/3", OPERATOR))
        await until_done(opp, "stage/3")
        await close_retry_refused(opp, salesforce_fake, "006STALE2")


async def test_a_newer_write_that_landed_before_continue_as_new_still_refuses_the_older_ones_retry(
    harness_factory: Any, salesforce_fake: Any, slack_fake: Any
) -> None:
    """The close's write failed and the reopened stage landed; then the opportunity continued
    as new (a long history). The new run must still refuse the older write's retry."""
    async with harness_factory() as harness:
        opp = await closed_lost_and_reopened(
            harness, salesforce_fake, "006STALE3", failing=1, history_event_limit=80
        )
        first_run = (await opp.describe()).run_id
        # The latest run's handle: the first may continue as new while it is asked.
        latest = harness.client.get_workflow_handle_for(OpportunityWorkflow.run, opp.id)
        await until_done(latest, "stage/3")
        for n in range(40):
            if (await latest.describe()).run_id != first_run:
                break
            await latest.execute_update(
                OpportunityWorkflow.link_tdd,
                LinkTdd(f"https://docs.example.com/tdd/{n}", AE_OPP, Role.AE),
            )
        assert (await latest.describe()).run_id != first_run  # it continued as new
        await close_retry_refused(latest, salesforce_fake, "006STALE3")
