"""Inputs that cannot wedge a workflow, on the time-skipping test server with the real worker:
an invalid start fails each of the six workflow types at once with a ``RuleViolation``; every
signal handler drops a null, ill-typed or out-of-bounds payload and the workflow still answers
queries and takes updates; an over-long update is rejected with nothing written to history."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError

from schemas.account import (
    DEAL_CLOSED_SIGNAL,
    USAGE_REPORTED_SIGNAL,
    AccountProfile,
    AccountStart,
    LifecycleStage,
    RecordFeatureRequest,
)
from schemas.common import DeploymentType, Region, Role, SecurityRoster
from schemas.errors import RULE_VIOLATION
from schemas.health import (
    CASE_SIGNAL,
    HEALTH_SIGNAL,
    HealthConfig,
    HealthSignal,
    RecordAsk,
    RedAccountCaseStart,
    SetHealth,
)
from schemas.intake import IntakeRun
from schemas.opportunity import (
    OpportunityInput,
    OpportunityKind,
    OpportunityStart,
    TechnicalWinChanged,
)
from schemas.security_review import SecurityReviewInput, SecurityReviewStart
from schemas.trial import CompleteStep, TrialInput, TrialStart
from tests.support.accounts import AE, CE, DAY, settle, start_account
from workflows.account import AccountWorkflow
from workflows.intake import ClosedWonIntakeWorkflow
from workflows.opportunity import OpportunityWorkflow
from workflows.red_account import RedAccountWorkflow
from workflows.security_review import SecurityReviewWorkflow
from workflows.trial import TrialWorkflow

ROSTER = SecurityRoster("U0SECWEST1", "U0SECEAST1", "U0SECPM01", "U0CELEAD1")
Handle = WorkflowHandle[Any, Any]


def case_start(now: datetime, **overrides: Any) -> RedAccountCaseStart:
    fields: dict[str, Any] = {
        "case_id": "red-account-001CASE-1",
        "account_id": "001SIG",
        "account_name": "Acme",
        "tier": 1,
        "renewal_date": now + 200 * DAY,
        "ae_owner": AE,
        "ce_owner": CE,
        "reason": "champion left",
        "opened_at": now,
        "config": HealthConfig(),
        "roster": ROSTER,
        "account_workflow_url": "http://localhost:8233/namespaces/default/workflows/account-001SIG",
    }
    fields.update(overrides)
    return RedAccountCaseStart(**fields)


def invalid_starts(now: datetime) -> list[tuple[Any, object, str, str]]:
    """(workflow run, input, workflow id, what the reason must say) for each workflow type."""
    opportunity = OpportunityStart(
        "006BAD", "001BAD", "Acme", AE, "not-an-id", Region.US_EAST_EMEA,
        DeploymentType.CLOUD, 1, OpportunityKind.NEW, False, ROSTER,
    )  # fmt: skip
    review = SecurityReviewStart(
        "006BAD", "001BAD", "x" * 300, AE, CE, Region.US_EAST_EMEA, None, ROSTER
    )
    profile = AccountProfile("001BAD", "Acme", 1, "", AE, CE, 0, now + 300 * DAY)
    return [
        (
            TrialWorkflow.run,
            TrialInput(start=TrialStart("006BAD", "001BAD", "Acme", CE, AE, length_days=3_000_000)),
            "trial-006BAD",
            "cannot start the trial: length_days: a whole number from 1 to 365 (got 3000000)",
        ),
        (TrialWorkflow.run, TrialInput(), "trial-006NONE", "TrialInput needs either start"),
        (
            OpportunityWorkflow.run,
            OpportunityInput(start=opportunity),
            "opportunity-006BAD",
            "cannot start the opportunity: ce_owner: a Slack member id",
        ),
        (
            SecurityReviewWorkflow.run,
            SecurityReviewInput(start=review),
            "security-review-006BAD",
            "account_name: at most 255 characters (got 300)",
        ),
        (
            AccountWorkflow.run,
            AccountStart("001BAD", "Acme", profile=profile, stage=LifecycleStage.ADOPTION),
            "account-001BAD",
            "cannot start the account: seats must be at least 1, not 0",
        ),
        (
            RedAccountWorkflow.run,
            case_start(now, tier=7, case_id="red-account-001BAD-1"),
            "red-account-001BAD-1",
            "cannot open the red-account case: tier: a whole number from 0 to 3 (got 7)",
        ),
        (
            ClosedWonIntakeWorkflow.run,
            IntakeRun(batch_size=0),
            "intake-bad",
            "cannot run the intake: batch_size: a whole number from 1 to 2000 (got 0)",
        ),
    ]


async def closed(handle: Handle, within: float = 30.0) -> WorkflowExecutionStatus:
    """The workflow's status once it has closed (the Java test server's long poll for a
    result can miss a completion, so the status is polled first)."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        status = (await handle.describe()).status
        if status is not None and status != WorkflowExecutionStatus.RUNNING:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} did not close within {within} s: wedged?")


