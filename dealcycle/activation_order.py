"""How a worker applies the jobs of one workflow activation: all before any workflow code."""

from __future__ import annotations

from temporalio.worker import Worker
from temporalio.worker._workflow_instance import _WorkflowLogicFlag


def apply_activation_jobs_together(worker: Worker) -> None:
    """Every job of a workflow task's activation is applied before any workflow code runs.

    By default (SDK 1.35) an activation's updates and signals run, main loop included, before
    the activity results that came in the same activation are applied. Core merges a workflow
    task that issued no commands (an effect's quiet end) with the next one when it replays a
    run from its start (sdk-rust#1606): the fresh worker that takes an update after a worker
    restart or a cache eviction saw the update before the result, found the effect's lane
    still busy and issued its commands in another order than any later replay, which failed
    every task of that workflow from then on ("Activity id of scheduled event '5' does not
    match activity id of activity command '4'").

    The SDK's own flag for this (``PROCESS_WORKFLOW_ACTIVATION_JOBS_AS_SINGLE_BATCH``, to be its
    default in a later release) is recorded in each workflow task it is used in, so tasks
    processed before it replay the old way. It is set through the worker's private setter:
    ``tests/test_activation_order.py`` fails if that setter or the flag goes away.
    """
    worker._set_default_workflow_logic_flag(
        _WorkflowLogicFlag.PROCESS_WORKFLOW_ACTIVATION_JOBS_AS_SINGLE_BATCH, enabled=True
    )
