"""The full-scale bench's compressed business clock (``bench.business_clock``), on the dev
server (the real clock, as the bench runs it): an account whose business year passes in
seconds reaches its first quarter's plan, and its history replays to the same commands."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Replayer

from bench.bare_account_workflow import BareAccountWorkflow
from bench.business_clock import MEMO_KEY, BusinessClock, BusinessClockRunner
from bench.common import BENCH_SANDBOX, CE, bench_worker
from bench.year_of_accounts import account_start, anchor_after
from schemas.account import AccountState, account_workflow_id
from tests.support.accounts import a_plan
from tests.support.dev_temporal import headless_dev_server
from workflows.account import AccountWorkflow

SCALE = 86_400 * 10
"""A business day in a tenth of a second: a quarter in about nine seconds."""
PATIENCE = timedelta(minutes=2)
"""How long a busy machine may take (a bound on waiting, not an assertion on speed)."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def dev_client(tmp_path_factory: Any) -> AsyncIterator[Client]:
    state = Path(tmp_path_factory.mktemp("temporal-dev-clock"))
    async with contextlib.AsyncExitStack() as stack:
        server = await headless_dev_server(stack, state)
        yield await Client.connect(server.target, namespace=server.namespace)


def test_business_time_runs_scale_times_faster_and_back() -> None:
    origin = datetime(2027, 1, 10, 12, tzinfo=UTC)
    epoch = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
    clock = BusinessClock(origin, epoch, 1_000.0)

    assert clock.business(epoch + timedelta(seconds=86.4)) == origin + timedelta(days=1)
    assert clock.real(origin + timedelta(days=1)) == epoch + timedelta(seconds=86.4)
    assert clock.real_duration(timedelta(days=1)) == timedelta(seconds=86.4)
    assert clock.real_duration(timedelta(0)) == timedelta(milliseconds=1)


def test_both_sides_pass_their_workflow_modules_through_the_sandbox() -> None:
    """The bare account's module is not re-imported per run while dealcycle's is shared."""
    passed_through = BENCH_SANDBOX.restrictions.passthrough_modules
    assert {"workflows", "schemas", "bench"} <= passed_through
    assert BareAccountWorkflow.__module__.split(".")[0] in passed_through
    assert AccountWorkflow.__module__.split(".")[0] in passed_through


async def open_plan_quarter(handle: WorkflowHandle[Any, Any]) -> str:
    """The quarter of the first account-plan step the account opens."""
    async with asyncio.timeout(PATIENCE.total_seconds()):
        while True:
            view: AccountState = await handle.query(AccountWorkflow.state)
            for step in view.open_steps:
                if step.kind == "account_plan":
                    return step.key.removeprefix("account-plan-")
            await asyncio.sleep(0.1)


@pytest.mark.asyncio(loop_scope="module")
async def test_a_scaled_account_reaches_its_first_quarters_plan_and_replays(
    dev_client: Client,
) -> None:
    origin = anchor_after(datetime.now(UTC))
    clock = BusinessClock(origin, datetime.now(UTC), SCALE)
    queue = f"tq-clock-{uuid.uuid4().hex[:8]}"
    account_id = f"001clock{uuid.uuid4().hex[:8]}"
    runner = BusinessClockRunner(BENCH_SANDBOX)
    async with bench_worker(dev_client, queue, [AccountWorkflow], workflow_runner=runner):
        handle = await dev_client.start_workflow(
            AccountWorkflow.run,
            account_start(account_id, origin, 0),
            id=account_workflow_id(account_id),
            task_queue=queue,
            memo=clock.memo(),
        )
        quarter = await open_plan_quarter(handle)
        await handle.execute_update(AccountWorkflow.submit_account_plan, a_plan(quarter, CE))
        view: AccountState = await handle.query(AccountWorkflow.state)
        history = await handle.fetch_history()
        await handle.terminate("test finished")

    # The plan is for a quarter of the business calendar, months after the real today.
    assert quarter.startswith(f"{origin.year}-Q")
    assert view.plans_submitted == 1
    timers = [
        event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    # Weeks of business waiting went to the server as fractions of a real second each.
    assert timers and max(timers) < timedelta(days=400) / SCALE
    # The mapping is a function of the history (the memo): a replay issues the same commands.
    replayer = Replayer(workflows=[AccountWorkflow], workflow_runner=runner)
    await replayer.replay_workflow(history)
    assert MEMO_KEY in (await handle.describe()).raw_description.workflow_execution_info.memo.fields


@pytest.mark.asyncio(loop_scope="module")
async def test_a_workflow_without_the_clock_runs_unchanged(dev_client: Client) -> None:
    """No memo, no compression: the runner hands the sandbox's instance back as it is."""
    queue = f"tq-clock-{uuid.uuid4().hex[:8]}"
    account_id = f"001plain{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    async with bench_worker(
        dev_client,
        queue,
        [AccountWorkflow],
        workflow_runner=BusinessClockRunner(BENCH_SANDBOX),
    ):
        handle = await dev_client.start_workflow(
            AccountWorkflow.run,
            account_start(account_id, now, 0),
            id=account_workflow_id(account_id),
            task_queue=queue,
        )
        await handle.query(AccountWorkflow.state)  # its first task has run
        history = await handle.fetch_history()
        await handle.terminate("test finished")
    timers = [
        event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    # Real waits: the account's next wake-up is hours or days away, as in production.
    assert timers and max(timers) > timedelta(hours=1)
