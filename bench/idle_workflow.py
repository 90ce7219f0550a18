"""Bench-only: ``IdleWorkflow``, which only waits on a condition (the memory baseline).

As bare as a workflow gets: no input, no dataclasses, one query so the bench can make sure
it is cached. In a module of its own, importing only ``temporalio``, because the sandbox
re-imports a workflow's module for every workflow it runs, and a bigger module would
inflate the baseline.
"""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="BenchIdleWorkflow")
class IdleWorkflow:
    def __init__(self) -> None:
        self._finish = False

    @workflow.query
    def state(self) -> str:
        return "waiting"

    @workflow.signal
    def finish(self) -> None:
        self._finish = True

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._finish)
