"""SecurityReviewWorkflow on the time-skipping test server, with the real activities on the fakes.

The review is started directly (as a top-level workflow) with the input the opportunity gives
its child.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError

from schemas import search_attributes as sa
from schemas.common import DeploymentType, Durations, Region, StepStatus
from schemas.effects import RetryEffect, SkipEffect
from schemas.opportunity import ConcludedByOpportunity, OpportunityEnd, opportunity_workflow_id
from schemas.security_review import (
    CompleteSecurityStep,
    DeclineFirstPass,
    EscalateToSecurityPM,
    SecurityReviewInput,
    SecurityReviewPhase,
    SecurityReviewStart,
    SecurityReviewState,
    security_review_workflow_id,
)
from starter.tables import render_security_review
from tests.support import patience
from workflows.security_review import SecurityReviewWorkflow

CE, AE = "U0CE00001", "U0AE00001"
# The roster of the test settings (``Settings.security_roster``).
SEC_WEST, SEC_EAST, PM, LEADER = "U0SECWEST1", "U0SECEAST1", "U0SECPM01", "U0CELEAD1"
CHANNEL = "#dealcycle-trials"
DAY = timedelta(days=1)


def review_start(opportunity_id: str, harness: Any, **overrides: Any) -> SecurityReviewStart:
    fields: dict[str, Any] = {
        "opportunity_id": opportunity_id,
        "account_id": "001ACME",
        "account_name": "Acme",
        "ae_owner": AE,
        "ce_owner": CE,
        "region": Region.US_WEST_APAC,
        "deployment_type": None,
        "roster": harness.settings.security_roster,
        "durations": harness.settings.durations,
        "announce_channel": CHANNEL,
    }
    fields.update(overrides)
    return SecurityReviewStart(**fields)


async def start(harness: Any, opportunity_id: str, **overrides: Any) -> WorkflowHandle[Any, Any]:
    handle = await harness.client.start_workflow(
        SecurityReviewWorkflow.run,
        SecurityReviewInput(start=review_start(opportunity_id, harness, **overrides)),
        id=security_review_workflow_id(opportunity_id),
        task_queue=harness.task_queue,
    )
    tracked: WorkflowHandle[Any, Any] = harness.track(handle)
    return tracked


async def complete(handle: WorkflowHandle[Any, Any], step: str, actor: str, **fields: Any) -> str:
    accepted = await handle.execute_update(
        SecurityReviewWorkflow.complete_step, CompleteSecurityStep(step, actor, **fields)
    )
    message: str = accepted.message
    return message


async def state(handle: WorkflowHandle[Any, Any]) -> SecurityReviewState:
    view: SecurityReviewState = await handle.query(SecurityReviewWorkflow.state)
    return view


def texts(slack_fake: Any, channel: str) -> list[str]:
    return [message.text for message in slack_fake.messages_in(channel)]


async def channel_posts(slack_fake: Any, count: int) -> list[str]:
    """The channel's messages once there are ``count`` of them (the effect loop is async)."""
    for _ in range(200):
        posted = texts(slack_fake, CHANNEL)
        if len(posted) >= count:
            return posted
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} posts in {CHANNEL}, got {texts(slack_fake, CHANNEL)}")


async def effects_done(handle: WorkflowHandle[Any, Any]) -> SecurityReviewState:
    """The state once no effect is pending (an effect's activity finishes, then the workflow
    records it: ``settle`` can see a quiet history in between)."""
    for _ in range(200):
        view = await state(handle)
        if all(effect.state != "pending" for effect in view.effects):
            return view
        await asyncio.sleep(0.05)
    raise AssertionError(f"effects still pending: {view.effects}")


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def step_view(view: SecurityReviewState, key: str) -> Any:
    return next(step for step in view.steps if step.key == key)


# The tests that skip time with ``env.sleep`` come first, on the module's fresh test server: after
# many finished and terminated workflows the Java test server's clock has been seen to stay locked
# (a sleep then waits in real time until its RPC times out).


