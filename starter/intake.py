"""Operations on deal close: ``dealcycle deal-closed`` and the Closed Won intake schedule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from dealcycle.codec import PayloadDecryptionError
from dealcycle.settings import Settings
from schemas import start_summaries
from schemas.account import HandOffResult
from schemas.intake import CLOSED_WON_SCHEDULE_ID, DealClosed, IntakeResult, IntakeRun
from schemas.opportunity import OpportunityState, opportunity_workflow_id
from starter.errors import failure_reason, one_line
from starter.schedules import ensure_schedule
from starter.trials import CommandError, within_limits
from workflows.effects import INTAKE_BUDGET
from workflows.intake import ClosedWonIntakeWorkflow
from workflows.opportunity import OpportunityWorkflow

log = structlog.get_logger(__name__)


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


DEAL_CLOSED_WAIT_SECONDS = 120.0
"""How long ``deal-closed`` waits for a worker to hand the deal off."""


def refuse_bad_opportunity_id(opportunity_id: str) -> None:
    """Refuse an id the intake run would refuse: refused here, before anything starts, not by
    the run it would start (which would fail on it)."""
    within_limits(IntakeRun(deal_closed=DealClosed(opportunity_id)))


async def deal_closed(client: Client, settings: Settings, opportunity_id: str) -> str:
    """Hand a Closed Won opportunity to its account's workflow; a repeat changes nothing.
    Says what happened: started, handed to the running account, or skipped and why.

    The worker reads the deal (one SOQL query on its logged-in session: the CLI neither logs
    in to Salesforce nor reads it) and hands it off, in an intake run for this one deal.
    """
    refuse_bad_opportunity_id(opportunity_id)
    known = await _opportunity_state(client, opportunity_id)
    named = DealClosed(
        opportunity_id,
        kind=known.kind.value if known else "",
        ae_owner=known.ae_owner if known else "",
        ce_owner=known.ce_owner if known else "",
        region=known.region.value if known else "",
    )
    workflow_id = (
        f"{CLOSED_WON_SCHEDULE_ID}-deal-closed-{opportunity_id}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    )
    handle = await client.start_workflow(
        ClosedWonIntakeWorkflow.run,
        IntakeRun(deal_closed=named),
        id=workflow_id,
        task_queue=settings.task_queue,
        static_summary=start_summaries.deal_closed(opportunity_id).summary,
    )
    try:
        result = await asyncio.wait_for(handle.result(), DEAL_CLOSED_WAIT_SECONDS)
    except TimeoutError:
        failing = await _failing_step(client, handle)
        if failing:
            raise CommandError(
                f"{opportunity_id} is not handed off yet: the worker's tries are failing"
                f" ({failing}); it keeps trying for up to"
                f" {INTAKE_BUDGET.total_seconds() / 60:g} minutes (failing still, run"
                f" `deal-closed` again once the cause is fixed): workflow {workflow_id}"
            ) from None
        raise CommandError(
            f"no worker handed {opportunity_id} off within {DEAL_CLOSED_WAIT_SECONDS:.0f} s"
            f" (is `dealcycle worker` running on task queue {settings.task_queue!r}?); the"
            f" hand-off runs when one starts: workflow {workflow_id}"
        ) from None
    except WorkflowFailureError as err:
        why = failure_reason(err)
        raise CommandError(f"the hand-off of {opportunity_id} failed: {why}") from None
    if result.refused:
        raise CommandError(result.refused)
    [decision] = result.decisions
    message = HandOffResult(
        decision.account_workflow_id,
        started=decision.decision == "started",
        skipped=decision.why if decision.decision == "skipped" else "",
    ).describe(opportunity_id)
    log.debug("deal_closed", opportunity_id=opportunity_id, decision=decision.decision, why=message)
    return message


async def _failing_step(client: Client, handle: WorkflowHandle[Any, Any]) -> str:
    """The last failure of the run's activity being retried (Salesforce down, over its API
    limit...), "" when none is: a worker that never picked the run up is another matter."""
    try:
        description = await handle.describe()
    except RPCError:
        return ""
    for pending in description.raw_description.pending_activities:
        if pending.attempt > 1 and pending.HasField("last_failure"):
            try:
                error = await client.data_converter.decode_failure(pending.last_failure)
            except PayloadDecryptionError:  # written with a key this client lacks
                return one_line(pending.last_failure.message, 300)
            message = error.message if isinstance(error, FailureError) else str(error)
            return one_line(message, 300)
    return ""


async def _opportunity_state(client: Client, opportunity_id: str) -> OpportunityState | None:
    """The owners only dealcycle knows (Slack members), from the deal's workflow if it ran
    here; None for a deal made outside dealcycle or one whose workflow cannot answer."""
    try:
        handle = client.get_workflow_handle(opportunity_workflow_id(opportunity_id))
        state: OpportunityState = await handle.query(OpportunityWorkflow.state)
    except (RPCError, WorkflowQueryFailedError) as err:
        log.debug("deal_closed_from_salesforce_alone", opportunity=opportunity_id, why=str(err))
        return None
    return state


def intake_schedule(settings: Settings, every: timedelta) -> Schedule:
    shown = start_summaries.closed_won_intake(f"every {every}")
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ClosedWonIntakeWorkflow.run,
            IntakeRun(),
            id=f"{CLOSED_WON_SCHEDULE_ID}-run",
            task_queue=settings.task_queue,
            static_summary=shown.summary,
            static_details=shown.details,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # A poll still running when the next is due: skip rather than read twice at once.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_intake_schedule(client: Client, settings: Settings, every: timedelta) -> str:
    return await ensure_schedule(
        client,
        CLOSED_WON_SCHEDULE_ID,
        intake_schedule(settings, every),
        f"a Closed Won poll every {every}",
    )


async def run_intake_once(
    client: Client, settings: Settings, run: IntakeRun | None = None
) -> IntakeResult:
    workflow_id = f"{CLOSED_WON_SCHEDULE_ID}-manual-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    handle = await client.start_workflow(
        ClosedWonIntakeWorkflow.run,
        run or IntakeRun(),
        id=workflow_id,
        task_queue=settings.task_queue,
        static_summary=start_summaries.closed_won_intake("once, by hand").summary,
    )
    try:
        result = await _result_unless_failing(client, handle)
    except WorkflowFailureError as err:
        raise CommandError(
            f"the intake run failed: {failure_reason(err)}; the watermark stays before what it"
            " did not hand off, so the next run reads the same deals again"
        ) from None
    except _StepFailing as failing:
        raise CommandError(
            f"the intake run is not done: the worker's tries are failing ({failing}); it keeps"
            f" trying for up to {INTAKE_BUDGET.total_seconds() / 60:g} minutes (`dealcycle"
            f" status {workflow_id}` shows how it ended); the watermark stays before what it"
            " did not hand off, so the next run reads the same deals again"
        ) from None
    return result


class _StepFailing(Exception):
    """The run's activity is being retried: the message is its last failure."""


