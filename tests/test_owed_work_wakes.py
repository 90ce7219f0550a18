"""When a finished effect wakes its workflow's main loop (``QUIET_EFFECT_END_PATCH``).

A main loop sleeps until something changes. An effect's result that reaches a hook changes
the state, and a failure must be surfaced: both wake it, unless the hook says the result is
nothing the loop acts on now (it returns False: a step's prompt posted while the step is
open). An effect done without a hook, or a lane that ran dry, changes nothing the loop reads,
so it sleeps on; only the last effect in flight wakes it, and only when the owner says it
waits for that (a churned account finishing).
A run recorded before the patch wakes on every one (tests/test_replay_histories.py replays
such runs, and proves the guard).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from schemas.effects import EffectKind
from workflows.owed_work import OwedWork

NOTE = "note_wake_test_effect"


@activity.defn(name=NOTE)
async def note(text: str) -> str:
    return f"noted {text}"


@dataclass
class WakePlan:
    hooked: list[str] = field(default_factory=list)
    """Effects whose result a hook keeps; the others are owed without one."""
    kept_quietly: list[str] = field(default_factory=list)
    """Effects whose result a hook keeps, saying the main loop has no use for it now."""
    plain: list[str] = field(default_factory=list)
    wakes_when_idle: bool = False


@dataclass
class Woken:
    wakes: int
    kept: list[str]


@workflow.defn(sandboxed=False)
class OwesEffects:
    """Owes the plan's effects (a Slack reminder runs local first, a record as an activity),
    waits until none is in flight and says how often its main loop was woken."""

    def __init__(self) -> None:
        self._wakes = 0
        self._kept: list[str] = []

    @workflow.run
    async def run(self, plan: WakePlan) -> Woken:
        fx = OwedWork([], "wakes-test", self._woken, wakes_when_idle=lambda: plan.wakes_when_idle)
        hooks = {name: self._keep for name in plan.hooked}
        hooks.update({name: self._keep_quietly for name in plan.kept_quietly})
        for n, name in enumerate([*plan.hooked, *plan.kept_quietly, *plan.plain]):
            kind = EffectKind.REMINDER if n % 2 else EffectKind.RECORD
            await fx.owe(
                fx.key(name),
                kind,
                NOTE,
                name,
                lane=f"lane:{name}",
                result_type=str,
                then=hooks.get(name),
            )
        kept = len(plan.hooked) + len(plan.kept_quietly)
        await workflow.wait_condition(lambda: fx.idle() and len(self._kept) == kept)
        # Whatever the last lane's end would wake comes in the activation it ended in.
        await workflow.sleep(timedelta(seconds=1))
        return Woken(self._wakes, sorted(self._kept))

    def _woken(self) -> None:
        self._wakes += 1

    def _keep(self, result: str | None) -> None:
        self._kept.append(result or "")

    def _keep_quietly(self, result: str | None) -> bool:
        self._kept.append(result or "")
        return False


async def woken(env: WorkflowEnvironment, task_queue: str, plan: WakePlan) -> Woken:
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[OwesEffects],
        activities=[note],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        return await asyncio.wait_for(
            env.client.execute_workflow(
                OwesEffects.run,
                plan,
                id=f"owes-effects-{task_queue}",
                task_queue=task_queue,
                result_type=Woken,
            ),
            timeout=60,
        )


@pytest.mark.parametrize(
    ("plan", "wakes"),
    [
        (WakePlan(plain=["a", "b", "c"]), 0),
        (WakePlan(plain=["a", "b", "c"], wakes_when_idle=True), 1),
        (WakePlan(hooked=["a"], plain=["b", "c"]), 1),
        (WakePlan(hooked=["a", "b"], plain=["c"]), 2),
        (WakePlan(kept_quietly=["a", "b"], plain=["c"]), 0),
        (WakePlan(hooked=["a"], kept_quietly=["b"]), 1),
    ],
    ids=["done-without-hooks", "waits-for-idle", "one-hook", "two-hooks", "quiet-hooks", "mixed"],
)
async def test_a_finished_effect_wakes_the_main_loop_only_with_news(
    time_skipping_env: WorkflowEnvironment, task_queue: str, plan: WakePlan, wakes: int
) -> None:
    result = await woken(time_skipping_env, task_queue, plan)
    assert result.kept == [f"noted {name}" for name in sorted(plan.hooked + plan.kept_quietly)]
    assert result.wakes == wakes
