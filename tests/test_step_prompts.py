"""A step's prompt, as its post's hook keeps it: remembered where it was posted, and a wake of
the main loop asked for only when the step closed while the prompt was on its way (the loop
marks it done at once); an open step's prompt is marked when the step closes, later."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.account import AccountStep, StepKind
from schemas.common import StepStatus
from schemas.effects import SlackPostResult
from schemas.steps import MAX_PROMPTS_KEPT, PostedPrompt
from workflows.step_prompts import remember_prompt

AT = datetime(2027, 3, 1, 9, tzinfo=UTC)


def step(status: StepStatus = StepStatus.PENDING) -> AccountStep:
    return AccountStep(
        "qbr-2027-Q1", StepKind.QBR, "2027-Q1 QBR", "U0CE1", "CE", AT, AT, status=status
    )


def test_an_open_steps_prompt_is_kept_without_waking_the_main_loop() -> None:
    open_step = step()
    assert remember_prompt(open_step)(SlackPostResult("U0CE1", "1.1")) is False
    assert open_step.prompts == [PostedPrompt("U0CE1", "1.1")]


@pytest.mark.parametrize("status", [StepStatus.DONE, StepStatus.SKIPPED])
def test_a_prompt_of_a_step_closed_meanwhile_wakes_the_main_loop(status: StepStatus) -> None:
    closed = step(status)
    assert remember_prompt(closed)(SlackPostResult("U0CE1", "1.2")) is True
    assert closed.prompts == [PostedPrompt("U0CE1", "1.2")]


def test_an_expired_or_held_prompt_keeps_nothing_and_wakes_nothing() -> None:
    closed = step(StepStatus.DONE)
    keep = remember_prompt(closed)
    assert keep(None) is False
    assert keep(SlackPostResult("U0CE1", "", held_for_digest=True)) is False
    assert closed.prompts == []


def test_only_the_latest_prompts_are_kept() -> None:
    open_step = step()
    keep = remember_prompt(open_step)
    for n in range(MAX_PROMPTS_KEPT + 2):
        keep(SlackPostResult("U0CE1", f"1.{n}"))
    assert [p.ts for p in open_step.prompts] == [f"1.{n}" for n in range(2, MAX_PROMPTS_KEPT + 2)]