async def task_failures(handle: Handle) -> int:
    failed = EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
    return sum(1 for event in (await handle.fetch_history()).events if event.event_type == failed)


async def test_an_invalid_start_fails_each_workflow_at_once_with_the_reason(
    harness_factory: Any,
) -> None:
    async with harness_factory() as harness:
        now = await harness.env.get_current_time()
        for run, start_input, workflow_id, reason in invalid_starts(now):
            handle = harness.track(
                await harness.client.start_workflow(
                    run, start_input, id=workflow_id, task_queue=harness.task_queue
                )
            )
            assert await closed(handle) == WorkflowExecutionStatus.FAILED, workflow_id
            # (The Java test server skips its clock ahead while a result is awaited: harmless.)
            with pytest.raises(WorkflowFailureError) as failed:
                await handle.result()
            cause = failed.value.cause
            assert isinstance(cause, ApplicationError), workflow_id
            assert cause.type == RULE_VIOLATION and cause.non_retryable, workflow_id
            assert reason in cause.message, (workflow_id, cause.message)
            assert await task_failures(handle) == 0, workflow_id


def bad_payloads(now: datetime) -> dict[str, list[object]]:
    later = (now + timedelta(days=11 * 365)).isoformat()
    return {
        DEAL_CLOSED_SIGNAL: [
            None,
            "001SIG",
            {"opportunity_id": 6, "account_id": "001SIG"},
            {
                "opportunity_id": "006X", "account_id": "001SIG", "account_name": "Acme",
                "kind": "expansion", "seats": 2.5, "ae_owner": AE, "ce_owner": CE, "tier": 1,
                "region": "", "closed_at": now.isoformat(),
            },
        ],
        USAGE_REPORTED_SIGNAL: [
            None,
            {"active_users": "many", "version": "5.2"},
            {"active_users": 1e21, "version": "5.2"},
            {"active_users": 10, "version": "x" * 100_000},
            {"active_users": True, "version": "5.2"},
        ],
        HEALTH_SIGNAL: [
            None,
            [1, 2],
            {"input": "usage", "value": "high"},
            {"input": "usage", "value": 1e21},
            {"input": "usage", "value": True},
            {"input": "usage", "value": 50, "observed_at": later},
            {"input": "mood", "value": 50},
        ],
    }  # fmt: skip


