"""``dealcycle worker`` with ``DEALCYCLE_METRICS_PORT`` set, on the dev server (real visibility):
``/metrics`` serves the SDK's series and ours, and the levels read from the visibility store (a
red-account case open, its overdue steps, its refused post needing attention) show there by
workflow type within an interval of the collector."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from dealcycle.settings import Settings
from schemas.health import HealthConfig, RedAccountCaseStart
from schemas.metrics import (
    RED_CASES_OPEN,
    RED_CASES_OPENED,
    STEPS_OVERDUE,
    WORKFLOWS_NEEDING_ATTENTION,
)
from tests.support.codec import TEST_DATA_CONVERTER
from tests.support.metrics import Sample, scrape, value_of
from tests.test_end_to_end import e2e_env, e2e_server, free_port, worker_process
from workflows.red_account import RedAccountWorkflow

pytestmark = pytest.mark.e2e
__all__ = ["e2e_env", "worker_process"]  # the end-to-end fixtures, shared

CASE_FLOW = "RedAccountWorkflow"


async def scraped_until(port: int, done: Any, within: float = 60) -> list[Sample]:
    """Scrapes until ``done(samples)`` holds (the collector reads every second here)."""
    deadline = time.monotonic() + within
    samples: list[Sample] = []
    while time.monotonic() < deadline:
        try:
            samples = scrape(port)
        except (urllib.error.URLError, ConnectionError):
            samples = []  # the worker is still starting
        if samples and done(samples):
            return samples
        await asyncio.sleep(0.5)
    raise AssertionError(
        f"not seen within {within}s: {[s for s in samples if 'dealcycle' in s.name]}"
    )


async def test_the_worker_serves_metrics_and_the_levels_from_visibility(
    tmp_path: Path, e2e_env: dict[str, str], worker_process: Any
) -> None:
    port = free_port()
    e2e_env["DEALCYCLE_METRICS_PORT"] = str(port)
    e2e_env["DEALCYCLE_METRICS_INTERVAL"] = "1s"
    async with e2e_server(tmp_path, e2e_env) as server:
        worker_process()
        client = await Client.connect(
            server.target, namespace=server.namespace, data_converter=TEST_DATA_CONVERTER
        )
        settings = Settings.from_env(e2e_env)
        # Opened ten days ago (its action plan long overdue), announced in a channel Slack
        # does not know (a failed effect: the case needs attention).
        case_id = f"red-{uuid.uuid4()}"
        start = RedAccountCaseStart(
            case_id, "001LEVELS", "Acme", 1, None, "U0AE00029", "U0CE00029", "usage fell",
            datetime.now(UTC) - timedelta(days=10),
            HealthConfig(red_accounts_channel="#no-such-channel"),
            settings.security_roster, "http://localhost:8233",
        )  # fmt: skip
        handle = await client.start_workflow(
            RedAccountWorkflow.run, start, id=case_id, task_queue=settings.task_queue
        )

        def levels_seen(samples: list[Sample]) -> bool:
            return all(
                (value_of(samples, metric.name, workflow_type=CASE_FLOW) or 0) > 0
                for metric in (STEPS_OVERDUE, WORKFLOWS_NEEDING_ATTENTION, RED_CASES_OPEN)
            )

        samples = await scraped_until(port, levels_seen)
        assert value_of(samples, RED_CASES_OPEN.name, workflow_type=CASE_FLOW) == 1
        assert value_of(samples, WORKFLOWS_NEEDING_ATTENTION.name, workflow_type=CASE_FLOW) == 1
        assert value_of(samples, RED_CASES_OPENED.name, workflow_type=CASE_FLOW) == 1
        # Every type the worker runs has its level, zero where nothing is wrong.
        assert value_of(samples, STEPS_OVERDUE.name, workflow_type="AccountWorkflow") == 0
        assert value_of(samples, "temporal_request") is not None
        assert value_of(samples, "temporal_workflow_task_execution_latency_count") is not None

        # Once the case ends, the next reading sets its levels back to zero.
        await handle.terminate("test finished")
        await scraped_until(
            port,
            lambda samples: (
                value_of(samples, RED_CASES_OPEN.name, workflow_type=CASE_FLOW) == 0
                and value_of(samples, STEPS_OVERDUE.name, workflow_type=CASE_FLOW) == 0
            ),
        )
