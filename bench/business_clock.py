"""Bench-only: a compressed business clock for workflows on a real (not time-skipping) server.

An account's year is calendar-bound: it reads ``workflow.now()`` (months, quarters, renewal
dates) and sleeps on durable timers until the next thing falls due. The real Temporal dev
server cannot skip time, so a year would take a year. This runner compresses it *around* the
workflow, leaving the workflow's code untouched (dealcycle's ``AccountWorkflow`` and the bare
baseline alike, byte for byte the code production runs):

- every activation's timestamp (what ``workflow.now()`` returns) is mapped from real time to
  business time: ``origin + (real - epoch) x scale``;
- every durable timer the workflow starts is divided by the scale on its way out
  (``StartTimer.start_to_fire_timeout``), so it fires when the business clock reaches the
  moment the workflow asked for;
- nothing else changes: the same commands in the same order, the same activities, payloads,
  updates and search attributes. Activity timeouts stay real (they bound infrastructure,
  not business time).

``origin``, ``epoch`` and ``scale`` travel with the workflow, in its memo under
:data:`MEMO_KEY` (set by whoever starts it, copied onto every continue-as-new by this runner),
so the mapping is a pure function of the history: a workflow evicted from the cache replays to
the same commands. A workflow without that memo runs at scale 1, unchanged. The cost of the
mapping (a few protobuf fields per activation) is the same for both kinds measured.

What the compression does not hide: the server's and the worker's work per wake-up, update and
activity is real; only the waits in between are shortened. Work that takes real time shows as
business time passing (an update that lags one real second arrives ``scale`` seconds late in
business terms), which the bench reports.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.bridge.proto.workflow_activation import WorkflowActivation
from temporalio.bridge.proto.workflow_completion import WorkflowActivationCompletion
from temporalio.worker import (
    WorkflowInstance,
    WorkflowInstanceDetails,
    WorkflowRunner,
)
from temporalio.workflow import _Definition

MEMO_KEY = "bench_business_clock"
SHORTEST_TIMER = timedelta(milliseconds=1)
"""A timer scaled below this still waits this long (Temporal refuses a zero timer)."""


@dataclass(frozen=True)
class BusinessClock:
    """``business = origin + (real - epoch) x scale``; timers last ``1 / scale`` as long."""

    origin: datetime
    epoch: datetime
    scale: float

    def business(self, real: datetime) -> datetime:
        return self.origin + (real - self.epoch) * self.scale

    def real(self, business: datetime) -> datetime:
        return self.epoch + (business - self.origin) / self.scale

    def real_duration(self, business: timedelta) -> timedelta:
        return max(SHORTEST_TIMER, business / self.scale)

    def memo(self) -> dict[str, Any]:
        """The workflow's memo entry (plain JSON, so any client can start one)."""
        return {
            MEMO_KEY: {
                "origin": self.origin.isoformat(),
                "epoch": self.epoch.isoformat(),
                "scale": self.scale,
            }
        }

    @classmethod
    def from_memo_payload(cls, payload: Payload) -> BusinessClock:
        value = json.loads(payload.data)
        return cls(
            datetime.fromisoformat(value["origin"]).astimezone(UTC),
            datetime.fromisoformat(value["epoch"]).astimezone(UTC),
            float(value["scale"]),
        )


class BusinessClockRunner(WorkflowRunner):
    """Wraps a runner (the sandbox) and compresses time for workflows that carry a clock."""

    def __init__(self, inner: WorkflowRunner) -> None:
        self._inner = inner

    def prepare_workflow(self, defn: _Definition) -> None:
        self._inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        instance = self._inner.create_instance(det)
        payload = det.info.raw_memo.get(MEMO_KEY)
        if payload is None:
            return instance
        return _CompressedInstance(instance, BusinessClock.from_memo_payload(payload), payload)

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self._inner.set_worker_level_failure_exception_types(types)


class _CompressedInstance(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance, clock: BusinessClock, memo: Payload) -> None:
        self._inner = inner
        self._clock = clock
        self._memo = memo

    def activate(self, act: WorkflowActivation) -> WorkflowActivationCompletion:
        if act.HasField("timestamp"):  # an eviction has none
            real = act.timestamp.ToDatetime(tzinfo=UTC)
            act.timestamp.FromDatetime(self._clock.business(real))
        completion = self._inner.activate(act)
        for command in completion.successful.commands:
            if command.HasField("start_timer"):
                timeout = command.start_timer.start_to_fire_timeout
                timeout.FromTimedelta(self._clock.real_duration(timeout.ToTimedelta()))
            elif command.HasField("continue_as_new_workflow_execution"):
                memo = command.continue_as_new_workflow_execution.memo
                if MEMO_KEY not in memo:
                    memo[MEMO_KEY].CopyFrom(self._memo)
        return completion

    def get_serialization_context(self, command_info: Any) -> Any:
        return self._inner.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        return self._inner.get_external_store_context(command_info)

    def get_info(self) -> Any:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()