async def test_a_long_history_continues_as_new_and_no_reminder_is_lost_or_repeated(
    harness_factory: Any, slack_fake: Any
) -> None:
    hour = timedelta(hours=1)
    durations = Durations(
        security_review_due_seconds=10 * 3600,  # access due after 1 hour
        overdue_reminder_delay_seconds=3600,
        overdue_reminder_repeat_seconds=3600,
    )
    async with harness_factory(durations=durations) as harness:
        handle = await start(harness, "006SECLONG", history_event_limit=60)
        first_run = handle.result_run_id
        await harness.env.sleep(10 * hour + hour / 2)  # reminder rounds at 2h, 3h, ... 10h

        latest = harness.client.get_workflow_handle_for(SecurityReviewWorkflow.run, handle.id)
        assert (await latest.describe()).run_id != first_run  # it continued as new
        view = await state(latest)
        access = step_view(view, "grant_access")
        assert (access.reminders_sent, access.escalated_to_leader) == (8, True)
        # Nine rounds: two reminders, the CE leader once, then six more reminders.
        assert len(texts(slack_fake, AE)) == 8
        channel = texts(slack_fake, CHANNEL)
        assert len(channel) == 2 and channel[1].startswith("Escalation to the CE leader")
        assert len({message.ts for message in slack_fake.messages}) == len(slack_fake.messages)

        await complete(latest, "grant_access", AE)
        await latest.execute_update(
            SecurityReviewWorkflow.decline_first_pass, DeclineFirstPass(CE, "no time")
        )
        await complete(latest, "note_deployment_type", CE, deployment_type=DeploymentType.CLOUD)
        await complete(latest, "security_ce_review", SEC_WEST)
        await complete(latest, "answers_returned", AE)
        result = await latest.result()
        assert result.opportunity_id == "006SECLONG" and not result.escalated_to_pm
        assert len(texts(slack_fake, CHANNEL)) == 3  # announced once, escalated once, answered


async def test_status_shows_a_step_overdue_before_its_first_reminder_wakes_the_review(
    harness_factory: Any,
) -> None:
    """A query's clock is the workflow's last wake-up: between a step's due time and its first
    reminder (a day later) nothing wakes the review, so the status must judge by the time of
    asking, not by the state's ``as_of``."""
    async with harness_factory() as harness:
        handle = await start(harness, "006SECLATE")
        await settle(handle)
        await harness.env.sleep(DAY + timedelta(hours=12))  # access was due after a day
        asked_at = await harness.env.get_current_time()
        view = await state(handle)
        assert view.as_of < step_view(view, "grant_access").due_at < asked_at

        shown = render_security_review(view, "RUNNING", "http://ui", "default", now=asked_at)

        access = next(line for line in shown.splitlines() if line.startswith("grant_access"))
        assert "overdue" in access.split()
        first_pass = next(line for line in shown.splitlines() if line.startswith("ce_first_pass"))
        assert "pending" in first_pass.split()  # due on day 4