async def test_bad_signals_to_an_account_change_nothing_and_wedge_nothing(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await start_account(
            harness.client, harness.env, harness.task_queue, harness.settings, salesforce_fake,
            "001SIG", 200 * DAY, stage=LifecycleStage.ADOPTION, track=harness.track,
        )  # fmt: skip
        before = await signalled_state(account)

        now = await harness.env.get_current_time()
        for name, payloads in bad_payloads(now).items():
            await account.signal(name)  # `temporal workflow signal` without input
            for payload in payloads:
                await account.signal(name, payload)
        await settle(account)

        assert await signalled_state(account) == before
        accepted = await account.execute_update(
            AccountWorkflow.record_feature_request, RecordFeatureRequest("SCIM", CE, Role.CE)
        )
        assert "feature request #1 recorded" in accepted.message
        await account.signal(AccountWorkflow.health_signal, HealthSignal("usage", 80))
        await settle(account)
        assert (await health(account)).readings == {"usage": 80.0}
        assert await task_failures(account) == 0


async def health(handle: Handle) -> Any:
    return await handle.query(AccountWorkflow.health)


async def signalled_state(account: Handle) -> tuple[object, ...]:
    """What the account's signals change (its time-driven steps aside)."""
    state = await account.query(AccountWorkflow.state)
    return state.hand_offs, state.profile, state.recent_activity, await health(account)


async def test_bad_signals_to_a_red_account_case_change_nothing_and_wedge_nothing(
    harness_factory: Any,
) -> None:
    async with harness_factory() as harness:
        now = await harness.env.get_current_time()
        case = harness.track(
            await harness.client.start_workflow(
                RedAccountWorkflow.run,
                case_start(now),
                id="red-account-001CASE-1",
                task_queue=harness.task_queue,
            )
        )
        await settle(case)
        before = await case.query(RedAccountWorkflow.state)

        await case.signal(CASE_SIGNAL)
        for payload in [
            None,
            "resolved",
            {"kind": "resolved", "colour": "green", "by": "score", "reason": "x"},  # no `at`
            {"kind": "resolved", "colour": "blue", "by": "score", "reason": "x",
             "at": now.isoformat()},
            {"kind": "still_red", "colour": "red", "by": "score", "reason": "x" * 9_000,
             "at": now.isoformat()},
            {"kind": "resolved", "colour": "green", "by": "score", "reason": "x",
             "at": "2000-01-01T00:00:00+00:00"},
        ]:  # fmt: skip
            await case.signal(CASE_SIGNAL, payload)
        await settle(case)

        assert await case.query(RedAccountWorkflow.state) == before
        accepted = await case.execute_update(
            RedAccountWorkflow.record_ask, RecordAsk(AE, Role.AE, "an exec sponsor")
        )
        assert accepted.message.startswith("ask #1 recorded")
        assert await task_failures(case) == 0


async def test_bad_signals_to_an_opportunity_change_nothing_and_wedge_nothing(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        now = await harness.env.get_current_time()
        salesforce_fake.add_record("Opportunity", {"Id": "006SIG", "Name": "Globex"})
        start = OpportunityStart(
            "006SIG", "001GLOBEX", "Globex", AE, CE, Region.US_EAST_EMEA,
            DeploymentType.CLOUD, 1, OpportunityKind.NEW, False, harness.settings.security_roster,
            durations=harness.settings.durations,
        )  # fmt: skip
        opportunity = harness.track(
            await harness.client.start_workflow(
                OpportunityWorkflow.run,
                OpportunityInput(start=start),
                id="opportunity-006SIG",
                task_queue=harness.task_queue,
            )
        )
        await settle(opportunity)
        before = await opportunity.query(OpportunityWorkflow.state)

        long_ago = TechnicalWinChanged("won", CE, now - timedelta(days=4000))  # type: ignore[arg-type]
        bad: dict[str, list[object]] = {
            "technical_win_changed": [
                None, {"status": "won"}, {"status": "famous", "actor": CE, "at": now.isoformat()},
                {"status": "won", "actor": "nobody", "at": now.isoformat()}, long_ago,
            ],
            "trial_phase_changed": [None, 3, {"phase": "x" * 50}, {"phase": "sleeping"}],
        }  # fmt: skip
        for name, payloads in bad.items():
            await opportunity.signal(name)
            for payload in payloads:
                await opportunity.signal(name, payload)
        await settle(opportunity)

        assert await opportunity.query(OpportunityWorkflow.state) == before
        accepted = await opportunity.execute_update(
            OpportunityWorkflow.complete_step, CompleteStep("discovery_call", CE, Role.CE)
        )
        assert "discovery_call" in accepted.message
        assert await task_failures(opportunity) == 0


async def test_an_over_long_update_is_rejected_with_nothing_written_to_history(
    harness_factory: Any, salesforce_fake: Any
) -> None:
    async with harness_factory() as harness:
        account = await start_account(
            harness.client, harness.env, harness.task_queue, harness.settings, salesforce_fake,
            "001LONG", 200 * DAY, stage=LifecycleStage.ADOPTION, track=harness.track,
        )  # fmt: skip
        events = len((await account.fetch_history()).events)

        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await account.execute_update(
                AccountWorkflow.set_health, SetHealth("red", AE, Role.AE, "x" * 50_000)
            )
        cause = rejected.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == RULE_VIOLATION
        assert cause.message == "reason: at most 2000 characters (got 50000)"
        # JSON true is not one seat more: the worker's converter keeps it for the check.
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await account.execute_update(
                "expand_seats",
                {"seats": True, "actor": AE, "role": "AE", "reason": "new hires"},
            )
        assert isinstance(rejected.value.cause, ApplicationError)
        assert rejected.value.cause.message == (
            "seats: a whole number from 1 to 1000000 (got true)"
        )
        await settle(account)

        # Rejected updates leave no update events; the Java test server (unlike the real one)
        # keeps the workflow tasks that rejected them, and nothing else.
        task_events = {
            EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
            EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        }
        written = (await account.fetch_history()).events[events:]
        assert {event.event_type for event in written} <= task_events
        assert (await health(account)).colour == "green"
