"""A Temporal dev server (real visibility: list queries on search attributes) with a dealcycle
worker in this process. The time-skipping test server has no visibility queries, so what
reads ``StepOwners`` (the to-do list, the digest) is tested here, on the real clock."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest_asyncio
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from dealcycle.devtools.devserver import PortInUseError, free_port, running_dev_server
from dealcycle.settings import Settings
from schemas.search_attributes import registrations
from tests.support.codec import TEST_DATA_CONVERTER

PORT_ATTEMPTS = 3


@dataclass
class DevHarness:
    client: Client
    settings: Settings
    task_queue: str
    started: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    def track(self, handle: WorkflowHandle[Any, Any]) -> WorkflowHandle[Any, Any]:
        self.started.append(handle)
        return handle

    async def get_current_time(self) -> datetime:
        """As ``WorkflowEnvironment`` has it: the dev server runs on the real clock."""
        return datetime.now(UTC)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dev_client(tmp_path_factory: Any) -> AsyncIterator[Client]:
    async with contextlib.AsyncExitStack() as stack:
        for attempt in range(PORT_ATTEMPTS):
            state = Path(tmp_path_factory.mktemp("temporal-dev"))
            try:
                server = await stack.enter_async_context(
                    running_dev_server(
                        state_dir=state,
                        port=free_port(),
                        ui_port=None,
                        search_attributes=registrations(),
                        log_file=state / "temporal.log",
                    )
                )
            except PortInUseError:
                # Test processes start servers side by side: another port, not a failure.
                if attempt == PORT_ATTEMPTS - 1:
                    raise
                continue
            break
        yield await Client.connect(
            server.target, namespace=server.namespace, data_converter=TEST_DATA_CONVERTER
        )


@pytest_asyncio.fixture(loop_scope="session")
async def dev_harness_factory(dev_client: Client, test_settings: Settings) -> Callable[..., Any]:
    """``async with dev_harness_factory() as h:``: a worker on a fresh task queue."""
    from worker import WORKFLOWS, build_activities, build_worker

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[DevHarness]:
        queue = f"tq-{uuid.uuid4()}"
        settings = replace(test_settings, task_queue=queue, **overrides)
        activities = build_activities(settings)
        async with build_worker(dev_client, settings, activities, workflows=WORKFLOWS):
            harness = DevHarness(dev_client, settings, queue)
            try:
                yield harness
            finally:
                for handle in harness.started:
                    if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                        await handle.terminate("test finished")

    return factory