async def _result_unless_failing(
    client: Client, handle: WorkflowHandle[Any, IntakeResult]
) -> IntakeResult:
    """The run's result; ``_StepFailing`` when, after each wait of
    ``DEAL_CLOSED_WAIT_SECONDS``, a step is still being retried (a healthy run of many pages
    is waited for)."""
    waiting = asyncio.ensure_future(handle.result())
    try:
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=DEAL_CLOSED_WAIT_SECONDS)
            if done:
                return waiting.result()
            failing = await _failing_step(client, handle)
            if failing:
                raise _StepFailing(failing)
    finally:
        waiting.cancel()


def render_intake_result(result: IntakeResult) -> str:
    """What one poll did with each deal, and why a deal was skipped."""
    more = f" and {result.decisions_left_out} more" if result.decisions_left_out else ""
    lines = [
        f"handed off: {', '.join(result.handed_off) or 'none'}{more}",
        f"skipped: {', '.join(result.skipped) or 'none'}",
    ]
    if result.without_account:
        lines.append(
            f"no account: {', '.join(result.without_account)} (Closed Won with no AccountId in"
            " Salesforce: nothing to hand it to; once it has one, a run hands it off)"
        )
    for failed in result.failed:
        lines.append(
            f"  {failed.opportunity_id}  NOT handed off (the next run tries again): {failed.why}"
        )
    for decision in result.decisions:
        why = f": {decision.why}" if decision.why else ""
        lines.append(
            f"  {decision.opportunity_id}  {decision.decision}"
            f" ({decision.account_workflow_id}){why}"
        )
    lines.append(f"watermark: {result.watermark.isoformat() if result.watermark else '-'}")
    return "\n".join(lines)


