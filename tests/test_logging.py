"""Logs: JSON lines that carry the workflow and activity context, and no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from dealcycle.logging import configure_logging, get_logger
from schemas.common import Role
from schemas.trial import TRIAL_PLANNING_ITEMS, CompleteStep, TrialInput, TrialStart
from workflows.trial import TrialWorkflow


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    yield stream
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_lift_temporal_context_and_redact_secrets(log_stream: io.StringIO) -> None:
    logging.getLogger("temporalio.workflow").info(
        "step reminded",
        extra={
            "temporal_workflow": {
                "workflow_id": "trial-1",
                "run_id": "r1",
                "workflow_type": "TrialWorkflow",
            }
        },
    )
    get_logger("dealcycle.test").info("logged in", password="hunter2", client_secret="s3cret")
    first, second = lines(log_stream)
    assert (first["event"], first["workflow_id"], first["run_id"], first["level"]) == (
        "step reminded",
        "trial-1",
        "r1",
        "info",
    )
    assert first["timestamp"].endswith("Z")
    assert second["password"] == "[redacted]" and second["client_secret"] == "[redacted]"
    assert "hunter2" not in log_stream.getvalue() and "s3cret" not in log_stream.getvalue()


async def test_activity_logs_carry_workflow_id_run_id_and_activity_name(
    harness_factory: Any, salesforce_fake: Any, log_stream: io.StringIO
) -> None:
    async with harness_factory() as harness:
        salesforce_fake.add_record("Opportunity", {"Id": "006LOG", "Name": "Logs"})
        start = TrialStart(
            "006LOG", "001LOG", "Logs Inc", "U0CE1", "U0AE1", durations=harness.settings.durations
        )
        handle = harness.track(
            await harness.client.start_workflow(
                TrialWorkflow.run,
                TrialInput(start=start),
                id="trial-006LOG",
                task_queue=harness.task_queue,
            )
        )
        for item in TRIAL_PLANNING_ITEMS:
            actor = "U0CE1" if item.lead is Role.CE else "U0AE1"
            await handle.execute_update(
                TrialWorkflow.complete_step, CompleteStep(item.key, actor, item.lead)
            )
        await harness.env.sleep(60)  # lets the worker issue the key and post the announcement
        records = lines(log_stream)
    from_activities = [record for record in records if record.get("activity")]
    assert {record["activity"] for record in from_activities} >= {
        "issue_license_key",
        "post_slack_message",
    }
    assert all(record["workflow_id"] == "trial-006LOG" for record in from_activities)
    assert all(record["run_id"] == handle.result_run_id for record in from_activities)