async def test_security_review_with_escalation_and_a_late_step_escalated_to_the_ce_leader(
    harness_factory: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, "006SEC1")
        t0 = (await state(handle)).received_at

        await complete(handle, "grant_access", AE, note="portal access shared")
        await complete(
            handle, "note_deployment_type", CE, deployment_type=DeploymentType.SELF_HOSTED
        )
        message = await complete(handle, "ce_first_pass", CE, note="60% answered")
        assert "Next: Security CE review (Security CE U0SECWEST1" in message
        accepted = await handle.execute_update(
            SecurityReviewWorkflow.escalate_to_security_pm,
            EscalateToSecurityPM(SEC_WEST, "full questionnaire review needed"),
        )
        assert accepted.due_at == t0 + 15 * DAY
        assert accepted.phase is SecurityReviewPhase.OPEN

        # Everyone involved is told the due date, then the new one with the Security PM.
        announced, escalated = await channel_posts(slack_fake, 2)
        assert announced.startswith(
            "Security questionnaire received: security review for Acme (006SEC1)."
            f" Answers are due {when(t0 + 10 * DAY)}. <@U0AE00001> <@U0CE00001> <@U0SECWEST1>"
        )
        assert f"Security CE review by {when(t0 + 8 * DAY)} (<@U0SECWEST1>)" in announced
        assert escalated == (
            "The security review for Acme (006SEC1) is escalated to the Security PM <@U0SECPM01>"
            " by <@U0SECWEST1>: full questionnaire review needed. Answers are now due"
            f" {when(t0 + 15 * DAY)} (was {when(t0 + 10 * DAY)})."
            " <@U0AE00001> <@U0CE00001> <@U0SECWEST1> <@U0SECPM01>"
        )

        # The Security CE review (due day 8) is late: reminded on days 9 and 11, escalated on 13.
        await harness.env.sleep(13 * DAY + timedelta(hours=1))
        view = await state(handle)
        review = step_view(view, "security_ce_review")
        assert (review.status, review.reminders_sent, review.escalated_to_leader) == (
            StepStatus.OVERDUE,
            2,
            True,
        )
        reminders = texts(slack_fake, SEC_WEST)
        assert len(reminders) == 2
        assert all(
            text.startswith(
                "Overdue: 'Security CE review' of the security review for Acme (006SEC1) was due"
                f" {when(t0 + 8 * DAY)}; the answers are due {when(t0 + 15 * DAY)}."
            )
            for text in reminders
        )
        leader_post = texts(slack_fake, CHANNEL)[2]
        assert leader_post.startswith(
            "Escalation to the CE leader <@U0CELEAD1>: 'Security CE review' of the security"
            " review for Acme (006SEC1)"
        )
        assert "after 2 reminder(s) to <@U0SECWEST1> (Security CE)" in leader_post
        assert view.waiting_on == ["security_ce_review"]

        await complete(handle, "security_ce_review", SEC_WEST)
        await complete(handle, "security_pm_review", PM, note="two answers rewritten")
        await complete(handle, "answers_returned", AE)
        result = await handle.result()

        assert result.opportunity_id == "006SEC1" and result.security_ce == SEC_WEST
        assert (result.escalated_to_pm, result.escalation_reason, result.due_at) == (
            True,
            "full questionnaire review needed",
            t0 + 15 * DAY,
        )
        assert t0 + 13 * DAY < result.answered_at < t0 + 14 * DAY
        assert result.deployment_type is DeploymentType.SELF_HOSTED

        channel = texts(slack_fake, CHANNEL)
        assert len(channel) == 4  # due date, Security PM, CE leader, answers: once each
        assert channel[3].startswith(
            "Answers returned: the security review for Acme (006SEC1) is complete,"
        )
        assert channel[3].endswith(
            f"due {when(t0 + 15 * DAY)}. <@U0AE00001> <@U0CE00001> <@U0SECWEST1> <@U0SECPM01>"
        )
        # Nobody else was late, so nobody else was reminded.
        assert [texts(slack_fake, who) for who in (AE, CE, PM, LEADER)] == [[], [], [], []]

        final = await state(handle)
        assert final.phase is SecurityReviewPhase.ANSWERED
        assert [(step.key, step.status, step.completed_by) for step in final.steps] == [
            ("grant_access", StepStatus.DONE, AE),
            ("note_deployment_type", StepStatus.DONE, CE),
            ("ce_first_pass", StepStatus.DONE, CE),
            ("security_ce_review", StepStatus.DONE, SEC_WEST),
            ("security_pm_review", StepStatus.DONE, PM),
            ("answers_returned", StepStatus.DONE, AE),
        ]
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(sa.LIFECYCLE_STAGE) == "security_review_answered"
        assert attributes.get(sa.REGION) == "US West / APAC"
        assert attributes.get(sa.OPPORTUNITY_ID) == "006SEC1"
        assert (attributes.get(sa.AE_OWNER), attributes.get(sa.CE_OWNER)) == (AE, CE)


