"""Owed work: a refused write is a failed effect of its workflow, surfaced and retryable,
never a failed workflow (time-skipping test server, real activities against the fakes)."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError

from schemas import search_attributes as sa
from schemas.effects import EffectsView, RetryEffect, SkipEffect
from schemas.trial import TrialPhase
from tests.test_trial_workflow import CE, CHANNEL, DAY, complete_planning, start, state, texts
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
        ops = texts(slack_fake, OPS)
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
