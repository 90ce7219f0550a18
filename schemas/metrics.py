"""The business metrics dealcycle exports: the one list of their names, kinds and meanings.

It lives with the contracts because three sides share it and the workflows may import nothing
but ``schemas``: workflow code counts transitions (``workflows.metrics``, replay-safe), the
activities' client layer counts external calls and hand-offs, and the worker's visibility
collector sets the levels (``dealcycle.metrics``). The README's series table and the Grafana
dashboard are checked against this list (tests/test_metrics_dashboard.py).

Why levels are gauges set from visibility and not from workflow code: a gauge written by
workflows is last-writer-wins across them (the last account to wake would set "steps overdue"
for all), and a level rebuilt from counters of ups and downs breaks whenever a worker restarts
(its counters start again at zero while the workflows it counted keep their state). So each
workflow counts what *happened* (counters, never recorded during replay), and one collector
per worker counts what *is* from the search attributes every workflow already keeps current.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MetricKind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"


class MetricSource(StrEnum):
    WORKFLOW = "workflow"
    """Counted by workflow code through ``workflow.metric_meter()`` (skipped during replay);
    the SDK adds ``namespace``, ``task_queue`` and ``workflow_type``."""
    ACTIVITY = "activity"
    """Counted by an activity through ``activity.metric_meter()``; the SDK adds ``namespace``,
    ``task_queue`` and ``activity_type``, we add ``workflow_type`` (the calling workflow's)."""
    VISIBILITY = "visibility"
    """Set by the worker's collector from the visibility store every interval."""


class CallOutcome(StrEnum):
    """How an HTTP call to Slack or Salesforce ended, as the activities treat it."""

    OK = "ok"
    RATE_LIMITED = "rate_limited"
    RETRYABLE_ERROR = "retryable_error"
    PERMANENT_ERROR = "permanent_error"


class HandOffOutcome(StrEnum):
    STARTED = "started"
    """The hand-off started the account's workflow."""
    ALREADY_RUNNING = "already_running"
    """The account's workflow was running and took the deal as a signal (the time-skipping test
    server reports every hand-off this way: see ``activities.handoff._started``)."""
    SKIPPED = "skipped"
    """An old deal of an account whose workflow ended: nothing started."""


@dataclass(frozen=True)
class MetricDefinition:
    name: str
    kind: MetricKind
    source: MetricSource
    labels: tuple[str, ...]
    """Our labels (the SDK adds its own, see ``MetricSource``)."""
    description: str


STEPS_WENT_OVERDUE = MetricDefinition(
    "dealcycle_steps_went_overdue_total",
    MetricKind.COUNTER,
    MetricSource.WORKFLOW,
    ("workflow_type",),
    "Open steps that went past their due date: each rise of a workflow's OverdueSteps"
    " attribute, by how much it rose",
)
EFFECTS_FAILED = MetricDefinition(
    "dealcycle_effects_failed_total",
    MetricKind.COUNTER,
    MetricSource.WORKFLOW,
    ("workflow_type", "effect_kind", "state"),
    "Owed effects (Slack posts, Salesforce writes, records...) that failed for good (state"
    " failed) or ran out of time (state expired)",
)
RED_CASES_OPENED = MetricDefinition(
    "dealcycle_red_cases_opened_total",
    MetricKind.COUNTER,
    MetricSource.WORKFLOW,
    ("workflow_type",),
    "Red-account cases opened (a RedAccountWorkflow's first run began)",
)
HAND_OFFS = MetricDefinition(
    "dealcycle_hand_offs_total",
    MetricKind.COUNTER,
    MetricSource.ACTIVITY,
    ("workflow_type", "outcome"),
    "Closed deals handed to their account's workflow, by outcome (started, already_running,"
    " skipped); workflow_type is the workflow that handed off",
)
SLACK_CALLS = MetricDefinition(
    "dealcycle_slack_calls_total",
    MetricKind.COUNTER,
    MetricSource.ACTIVITY,
    ("workflow_type", "method", "outcome"),
    "Slack Web API calls made by activities, by API method and outcome (ok, rate_limited,"
    " retryable_error, permanent_error)",
)
SALESFORCE_CALLS = MetricDefinition(
    "dealcycle_salesforce_calls_total",
    MetricKind.COUNTER,
    MetricSource.ACTIVITY,
    ("workflow_type", "method", "outcome"),
    "Salesforce HTTP calls made by activities (logins included), by method ('PATCH"
    " sobjects/Task', 'GET query', 'POST oauth2/token'...) and outcome",
)
STEPS_OVERDUE = MetricDefinition(
    "dealcycle_steps_overdue",
    MetricKind.GAUGE,
    MetricSource.VISIBILITY,
    ("workflow_type",),
    "Open steps past their due date now: the sum of OverdueSteps over running workflows",
)
WORKFLOWS_NEEDING_ATTENTION = MetricDefinition(
    "dealcycle_workflows_needing_attention",
    MetricKind.GAUGE,
    MetricSource.VISIBILITY,
    ("workflow_type",),
    "Running workflows with a failed effect a person must retry or skip (NeedsAttention)",
)
RED_CASES_OPEN = MetricDefinition(
    "dealcycle_red_cases_open",
    MetricKind.GAUGE,
    MetricSource.VISIBILITY,
    ("workflow_type",),
    "Red-account cases open now: running RedAccountWorkflows",
)

BUSINESS_METRICS: tuple[MetricDefinition, ...] = (
    STEPS_WENT_OVERDUE,
    EFFECTS_FAILED,
    RED_CASES_OPENED,
    HAND_OFFS,
    SLACK_CALLS,
    SALESFORCE_CALLS,
    STEPS_OVERDUE,
    WORKFLOWS_NEEDING_ATTENTION,
    RED_CASES_OPEN,
)
