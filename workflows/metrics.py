"""Counting what happens in a workflow, through the SDK's workflow metric meter.

The meter records nothing while a workflow replays (its history being rebuilt on another
worker, or after eviction from the cache), so each transition is counted once, by the worker
that first made it; and a metric call issues no command, so it needs no ``workflow.patched``.
The meter adds ``namespace``, ``task_queue`` and ``workflow_type`` to every series.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from schemas.metrics import MetricDefinition, MetricKind


def count(metric: MetricDefinition, amount: int = 1, **labels: str) -> None:
    """Add ``amount`` (when above zero) to the workflow-side counter ``metric``."""
    assert metric.kind is MetricKind.COUNTER, f"{metric.name} is not a counter"
    if amount <= 0:
        return
    counter = workflow.metric_meter().create_counter(metric.name, metric.description)
    counter.add(amount, labels)
