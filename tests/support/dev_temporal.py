"""A Temporal dev server (real visibility: list queries on search attributes) with a dealcycle
worker in this process. The time-skipping test server has no visibility queries, so what
reads ``StepOwners`` (the to-do list, the digest) is tested here, on the real clock."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest_asyncio
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from dealcycle.devtools.devserver import (
    DevServerInfo,
    PortInUseError,
    free_port,
    running_dev_server,
)
from dealcycle.settings import Settings
from schemas.search_attributes import registrations
from tests.support.codec import TEST_DATA_CONVERTER

PORT_ATTEMPTS = 3
T = TypeVar("T")


async def on_free_ports(
    stack: contextlib.AsyncExitStack, start: Callable[[], AbstractAsyncContextManager[T]]
) -> T:
    """Enter ``start()`` on ``stack``; when a port it chose was taken before its server bound
    it, call it again (it picks fresh ports): test processes start servers side by side, and a
    free port is only free until someone binds it."""
    for attempt in range(PORT_ATTEMPTS):
        try:
            return await stack.enter_async_context(start())
        except PortInUseError:
            if attempt == PORT_ATTEMPTS - 1:
                raise
    raise AssertionError("PORT_ATTEMPTS is at least 1")


async def headless_dev_server(stack: contextlib.AsyncExitStack, state: Path) -> DevServerInfo:
    """A dev server without its Web UI, dealcycle's search attributes registered, its log and
    state under ``state``, on free ports; stopped when ``stack`` closes."""
    return await on_free_ports(
        stack,
        lambda: running_dev_server(
            state_dir=state,
            port=free_port(),
            ui_port=None,
            search_attributes=registrations(),
            log_file=state / "temporal.log",
        ),
    )


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
        server = await headless_dev_server(stack, Path(tmp_path_factory.mktemp("temporal-dev")))
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