async def test_a_declined_first_pass_with_a_known_deployment_type_and_no_escalation(
    harness_factory: Any, slack_fake: Any
) -> None:
    async with harness_factory() as harness:
        handle = await start(
            harness, "006SEC2", region=Region.US_EAST_EMEA, deployment_type=DeploymentType.CLOUD
        )
        view = await state(handle)
        t0 = view.received_at
        assert (view.security_ce, view.waiting_on) == (SEC_EAST, ["grant_access"])
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(sa.LIFECYCLE_STAGE) == "security_review"
        assert attributes.get(sa.REGION) == "US East / EMEA"

        await handle.execute_update(
            SecurityReviewWorkflow.decline_first_pass,
            DeclineFirstPass(CE, "questions on FedRAMP are beyond me"),
        )
        await complete(handle, "grant_access", AE)
        await complete(handle, "security_ce_review", SEC_EAST)
        await complete(handle, "answers_returned", AE)
        result = await handle.result()

        assert (result.security_ce, result.escalated_to_pm, result.due_at) == (
            SEC_EAST,
            False,
            t0 + 10 * DAY,
        )
        assert result.deployment_type is DeploymentType.CLOUD
        final = await state(handle)
        first_pass = step_view(final, "ce_first_pass")
        assert (first_pass.status, first_pass.note) == (
            StepStatus.SKIPPED,
            "questions on FedRAMP are beyond me",
        )
        noted = step_view(final, "note_deployment_type")
        assert (noted.status, noted.completed_by) == (StepStatus.DONE, None)
        channel = texts(slack_fake, CHANNEL)
        assert len(channel) == 2
        assert "<@U0AE00001> <@U0CE00001> <@U0SECEAST1> (US East / EMEA Security CE" in channel[0]
        assert (
            "Note the preferred deployment type: done (cloud: known from the opportunity)"
            in (channel[0])
        )
        assert "<@U0SECPM01>" not in channel[1]
        assert texts(slack_fake, SEC_EAST) == [] and texts(slack_fake, AE) == []


