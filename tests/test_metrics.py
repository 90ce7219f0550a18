"""The worker's Prometheus endpoint on the time-skipping test server: a worker whose runtime
serves metrics runs an account whose kickoff plan goes overdue and whose first Slack post is
rate-limited and then refused for good, an intake hands the account's won deal off (its first
Salesforce query failing once), and a red-account case opens; a scrape over HTTP then shows
the SDK's series and each of ours, labelled by the workflow type they happened in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from temporalio.runtime import Runtime
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from dealcycle.devtools.devserver import free_port
from dealcycle.metrics import MetricsSettings, prometheus_runtime
from schemas.health import RedAccountCaseStart
from schemas.metrics import (
    BUSINESS_METRICS,
    EFFECTS_FAILED,
    HAND_OFFS,
    RED_CASES_OPENED,
    SALESFORCE_CALLS,
    SLACK_CALLS,
    STEPS_WENT_OVERDUE,
    MetricDefinition,
    MetricSource,
)
from tests.support.accounts import AE, CE, DAY, start_account, state
from tests.support.codec import TEST_DATA_CONVERTER
from tests.support.metrics import dashboard_series, names, scrape, value_of
from tests.support.patience import settle
from tests.support.temporal import running_time_skipping_env
from tests.test_hand_off import run_intake
from worker import WORKFLOWS
from workflows.red_account import RedAccountWorkflow

ACCOUNT = "001METRICS"
ACCOUNT_FLOW, INTAKE_FLOW = "AccountWorkflow", "ClosedWonIntakeWorkflow"
CASE_FLOW = "RedAccountWorkflow"


@pytest.fixture(scope="module")
def metrics_settings() -> MetricsSettings:
    return MetricsSettings(port=free_port())


@pytest.fixture(scope="module")
def metrics_runtime(metrics_settings: MetricsSettings) -> Runtime:
    """The runtime ``dealcycle worker`` makes with ``DEALCYCLE_METRICS_PORT`` set."""
    return prometheus_runtime(metrics_settings)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def time_skipping_env(metrics_runtime: Runtime) -> AsyncIterator[WorkflowEnvironment]:
    """This module's test server, its client (and so the worker) on the metrics runtime."""
    async with running_time_skipping_env(runtime=metrics_runtime) as env:
        yield env


async def test_a_scrape_shows_the_sdks_series_and_ours_by_workflow_type(
    harness_factory: Any,
    salesforce_fake: Any,
    slack_fake: Any,
    metrics_settings: MetricsSettings,
    metrics_runtime: Runtime,
) -> None:
    assert metrics_settings.port is not None
    async with harness_factory() as harness:
        queue = harness.task_queue
        # The account's first posts: one rate-limited (then retried), one refused for good
        # (its kickoff announcement: a failed effect).
        slack_fake.rate_limit_next(1, api_method="chat.postMessage")
        slack_fake.error_next("channel_not_found", api_method="chat.postMessage")
        account = await start_account(
            harness.client, harness.env, harness.task_queue, harness.settings,
            salesforce_fake, ACCOUNT, 300 * DAY, track=harness.track,
        )  # fmt: skip
        [failed] = [e for e in (await state(account)).effects if e.state == "failed"]
        assert failed.kind == "announcement"

        # The kickoff plan is due in a fortnight: a day after, it is overdue.
        await harness.env.sleep(15 * DAY)
        await settle(account)
        assert [s.key for s in (await state(account)).open_steps if s.overdue] == ["kickoff-plan"]

        # The intake hands the account's won deal off (the account is running); its first
        # query fails once.
        now = await harness.env.get_current_time()
        salesforce_fake.add_record(
            "Opportunity",
            {
                "Id": "006METRICS",
                "AccountId": ACCOUNT,
                "StageName": "Closed Won",
                "Type": "expansion",
                "CloseDate": now.date().isoformat(),
                "Seats__c": 20.0,
            },
        )
        salesforce_fake.server_error_next(1, path_pattern=r"/query")
        result = await run_intake(harness, f"metrics-{uuid.uuid4()}")
        assert result.handed_off == ["006METRICS"]
        await settle(account)

        # A red-account case opens.
        case_id = f"red-{uuid.uuid4()}"
        start = RedAccountCaseStart(
            case_id, ACCOUNT, "Acme", 1, None, AE, CE, "usage fell", now,
            harness.settings.health, harness.settings.security_roster, "http://localhost:8233",
        )  # fmt: skip
        case = await harness.client.start_workflow(
            RedAccountWorkflow.run, start, id=case_id, task_queue=queue
        )
        harness.track(case)
        await settle(case)

        samples = scrape(metrics_settings.port)

        # The SDK's own, through the same runtime.
        assert value_of(samples, "temporal_workflow_completed", task_queue=queue,
                        workflow_type=INTAKE_FLOW) == 1  # fmt: skip
        for sdk_series in (
            "temporal_request",
            "temporal_activity_execution_failed",
            "temporal_activity_execution_latency_count",
            "temporal_activity_schedule_to_start_latency_count",
            "temporal_workflow_task_execution_latency_count",
            "temporal_workflow_task_schedule_to_start_latency_count",
        ):
            assert (value_of(samples, sdk_series) or 0) > 0, sdk_series

        def ours(metric: MetricDefinition, **labels: str) -> float | None:
            return value_of(samples, metric.name, task_queue=queue, **labels)

        # What happened in workflows, counted there.
        assert ours(STEPS_WENT_OVERDUE, workflow_type=ACCOUNT_FLOW) == 1
        assert ours(EFFECTS_FAILED, workflow_type=ACCOUNT_FLOW, effect_kind="announcement",
                    state="failed") == 1  # fmt: skip
        assert ours(EFFECTS_FAILED, workflow_type=INTAKE_FLOW) is None
        assert ours(RED_CASES_OPENED, workflow_type=CASE_FLOW) == 1
        # What activities did, labelled by the workflow they did it for.
        assert ours(HAND_OFFS, workflow_type=INTAKE_FLOW, outcome="already_running") == 1
        post = {"workflow_type": ACCOUNT_FLOW, "method": "chat.postMessage"}
        assert ours(SLACK_CALLS, **post, outcome="rate_limited") == 1
        assert ours(SLACK_CALLS, **post, outcome="permanent_error") == 1
        assert (ours(SLACK_CALLS, **post, outcome="ok") or 0) >= 3
        query = {"workflow_type": INTAKE_FLOW, "method": "GET query"}
        assert ours(SALESFORCE_CALLS, **query, outcome="retryable_error") == 1
        assert ours(SALESFORCE_CALLS, **query, outcome="ok") == 1
        assert ours(SALESFORCE_CALLS, method="POST oauth2/token", outcome="ok") == 1
        counted = {m.name for m in BUSINESS_METRICS if m.source is not MetricSource.VISIBILITY}
        assert counted <= names(samples)
        # Every SDK series the Grafana dashboard draws is one the SDK exports.
        assert dashboard_series("temporal_") <= names(samples)

        # Replaying the account's history (as a worker taking it over would) counts nothing.
        history = await account.fetch_history()
        replayer = Replayer(
            workflows=list(WORKFLOWS), runtime=metrics_runtime, data_converter=TEST_DATA_CONVERTER
        )
        await replayer.replay_workflow(history)
        again = scrape(metrics_settings.port)
        for metric in (STEPS_WENT_OVERDUE, EFFECTS_FAILED):
            assert value_of(again, metric.name, workflow_type=ACCOUNT_FLOW) == value_of(
                samples, metric.name, workflow_type=ACCOUNT_FLOW
            )
