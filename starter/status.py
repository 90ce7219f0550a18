"""``dealcycle status WORKFLOW_ID``: any dealcycle workflow, shown by its type's table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError

from schemas.account import ACCOUNT_WORKFLOW_TYPE
from schemas.health import RED_ACCOUNT_WORKFLOW_TYPE
from schemas.intake import CLOSED_WON_INTAKE_WORKFLOW_TYPE, IntakeResult
from schemas.opportunity import OPPORTUNITY_WORKFLOW_TYPE
from schemas.security_review import SECURITY_REVIEW_WORKFLOW_TYPE, SecurityReviewState
from schemas.trial import TRIAL_WORKFLOW_TYPE
from starter.accounts import render_account_status
from starter.errors import CommandError, one_line
from starter.health import render_case_status
from starter.opportunities import render_opportunity_status
from starter.queries import query_workflow
from starter.tables import clock_for, render_intake, render_security_review, render_trial
from starter.trials import read_state, with_article, workflow_handle
from workflows.security_review import SecurityReviewWorkflow

Render = Callable[[Client, str, str, str], Awaitable[str]]


async def _trial(client: Client, workflow_id: str, ui_url: str, namespace: str) -> str:
    state, status = await read_state(client, workflow_id)
    return render_trial(state, status, ui_url, namespace, clock_for(status))


async def _security_review(client: Client, workflow_id: str, ui_url: str, namespace: str) -> str:
    handle, description = await workflow_handle(
        client, workflow_id, (SECURITY_REVIEW_WORKFLOW_TYPE,)
    )
    state: SecurityReviewState = await query_workflow(client, handle, SecurityReviewWorkflow.state)
    status = description.status.name if description.status else "UNKNOWN"
    return render_security_review(state, status, ui_url, namespace, clock_for(status))


async def _intake(client: Client, workflow_id: str, ui_url: str, namespace: str) -> str:
    handle, description = await workflow_handle(
        client, workflow_id, (CLOSED_WON_INTAKE_WORKFLOW_TYPE,)
    )
    status = description.status.name if description.status else "UNKNOWN"
    result: IntakeResult | None = None
    failure = ""
    if description.status == WorkflowExecutionStatus.COMPLETED:
        result = await client.get_workflow_handle(workflow_id, result_type=IntakeResult).result()
    elif description.status == WorkflowExecutionStatus.FAILED:
        try:
            await handle.result()
        except WorkflowFailureError as err:
            failure = one_line(str(err.cause))
    return render_intake(
        workflow_id,
        status,
        (description.start_time, description.close_time),
        result,
        failure,
        ui_url,
        namespace,
    )


RENDERERS: dict[str, Render] = {
    TRIAL_WORKFLOW_TYPE: _trial,
    OPPORTUNITY_WORKFLOW_TYPE: render_opportunity_status,
    SECURITY_REVIEW_WORKFLOW_TYPE: _security_review,
    ACCOUNT_WORKFLOW_TYPE: render_account_status,
    RED_ACCOUNT_WORKFLOW_TYPE: render_case_status,
    CLOSED_WON_INTAKE_WORKFLOW_TYPE: _intake,
}


async def render_status(client: Client, workflow_id: str, ui_url: str, namespace: str) -> str:
    _, description = await workflow_handle(client, workflow_id)
    render = RENDERERS.get(description.workflow_type)
    if render is None:
        raise CommandError(
            f"{workflow_id} is {with_article(description.workflow_type)}, which"
            f" `dealcycle status` does not show; it shows {', '.join(RENDERERS)}"
        )
    return await render(client, workflow_id, ui_url, namespace)
