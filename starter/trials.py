"""Client-side operations on trials: start one, act on it, read it.

Every function takes a connected ``Client`` and returns what the person should see, or raises
``CommandError`` with a sentence that names the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from dealcycle.settings import Settings
from schemas import limits, start_summaries
from schemas import search_attributes as sa
from schemas.common import TechnicalWinStatus
from schemas.errors import RuleViolation
from schemas.trial import (
    TRIAL_WORKFLOW_TYPE,
    TrialInput,
    TrialPhase,
    TrialStart,
    TrialState,
    trial_workflow_id,
)
from starter.errors import CommandError as CommandError  # re-exported: commands import it from here
from starter.payloads import check_payload_size
from starter.provenance import stamped
from starter.queries import query_workflow, update_workflow
from starter.workflow_ids import check_workflow_id
from workflows.trial import TrialWorkflow
from workflows.trial_rules import check_start


def within_limits(request: object) -> None:
    """Refuse, before anything is sent, what the workflow would refuse (or, for a signal,
    drop) for a field's size, type or range; the message names the field and its limit.
    A request too big for Temporal at all is named as such first."""
    check_payload_size(request)
    try:
        limits.check(request, datetime.now(UTC))
    except RuleViolation as err:
        raise CommandError(f"rejected: {err.message}") from None


@dataclass(frozen=True)
class StartedTrial:
    workflow_id: str
    run_id: str | None
    already_running: bool


def trial_start_for(settings: Settings, **fields: Any) -> TrialStart:
    start = TrialStart(
        durations=settings.durations,
        announce_channel=settings.slack.trial_channel,
        temporal_ui_url=settings.temporal_ui_url,
        **fields,
    )
    try:
        check_start(start, datetime.now(UTC))
    except RuleViolation as err:
        raise CommandError(err.message) from None
    return start


def initial_search_attributes(start: TrialStart) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.OPPORTUNITY_ID, start.opportunity_id),
            SearchAttributePair(sa.ACCOUNT_ID, start.account_id),
            SearchAttributePair(sa.LIFECYCLE_STAGE, TrialPhase.PLANNING.lifecycle_stage),
            SearchAttributePair(sa.TECHNICAL_WIN_STATUS, TechnicalWinStatus.NOT_STARTED.value),
            SearchAttributePair(sa.CE_OWNER, start.ce_owner),
            SearchAttributePair(sa.AE_OWNER, start.ae_owner),
        ]
    )


async def start_trial(
    client: Client, settings: Settings, start: TrialStart, *, reuse_running: bool = False
) -> StartedTrial:
    """Start ``TrialWorkflow`` for the opportunity.

    A second start for an opportunity whose trial runs is refused, unless ``reuse_running``
    (the demo, re-run) asks to be handed the running one. A trial that completed is not
    started again for the same opportunity: its history is the record.
    """
    workflow_id = trial_workflow_id(start.opportunity_id)
    shown = start_summaries.trial(start)
    try:
        handle = await client.start_workflow(
            TrialWorkflow.run,
            TrialInput(start=start),
            id=workflow_id,
            task_queue=settings.task_queue,
            search_attributes=initial_search_attributes(start),
            static_summary=shown.summary,
            static_details=shown.details,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            id_conflict_policy=(
                WorkflowIDConflictPolicy.USE_EXISTING
                if reuse_running
                else WorkflowIDConflictPolicy.FAIL
            ),
        )
    except WorkflowAlreadyStartedError:
        raise CommandError(
            f"{workflow_id} already exists (running, or completed for this opportunity);"
            f" see `dealcycle status {workflow_id}`"
        ) from None
    return StartedTrial(workflow_id, handle.result_run_id, already_running=False)


async def trial_exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


def with_article(noun: str) -> str:
    """``"an OpportunityWorkflow"``, ``"a TrialWorkflow"``: the indefinite article a type's name
    takes (by its first letter, which is right for every workflow type we name)."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


async def workflow_handle(
    client: Client, workflow_id: str, expected_types: tuple[str, ...] = ()
) -> tuple[WorkflowHandle[Any, Any], WorkflowExecutionDescription]:
    handle = client.get_workflow_handle(check_workflow_id(workflow_id))
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise CommandError(f"there is no workflow {workflow_id!r}") from None
        raise
    if expected_types and description.workflow_type not in expected_types:
        raise CommandError(
            f"{workflow_id} is {with_article(description.workflow_type)}, not"
            f" {with_article(' or '.join(expected_types))}"
        )
    return handle, description


async def running_workflow(
    client: Client, workflow_id: str, expected_types: tuple[str, ...] = ()
) -> WorkflowHandle[Any, Any]:
    """The workflow's handle, or a ``CommandError`` when there is none or it has closed (an
    action sent to it would fail with a bare "not found")."""
    handle, description = await workflow_handle(client, workflow_id, expected_types)
    if description.status != WorkflowExecutionStatus.RUNNING:
        status = description.status.name.lower() if description.status else "closed"
        raise CommandError(f"{workflow_id} is {status}; it accepts no more actions")
    return handle


async def act(
    client: Client,
    workflow_id: str,
    update: str,
    request: object,
    expected_types: tuple[str, ...] = (TRIAL_WORKFLOW_TYPE,),
) -> str:
    """Send a CE/AE action and return the workflow's answer.

    A rejection becomes a ``CommandError`` with the workflow's reason; nothing was written.
    """
    request = stamped(request)
    within_limits(request)
    handle = await running_workflow(client, workflow_id, expected_types)
    check_payload_size(request)
    try:
        accepted: dict[str, Any] = await update_workflow(client, handle, update, request)
        return str(accepted["message"])
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause)
        raise CommandError(f"rejected: {message}") from None


async def read_state(client: Client, workflow_id: str) -> tuple[TrialState, str]:
    handle, description = await workflow_handle(client, workflow_id, (TRIAL_WORKFLOW_TYPE,))
    state: TrialState = await query_workflow(client, handle, TrialWorkflow.state)
    status = description.status.name if description.status else "UNKNOWN"
    return state, status
