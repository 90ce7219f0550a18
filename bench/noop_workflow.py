"""Bench-only: ``NoopWorkflow``, whose update does nothing (the CE-action latency baseline).

In a module of its own, importing only ``temporalio`` (payloads passed through): the sandbox
re-imports a workflow's module for every workflow it runs.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.payloads import NoopAck, NoopRequest


@workflow.defn(name="BenchNoopWorkflow")
class NoopWorkflow:
    def __init__(self) -> None:
        self._count = 0
        self._finish = False

    @workflow.update
    def noop(self, request: NoopRequest) -> NoopAck:
        self._count += 1
        return NoopAck("ok", self._count)

    @workflow.query
    def count(self) -> int:
        return self._count

    @workflow.signal
    def finish(self) -> None:
        self._finish = True

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._finish)
        return self._count
