"""One recording session: a time-skipping test server, the fakes, a worker, and the histories
it saves.

Each group of scenarios gets its own test server (a fresh clock, as each test module does) and
its own fakes and database. Whatever a scenario started is terminated when it ends, after its
histories were saved: a workflow left running would fire its timers into the next scenario's
skipped months.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from dealcycle.devtools.test_server import start_time_skipping_environment
from dealcycle.fakes import Sandbox, start_sandbox
from dealcycle.settings import Settings
from tests.support.accounts import run_histories
from tests.support.patience import patient_rpcs, retry_transient, settle
from tests.support.temporal import register_search_attributes, terminate_running
from worker import build_activities, build_worker

REPO_ROOT = Path(__file__).resolve().parents[2]
"""This checkout: where the test server is installed (``make test-server``)."""

Handle = WorkflowHandle[Any, Any]


WORKFLOW_ID_KEY = "workflowId"
"""Beside ``events`` in a recorded history's file: the id its workflow ran under. Replayed
under another id, a workflow whose commands derive from its id (a red case's child workflow
id hashes the account's workflow id) would not issue the commands it recorded."""


def read_history(path: Path, default_id: str) -> WorkflowHistory:
    """A recorded history, under the workflow id it was recorded with (``default_id`` for
    files recorded before the id was kept, whose commands do not depend on it)."""
    recorded = json.loads(path.read_text())
    workflow_id = recorded.pop(WORKFLOW_ID_KEY, default_id)
    return WorkflowHistory.from_json(workflow_id, recorded)


def kebab(workflow_type: str) -> str:
    """``TrialWorkflow`` -> ``trial-workflow``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", workflow_type).lower()


def workflow_type_of(events: Any) -> str:
    started = events[0].workflow_execution_started_event_attributes
    name: str = started.workflow_type.name
    return name


@dataclass
class Recorder:
    """What a scenario works with: the client and clock, the fakes, and ``save``."""

    env: WorkflowEnvironment
    settings: Settings
    sandbox: Sandbox
    out: Path
    saved: list[Path] = field(default_factory=list)
    started: list[Handle] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return self.env.client

    @property
    def task_queue(self) -> str:
        return self.settings.task_queue

    def track(self, handle: Handle) -> Handle:
        """Terminated when the group ends (children of an opportunity too)."""
        self.started.append(handle)
        return handle

    async def start(self, run: Any, argument: Any, workflow_id: str) -> Handle:
        """Start a workflow on the worker's queue, tracked, and let it settle."""
        handle: Handle = await self.client.start_workflow(
            run, argument, id=workflow_id, task_queue=self.task_queue
        )
        self.track(handle)
        await settle(handle)
        return handle

    def handle(self, workflow_id: str) -> Handle:
        """The workflow's latest run, tracked."""
        return self.track(self.client.get_workflow_handle(workflow_id))

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def sleep(self, delta: timedelta, *settled: Handle) -> None:
        """Skip the clock by ``delta``, then let ``settled`` finish what they owe."""
        await self.env.sleep(delta)
        for handle in settled:
            await settle(handle)

    async def started_by_now(self, workflow_id: str) -> Handle:
        """A workflow another one starts (a child, a hand-off), once it exists and settled."""
        handle = self.handle(workflow_id)
        for _ in range(400):
            try:
                await retry_transient(handle.describe)
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                await asyncio.sleep(0.05)
                continue
            await settle(handle)
            return handle
        raise AssertionError(f"{workflow_id} was never started")

    async def save(self, handle: Handle, phase: str, run: int = -1) -> Path:
        """Settle the workflow, then write the history of one of its runs (the current one
        unless ``run`` says which, counted as in a list) as
        ``<workflow-type-kebab>-<phase>.json``."""
        await settle(handle)
        latest = self.client.get_workflow_handle(handle.id)
        history = await retry_transient(latest.fetch_history)
        if run != -1:
            started = history.events[0].workflow_execution_started_event_attributes
            first = self.client.get_workflow_handle(
                handle.id, first_execution_run_id=started.first_execution_run_id
            )
            history = (await run_histories(first, self.client))[run]
        path = self.out / f"{kebab(workflow_type_of(history.events))}-{phase}.json"
        if path in self.saved:
            raise ValueError(f"two histories would be saved as {path.name}")
        # Compact: the replay test reads them, people rarely do; half the size of indented.
        recorded = {WORKFLOW_ID_KEY: history.workflow_id, **json.loads(history.to_json())}
        compact = json.dumps(recorded, separators=(",", ":"))
        path.write_text(compact + "\n")
        self.saved.append(path)
        print(f"  {path.name}: {len(history.events)} events", flush=True)
        return path


Scenario = Callable[[Recorder], Awaitable[None]]


@asynccontextmanager
async def recording(out: Path, group: str) -> AsyncIterator[Recorder]:
    """A test server, the fakes and a worker for one group of scenarios."""
    env = await start_time_skipping_environment(REPO_ROOT)
    patient_rpcs(env)
    await retry_transient(lambda: register_search_attributes(env.client))
    with tempfile.TemporaryDirectory(prefix=f"histories-{group}-") as scratch:
        state = Path(scratch)
        async with env:
            with start_sandbox(state / "fakes") as sandbox:
                base = Settings.from_env({"DEALCYCLE_STATE_DIR": str(state / "state")})
                settings = replace(
                    base,
                    task_queue=f"histories-{group}",
                    database_url=f"sqlite:///{state / 'dealcycle.db'}",
                    salesforce=sandbox.salesforce.settings(),
                    slack=sandbox.slack.settings(),
                )
                activities = build_activities(settings)
                worker = build_worker(env.client, settings, activities, strict_sandbox=True)
                async with worker:
                    recorder = Recorder(env, settings, sandbox, out)
                    try:
                        yield recorder
                    finally:
                        await terminate_running(env.client, recorder.started)