async def settle(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait until the review has no activity in flight (its Slack posts are done).

    A test that ends with the review still running terminates it; terminating it mid-activity
    can leave the test server's shared clock stuck for the next test. Quiet first: between
    the roster lookup and the post it leads to, no activity is in flight for a moment.
    """
    await patience.settle(handle)
    for _ in range(200):
        description = await handle.describe()
        if not description.raw_description.pending_activities:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} still has activities in flight")


async def _accepted_update_count(handle: WorkflowHandle[Any, Any]) -> int:
    history = await handle.fetch_history()
    return sum(
        event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        for event in history.events
    )


async def _escalate(handle: WorkflowHandle[Any, Any]) -> None:
    await handle.execute_update(
        SecurityReviewWorkflow.escalate_to_security_pm, EscalateToSecurityPM(CE, "full review")
    )


async def _review_done(handle: WorkflowHandle[Any, Any]) -> None:
    await complete(handle, "grant_access", AE)
    await complete(handle, "note_deployment_type", CE, deployment_type=DeploymentType.MANAGED)
    await complete(handle, "ce_first_pass", CE)
    await complete(handle, "security_ce_review", SEC_WEST)


async def _nothing(handle: WorkflowHandle[Any, Any]) -> None:
    return None


async def test_a_concluded_reviews_failed_announcement_is_not_retried_but_skipped(
    harness_factory: Any, slack_fake: Any
) -> None:
    """The review's start announcement failed (an archived channel), then the deal was lost:
    a retry would post 'Security questionnaire received… answers are due…' to everyone for
    a review that is over. It is refused, saying to skip it; skipped, the review ends."""
    slack_fake.archive_channel(CHANNEL)
    try:
        async with harness_factory() as harness:
            handle = await start(harness, "006SECLOSTFX")
            for _ in range(200):
                view = await effects_done(handle)
                if any(e.name == "announce/start" for e in view.effects):
                    break
                await asyncio.sleep(0.05)
            assert [e.state for e in view.effects if e.name == "announce/start"] == ["failed"]
            await handle.signal(
                SecurityReviewWorkflow.concluded_by_opportunity,
                ConcludedByOpportunity(
                    opportunity_workflow_id("006SECLOSTFX"), OpportunityEnd.LOST, "no budget"
                ),
            )
            await settle(handle)
            slack_fake.unarchive_channel(CHANNEL)
            # The effects view says so first: `dealcycle effects list` suggests the skip.
            view = await handle.query(SecurityReviewWorkflow.effects)
            [post] = [e for e in view.effects if e.name == "announce/start"]
            assert post.retry_refused.startswith("the security review was concluded")

            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(
                    SecurityReviewWorkflow.retry_effect, RetryEffect("announce/start", AE)
                )
            assert isinstance(refused.value.cause, ApplicationError)
            assert "concluded" in refused.value.cause.message
            assert "effects skip security-review-006SECLOSTFX" in refused.value.cause.message
            await handle.execute_update(
                SecurityReviewWorkflow.skip_effect,
                SkipEffect("announce/start", "the deal was lost", AE),
            )
            result = await handle.result()
            assert result.conclusion_reason == "the opportunity was closed lost: no budget"
            assert texts(slack_fake, CHANNEL) == []
    finally:
        slack_fake.unarchive_channel(CHANNEL)


@pytest.mark.parametrize(
    ("setup", "update", "request_", "message"),
    [
        (
            _nothing,
            "complete_step",
            CompleteSecurityStep("grant_access", CE),
            "U0CE00001 cannot complete 'grant_access': it belongs to the AE, U0AE00001",
        ),
        (
            _nothing,
            "complete_step",
            CompleteSecurityStep("security_ce_review", SEC_WEST),
            "'security_ce_review' cannot be completed yet: waiting for grant_access"
            " (AE U0AE00001), note_deployment_type (CE U0CE00001), ce_first_pass (CE U0CE00001)",
        ),
        (
            _nothing,
            "escalate_to_security_pm",
            EscalateToSecurityPM(AE, "faster"),
            "U0AE00001 cannot involve the Security PM: only the CE (U0CE00001) or the Security CE"
            " (U0SECWEST1) can",
        ),
        (
            _escalate,
            "escalate_to_security_pm",
            EscalateToSecurityPM(SEC_WEST, "again"),
            "the review is already escalated to the Security PM (by U0CE00001",
        ),
        (
            _review_done,
            "escalate_to_security_pm",
            EscalateToSecurityPM(SEC_WEST, "late"),
            "the Security CE review is already done (by U0SECWEST1",
        ),
    ],
    ids=["wrong-person", "out-of-order", "escalation-by-ae", "second-escalation", "after-review"],
)
async def test_bad_actions_are_rejected_with_a_clear_message_and_change_nothing(
    harness_factory: Any,
    slack_fake: Any,
    setup: Any,
    update: str,
    request_: object,
    message: str,
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, "006SECBAD")
        await setup(handle)
        await settle(handle)
        before = await effects_done(handle)
        accepted_before = await _accepted_update_count(handle)

        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update(update, request_)

        assert isinstance(rejected.value.cause, ApplicationError)
        assert message in rejected.value.cause.message
        after = await state(handle)
        assert replace(after, as_of=before.as_of) == before
        assert await _accepted_update_count(handle) == accepted_before
        await settle(handle)


async def test_a_bad_start_fails_the_review_at_once_with_the_reasons(
    harness_factory: Any,
) -> None:
    async with harness_factory() as harness:
        handle = await start(harness, "006SECBADSTART", ae_owner=CE, account_name=" ")
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
        cause = failed.value.cause
        assert isinstance(cause, ApplicationError) and cause.non_retryable
        assert cause.message == (
            "the security review did not start: cannot start the security review:"
            " account_name is empty; the CE and the AE must be different people"
        )
        with pytest.raises(WorkflowQueryFailedError, match="the security review did not start"):
            await state(handle)
        history = await handle.fetch_history()
        failed_tasks = [
            event
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        ]
        assert failed_tasks == []  # failed the workflow, not a task retried forever