POLLS_SHOWN = 5


async def intake_status(client: Client, polls: int = POLLS_SHOWN) -> str:
    """The intake schedule as operations need it: its interval, whether it is paused, its next
    poll, and what its last ``polls`` polls did, a failed one with Salesforce's reason (the
    Temporal Web UI is otherwise the only place that says a scheduled poll failed)."""
    handle = client.get_schedule_handle(CLOSED_WON_SCHEDULE_ID)
    try:
        described = await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            raise CommandError(
                f"there is no schedule {CLOSED_WON_SCHEDULE_ID}: `dealcycle intake schedule`"
                " creates it (`dealcycle run` does it for the sandbox)"
            ) from None
        raise
    schedule, info = described.schedule, described.info
    every = ", ".join(str(interval.every) for interval in schedule.spec.intervals) or "?"
    upcoming = info.next_action_times[0] if info.next_action_times else None
    head = f"schedule {CLOSED_WON_SCHEDULE_ID}: a Closed Won poll every {every}"
    if schedule.state.paused:
        head += f"; PAUSED ({schedule.state.note or 'no note'})"
    elif upcoming is not None:
        head += f"; next poll {_minute(upcoming)}"
    recent = [
        action
        for action in reversed(info.recent_actions)
        if isinstance(action.action, ScheduleActionExecutionStartWorkflow)
    ][:polls]
    if not recent:
        return f"{head}\nno poll has run yet"
    lines = [head, f"last {len(recent)} poll(s), newest first:"]
    outcomes = []
    for action in recent:
        started = action.action
        assert isinstance(started, ScheduleActionExecutionStartWorkflow)
        outcome = await _poll_outcome(client, started.workflow_id, started.first_execution_run_id)
        outcomes.append(outcome)
        lines.append(f"  {_minute(action.started_at)}  {outcome}")
    failing = [outcome.startswith("FAILED") for outcome in outcomes]
    streak = failing.index(False) if False in failing else len(failing)
    if streak:
        lines.append(
            f"the last {streak} poll(s) failed: fix the cause; the watermark stays before what"
            " was not handed off, so the next poll reads the same deals again"
        )
    return "\n".join(lines)


def _minute(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


async def _poll_outcome(client: Client, workflow_id: str, run_id: str) -> str:
    """One scheduled poll: running, what it handed off, or why it failed (following its
    continue-as-new to the last page)."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id, result_type=IntakeResult)
    try:
        described = await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return "gone (past the namespace's retention)"
        raise
    if described.status is WorkflowExecutionStatus.RUNNING:
        return "running"
    try:
        result: IntakeResult = await handle.result()
    except WorkflowFailureError as err:
        return f"FAILED: {failure_reason(err)}"
    return poll_summary(result)


def poll_summary(result: IntakeResult) -> str:
    """One finished poll in a line: every deal it handed off (counted, not only the ones
    listed), skipped, passed over, and each it did NOT hand off with why (a run that completed
    can still leave deals behind: the watermark waits before them)."""
    handed_off = result.handed_off_count or len(result.handed_off) + result.decisions_left_out
    summary = f"handed off {handed_off}, skipped {len(result.skipped)}" + (
        f", {len(result.without_account)} with no account" if result.without_account else ""
    )
    if result.failed:
        summary += f"; NOT handed off {len(result.failed)} (the next poll tries again): " + (
            "; ".join(f"{failed.opportunity_id}: {failed.why}" for failed in result.failed)
        )
    return summary
