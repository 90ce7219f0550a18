"""Temporal test environments.

One time-skipping environment (the Java test server) per test module: months of timers pass
in seconds. Its clock is global, so workflow tests run one at a time and each leaves nothing
running; a module's own server keeps one module's skipped months (and the test server's
quirks with many terminated workflows) from reaching the next. Every test gets a fresh task
queue.

One server per worker process instead was measured: its clock ended 80 years ahead, eight tests
failed (dates past their bounds, a red case's thread never answered) and later modules waited
in real time. What a start costs is cut instead: the launcher maps a class archive recorded at
install (``dealcycle.devtools.test_server_archive``), half the CPU of a start and first workflow.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from dealcycle.devtools.test_server import find_test_server, start_time_skipping_environment
from dealcycle.settings import Settings
from schemas.search_attributes import ALL_KEYS
from tests.support.codec import TEST_CODEC, TEST_CODEC_ENV, TEST_DATA_CONVERTER
from tests.support.patience import patient_rpcs, retry_transient, wind_down

REPO_ROOT = Path(__file__).resolve().parents[2]


async def register_search_attributes(client: Client) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
                for key in ALL_KEYS
            },
        )
    )


@pytest.fixture(autouse=True, scope="session")
def codec_in_environment() -> Iterator[None]:
    """The CLI run in-process (``starter.cli.main``) and the processes tests start read their
    settings from the environment: there too, payloads are encrypted with the test key, so they
    read what the fixtures' workers write."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in TEST_CODEC_ENV.items():
            patch.setenv(name, value)
        patch.delenv("DEALCYCLE_CODEC_KEYS_FILE", raising=False)
        yield


@asynccontextmanager
async def running_time_skipping_env(**kwargs: Any) -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping environment with our search attributes; ``kwargs`` go to the SDK
    (``runtime=`` for one with metrics). Its client encrypts, as every client of the suite
    (``tests.support.codec``)."""
    kwargs.setdefault("data_converter", TEST_DATA_CONVERTER)
    if find_test_server(REPO_ROOT) is None:
        pytest.fail(
            "the Java time-skipping test server is not installed: run scripts/install-test-server"
            " (make test does)"
        )
    env = await start_time_skipping_environment(REPO_ROOT, **kwargs)
    patient_rpcs(env)
    await retry_transient(lambda: register_search_attributes(env.client))
    async with env:
        yield env


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    async with running_time_skipping_env() as env:
        yield env


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4()}"


@dataclass
class DealcycleHarness:
    """A worker on the test environment, wired to the fakes and a fresh database."""

    env: WorkflowEnvironment
    settings: Settings
    task_queue: str
    activities: Any
    started: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return self.env.client

    def track(self, handle: WorkflowHandle[Any, Any]) -> WorkflowHandle[Any, Any]:
        self.started.append(handle)
        return handle


@pytest.fixture
def test_settings(tmp_path: Path, salesforce_settings: Any, slack_settings: Any) -> Settings:
    base = Settings.from_env({"DEALCYCLE_STATE_DIR": str(tmp_path / "state")})
    return replace(
        base,
        database_url=f"sqlite:///{tmp_path / 'dealcycle.db'}",
        salesforce=salesforce_settings,
        slack=slack_settings,
        codec=TEST_CODEC,
    )


@pytest.fixture
def harness_factory(
    time_skipping_env: WorkflowEnvironment, test_settings: Settings, task_queue: str
) -> Callable[..., Any]:
    """``async with harness_factory() as h:`` runs a worker for the test, then cleans up."""
    from worker import WORKFLOWS, build_activities, build_worker

    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[DealcycleHarness]:
        settings = replace(test_settings, task_queue=task_queue, **overrides)
        activities = build_activities(settings)
        worker: Worker = build_worker(
            time_skipping_env.client, settings, activities, workflows=WORKFLOWS, strict_sandbox=True
        )
        async with worker:
            harness = DealcycleHarness(time_skipping_env, settings, task_queue, activities)
            try:
                yield harness
            finally:
                await terminate_running(
                    time_skipping_env.client, harness.started, time_skipping_env.get_current_time
                )

    return factory


async def terminate_running(
    client: Client,
    handles: list[WorkflowHandle[Any, Any]],
    clock: Callable[[], Awaitable[datetime]] | None = None,
) -> None:
    """The test server's clock is shared: a workflow left running (its worker gone) would hold
    the clock when its next timer fires, and every later test would hang.

    Children started by an opportunity outlive it (parent close policy: abandon), so they are
    found by their ids, which derive from the opportunity's. Each is first let finish the tasks
    it has in flight (``wind_down``): terminating one in the middle of an activity leaves the
    test server's clock locked for the next test. ``clock``, the test server's time, lets that
    wait pass over an activity waiting out a retry back-off.
    """
    seen: set[str] = set()
    running: list[WorkflowHandle[Any, Any]] = []
    for handle in handles:
        ids = [handle.id]
        if handle.id.startswith("opportunity-"):
            opportunity = handle.id.removeprefix("opportunity-")
            ids += [f"trial-{opportunity}", f"security-review-{opportunity}"]
        for workflow_id in ids:
            if workflow_id in seen:
                continue
            seen.add(workflow_id)
            target = handle if workflow_id == handle.id else client.get_workflow_handle(workflow_id)
            try:
                description = await retry_transient(target.describe)
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    continue
                raise
            if description.status == WorkflowExecutionStatus.RUNNING:
                running.append(target)
    for target in running:
        await wind_down(target, clock=clock)
    for target in running:
        await retry_transient(functools.partial(target.terminate, "test finished"))
