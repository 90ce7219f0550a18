"""Hand-off of a closed deal to the account's post-sales workflow.

Signal-with-start: the account's workflow is started if absent and signalled either way, so a
hand-off repeated by the CLI, the intake schedule or a retried activity changes nothing twice
(the account workflow keeps one hand-off per opportunity).
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from schemas.account import (
    ACCOUNT_WORKFLOW_TYPE,
    DEAL_CLOSED_SIGNAL,
    AccountConfig,
    AccountStart,
    HandOffRequest,
    HandOffResult,
    account_workflow_id,
)


async def hand_off(
    client: Client, task_queue: str, request: HandOffRequest, config: AccountConfig
) -> HandOffResult:
    deal = request.hand_off
    workflow_id = account_workflow_id(deal.account_id)
    was_running = await _is_running(client, workflow_id)
    if was_running and await _has_deal(client, workflow_id, deal.opportunity_id):
        return HandOffResult(workflow_id, started=False, already_handed_off=True)
    await client.start_workflow(
        ACCOUNT_WORKFLOW_TYPE,
        AccountStart(deal.account_id, deal.account_name, config=config),
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        start_signal=DEAL_CLOSED_SIGNAL,
        start_signal_args=[deal],
    )
    return HandOffResult(workflow_id, started=not was_running)


async def _has_deal(client: Client, workflow_id: str, opportunity_id: str) -> bool:
    state: dict[str, Any] = await client.get_workflow_handle(workflow_id).query("state")
    return any(
        known.get("opportunity_id") == opportunity_id for known in state.get("hand_offs", [])
    )


async def _is_running(client: Client, workflow_id: str) -> bool:
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return description.status is not None and description.status.name == "RUNNING"


class AccountHandOffActivities:
    def __init__(self, client: Client, task_queue: str, config: AccountConfig) -> None:
        self._client = client
        self._task_queue = task_queue
        self._config = config

    @activity.defn
    async def hand_off_closed_deal(self, request: HandOffRequest) -> HandOffResult:
        result = await hand_off(self._client, self._task_queue, request, self._config)
        activity.logger.info(
            "hand-off of %s to %s (%s)",
            request.hand_off.opportunity_id,
            result.workflow_id,
            "started"
            if result.started
            else "already had it"
            if result.already_handed_off
            else "already running",
        )
        return result
